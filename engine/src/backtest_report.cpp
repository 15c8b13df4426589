#include "backtest_report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string_view>

#include "ui_server.hpp"

namespace tickpath::engine {

namespace {

// Appends `name:[v0,v1,...]` of the values `get(i)` for i in [0, n).
template <class Get>
void array(std::string& o, const char* name, std::size_t n, Get get) {
  o += fmt::format("\"{}\":[", name);
  for (std::size_t i = 0; i < n; ++i) {
    if (i) o += ',';
    o += get(i);
  }
  o += ']';
}

bool read_whole(const std::filesystem::path& p, std::string& out) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

// Text inside <script> or <style> ends at the first "</script" / "</style":
// "<\/" means the same in JavaScript strings, regular expressions and CSS.
std::string inline_safe(std::string_view s) {
  std::string o;
  o.reserve(s.size() + 64);
  std::size_t from = 0;
  for (std::size_t at; (at = s.find("</", from)) != std::string_view::npos; from = at + 1) {
    o.append(s.substr(from, at + 1 - from));
    o += '\\';
  }
  o.append(s.substr(from));
  return o;
}

}  // namespace

std::string backtest_report_json(const BacktestReportInput& in, std::size_t max_candles) {
  const auto& bars = *in.bars;
  const auto& res = *in.result;
  // The window's bars: the result keeps their open times in order.
  const auto& times = res.open_time_ms;
  std::size_t first = 0;
  if (!times.empty())
    first = static_cast<std::size_t>(std::lower_bound(bars.begin(), bars.end(), times.front(),
                                                      [](const strategy::Bar& b, std::int64_t t) { return b.open_time_ms < t; }) -
                                     bars.begin());
  const std::size_t n = times.size();
  const std::size_t k = n <= max_candles || max_candles == 0 ? 1 : (n + max_candles - 1) / max_candles;
  const std::size_t groups = (n + k - 1) / k;
  struct Candle {
    std::int64_t t;
    double o, h, l, c, v;
  };
  std::vector<Candle> candles(groups);
  for (std::size_t g = 0; g < groups; ++g) {
    const std::size_t a = g * k, z = std::min(n, a + k);
    Candle c{bars[first + a].open_time_ms / 1000, bars[first + a].open, bars[first + a].high, bars[first + a].low, 0, 0};
    for (std::size_t i = a; i < z; ++i) {
      const auto& b = bars[first + i];
      c.h = std::max(c.h, b.high);
      c.l = std::min(c.l, b.low);
      c.c = b.close;
      c.v += b.volume;
    }
    candles[g] = c;
  }

  std::string o = fmt::format(
      "{{\"klines\":\"{}\",\"model\":\"{}\",\"backend\":\"{}\",\"fee_bps\":{},\"mode\":\"{}\",\"bars\":{},"
      "\"first_ms\":{},\"last_ms\":{},\"bars_per_candle\":{},\"candles\":{{",
      json_escape(in.klines), json_escape(in.model), json_escape(in.backend), json_number(in.fee_bps),
      in.allow_short ? "long/short" : "long/flat", res.bars, res.first_ms, res.last_ms, k);
  array(o, "t", groups, [&](std::size_t g) { return std::to_string(candles[g].t); });
  o += ',';
  array(o, "o", groups, [&](std::size_t g) { return json_number(candles[g].o); });
  o += ',';
  array(o, "h", groups, [&](std::size_t g) { return json_number(candles[g].h); });
  o += ',';
  array(o, "l", groups, [&](std::size_t g) { return json_number(candles[g].l); });
  o += ',';
  array(o, "c", groups, [&](std::size_t g) { return json_number(candles[g].c); });
  o += ',';
  array(o, "v", groups, [&](std::size_t g) { return json_number(candles[g].v); });
  o += "},\"strategies\":[";
  for (std::size_t s = 0; s < res.strategies.size(); ++s) {
    const auto& st = res.strategies[s];
    const auto& m = st.metrics;
    o += fmt::format(
        "{}{{\"name\":\"{}\",\"total_return\":{},\"sharpe\":{},\"sortino\":{},\"max_drawdown\":{},\"trades\":{},"
        "\"fills\":{},\"fees\":{},\"final_equity\":{},",
        s ? "," : "", json_escape(st.name), json_number(m.total_return), json_number(m.sharpe), json_number(m.sortino),
        json_number(m.max_drawdown), m.round_trips, m.fills, json_number(m.fees), json_number(m.equity));
    // Equity at each candle's close.
    array(o, "equity", st.equity.empty() ? 0 : groups,
          [&](std::size_t g) { return json_number(st.equity[std::min(n, (g + 1) * k) - 1]); });
    o += ",\"fills_at\":{";
    // A fill is placed on the candle holding its bar.
    std::size_t g = 0;
    array(o, "t", st.trades.size(), [&](std::size_t i) {
      const std::int64_t t = st.trades[i].time_ms / 1000;
      while (g + 1 < groups && candles[g + 1].t <= t) ++g;
      return std::to_string(candles.empty() ? t : candles[g].t);
    });
    o += ',';
    array(o, "price", st.trades.size(), [&](std::size_t i) { return json_number(st.trades[i].price); });
    o += ',';
    array(o, "from", st.trades.size(), [&](std::size_t i) { return std::to_string(st.trades[i].from); });
    o += ',';
    array(o, "to", st.trades.size(), [&](std::size_t i) { return std::to_string(st.trades[i].to); });
    o += "}}";
  }
  o += "]}";
  return o;
}

std::string backtest_report_html(const BacktestReportInput& in, const std::string& web_root, std::string& error) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(web_root.empty() ? std::string(TICKPATH_WEB_DIST) : web_root) / "report";
  std::string js, css;
  if (!read_whole(dir / "report.js", js) || !read_whole(dir / "report.css", css)) {
    error = fmt::format("the report page is not built ({}/report.js or report.css is missing; tools/demo.sh builds it)",
                        dir.string());
    return {};
  }
  std::string title = fmt::format("tickpath backtest: {}", fs::path(in.klines).filename().string());
  std::string safe_title;
  for (const char ch : title) {
    if (ch == '<') safe_title += "&lt;";
    else if (ch == '&') safe_title += "&amp;";
    else safe_title += ch;
  }
  std::string o = fmt::format(
      "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\" />\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" />\n<title>{}</title>\n<style>\n",
      safe_title);
  o += inline_safe(css);
  o += "\n</style>\n</head>\n<body>\n<div id=\"report\"></div>\n<script type=\"application/json\" id=\"tickpath-backtest\">";
  o += inline_safe(backtest_report_json(in));
  o += "</script>\n<script>\n";
  o += inline_safe(js);
  o += "\n</script>\n</body>\n</html>\n";
  return o;
}

}  // namespace tickpath::engine
