// TradingEnv: the training environment over historical bars, built from the
// live strategy code (IndicatorSet, FeatureBuilder, PaperPortfolio), so the
// observation a trained policy learns from is the one it is served.
//
// Time line, as in run_backtest: an action chosen on bar t's close fills at
// bar t+1's open (fees and slippage as the paper portfolio charges them),
// the account is marked at bar t+1's close, and the next observation is bar
// t+1's. Actions: 0 HOLD (keep), 1 BUY (long), 2 SELL (flat, or short when
// the portfolio allows it).
//
// Rewards, with R_t = equity_t / equity_{t-1} - 1 (net of fees and slippage):
//   plain_return         R_t * reward_scale
//   differential_sharpe  D_t of Moody and Saffell (1998), the change in an
//                        exponentially weighted Sharpe ratio that R_t makes:
//       dA = R_t - A,  dB = R_t^2 - B
//       D_t = (B dA - A dB / 2) / max(B - A^2, f B_0)^(3/2)
//       A += eta dA,   B += eta dB           (after D_t is computed)
//     A starts at 0 and B at B_0, the mean squared one-bar return of the
//     market over the episode's warm-up bars (the asset's own scale), so D_t
//     is defined from the first step. The floor f B_0 (f = 0.01) keeps the
//     reward bounded after a long flat spell, when the strategy's returns
//     have been 0 and B - A^2 decays towards 0 (unfloored, the first trade
//     after it scores in the hundreds). D_t = 0 when both are 0.
//
// Episodes start at a seeded random bar with `warmup_bars` before it fed to
// the indicators, and last `episode_bars` steps (or to the data's end).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "tickpath/strategy/bar_builder.hpp"
#include "tickpath/strategy/features.hpp"
#include "tickpath/strategy/indicator_set.hpp"
#include "tickpath/strategy/portfolio.hpp"
#include "tickpath/strategy/ppo.hpp"

namespace tickpath::strategy {

enum class RewardKind : std::uint8_t { differential_sharpe, plain_return };
const char* to_string(RewardKind r) noexcept;
bool parse_reward_kind(const char* name, RewardKind& out) noexcept;

struct EnvConfig {
  PortfolioConfig portfolio{};
  double slippage_bps = 0.0;       // half-spread paid per fill, in bps of the fill price
  std::size_t episode_bars = 1440;
  std::size_t warmup_bars = 100;   // >= kObservationWarmupBars
  RewardKind reward = RewardKind::differential_sharpe;
  double dsr_eta = 0.01;           // adaptation rate of the differential Sharpe ratio's moments
  double dsr_variance_floor = 0.01;  // the variance in D_t's denominator is at least this x B_0
  double reward_scale = 1.0;       // plain_return only
};

struct EnvStep {
  double reward = 0;
  double equity = 0;
  double bar_return = 0;  // R_t
  bool done = false;
};

class TradingEnv {
 public:
  // Bars [first, last) of `bars` are the environment's data; `bars` must
  // outlive it. Needs more than warmup_bars + 1 bars.
  TradingEnv(const std::vector<Bar>& bars, std::size_t first, std::size_t last, const EnvConfig& cfg,
             std::uint64_t seed);

  // A new episode at a random start; writes its first observation.
  void reset(Observation& obs);
  // A new episode whose first decision is on bar `start`'s close.
  void reset_at(std::size_t start, Observation& obs);
  EnvStep step(std::uint8_t action, Observation& obs);

  [[nodiscard]] std::size_t bar_index() const noexcept { return t_; }
  [[nodiscard]] const PaperPortfolio& portfolio() const noexcept { return book_; }
  [[nodiscard]] std::size_t first_start() const noexcept { return first_ + cfg_.warmup_bars; }
  [[nodiscard]] std::size_t last_start() const noexcept { return last_ - 2; }
  [[nodiscard]] const EnvConfig& config() const noexcept { return cfg_; }

 private:
  void observe(Observation& obs) const noexcept;

  const std::vector<Bar>& bars_;
  std::size_t first_, last_;
  EnvConfig cfg_;
  std::mt19937_64 rng_;
  IndicatorSet ind_;
  FeatureBuilder features_;
  PaperPortfolio book_;
  IndicatorValues values_{};
  std::size_t t_ = 0, end_ = 0;
  double equity_ = 0, dsr_a_ = 0, dsr_b_ = 0, dsr_floor_ = 0;
};

// The trading environment as PPO steps it: 13 observations, HOLD/BUY/SELL;
// an episode's end is a time limit (its last reward is bootstrapped).
class TradingEnvironment final : public Environment {
 public:
  TradingEnvironment(const std::vector<Bar>& bars, std::size_t first, std::size_t last, const EnvConfig& cfg,
                     std::uint64_t seed)
      : env_(bars, first, last, cfg, seed) {}
  [[nodiscard]] std::uint32_t n_obs() const override { return static_cast<std::uint32_t>(kFeatures); }
  [[nodiscard]] std::uint32_t n_actions() const override { return 3; }
  void reset(float* obs) override {
    env_.reset(obs_);
    std::copy(obs_.begin(), obs_.end(), obs);
  }
  Step step(std::uint8_t action, float* obs) override {
    const EnvStep s = env_.step(action, obs_);
    std::copy(obs_.begin(), obs_.end(), obs);
    return {s.reward, s.done, s.done};
  }
  [[nodiscard]] const TradingEnv& env() const noexcept { return env_; }

 private:
  TradingEnv env_;
  Observation obs_{};
};

}  // namespace tickpath::strategy
