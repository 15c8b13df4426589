#include "tickpath/engine/train.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <vector>

#include "tickpath/strategy/kline_csv.hpp"
#include "tickpath/strategy/policy_model.hpp"
#include "tickpath/strategy/ppo.hpp"
#include "tickpath/strategy/trading_env.hpp"

namespace tickpath::engine {

namespace {

int fail(const std::string& msg) {
  std::fprintf(stderr, "tickpath train: %s\n", msg.c_str());
  return 1;
}

std::string bar(double frac, int width) {
  const int full = static_cast<int>(std::clamp(frac, 0.0, 1.0) * width);
  return std::string(static_cast<std::size_t>(full), '#') + std::string(static_cast<std::size_t>(width - full), '.');
}

}  // namespace

int run_train(const TrainOptions& o) {
  using namespace tickpath::strategy;
  if (o.out.empty()) return fail("--out is required");
  if (o.steps == 0) return fail("--steps must be positive");
  if (o.envs == 0) return fail("--envs must be positive");
  if (!(o.fee_bps >= 0) || !(o.slippage_bps >= 0)) return fail("--fee-bps and --slippage-bps must be >= 0");
  EnvConfig ec;
  if (!parse_reward_kind(o.reward.c_str(), ec.reward)) return fail("--reward takes dsr or return, not '" + o.reward + "'");
  ec.portfolio.fee_bps = o.fee_bps;
  ec.portfolio.allow_short = o.allow_short;
  ec.slippage_bps = o.slippage_bps;
  ec.episode_bars = o.episode_bars;
  if (ec.reward == RewardKind::plain_return) ec.reward_scale = 100.0;  // per-bar returns in percent

  std::int64_t from_ms = INT64_MIN, to_ms = INT64_MAX;
  if (!o.from.empty() && !parse_time_ms(o.from, from_ms)) return fail("--from: not a time: " + o.from);
  if (!o.to.empty() && !parse_time_ms(o.to, to_ms)) return fail("--to: not a time: " + o.to);
  const auto load = load_kline_csv(o.klines);
  if (!load.error.empty()) return fail(load.error);
  const auto& bars = load.bars;
  std::size_t first = 0, last = bars.size();
  while (first < bars.size() && bars[first].open_time_ms < from_ms) ++first;
  while (last > first && bars[last - 1].open_time_ms >= to_ms) --last;
  if (last - first < ec.warmup_bars + 2)
    return fail(fmt::format("{} has {} bars inside --from/--to; training needs more than {}", o.klines, last - first,
                            ec.warmup_bars + 2));

  PpoConfig pc;
  pc.n_steps = o.n_steps;
  pc.batch_size = o.batch_size;
  pc.n_epochs = o.epochs;
  pc.learning_rate = o.learning_rate;
  pc.coef.ent_coef = o.ent_coef;
  pc.seed = o.seed;
  pc.threads = o.threads;
  std::vector<std::unique_ptr<Environment>> envs;
  for (unsigned e = 0; e < o.envs; ++e)
    envs.push_back(std::make_unique<TradingEnvironment>(bars, first, last, ec, o.seed * 1'000'003ULL + e));
  const PolicyModel init = PolicyModel::init_orthogonal(o.seed);
  PpoTrainer trainer(std::move(envs), init, pc);

  const std::string log_path = o.log.empty() ? o.out + ".log.csv" : o.log;
  std::ofstream log(log_path, std::ios::trunc);
  if (!log) return fail("cannot write " + log_path);
  log << "iteration,total_steps,episodes,mean_episode_reward,policy_loss,value_loss,entropy,approx_kl,"
         "clip_fraction,explained_variance,steps_per_s,updates_per_s,rollout_s,update_s\n";

  const std::uint64_t per_iter = static_cast<std::uint64_t>(o.envs) * o.n_steps;
  const std::uint64_t iters = (o.steps + per_iter - 1) / per_iter;
  const bool tty = isatty(STDERR_FILENO) != 0;
  if (!o.quiet)
    std::fprintf(stderr,
                 "tickpath train: %s, bars %zu..%zu (%zu), %u environments x %zu steps, %llu iterations, %u threads, "
                 "reward %s, fee %g bps, slippage %g bps\n",
                 o.klines.c_str(), first, last, last - first, o.envs, o.n_steps,
                 static_cast<unsigned long long>(iters), trainer.threads(), to_string(ec.reward), o.fee_bps,
                 o.slippage_bps);
  const auto t0 = std::chrono::steady_clock::now();
  double rollout_s = 0, update_s = 0;
  std::uint64_t steps = 0, updates = 0;
  double last_ep = std::nan("");
  for (std::uint64_t it = 1; it <= iters; ++it) {
    const PpoIterationStats s = trainer.iterate();
    steps += per_iter;
    updates += s.updates;
    rollout_s += s.rollout_seconds;
    update_s += s.update_seconds;
    if (!std::isnan(s.mean_episode_reward)) last_ep = s.mean_episode_reward;
    const double sps = static_cast<double>(per_iter) / s.rollout_seconds;
    const double ups = static_cast<double>(s.updates) / s.update_seconds;
    log << fmt::format("{},{},{},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.1f},{:.1f},{:.4f},{:.4f}\n", it,
                       steps, s.episodes, s.mean_episode_reward, s.policy_loss, s.value_loss, s.entropy, s.approx_kl,
                       s.clip_fraction, s.explained_variance, sps, ups, s.rollout_seconds, s.update_seconds);
    if (!o.quiet) {
      const double frac = static_cast<double>(it) / static_cast<double>(iters);
      std::fprintf(stderr,
                   "%s[%s] %3.0f%% %llu steps | %.0f steps/s, %.0f updates/s | ep reward %.3g | pi %.4f v %.4f ent "
                   "%.3f kl %.4f clip %.3f%s",
                   tty ? "\r" : "", bar(frac, 20).c_str(), frac * 100, static_cast<unsigned long long>(steps), sps, ups,
                   last_ep, s.policy_loss, s.value_loss, s.entropy, s.approx_kl, s.clip_fraction, tty ? "" : "\n");
    }
  }
  if (!o.quiet && tty) std::fputc('\n', stderr);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::string error;
  if (!save_policy_model(o.out, trainer.model(), error)) return fail(error);
  std::printf(
      "tickpath train: %llu environment steps and %llu minibatch updates in %.1f s (rollouts %.1f s: %.0f steps/s; "
      "updates %.1f s: %.0f updates/s); model %s, log %s\n",
      static_cast<unsigned long long>(steps), static_cast<unsigned long long>(updates), secs, rollout_s,
      static_cast<double>(steps) / rollout_s, update_s, static_cast<double>(updates) / update_s, o.out.c_str(),
      log_path.c_str());
  return 0;
}

}  // namespace tickpath::engine
