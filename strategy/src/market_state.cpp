#include "tickpath/strategy/market_state.hpp"

namespace tickpath::strategy {

const char* to_string(BarSource s) noexcept {
  switch (s) {
    case BarSource::none: return "none";
    case BarSource::trade: return "trade";
    case BarSource::agg_trade: return "aggTrade";
    case BarSource::kline: return "kline";
  }
  return "?";
}

MarketState::MarketState(std::size_t max_symbols, std::int64_t lateness_ms)
    : capacity_(max_symbols), states_(std::make_unique<SymbolState[]>(max_symbols)) {
  for (std::size_t i = 0; i < capacity_; ++i) states_[i].bars = BarBuilder(60'000, lateness_ms);
}

std::uint64_t MarketState::late_trades() const noexcept {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < capacity_; ++i) n += states_[i].bars.late_trades();
  return n;
}

void MarketState::close_bar(SymbolState& s, const Bar& b, MarketUpdate& u) noexcept {
  const IndicatorValues& v = s.indicators.on_bar(b);
  s.features.on_bar(b);
  s.last_bar = b;
  s.last_bar_volume = b.volume;
  u.bar_closed = true;
  ++s.bars_closed;
  ++counters_.bars_closed;
  s.price_anomalies += v.price_anomaly;
  s.volume_anomalies += v.volume_anomaly;
}

void MarketState::on_trade(SymbolState& s, BarSource src, std::int64_t time_ms, double price, double qty,
                           MarketUpdate& u) noexcept {
  if (s.source == BarSource::none) s.source = src;
  if (s.source != src) {
    ++counters_.not_bar_source;
    return;
  }
  ++s.trades;
  s.last_price = price;
  s.window_means.add(time_ms, price);
  s.vwap.add(time_ms, price, qty);
  s.last_time_ms = time_ms;
  s.bars.add_trade(time_ms, price, qty, [&](const Bar& b) noexcept { close_bar(s, b, u); });
  s.forming_volume = s.bars.forming().volume;
  s.indicators.peek(s.bars.forming().open_time_ms, price, s.forming);
  u.price = true;
}

void MarketState::on_kline(SymbolState& s, const infra::KlineData& k, bool closed, MarketUpdate& u) noexcept {
  if (s.source == BarSource::none) s.source = BarSource::kline;
  if (s.source != BarSource::kline) {
    ++counters_.not_bar_source;
    return;
  }
  s.last_price = k.close;
  s.last_time_ms = k.close_time_ms;
  u.price = true;
  if (closed) {
    Bar b;
    b.open_time_ms = k.open_time_ms;
    b.open = k.open;
    b.high = k.high;
    b.low = k.low;
    b.close = k.close;
    b.volume = k.volume;
    b.quote_volume = k.quote_volume;
    b.trades = k.trades;
    close_bar(s, b, u);
    s.forming_volume = 0.0;
  } else {
    s.forming_volume = k.volume;
    s.indicators.peek(k.open_time_ms, k.close, s.forming);
    s.forming_kline = {k.open_time_ms, k.open, k.high, k.low, k.close, k.volume, k.quote_volume, k.trades};
  }
}

MarketUpdate MarketState::on_event(const infra::Event& ev) noexcept {
  ++counters_.events;
  MarketUpdate u;
  if (ev.symbol >= capacity_) {
    ++counters_.symbol_over_capacity;
    return u;
  }
  SymbolState& s = states_[ev.symbol];
  switch (ev.type) {
    case infra::EventType::trade:
      on_trade(s, BarSource::trade, ev.trade.trade_time_ms, ev.trade.price, ev.trade.qty, u);
      break;
    case infra::EventType::agg_trade:
      on_trade(s, BarSource::agg_trade, ev.trade.trade_time_ms, ev.trade.price, ev.trade.qty, u);
      break;
    case infra::EventType::kline:
      on_kline(s, ev.kline, (ev.flags & infra::event_flag::kline_closed) != 0, u);
      break;
    case infra::EventType::book_ticker:
      s.bid = ev.book.bid;
      s.ask = ev.book.ask;
      s.has_book_ticker = true;
      break;
    case infra::EventType::depth_update:
    case infra::EventType::depth_snapshot:
      ++s.depth_events;
      if (ev.flags & infra::event_flag::seq_gap) ++s.depth_gaps;
      if (ev.flags & infra::event_flag::book_synced) {
        s.book_bid = ev.depth.book_bid;
        s.book_ask = ev.depth.book_ask;
        const double total = ev.depth.top_bid_qty + ev.depth.top_ask_qty;
        s.book_imbalance = total > 0 ? (ev.depth.top_bid_qty - ev.depth.top_ask_qty) / total : kNaN;
        if (!s.has_book_ticker) {  // the book's top stands in for the ticker (the paper account's spread)
          s.bid = s.book_bid;
          s.ask = s.book_ask;
        }
      }
      break;
    case infra::EventType::none: break;
  }
  return u;
}

void MarketState::observe(std::size_t id, bool closed, double position, double unrealised,
                          Observation& out) const noexcept {
  const SymbolState& s = states_[id];
  if (closed) {
    const IndicatorValues& v = s.indicators.last_closed();
    s.features.observe(v.close, s.last_bar_volume, v, position, unrealised, true, out);
  } else {
    s.features.observe(s.last_price, s.forming_volume, s.forming, position, unrealised, false, out);
  }
}

}  // namespace tickpath::strategy
