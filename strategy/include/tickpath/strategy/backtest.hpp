// Backtest: the live strategy code (IndicatorSet, FeatureBuilder, Policy,
// PaperPortfolio) run over historical bars, with the policy and three
// baselines side by side in one pass over the same bars:
//   policy          BUY -> long, SELL -> flat (short with allow_short), HOLD -> keep
//   buy_and_hold    long from the first bar to the last
//   macd_crossover  long when MACD(12,26,9) crosses above its signal, out when it crosses below
//   rsi_reversion   long when RSI(14) < 30, out when > 70
// No look-ahead: a decision made on bar t's close fills at bar t+1's open.
// Klines carry no spread, so fills here pay fees but no slippage.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "tickpath/strategy/bar_builder.hpp"
#include "tickpath/strategy/policy.hpp"
#include "tickpath/strategy/portfolio.hpp"

namespace tickpath::strategy {

struct BacktestConfig {
  PortfolioConfig portfolio{};
  std::int64_t from_ms = std::numeric_limits<std::int64_t>::min();
  std::int64_t to_ms = std::numeric_limits<std::int64_t>::max();  // exclusive
  bool keep_equity = false;  // per-bar equity of every strategy
  bool keep_trades = false;  // every fill of every strategy (for reports)
  bool progress = false;     // a line on stderr every 10% of long runs
};

// One position change: at `time_ms` (the open of the bar it filled on) from
// position `from` to `to` (-1 short, 0 flat, 1 long) at `price`.
struct TradeMark {
  std::int64_t time_ms = 0;
  double price = 0;
  std::int8_t from = 0, to = 0;
};

struct StrategyResult {
  std::string name;
  PortfolioMetrics metrics;
  std::vector<double> equity;     // per bar, when asked for
  std::vector<TradeMark> trades;  // when asked for
};

struct BacktestResult {
  std::vector<StrategyResult> strategies;  // policy first when there is one
  std::vector<std::int64_t> open_time_ms;  // per bar, when equity is kept
  std::size_t bars = 0;
  std::int64_t first_ms = 0, last_ms = 0;
  std::uint64_t policy_decisions = 0, policy_warmup = 0, policy_non_finite = 0;
};

// `policy` may be null (baselines only).
BacktestResult run_backtest(const std::vector<Bar>& bars, Policy* policy, const BacktestConfig& cfg);

}  // namespace tickpath::strategy
