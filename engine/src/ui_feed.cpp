#include "ui_feed.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace tickpath::engine {

namespace {
std::string n(double v) { return json_number(v); }

void bar_json(std::string& o, const strategy::Bar& b) {
  o += fmt::format(R"({{"t":{},"o":{},"h":{},"l":{},"c":{},"v":{}}})", b.open_time_ms, n(b.open), n(b.high), n(b.low),
                   n(b.close), n(b.volume));
}
}  // namespace

void UiHub::on_signal(const infra::Signal& s) { signals_.push(s, kSignalHistory); }

std::string UiHub::snapshot(UiCursor& c) {
  c = {};
  return render("snapshot", c, true);
}

std::string UiHub::delta(UiCursor& c) { return render("delta", c, false); }

std::string UiHub::signals_json(std::size_t count) const {
  std::string o = R"({"signals":[)";
  const std::uint64_t from = signals_.end() - std::min<std::uint64_t>(count, signals_.items.size());
  for (std::uint64_t k = from; k < signals_.end(); ++k) {
    const infra::Signal& s = signals_.items[k - signals_.first];
    o += fmt::format(R"({}{{"symbol":"{}","t":{},"action":"{}","reason":"{}","confidence":{},"price":{}}})",
                     k == from ? "" : ",", s.symbol < names_.size() ? json_escape(names_[s.symbol]) : "?",
                     s.event_time_ms, infra::to_string(s.action), infra::to_string(s.reason), n(s.confidence), n(s.price));
  }
  return o + "]}\n";
}

std::string UiHub::book_json() {
  std::string o = R"({"symbols":[)";
  for (std::size_t i = 0; i < names_.size(); ++i) {
    UiSymbolFrame f;
    if (pub_.read(i, f)) frames_[i] = f;
    const UiSymbolFrame& g = frames_[i];
    const bool top = g.published != 0 && g.bid > 0 && g.ask > 0;
    const double mid = top ? (g.bid + g.ask) / 2 : std::nan("");
    o += fmt::format(R"({}{{"symbol":"{}","t":{},"bid":{},"ask":{},"mid":{},"spread_bps":{},"last":{}}})", i ? "," : "",
                     json_escape(names_[i]), g.time_ms, n(top ? g.bid : std::nan("")), n(top ? g.ask : std::nan("")), n(mid),
                     n(top ? (g.ask - g.bid) / mid * 1e4 : std::nan("")), n(g.published != 0 ? g.last : std::nan("")));
  }
  return o + "]}\n";
}

std::string UiHub::render(const char* type, UiCursor& c, bool full) {
  std::string o = fmt::format(R"({{"type":"{}","uptime_s":{},"bar_drops":{},"tape_drops":{},)", type,
                              n(stats_.uptime_s()), pub_.bar_drops(), pub_.tape_drops());
  if (full) {
    o += R"("symbols":[)";
    for (std::size_t i = 0; i < names_.size(); ++i) o += fmt::format(R"({}"{}")", i ? "," : "", names_[i]);
    o += "],";
  }
  o += R"("frames":[)";
  bool first = true;
  for (std::size_t i = 0; i < names_.size(); ++i) {
    UiSymbolFrame f;
    if (pub_.read(i, f)) frames_[i] = f;  // (a write in progress: the last good copy)
    const UiSymbolFrame& g = frames_[i];
    if (g.published == 0) continue;
    o += fmt::format(R"({}{{"s":{},"t":{},"last":{},"bid":{},"ask":{},"bar":)", first ? "" : ",", i, g.time_ms, n(g.last),
                     n(g.bid), n(g.ask));
    bar_json(o, g.forming);
    o += fmt::format(
        R"(,"sma20":{},"ema12":{},"ema26":{},"bb_upper":{},"bb_middle":{},"bb_lower":{},"rsi14":{},"position":{},)"
        R"("equity":{},"trades":{},"bars":{}}})",
        n(g.sma_20), n(g.ema_12), n(g.ema_26), n(g.bb_upper), n(g.bb_middle), n(g.bb_lower), n(g.rsi_14), n(g.position),
        n(g.equity), g.trades, g.bars);
    first = false;
  }
  // Closed bars and signals after the client's cursor (from the oldest kept
  // when it fell further behind than the history).
  o += R"(],"bars":[)";
  std::uint64_t from = std::max(c.bars, bars_.first);
  for (std::uint64_t k = from; k < bars_.end(); ++k) {
    const UiBar& b = bars_.items[k - bars_.first];
    o += fmt::format(R"({}{{"s":{},"bar":)", k == from ? "" : ",", b.symbol);
    bar_json(o, b.bar);
    o += fmt::format(R"(,"sma20":{},"bb_upper":{},"bb_lower":{}}})", n(b.sma_20), n(b.bb_upper), n(b.bb_lower));
  }
  c.bars = bars_.end();
  o += R"(],"signals":[)";
  from = std::max(c.signals, signals_.first);
  for (std::uint64_t k = from; k < signals_.end(); ++k) {
    const infra::Signal& s = signals_.items[k - signals_.first];
    o += fmt::format(R"({}{{"s":{},"t":{},"action":"{}","reason":"{}","confidence":{},"price":{}}})", k == from ? "" : ",",
                     s.symbol, s.event_time_ms, infra::to_string(s.action), infra::to_string(s.reason),
                     n(s.confidence), n(s.price));
  }
  c.signals = signals_.end();
  // The tape: the newest trades after the cursor, oldest first.
  o += R"(],"trades":[)";
  from = std::max({c.trades, tape_.first, tape_.end() > kTapePerMessage ? tape_.end() - kTapePerMessage : 0});
  for (std::uint64_t k = from; k < tape_.end(); ++k) {
    const UiTrade& t = tape_.items[k - tape_.first];
    o += fmt::format(R"({}{{"s":{},"t":{},"id":{},"agg":{},"p":{},"q":{},"m":{}}})", k == from ? "" : ",", t.symbol,
                     t.time_ms, t.id, t.aggregate, n(t.price), n(t.qty), t.buyer_maker);
  }
  c.trades = tape_.end();
  std::string stats = stats_json(stats_);
  if (!stats.empty() && stats.back() == '\n') stats.pop_back();
  o += R"(],"stats":)" + stats + "}";
  return o;
}

}  // namespace tickpath::engine
