// The policy forward pass at batch 1 (SB3 PPO MlpPolicy layout, 13-64-64,
// separate policy and value networks, 3 actions): each tickpath back-end
// beside a plain float loop over the row-major torch layout (what a
// straightforward C++ port does; the compiler vectorises it as it can).
// The FMA lower bound, printed as a counter, is the multiply-adds of the
// two networks divided by what two 16-lane FMA ports retire per cycle at
// the TSC rate (the definition); BM_FmaPeak measures what the core
// really retires (its clock under load is above the TSC's), which gives a
// second, stricter bound: multiply-adds / measured peak ("macs" counter).
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <random>

#include "bench_common.hpp"
#include "dense_bf16.hpp"
#include "tickpath/strategy/policy.hpp"
#include "tickpath/strategy/policy_onednn.hpp"

namespace {

using namespace tickpath::strategy;

const PolicyModel& model() {
  static const PolicyModel m = PolicyModel::init_orthogonal(42);
  return m;
}

// The same weights with ReLU for the activation (Stable-Baselines3's
// activation_fn=nn.ReLU): one instruction a vector where tanh takes 18.
const PolicyModel& relu_model() {
  static const PolicyModel m = [] {
    PolicyModel r = model();
    r.activation = Activation::relu;
    return r;
  }();
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

// Multiply-adds of one pass: both networks and heads, or the actor alone.
double policy_macs(bool critic = true) {
  const auto& m = model();
  const double net = double(m.n_obs) * m.h1 + double(m.h1) * m.h2;
  return critic ? 2.0 * net + double(m.h2) * (m.n_actions + 1) : net + double(m.h2) * m.n_actions;
}

double fma_lower_bound_ns(bool critic = true) {
  return policy_macs(critic) / (2.0 * 16.0) / tickpath::bench::clock().ticks_per_ns();
}

// The back-end named by the benchmark's first argument, or nullptr (and
// the benchmark skipped) when this CPU lacks it.
std::unique_ptr<Policy> policy_or_skip(benchmark::State& state, bool critic = true, const PolicyModel& m = model()) {
  const auto backend = static_cast<PolicyBackend>(state.range(0));
  if (!cpu_supports(backend)) {
    state.SkipWithError("CPU lacks this back-end");
    return nullptr;
  }
  std::string err;
  return Policy::create(m, backend, err, critic);
}

// Arguments: back-end, stamped (1) or not.
void policy_passes(benchmark::State& state, bool critic, const PolicyModel& m = model()) {
  auto p = policy_or_skip(state, critic, m);
  if (!p) return;
  const auto backend = p->backend();
  const auto obs = observations();
  PolicyOutput out;
  std::size_t i = 0;
  state.SetLabel(std::string(to_string(backend)) + (critic ? "" : ", actor only") +
                 (m.activation == Activation::relu ? ", relu" : ""));
  state.counters["fma_lower_bound_ns"] = fma_lower_bound_ns(critic);
  state.counters["macs"] = policy_macs(critic);
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

void BM_Policy(benchmark::State& state) { policy_passes(state, true); }

// The actor alone (`tickpath run --no-critic`): what the signal needs, as
// Stable-Baselines3's predict() computes it; the value network is not run.
void BM_PolicyActor(benchmark::State& state) { policy_passes(state, false); }

// The whole pass with ReLU in place of tanh: the input check, both
// networks' layers, the heads and the softmax with the activation all but
// free. What this costs against the FMA lower bound is more than any tanh,
// however cheap, can take the tanh pass below.
void BM_PolicyRelu(benchmark::State& state) { policy_passes(state, true, relu_model()); }

// The forward pass as the pipeline sees it: not back to back, but after
// `gap` microseconds of other work (here a register-only spin that touches
// no memory). On the 2-core VM this suite was tuned on, the pass costs
// more the longer the gap, whatever the gap's work; the pipeline's policy
// stage (a pass every ~20 us) matches the 20 us row, not the back-to-back one.
void passes_after_gap(benchmark::State& state, bool critic) {
  auto p = policy_or_skip(state, critic);
  if (!p) return;
  const auto obs = observations();
  PolicyOutput out;
  std::size_t i = 0;
  tickpath::infra::LatencyHistogram h;
  const auto& clk = tickpath::bench::clock();
  const std::uint64_t gap_ticks = clk.ns_to_ticks(static_cast<double>(state.range(1)) * 1000.0);
  for (auto _ : state) {
    const std::uint64_t until = clk.now() + gap_ticks;
    while (clk.now() < until) {
    }
    const auto t0 = clk.now();
    const bool ok = p->forward(obs[i++ & 255].data(), out);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(out);
    h.record(clk.delta_ns(t0, clk.now()));
  }
  state.SetLabel(std::string(to_string(p->backend())) + (critic ? "" : ", actor only") + ", after " +
                 std::to_string(state.range(1)) + " us");
  tickpath::bench::report_percentiles(state, h);
}

void BM_PolicyAfterGap(benchmark::State& state) { passes_after_gap(state, true); }
void BM_PolicyActorAfterGap(benchmark::State& state) { passes_after_gap(state, false); }

// bf16 or fp32 for the hidden layers (the candidate: half the bytes
// of weights, VDPBF16PS's two products per lane): the same two layers of
// both networks, activations left out, in each type. Time per call; the
// counter is the largest difference of a bf16 output from the fp32 one,
// relative to the largest fp32 output.
void BM_DenseLayers(benchmark::State& state) {
  if (!tickpath::bench::dense_bf16_supported()) {
    state.SkipWithError("CPU lacks AVX512_BF16");
    return;
  }
  const bool bf16 = state.range(0) == 1;
  const auto& m = model();
  tickpath::bench::DenseLayers L;
  L.n_in = m.n_obs;
  const auto input_major = [](const DenseLayer& l, auto& w, auto& b) {
    w.assign(std::size_t{l.in} * 64, 0.0f);
    for (std::uint32_t o = 0; o < l.out; ++o)
      for (std::uint32_t i = 0; i < l.in; ++i) w[std::size_t{i} * 64 + o] = l.w[std::size_t{o} * l.in + i];
    b.assign(l.b.begin(), l.b.end());
  };
  input_major(m.pi1, L.w1a, L.b1a), input_major(m.vf1, L.w1b, L.b1b);
  input_major(m.pi2, L.w2a, L.b2a), input_major(m.vf2, L.w2b, L.b2b);
  L.pack_bf16();
  const auto obs = observations();
  double worst = 0, scale = 0;
  for (const auto& o : obs) {
    alignas(64) float a[128], b[128];
    L.fp32(o.data(), a);
    L.bf16(o.data(), b);
    for (int k = 0; k < 128; ++k) {
      worst = std::max(worst, double(std::fabs(a[k] - b[k])));
      scale = std::max(scale, double(std::fabs(a[k])));
    }
  }
  alignas(64) float out[128];
  std::size_t i = 0;
  for (auto _ : state) {
    const float* x = obs[i++ & 255].data();
    if (bf16) L.bf16(x, out);
    else L.fp32(x, out);
    benchmark::DoNotOptimize(out);
  }
  state.SetLabel(bf16 ? "bf16 (VDPBF16PS), fp32 sums" : "fp32 (FMA)");
  state.counters["max_rel_error"] = worst / scale;
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
BENCHMARK(BM_PolicyAfterGap)->Args({2, 1})->Args({2, 5})->Args({2, 20})->Args({1, 20});
BENCHMARK(BM_PolicyActor)->Args({1, 0})->Args({1, 1})->Args({2, 0})->Args({2, 1});
BENCHMARK(BM_PolicyActorAfterGap)->Args({2, 20})->Args({1, 20});
BENCHMARK(BM_PolicyRelu)->Args({2, 0});
BENCHMARK(BM_DenseLayers)->Arg(0)->Arg(1);
BENCHMARK(BM_PlainLoop);
BENCHMARK(tickpath::bench::BM_FmaPeak)->Name("BM_FmaPeak");
TICKPATH_BENCHMARK_MAIN()
