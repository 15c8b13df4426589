// Decimal strings as Binance sends them ("16500.12000000") converted once, at
// parse time, to both forms the engine uses: a double for indicators and the
// model, bit-identical to std::from_chars of the same text, and an int64
// scaled by 1e8 for order books and exact output.
#pragma once

#include <charconv>
#include <cstring>
#include <cstdint>
#include <string>
#include <string_view>

namespace tickpath::feed {

inline constexpr std::int64_t kE8 = 100'000'000;

struct Decimal {
  std::int64_t e8 = 0;  // value x 1e8, rounded half away from zero past 8 decimals
  double value = 0.0;   // == std::from_chars(text) bit for bit
};

enum class DecimalStatus : std::uint8_t { ok, bad_syntax, out_of_range };

namespace detail {
inline constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
inline constexpr std::int64_t kPow10i[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};
}  // namespace detail

// Parses [first, last): an optional '-', at least one digit, optionally '.'
// and at least one digit. No exponent, no '+', no spaces (Binance sends none).
// The double: when all significant digits fit in 2^53 and there are at most
// 22 fractional digits, mantissa / 10^k is one correctly rounded IEEE
// division of two exact values, i.e. the correctly rounded decimal, which is
// what from_chars returns; otherwise from_chars itself is called.
namespace detail {
// 8 ASCII digits at p (p[0] most significant) to their value; false if any is not a digit.
[[nodiscard]] inline bool eight_digits(const char* p, std::uint64_t& out) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  if ((((v & 0xF0F0F0F0F0F0F0F0ULL) | (((v + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) >> 4)) !=
       0x3333333333333333ULL))
    return false;
  v -= 0x3030303030303030ULL;
  v = (v * 10) + (v >> 8);  // pairs
  v = (((v & 0x000000FF000000FFULL) * (100 + (1000000ULL << 32))) +
       (((v >> 16) & 0x000000FF000000FFULL) * (1 + (10000ULL << 32)))) >> 32;
  out = v;
  return true;
}

// Binance's own shape, "[-]I.FFFFFFFF" with 1 to 11 integer digits: the
// eight decimals in one SWAR step. Same results as the general path (the
// tests compare both against from_chars); false means "use the general path".
[[nodiscard]] inline bool parse_decimal_e8_fast(const char* first, const char* last, Decimal& out) noexcept {
  const bool neg = first < last && *first == '-';
  const char* p = first + (neg ? 1 : 0);
  if (last - p < 10 || last - p > 20 || last[-9] != '.') return false;
  const char* dot = last - 9;
  std::uint64_t ip = 0;
  for (const char* q = p; q < dot; ++q) {
    const unsigned d = static_cast<unsigned>(*q - '0');
    if (d > 9) return false;
    ip = ip * 10 + d;
  }
  std::uint64_t fp;
  if (!eight_digits(dot + 1, fp)) return false;
  if (ip > 92'233'720'367ULL) return false;  // near the int64 limit: the general path decides
  const std::uint64_t e8 = ip * 100'000'000ULL + fp;
  out.e8 = neg ? -static_cast<std::int64_t>(e8) : static_cast<std::int64_t>(e8);
  if (e8 >= (1ULL << 53)) return false;  // the double needs from_chars
  const double v = static_cast<double>(e8) / 1e8;
  out.value = neg ? -v : v;
  return true;
}
}  // namespace detail

[[nodiscard]] inline DecimalStatus parse_decimal(const char* first, const char* last, Decimal& out) noexcept {
  if (detail::parse_decimal_e8_fast(first, last, out)) return DecimalStatus::ok;
  const char* p = first;
  bool neg = false;
  if (p < last && *p == '-') {
    neg = true;
    ++p;
  }
  std::uint64_t mant = 0;     // all digits, int and fraction, while they fit
  unsigned sig = 0;           // significant digits accumulated into mant
  bool mant_exact = true;
  std::uint64_t int_part = 0;  // integer digits, for the e8 form
  bool int_overflow = false;
  const char* int_begin = p;
  while (p < last && static_cast<unsigned>(*p - '0') < 10U) {
    const unsigned d = static_cast<unsigned>(*p - '0');
    if (sig > 0 || d != 0) {
      if (sig < 19) {
        mant = mant * 10 + d;
        ++sig;
      } else {
        mant_exact = false;
      }
    }
    if (int_part > 92'233'720'368ULL) int_overflow = true;
    else int_part = int_part * 10 + d;
    ++p;
  }
  if (p == int_begin) return DecimalStatus::bad_syntax;
  unsigned frac_digits = 0;
  std::int64_t frac8 = 0;
  bool round_up = false;
  if (p < last && *p == '.') {
    ++p;
    const char* frac_begin = p;
    while (p < last && static_cast<unsigned>(*p - '0') < 10U) {
      const unsigned d = static_cast<unsigned>(*p - '0');
      if (frac_digits < 8) frac8 = frac8 * 10 + d;
      else if (frac_digits == 8) round_up = d >= 5;
      if (!mant_exact) {
        // already past 19 significant digits
      } else if (sig > 0 || d != 0) {
        if (sig < 19) {
          mant = mant * 10 + d;
          ++sig;
        } else {
          mant_exact = false;
        }
      }
      ++frac_digits;
      ++p;
    }
    if (p == frac_begin) return DecimalStatus::bad_syntax;
  }
  if (p != last) return DecimalStatus::bad_syntax;

  // int64 x 1e8
  if (int_overflow || int_part > 92'233'720'368ULL) return DecimalStatus::out_of_range;
  if (frac_digits < 8) frac8 *= detail::kPow10i[8 - frac_digits];
  std::uint64_t e8 = int_part * static_cast<std::uint64_t>(kE8) + static_cast<std::uint64_t>(frac8) + (round_up ? 1 : 0);
  if (e8 > static_cast<std::uint64_t>(INT64_MAX)) return DecimalStatus::out_of_range;
  out.e8 = neg ? -static_cast<std::int64_t>(e8) : static_cast<std::int64_t>(e8);

  // double
  if (mant_exact && mant < (1ULL << 53) && frac_digits <= 22) {
    // mant has dropped leading zeros only, so the scale is the fraction length
    const double v = static_cast<double>(mant) / detail::kPow10[frac_digits];
    out.value = neg ? -v : v;
  } else {
    double v = 0;
    const auto r = std::from_chars(first, last, v);
    if (r.ec != std::errc{} || r.ptr != last) return DecimalStatus::out_of_range;
    out.value = v;
  }
  return DecimalStatus::ok;
}

[[nodiscard]] inline DecimalStatus parse_decimal(std::string_view s, Decimal& out) noexcept {
  return parse_decimal(s.data(), s.data() + s.size(), out);
}

// Writes e8 as "[-]I.FFFFFFFF" (exactly 8 decimals) into buf; returns the length.
// buf must hold 32 characters.
inline std::size_t format_e8(std::int64_t e8, char* buf) noexcept {
  char* p = buf;
  std::uint64_t a;
  if (e8 < 0) {
    *p++ = '-';
    a = static_cast<std::uint64_t>(-(e8 + 1)) + 1;
  } else {
    a = static_cast<std::uint64_t>(e8);
  }
  const std::uint64_t ip = a / static_cast<std::uint64_t>(kE8);
  std::uint64_t fp = a % static_cast<std::uint64_t>(kE8);
  p = std::to_chars(p, buf + 24, ip).ptr;
  *p++ = '.';
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<char>('0' + fp % 10);
    fp /= 10;
  }
  return static_cast<std::size_t>(p + 8 - buf);
}

inline std::string format_e8(std::int64_t e8) {
  char buf[32];
  return std::string(buf, format_e8(e8, buf));
}

}  // namespace tickpath::feed
