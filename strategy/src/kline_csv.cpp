#include "tickpath/strategy/kline_csv.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

namespace tickpath::strategy {

namespace {

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '"' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '"' || s.back() == '\r' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

void split(std::string_view line, std::vector<std::string_view>& out) {
  out.clear();
  std::size_t start = 0;
  while (true) {
    const auto comma = line.find(',', start);
    out.push_back(trim(line.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start)));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
}

bool to_int(std::string_view s, std::int64_t& v) noexcept {
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc{} && r.ptr == s.data() + s.size();
}
bool to_double(std::string_view s, double& v) noexcept {
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc{} && r.ptr == s.data() + s.size();
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) noexcept {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

bool parse_iso(std::string_view s, std::int64_t& ms) noexcept {
  int y, mo, d, h = 0, mi = 0, se = 0;
  if (!digits(s, 0, 4, y) || s.size() < 10 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d))
    return false;
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return false;
  std::size_t p = 10;
  std::int64_t frac_ms = 0;
  if (p < s.size() && (s[p] == ' ' || s[p] == 'T')) {
    if (!digits(s, p + 1, 2, h) || s.size() < p + 6 || s[p + 3] != ':' || !digits(s, p + 4, 2, mi)) return false;
    p += 6;
    if (p < s.size() && s[p] == ':') {
      if (!digits(s, p + 1, 2, se)) return false;
      p += 3;
    }
    if (p < s.size() && s[p] == '.') {
      ++p;
      int n = 0;
      std::int64_t f = 0;
      while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
        if (n < 3) f = f * 10 + (s[p] - '0');
        ++n;
        ++p;
      }
      if (n == 0) return false;
      for (int i = n; i < 3; ++i) f *= 10;
      frac_ms = f;
    }
  }
  std::int64_t offset_min = 0;
  if (p < s.size()) {
    if (s[p] == 'Z' && p + 1 == s.size()) {
      ++p;
    } else if ((s[p] == '+' || s[p] == '-') && s.size() - p >= 3) {
      int oh = 0, om = 0;
      if (!digits(s, p + 1, 2, oh)) return false;
      std::size_t q = p + 3;
      if (q < s.size() && s[q] == ':') ++q;
      if (q < s.size() && !digits(s, q, 2, om)) return false;
      offset_min = (oh * 60 + om) * (s[p] == '-' ? -1 : 1);
      p = s.size();
    } else {
      return false;
    }
  }
  if (p != s.size()) return false;
  ms = ((days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 24 + h) * 60 + mi - offset_min) *
           60'000 +
       se * 1000 + frac_ms;
  return true;
}

}  // namespace

bool parse_time_ms(std::string_view s, std::int64_t& out_ms) noexcept {
  s = trim(s);
  std::int64_t v = 0;
  if (to_int(s, v)) {
    if (v < 0) return false;
    if (v < 100'000'000'000LL) out_ms = v * 1000;                   // seconds
    else if (v < 100'000'000'000'000LL) out_ms = v;                 // milliseconds (13 digits)
    else if (v < 100'000'000'000'000'000LL) out_ms = v / 1000;      // microseconds (16 digits)
    else out_ms = v / 1'000'000;                                    // nanoseconds
    return true;
  }
  double d = 0;
  if (to_double(s, d) && d >= 0 && d < 1e11) {  // fractional epoch seconds
    out_ms = static_cast<std::int64_t>(d * 1000.0);
    return true;
  }
  return parse_iso(s, out_ms);
}

KlineLoad parse_kline_csv(std::string_view text, const std::string& name) {
  KlineLoad out;
  std::vector<std::string_view> cells;
  int c_time = 0, c_open = 1, c_high = 2, c_low = 3, c_close = 4, c_vol = 5;
  std::size_t pos = 0;
  std::size_t line_no = 0;
  bool first = true;
  const auto fail = [&](std::string what) {
    out.bars.clear();
    out.error = name + ":" + std::to_string(line_no) + ": " + what;
    return out;
  };
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim(line).empty()) continue;
    split(line, cells);
    if (first) {
      first = false;
      const bool header = std::any_of(line.begin(), line.end(), [](char ch) {
        return (ch >= 'a' && ch <= 'z' && ch != 'e') || (ch >= 'A' && ch <= 'Z' && ch != 'E');
      }) && !(cells[0].size() >= 10 && cells[0][4] == '-');
      if (header) {
        c_time = c_open = c_high = c_low = c_close = c_vol = -1;
        for (int i = 0; i < static_cast<int>(cells.size()); ++i) {
          std::string h(cells[static_cast<std::size_t>(i)]);
          for (auto& ch : h) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
          if (c_time < 0 && (h == "open_time" || h == "opentime" || h == "open time" || h == "timestamp" ||
                             h == "time" || h == "date" || h == "datetime"))
            c_time = i;
          else if (h == "open") c_open = i;
          else if (h == "high") c_high = i;
          else if (h == "low") c_low = i;
          else if (h == "close") c_close = i;
          else if (h == "volume") c_vol = i;
        }
        if (c_time < 0 || c_open < 0 || c_high < 0 || c_low < 0 || c_close < 0)
          return fail("header lacks one of open_time/timestamp, open, high, low, close");
        continue;
      }
    }
    const int need = std::max({c_time, c_open, c_high, c_low, c_close, c_vol});
    if (static_cast<int>(cells.size()) <= need)
      return fail("expected at least " + std::to_string(need + 1) + " columns, found " + std::to_string(cells.size()));
    Bar b;
    if (!parse_time_ms(cells[static_cast<std::size_t>(c_time)], b.open_time_ms))
      return fail("bad time '" + std::string(cells[static_cast<std::size_t>(c_time)]) + "'");
    const auto num = [&](int c, double& v) { return c < 0 ? (v = 0, true) : to_double(cells[static_cast<std::size_t>(c)], v); };
    if (!num(c_open, b.open) || !num(c_high, b.high) || !num(c_low, b.low) || !num(c_close, b.close) ||
        !num(c_vol, b.volume))
      return fail("bad number in '" + std::string(line.substr(0, 120)) + "'");
    // A bar the indicators and the portfolio can use: finite, positive
    // prices with low <= open, close <= high, and a volume that is not negative.
    if (!std::isfinite(b.open) || !std::isfinite(b.high) || !std::isfinite(b.low) || !std::isfinite(b.close) ||
        !std::isfinite(b.volume) || !(b.low > 0) || !(b.volume >= 0))
      return fail("price or volume not finite, price not positive or volume negative in '" +
                  std::string(line.substr(0, 120)) + "'");
    if (!(b.low <= b.open && b.low <= b.close && b.open <= b.high && b.close <= b.high))
      return fail("low/high do not bound open and close in '" + std::string(line.substr(0, 120)) + "'");
    if (!out.bars.empty() && b.open_time_ms <= out.bars.back().open_time_ms)
      return fail("open_time goes backwards or repeats");
    out.bars.push_back(b);
  }
  if (out.bars.empty()) {
    out.error = name + ": no klines found";
  }
  return out;
}

KlineLoad load_kline_csv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    KlineLoad out;
    out.error = "cannot open " + path + ": " + std::strerror(errno);
    return out;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_kline_csv(ss.str(), path);
}

}  // namespace tickpath::strategy
