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
//  - BM_UpdateProducts/{0,1,2}: the matrix products of one minibatch update
//    through the hidden layers of both networks (forward, weight gradients,
//    input gradients; 1.79 M multiply-adds at batch 64), by tickpath's
//    register-blocked kernel on one thread (0) and by oneDNN's matmul
//    primitives, created once with the same operand layouts, on one thread
//    (1) and on all of its OpenMP threads (2); multiply-adds per second.
//  - BM_FmaPeak: what this core retires when it does nothing but
//    independent vector FMAs from registers (multiply-adds per second): the
//    ceiling for the two above.
#include <omp.h>
#include <oneapi/dnnl/dnnl.hpp>

#include <cstdio>
#include <memory>
#include <random>
#include <string>

#include "bench_common.hpp"
#include "tickpath/strategy/actor_critic.hpp"
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

// One product C[M][N] = A[M][K] B[K][N]; A stored transposed (K x M) when
// a_trans, as the weight gradients read their activations.
struct Product {
  std::size_t M, N, K;
  bool a_trans;
};

// The hidden-layer products of one update at batch 64, SB3 layout
// (13 -> 64 -> 64), for one network; the two networks do the same.
std::vector<Product> update_products() {
  const std::size_t B = 64, O = 13, H = 64;
  const std::vector<Product> one = {
      {B, H, O, false},  // forward, layer 1: x W1^T
      {B, H, H, false},  // forward, layer 2
      {H, H, B, true},   // dW2 = dy2^T a1
      {B, H, H, false},  // da1 = dy2 W2
      {O, H, B, true},   // dW1^T = x^T dy1
  };
  std::vector<Product> both = one;
  both.insert(both.end(), one.begin(), one.end());
  return both;
}

struct ProductData {
  std::vector<float> a, b, c;
};

void BM_UpdateProducts(benchmark::State& state) {
  const bool onednn = state.range(0) >= 1;
  // oneDNN (Debian's build) runs on OpenMP: one thread beside ours, or all.
  static const int omp_default = omp_get_max_threads();
  omp_set_num_threads(state.range(0) == 1 ? 1 : omp_default);
  const auto products = update_products();
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<ProductData> data;
  double macs = 0;
  for (const auto& p : products) {
    ProductData d;
    d.a.resize(p.M * p.K);
    d.b.resize(p.K * p.N);
    d.c.resize(p.M * p.N);
    for (auto& v : d.a) v = u(rng);
    for (auto& v : d.b) v = u(rng);
    data.push_back(std::move(d));
    macs += static_cast<double>(p.M) * static_cast<double>(p.N) * static_cast<double>(p.K);
  }
  if (!onednn) {
    for (auto _ : state) {
      for (std::size_t i = 0; i < products.size(); ++i) {
        const Product& p = products[i];
        ProductData& d = data[i];
        train_gemm(p.M, p.N, p.K, d.a.data(), p.a_trans ? 1 : p.K, p.a_trans ? p.M : 1, d.b.data(), p.N, d.c.data(),
                   p.N, false);
      }
      benchmark::ClobberMemory();
    }
  } else {
    using tag = dnnl::memory::format_tag;
    using dt = dnnl::memory::data_type;
    dnnl::engine eng(dnnl::engine::kind::cpu, 0);
    dnnl::stream stream(eng);
    struct Prim {
      dnnl::matmul mm;
      dnnl::memory a, b, c;
    };
    std::vector<Prim> prims;
    for (std::size_t i = 0; i < products.size(); ++i) {
      const Product& p = products[i];
      const auto M = static_cast<dnnl::memory::dim>(p.M), N = static_cast<dnnl::memory::dim>(p.N),
                 K = static_cast<dnnl::memory::dim>(p.K);
      const dnnl::memory::desc a_md({M, K}, dt::f32, p.a_trans ? tag::ba : tag::ab);
      const dnnl::memory::desc b_md({K, N}, dt::f32, tag::ab);
      const dnnl::memory::desc c_md({M, N}, dt::f32, tag::ab);
      const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md), eng);
      prims.push_back({dnnl::matmul(pd), dnnl::memory(a_md, eng, data[i].a.data()),
                       dnnl::memory(b_md, eng, data[i].b.data()), dnnl::memory(c_md, eng, data[i].c.data())});
    }
    for (auto _ : state) {
      for (auto& pr : prims)
        pr.mm.execute(stream, {{DNNL_ARG_SRC, pr.a}, {DNNL_ARG_WEIGHTS, pr.b}, {DNNL_ARG_DST, pr.c}});
      stream.wait();
      benchmark::ClobberMemory();
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(static_cast<double>(state.iterations()) * macs));
  state.counters["macs_per_update"] = macs;
  state.SetLabel(!onednn ? "tickpath train_gemm, 1 thread"
                         : state.range(0) == 1 ? "oneDNN matmul, 1 thread"
                                               : "oneDNN matmul, " + std::to_string(omp_default) + " threads");
}

}  // namespace

BENCHMARK(BM_EnvStep);
BENCHMARK(BM_UpdateProducts)->Arg(0)->Arg(1)->Arg(2);
BENCHMARK(tickpath::bench::BM_FmaPeak)->Name("BM_FmaPeak");
BENCHMARK(BM_PpoUpdate)->Arg(1)->Arg(2)->UseManualTime()->Iterations(3)->Unit(benchmark::kMillisecond);
TICKPATH_BENCHMARK_MAIN()
