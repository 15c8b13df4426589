// The whole pipeline, synthetic frames of two symbols with the policy on
// every trade of the bar stream, beside its anchor in the same run: the same
// work done inline on one thread, frame by frame, with no ring between the
// stages (FeedHandler -> MarketState -> observation -> policy), which is the
// sum of the stage floors on this machine.
//
//  - BM_Pipeline/0: as fast as the frames go (pace 0): sustained frames/s
//    with zero drops (the feed waits on a full ring and counts it), and the
//    stage percentiles at saturation.
//  - BM_Pipeline/N: paced at N frames/s for two seconds: the latency a frame
//    sees at a set load, tick_to_signal (receive stamp to signal) p50 / p99 /
//    p99.9 (the synthetic market runs at 20 frames per event-time second
//    here, so the policy is past its 35-bar warm-up early in the run).
//  - BM_Inline: the anchor, receive stamp to decision per frame, one core.
//
// Each benchmark iteration is one whole run (set-up excluded from the
// counters, which come from the engine's own report).
#include <unistd.h>

#include <memory>
#include <string>

#include "bench_common.hpp"
#include "tickpath/engine/pipeline.hpp"
#include "tickpath/feed/feed_handler.hpp"
#include "tickpath/feed/synthetic.hpp"
#include "tickpath/infra/affinity.hpp"
#include "tickpath/strategy/market_state.hpp"
#include "tickpath/strategy/policy.hpp"
#include "tickpath/strategy/policy_model.hpp"

namespace {

using namespace tickpath;

constexpr std::uint64_t kFrames = 1'000'000;

strategy::PolicyBackend best_backend() {
  for (auto b : {strategy::PolicyBackend::avx512, strategy::PolicyBackend::avx2})
    if (strategy::cpu_supports(b)) return b;
  return strategy::PolicyBackend::scalar;
}

const std::string& model_path() {
  static const std::string path = [] {
    const std::string p = "/tmp/tickpath-bench-pipeline-" + std::to_string(getpid()) + ".tpp";
    std::string err;
    if (!strategy::save_policy_model(p, strategy::PolicyModel::init_orthogonal(1), err)) {
      std::fprintf(stderr, "bench_pipeline: %s\n", err.c_str());
      std::exit(1);
    }
    return p;
  }();
  return path;
}

void set_stage(benchmark::State& state, const engine::RunReport& rep, const char* stage, const char* prefix) {
  for (const auto& s : rep.stages) {
    if (s.name != stage) continue;
    state.counters[std::string(prefix) + "_p50_ns"] = s.p.p50_ns;
    state.counters[std::string(prefix) + "_p99_ns"] = s.p.p99_ns;
    state.counters[std::string(prefix) + "_p999_ns"] = s.p.p999_ns;
  }
}

void BM_Pipeline(benchmark::State& state) {
  const double pace = static_cast<double>(state.range(0));
  engine::RunReport rep;
  for (auto _ : state) {
    engine::PipelineConfig cfg;
    cfg.feed = engine::PipelineConfig::Feed::synthetic;
    cfg.messages = pace > 0 ? static_cast<std::uint64_t>(pace) * 2 : kFrames;  // paced: two seconds
    cfg.progress = false;
    cfg.feed_cpu = 0;
    cfg.strategy_cpu = 1;
    cfg.model_path = model_path();
    cfg.policy_backend = strategy::to_string(best_backend());
    cfg.pace_fps = pace;
    // Paced runs are short in frames: a faster market in event time closes
    // the 35 bars the observation needs within the first quarter of the run.
    if (pace > 0) cfg.synthetic.rate_per_s = 20;
    std::string error;
    rep = engine::run_pipeline(cfg, error);
    if (!error.empty()) {
      state.SkipWithError(error.c_str());
      return;
    }
    state.SetIterationTime(rep.duration_s);
  }
  state.counters["frames_per_s"] = static_cast<double>(rep.processed) / rep.duration_s;
  state.counters["dropped"] = static_cast<double>(rep.dropped);
  state.counters["signals"] = static_cast<double>(rep.signals);
  set_stage(state, rep, "tick_to_signal", "t2s");
  set_stage(state, rep, "end_to_end", "e2e");
  set_stage(state, rep, "queue", "queue");
  set_stage(state, rep, "parse", "parse");
  state.SetLabel(pace > 0 ? "pipeline paced" : "pipeline saturated");
}

// The anchor: the same frames and stages inline on one pinned thread.
void BM_Inline(benchmark::State& state) {
  feed::SyntheticConfig sc;
  auto frames = feed::SyntheticMarket(sc).render(kFrames);
  std::string err;
  auto policy = strategy::Policy::create(strategy::PolicyModel::init_orthogonal(1), best_backend(), err);
  if (!policy) {
    state.SkipWithError(err.c_str());
    return;
  }
  infra::pin_this_thread(1, "bench");
  infra::LatencyHistogram t2d;
  const auto& clk = bench::clock();
  std::uint64_t decisions = 0, processed = 0;
  double seconds = 0;
  for (auto _ : state) {
    infra::SymbolTable symbols;
    auto handler = std::make_unique<feed::FeedHandler>(symbols);
    auto market = std::make_unique<strategy::MarketState>(infra::SymbolTable::kMaxSymbols);
    strategy::Observation obs{};
    strategy::PolicyOutput out;
    infra::Event ev;
    const auto& refs = frames.frames();
    const char* base = frames.data();
    const auto t0 = clk.now();
    for (const auto& fr : refs) {
      const auto rx = clk.now();
      if (handler->on_frame(base + fr.offset, fr.len, fr.symbol_hint, ev) != feed::RejectReason::none) continue;
      ++processed;
      const auto u = market->on_event(ev);
      if (!u.price || ev.symbol >= market->capacity()) continue;
      market->observe(ev.symbol, false, 0.0, 0.0, obs);
      if (!policy->forward(obs.data(), out)) continue;  // still warming up
      ++decisions;
      t2d.record(clk.delta_ns(rx, clk.now()));
    }
    const double s = static_cast<double>(clk.delta_ns(t0, clk.now())) * 1e-9;
    seconds += s;
    state.SetIterationTime(s);
  }
  const auto p = t2d.snapshot().summary();
  state.counters["frames_per_s"] = static_cast<double>(processed) / seconds;
  state.counters["decisions"] = static_cast<double>(decisions) / static_cast<double>(state.iterations());
  state.counters["t2s_p50_ns"] = p.p50_ns;
  state.counters["t2s_p99_ns"] = p.p99_ns;
  state.counters["t2s_p999_ns"] = p.p999_ns;
  state.SetLabel("inline, one thread (anchor)");
}

}  // namespace

BENCHMARK(BM_Pipeline)->Arg(0)->Arg(100'000)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Inline)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);
TICKPATH_BENCHMARK_MAIN()
