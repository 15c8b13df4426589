// The policy forward pass at batch 1 (SB3 PPO MlpPolicy layout, 13-64-64,
// separate policy and value networks, 3 actions): each tickpath back-end
// beside a plain float loop over the row-major torch layout (what a
// straightforward C++ port does; the compiler vectorises it as it can).
// The FMA lower bound, printed as a counter, is the multiply-adds of the
// two networks divided by what two 16-lane FMA ports retire per cycle at
// the TSC rate (the definition); BM_FmaPeak measures what the core
// really retires (its clock under load is above the TSC's), which gives a
// second, stricter bound: multiply-adds / measured peak ("macs" counter).
#include <cmath>
#include <memory>
#include <string>
#include <random>

#include "bench_common.hpp"
#include "tickpath/strategy/policy.hpp"
#include "tickpath/strategy/policy_onednn.hpp"

namespace {

using namespace tickpath::strategy;

const PolicyModel& model() {
  static const PolicyModel m = PolicyModel::init_orthogonal(42);
  return m;
}

std::vector<std::vector<float>> observations() {
  std::mt19937_64 rng(1);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<std::vector<float>> out(256, std::vector<float>(13));
  for (auto& o : out)
    for (auto& v : o) v = d(rng);
  return out;
}

double policy_macs() {
  const auto& m = model();
  return 2.0 * (double(m.n_obs) * m.h1 + double(m.h1) * m.h2) + double(m.h2) * (m.n_actions + 1);
}

double fma_lower_bound_ns() { return policy_macs() / (2.0 * 16.0) / tickpath::bench::clock().ticks_per_ns(); }

void BM_Policy(benchmark::State& state) {
  const auto backend = static_cast<PolicyBackend>(state.range(0));
  if (!cpu_supports(backend)) {
    state.SkipWithError("CPU lacks this back-end");
    return;
  }
  std::string err;
  auto p = Policy::create(model(), backend, err);
  const auto obs = observations();
  PolicyOutput out;
  std::size_t i = 0;
  state.SetLabel(to_string(backend));
  state.counters["fma_lower_bound_ns"] = fma_lower_bound_ns();
  state.counters["macs"] = policy_macs();
  if (state.range(1) == 0) {  // no stamps: time per iteration is the forward pass alone
    for (auto _ : state) {
      const bool ok = p->forward(obs[i++ & 255].data(), out);
      benchmark::DoNotOptimize(ok);
      benchmark::DoNotOptimize(out);
    }
    return;
  }
  tickpath::infra::LatencyHistogram h;
  const auto& clk = tickpath::bench::clock();
  for (auto _ : state) {
    const auto t0 = clk.now();
    const bool ok = p->forward(obs[i++ & 255].data(), out);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(out);
    h.record(clk.delta_ns(t0, clk.now()));
  }
  tickpath::bench::report_percentiles(state, h);
}

// Anchor: the straightforward float loop over torch's [out][in] layout.
void dense(const DenseLayer& l, const float* x, float* y, bool act) {
  for (std::uint32_t o = 0; o < l.out; ++o) {
    float s = l.b[o];
    for (std::uint32_t i = 0; i < l.in; ++i) s += l.w[o * l.in + i] * x[i];
    y[o] = act ? std::tanh(s) : s;
  }
}
void BM_PlainLoop(benchmark::State& state) {
  const auto& m = model();
  const auto obs = observations();
  float h1[64], h2[64], v1[64], v2[64], logits[3], value, probs[3];
  tickpath::infra::LatencyHistogram h;
  const auto& clk = tickpath::bench::clock();
  std::size_t i = 0;
  for (auto _ : state) {
    const auto t0 = clk.now();
    const float* x = obs[i++ & 255].data();
    dense(m.pi1, x, h1, true);
    dense(m.pi2, h1, h2, true);
    dense(m.vf1, x, v1, true);
    dense(m.vf2, v1, v2, true);
    dense(m.action, h2, logits, false);
    dense(m.value, v2, &value, false);
    const auto a = softmax_argmax(logits, 3, probs);
    benchmark::DoNotOptimize(a);
    benchmark::DoNotOptimize(value);
    h.record(clk.delta_ns(t0, clk.now()));
  }
  state.SetLabel("plain float loop");
  state.counters["fma_lower_bound_ns"] = fma_lower_bound_ns();
  tickpath::bench::report_percentiles(state, h);
}

// Anchor: oneDNN matmuls with fused tanh, at batch 1 (the hot-path case) and
// 64 (backtests); time is per call, items are observations.
void BM_OneDnn(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  std::string err;
  auto p = OnednnPolicy::create(model(), batch, err);
  if (!p) {
    state.SkipWithError(err.c_str());
    return;
  }
  const auto obs = observations();
  std::vector<float> rows;
  for (std::size_t r = 0; r < batch; ++r) rows.insert(rows.end(), obs[r & 255].begin(), obs[r & 255].end());
  std::vector<PolicyOutput> out(batch);
  tickpath::infra::LatencyHistogram h;
  const auto& clk = tickpath::bench::clock();
  for (auto _ : state) {
    const auto t0 = clk.now();
    benchmark::DoNotOptimize(p->forward(rows.data(), batch, out.data()));
    h.record(clk.delta_ns(t0, clk.now()));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch));
  state.SetLabel("oneDNN batch " + std::to_string(batch));
  tickpath::bench::report_percentiles(state, h);
}

}  // namespace

BENCHMARK(BM_OneDnn)->Arg(1)->Arg(64);
BENCHMARK(BM_Policy)->Args({0, 1})->Args({1, 0})->Args({1, 1})->Args({2, 0})->Args({2, 1});
BENCHMARK(BM_PlainLoop);
BENCHMARK(tickpath::bench::BM_FmaPeak)->Name("BM_FmaPeak");
TICKPATH_BENCHMARK_MAIN()
