// Training speed beside its anchor in the same run: the same PPO update
// (same network, minibatch of 64, 10 epochs over a 2,048-sample buffer)
// written plainly in PyTorch as Stable-Baselines3 runs it
// (tools/bench_torch_ppo.py, Debian's python3-torch), on the same number of
// threads.
//
//  - BM_EnvStep: one step of the trading environment over real 1-minute
//    bars (fill, indicators, features, mark, differential Sharpe reward),
//    random actions; ns per step on one thread.
//  - BM_PpoUpdate/T: one PpoTrainer iteration on T threads (1 and 2): the
//    minibatch updates timed alone (manual time), updates/s and env steps/s
//    of its rollout as counters, and the PyTorch anchor's updates/s on T
//    threads with the ratio.
#include <cstdio>
#include <memory>
#include <random>
#include <string>

#include "bench_common.hpp"
#include "tickpath/strategy/kline_csv.hpp"
#include "tickpath/strategy/ppo.hpp"
#include "tickpath/strategy/trading_env.hpp"

namespace {

using namespace tickpath::strategy;

const std::vector<Bar>& bars() {
  static const std::vector<Bar> b = [] {
    auto l = load_kline_csv(std::string(TICKPATH_DATA_DIR) + "/klines/benicio1007_BTCUSDT_1m_2023-01-01_2023-01-28_spot_ohlcv.csv");
    if (!l.error.empty()) {
      std::fprintf(stderr, "bench_train: %s\n", l.error.c_str());
      std::exit(1);
    }
    return l.bars;
  }();
  return b;
}

void BM_EnvStep(benchmark::State& state) {
  EnvConfig cfg;
  cfg.episode_bars = 1'000'000;
  TradingEnv env(bars(), 0, bars().size(), cfg, 1);
  Observation obs;
  env.reset_at(env.first_start(), obs);
  std::mt19937 rng(1);
  for (auto _ : state) {
    if (env.bar_index() + 2 >= bars().size()) {
      state.PauseTiming();
      env.reset_at(env.first_start(), obs);
      state.ResumeTiming();
    }
    const EnvStep s = env.step(static_cast<std::uint8_t>(rng() % 3), obs);
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations());
}

// The PyTorch anchor on `threads` threads: its updates/s, or 0 when python3
// or torch is not there (the counter then says so).
double torch_updates_per_s(int threads) {
  const std::string cmd = "/usr/bin/python3 " TICKPATH_SOURCE_DIR "/tools/bench_torch_ppo.py --threads " +
                          std::to_string(threads) + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return 0;
  char buf[4096];
  std::string out;
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  pclose(p);
  const auto k = out.find("\"updates_per_s\": ");
  return k == std::string::npos ? 0 : std::strtod(out.c_str() + k + 17, nullptr);
}

void BM_PpoUpdate(benchmark::State& state) {
  const auto threads = static_cast<unsigned>(state.range(0));
  PpoConfig pc;
  pc.threads = threads;
  pc.n_steps = 2048 / threads;  // one buffer of 2,048 samples over `threads` environments
  EnvConfig ec;
  std::vector<std::unique_ptr<Environment>> envs;
  for (unsigned e = 0; e < threads; ++e)
    envs.push_back(std::make_unique<TradingEnvironment>(bars(), 0, bars().size(), ec, 11 + e));
  PpoTrainer trainer(std::move(envs), PolicyModel::init_orthogonal(1), pc);
  trainer.iterate();  // warm-up
  double updates = 0, update_s = 0, steps = 0, rollout_s = 0;
  for (auto _ : state) {
    const PpoIterationStats s = trainer.iterate();
    state.SetIterationTime(s.update_seconds);
    updates += static_cast<double>(s.updates);
    update_s += s.update_seconds;
    steps += 2048;
    rollout_s += s.rollout_seconds;
  }
  const double ours = updates / update_s;
  const double anchor = torch_updates_per_s(static_cast<int>(threads));
  state.counters["updates_per_s"] = ours;
  state.counters["env_steps_per_s"] = steps / rollout_s;
  state.counters["torch_updates_per_s"] = anchor;
  state.counters["vs_torch"] = anchor > 0 ? ours / anchor : 0;
  state.SetLabel(anchor > 0 ? "PyTorch anchor on the same threads" : "PyTorch anchor unavailable (python3-torch)");
}

}  // namespace

BENCHMARK(BM_EnvStep);
BENCHMARK(BM_PpoUpdate)->Arg(1)->Arg(2)->UseManualTime()->Iterations(3)->Unit(benchmark::kMillisecond);
TICKPATH_BENCHMARK_MAIN()
