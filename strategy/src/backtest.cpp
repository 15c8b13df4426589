#include "tickpath/strategy/backtest.hpp"

#include <cmath>
#include <cstdio>

#include "tickpath/strategy/features.hpp"
#include "tickpath/strategy/indicator_set.hpp"

namespace tickpath::strategy {

namespace {

struct Runner {
  StrategyResult result;
  PaperPortfolio book;
  Target pending = Target::flat;
  bool has_pending = false;
  Runner(std::string name, const PortfolioConfig& cfg) : book(cfg) { result.name = std::move(name); }
  void decide(Target t) {
    pending = t;
    has_pending = true;
  }
};
}  // namespace

BacktestResult run_backtest(const std::vector<Bar>& bars, Policy* policy, const BacktestConfig& cfg) {
  BacktestResult out;
  std::vector<Runner> runners;
  if (policy != nullptr) runners.emplace_back("policy", cfg.portfolio);
  runners.emplace_back("buy_and_hold", cfg.portfolio);
  runners.emplace_back("macd_crossover", cfg.portfolio);
  runners.emplace_back("rsi_reversion", cfg.portfolio);
  const std::size_t first_baseline = policy != nullptr ? 1 : 0;
  Runner& hold = runners[first_baseline];
  Runner& macd = runners[first_baseline + 1];
  Runner& rsi = runners[first_baseline + 2];
  const Target exit = cfg.portfolio.allow_short ? Target::short_ : Target::flat;

  IndicatorSet ind;
  FeatureBuilder features;
  Observation obs{};
  PolicyOutput po;
  double prev_macd_diff = kNaN;
  const std::size_t n = bars.size();
  std::size_t done = 0, next_report = n / 10;
  for (std::size_t i = 0; i < n; ++i) {
    const Bar& b = bars[i];
    // Indicators see every bar (so a window starts warm); trading only inside it.
    const bool inside = b.open_time_ms >= cfg.from_ms && b.open_time_ms < cfg.to_ms;
    if (inside) {
      if (out.bars == 0) out.first_ms = b.open_time_ms;
      out.last_ms = b.open_time_ms;
      ++out.bars;
      for (auto& r : runners) {
        if (r.has_pending) {
          const double before = r.book.position();
          if (r.book.rebalance(r.pending, b.open) && cfg.keep_trades)
            r.result.trades.push_back({b.open_time_ms, b.open, static_cast<std::int8_t>(before),
                                       static_cast<std::int8_t>(r.book.position())});
        }
        r.has_pending = false;
      }
    }
    const IndicatorValues& v = ind.on_bar(b);
    features.on_bar(b);
    if (!inside) continue;
    for (auto& r : runners) {
      r.book.mark(b.close);
      if (cfg.keep_equity) r.result.equity.push_back(r.book.equity(b.close));
    }
    if (cfg.keep_equity) out.open_time_ms.push_back(b.open_time_ms);

    // Decisions on this close, filled at the next open.
    if (policy != nullptr) {
      Runner& p = runners[0];
      features.observe(b.close, b.volume, v, p.book.position(), p.book.unrealised_fraction(b.close), true, obs);
      if (policy->forward(obs.data(), po)) {
        ++out.policy_decisions;
        if (po.action == 1) p.decide(Target::long_);
        else if (po.action == 2) p.decide(exit);
      } else if (features.bars() < kObservationWarmupBars) {
        ++out.policy_warmup;
      } else {
        ++out.policy_non_finite;
      }
    }
    hold.decide(Target::long_);
    const double diff = v.macd.macd - v.macd.signal;
    if (!std::isnan(diff) && !std::isnan(prev_macd_diff)) {
      if (prev_macd_diff <= 0 && diff > 0) macd.decide(Target::long_);
      else if (prev_macd_diff >= 0 && diff < 0) macd.decide(exit);
    }
    prev_macd_diff = diff;
    if (!std::isnan(v.rsi_14)) {
      if (v.rsi_14 < 30) rsi.decide(Target::long_);
      else if (v.rsi_14 > 70) rsi.decide(exit);
    }
    if (cfg.progress && n >= 500'000 && ++done >= next_report) {
      std::fprintf(stderr, "backtest: %zu%% (%zu of %zu bars)\n", done * 100 / n, done, n);
      next_report += n / 10;
    }
  }
  for (auto& r : runners) {
    r.result.metrics = r.book.metrics();
    out.strategies.push_back(std::move(r.result));
  }
  return out;
}

}  // namespace tickpath::strategy
