#include <gtest/gtest.h>

#include <charconv>
#include <cstring>
#include <random>
#include <string>

#include "tickpath/feed/decimal.hpp"

using tickpath::feed::Decimal;
using tickpath::feed::DecimalStatus;
using tickpath::feed::format_e8;
using tickpath::feed::parse_decimal;

namespace {
std::uint64_t bits(double d) {
  std::uint64_t b;
  std::memcpy(&b, &d, sizeof b);
  return b;
}
double ref_double(const std::string& s) {
  double v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}
// Independent e8 reference: string arithmetic with rounding half up at the 9th decimal.
std::int64_t ref_e8(const std::string& s) {
  std::string t = s;
  bool neg = false;
  if (!t.empty() && t[0] == '-') neg = true, t.erase(0, 1);
  std::string ip = t, fp;
  if (auto dot = t.find('.'); dot != std::string::npos) ip = t.substr(0, dot), fp = t.substr(dot + 1);
  std::string f8 = (fp + "00000000").substr(0, 8);
  __extension__ __int128 v = 0;
  for (char c : ip) v = v * 10 + (c - '0');
  for (char c : f8) v = v * 10 + (c - '0');
  if (fp.size() > 8 && fp[8] >= '5') v += 1;
  return static_cast<std::int64_t>(neg ? -v : v);
}
}  // namespace

TEST(Decimal_Parse, BinanceStringsBothForms) {
  Decimal d;
  ASSERT_EQ(parse_decimal("16500.12000000", d), DecimalStatus::ok);
  EXPECT_EQ(d.e8, 1'650'012'000'000LL);
  EXPECT_EQ(bits(d.value), bits(16500.12));
  ASSERT_EQ(parse_decimal("0.00000162", d), DecimalStatus::ok);
  EXPECT_EQ(d.e8, 162);
  EXPECT_EQ(bits(d.value), bits(0.00000162));
  ASSERT_EQ(parse_decimal("0", d), DecimalStatus::ok);
  EXPECT_EQ(d.e8, 0);
  ASSERT_EQ(parse_decimal("-2.5", d), DecimalStatus::ok);
  EXPECT_EQ(d.e8, -250'000'000);
  EXPECT_EQ(d.value, -2.5);
}

TEST(Decimal_Parse, DoubleIsBitIdenticalToFromCharsOnRandomStrings) {
  std::mt19937_64 rng(11);
  Decimal d;
  int checked = 0;
  for (int i = 0; i < 2'000'000; ++i) {
    std::string s;
    if (rng() % 10 == 0) s += '-';
    const int int_digits = 1 + static_cast<int>(rng() % 12);
    for (int j = 0; j < int_digits; ++j) s += static_cast<char>('0' + rng() % 10);
    const int frac = static_cast<int>(rng() % 14);  // 0..13 decimals, 8 is Binance's
    if (frac > 0) {
      s += '.';
      for (int j = 0; j < frac; ++j) s += static_cast<char>('0' + rng() % 10);
    }
    const auto st = parse_decimal(s, d);
    if (st == DecimalStatus::out_of_range) {
      ASSERT_GT(std::abs(ref_double(s)), 9.2e10) << s;
      continue;
    }
    ASSERT_EQ(st, DecimalStatus::ok) << s;
    ASSERT_EQ(bits(d.value), bits(ref_double(s))) << s;
    ASSERT_EQ(d.e8, ref_e8(s)) << s;
    ++checked;
  }
  EXPECT_GT(checked, 1'000'000);
}

TEST(Decimal_Parse, RejectsWhatIsNotADecimal) {
  Decimal d;
  for (const char* bad : {"", "-", ".5", "1.", "1e5", "+1", " 1", "1 ", "1.2.3", "abc", "0x10", "1,5", "--1"})
    EXPECT_EQ(parse_decimal(bad, d), DecimalStatus::bad_syntax) << '"' << bad << '"';
  EXPECT_EQ(parse_decimal("92233720369", d), DecimalStatus::out_of_range);
  EXPECT_EQ(parse_decimal("123456789012345678901234567890", d), DecimalStatus::out_of_range);
  ASSERT_EQ(parse_decimal("92233720368.54775807", d), DecimalStatus::ok);
  EXPECT_EQ(d.e8, INT64_MAX);
}

TEST(Decimal_Format, EightDecimalsRoundTrip) {
  EXPECT_EQ(format_e8(1'650'012'000'000LL), "16500.12000000");
  EXPECT_EQ(format_e8(0), "0.00000000");
  EXPECT_EQ(format_e8(-1), "-0.00000001");
  EXPECT_EQ(format_e8(INT64_MIN), "-92233720368.54775808");
  std::mt19937_64 rng(3);
  Decimal d;
  for (int i = 0; i < 100000; ++i) {
    const auto v = static_cast<std::int64_t>(rng() >> 1) * ((rng() & 1) ? 1 : -1);
    const std::string s = format_e8(v);
    ASSERT_EQ(parse_decimal(s, d), DecimalStatus::ok) << s;
    ASSERT_EQ(d.e8, v);
  }
}
