#include "tickpath/strategy/trading_env.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace tickpath::strategy {

const char* to_string(RewardKind r) noexcept {
  return r == RewardKind::plain_return ? "return" : "dsr";
}

bool parse_reward_kind(const char* name, RewardKind& out) noexcept {
  if (std::strcmp(name, "dsr") == 0) out = RewardKind::differential_sharpe;
  else if (std::strcmp(name, "return") == 0) out = RewardKind::plain_return;
  else return false;
  return true;
}

TradingEnv::TradingEnv(const std::vector<Bar>& bars, std::size_t first, std::size_t last, const EnvConfig& cfg,
                       std::uint64_t seed)
    : bars_(bars), first_(first), last_(std::min(last, bars.size())), cfg_(cfg), rng_(seed), book_(cfg.portfolio) {
  if (cfg_.warmup_bars < static_cast<std::size_t>(kObservationWarmupBars))
    cfg_.warmup_bars = static_cast<std::size_t>(kObservationWarmupBars);
  if (cfg_.episode_bars == 0) cfg_.episode_bars = 1;
  if (last_ <= first_ || last_ - first_ < cfg_.warmup_bars + 2)
    throw std::invalid_argument("the environment needs more bars than its warm-up (" +
                                std::to_string(cfg_.warmup_bars) + ") plus two");
}

void TradingEnv::reset(Observation& obs) {
  // Starts leave room for a whole episode when the data allows it.
  const std::size_t lo = first_start();
  std::size_t hi = last_start();
  if (hi >= lo + cfg_.episode_bars) hi -= cfg_.episode_bars - 1;
  std::uniform_int_distribution<std::size_t> pick(lo, hi);
  reset_at(pick(rng_), obs);
}

void TradingEnv::reset_at(std::size_t start, Observation& obs) {
  start = std::clamp(start, first_start(), last_start());
  ind_ = IndicatorSet{};
  features_ = FeatureBuilder{};
  book_ = PaperPortfolio(cfg_.portfolio);
  double sum_r2 = 0;
  std::size_t n_r = 0;
  for (std::size_t i = start - cfg_.warmup_bars; i <= start; ++i) {
    const Bar& b = bars_[i];
    values_ = ind_.on_bar(b);
    features_.on_bar(b);
    if (i > start - cfg_.warmup_bars && bars_[i - 1].close > 0) {
      const double r = b.close / bars_[i - 1].close - 1.0;
      sum_r2 += r * r;
      ++n_r;
    }
  }
  book_.mark(bars_[start].close);
  equity_ = book_.equity(bars_[start].close);
  dsr_a_ = 0;
  dsr_b_ = n_r > 0 ? sum_r2 / static_cast<double>(n_r) : 0.0;
  dsr_floor_ = cfg_.dsr_variance_floor * dsr_b_;
  t_ = start;
  end_ = std::min(start + cfg_.episode_bars, last_ - 1);
  observe(obs);
}

void TradingEnv::observe(Observation& obs) const noexcept {
  const Bar& b = bars_[t_];
  features_.observe(b.close, b.volume, values_, book_.position(), book_.unrealised_fraction(b.close), true, obs);
}

EnvStep TradingEnv::step(std::uint8_t action, Observation& obs) {
  EnvStep s;
  const Bar& next = bars_[t_ + 1];
  if (action == 1 || action == 2) {
    const Target want = action == 1 ? Target::long_ : (cfg_.portfolio.allow_short ? Target::short_ : Target::flat);
    book_.rebalance(want, next.open, next.open * cfg_.slippage_bps * 1e-4);
  }
  ++t_;
  values_ = ind_.on_bar(next);
  features_.on_bar(next);
  book_.mark(next.close);
  const double eq = book_.equity(next.close);
  const double r = equity_ > 0 ? eq / equity_ - 1.0 : 0.0;
  equity_ = eq;
  s.equity = eq;
  s.bar_return = r;
  if (cfg_.reward == RewardKind::plain_return) {
    s.reward = r * cfg_.reward_scale;
  } else {
    const double da = r - dsr_a_, db = r * r - dsr_b_;
    const double var = std::max(dsr_b_ - dsr_a_ * dsr_a_, dsr_floor_);
    s.reward = var > 0 ? (dsr_b_ * da - 0.5 * dsr_a_ * db) / (var * std::sqrt(var)) : 0.0;
    dsr_a_ += cfg_.dsr_eta * da;
    dsr_b_ += cfg_.dsr_eta * db;
  }
  s.done = t_ >= end_;
  observe(obs);
  return s;
}

}  // namespace tickpath::strategy
