// MarketState: everything the strategy thread keeps per symbol (bars,
// indicators, time-window means, VWAP, best bid/ask), in arrays sized at
// construction and indexed by symbol id. on_event() is the strategy stage
// of the pipeline: O(1), no allocation, no locks, no exceptions.
//
// Bars come from exactly one stream per symbol, the first of trade, aggTrade
// or kline seen for it (trade and aggTrade report the same fills, so using
// both would count volume twice). Events of the other streams still update
// nothing bar-related and are counted as `not_bar_source`.
#pragma once

#include <cstdint>
#include <memory>

#include "tickpath/infra/event.hpp"
#include "tickpath/strategy/bar_builder.hpp"
#include "tickpath/strategy/features.hpp"
#include "tickpath/strategy/indicator_set.hpp"
#include "tickpath/strategy/indicators.hpp"

namespace tickpath::strategy {

enum class BarSource : std::uint8_t { none, trade, agg_trade, kline };
const char* to_string(BarSource s) noexcept;

struct SymbolState {
  BarSource source = BarSource::none;
  BarBuilder bars{60'000, 0};
  IndicatorSet indicators;
  IndicatorValues forming{};  // peek of the forming bar at the last trade
  FeatureBuilder features;
  double forming_volume = 0.0;  // volume of the forming bar so far
  Bar last_bar{};               // the bar that closed last
  Bar forming_kline{};          // kline source: the forming kline as last sent
  double last_bar_volume = 0.0;
  std::int64_t last_time_ms = 0;
  TimeWindowMeans window_means;
  SessionVwap vwap;
  double last_price = kNaN;
  double bid = kNaN, ask = kNaN;  // book ticker, else the local book's top
  // Local order book (diff depth kept in sync on the feed thread): top of
  // book and the imbalance of the quantity on its best levels, in [-1, 1].
  double book_bid = kNaN, book_ask = kNaN, book_imbalance = kNaN;
  bool has_book_ticker = false;
  std::uint64_t trades = 0, bars_closed = 0, price_anomalies = 0, volume_anomalies = 0;
  std::uint64_t depth_events = 0, depth_gaps = 0;
};

struct StrategyCounters {
  std::uint64_t events = 0;
  std::uint64_t not_bar_source = 0;
  std::uint64_t bars_closed = 0;
  std::uint64_t symbol_over_capacity = 0;
};

// What one event changed, so the caller knows whether to run the policy.
struct MarketUpdate {
  bool price = false;       // a trade or kline of the bar source: the forming bar moved
  bool bar_closed = false;  // at least one bar closed
};

class MarketState {
 public:
  // lateness_ms: watermark slack for trade-built bars (below one minute).
  explicit MarketState(std::size_t max_symbols, std::int64_t lateness_ms = 0);

  // Applies one event. Never allocates. An id beyond capacity is counted
  // and changes nothing.
  MarketUpdate on_event(const infra::Event& ev) noexcept;

  // The 13-feature observation of a symbol: of its forming bar (`closed` =
  // false) or of its last closed bar. Position and PnL are the caller's.
  void observe(std::size_t id, bool closed, double position, double unrealised, Observation& out) const noexcept;

  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] const SymbolState& symbol(std::size_t id) const noexcept { return states_[id]; }
  [[nodiscard]] const StrategyCounters& counters() const noexcept { return counters_; }
  [[nodiscard]] std::uint64_t late_trades() const noexcept;

 private:
  void on_trade(SymbolState& s, BarSource src, std::int64_t time_ms, double price, double qty, MarketUpdate& u) noexcept;
  void on_kline(SymbolState& s, const infra::KlineData& k, bool closed, MarketUpdate& u) noexcept;
  void close_bar(SymbolState& s, const Bar& b, MarketUpdate& u) noexcept;

  std::size_t capacity_;
  std::unique_ptr<SymbolState[]> states_;
  StrategyCounters counters_{};
};

}  // namespace tickpath::strategy
