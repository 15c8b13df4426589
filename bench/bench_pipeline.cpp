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
//  - BM_PipelineOneThread/PACE/CRITIC: the engine with one hot thread
//    (`--inline-strategy`): the feed thread runs the strategy, no event
//    ring; the io thread has the other core to itself. Saturated and paced,
//    both networks (CRITIC 1) and the actor alone (0).
//  - BM_Inline: the anchor, receive stamp to decision per frame, one core.
//  - BM_PipelineUi/100000/M: the paced run and the dashboard server (--ui):
//    M = 0: no server (the anchor); 1: the server with no client (the hot
//    threads publish frames, bars and the tape; the io thread polls); 2: one
//    client reading the stream (the io thread renders and writes 10 times a
//    second); 3: that client plus one that handshakes and never reads (its
//    updates coalesced, counted in ui_coalesced). What the stream costs the
//    hot path, and whether a stalled browser moves it.
//
// Each benchmark iteration is one whole run (set-up excluded from the
// counters, which come from the engine's own report).
#include <algorithm>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>

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

// A WebSocket client at the socket level: the upgrade request, then either
// read and discard until the server closes, or never read at all.
int ws_connect(std::uint16_t port, int rcvbuf) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  static const std::string hs = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::send(fd, hs.data(), hs.size(), MSG_NOSIGNAL) != static_cast<long>(hs.size())) {
    ::close(fd);
    return -1;
  }
  return fd;
}

struct UiClients {
  int mode = 0;
  int reader = -1, stalled = -1;
  std::thread th;
  void connect(std::uint16_t port) {
    if (mode >= 2 && (reader = ws_connect(port, 0)) >= 0)
      th = std::thread([fd = reader] {
        char buf[65536];
        while (::recv(fd, buf, sizeof buf, 0) > 0) {
        }
      });
    if (mode >= 3) stalled = ws_connect(port, 4096);
  }
  ~UiClients() {
    if (reader >= 0) ::shutdown(reader, SHUT_RDWR);
    if (th.joinable()) th.join();
    for (int fd : {reader, stalled})
      if (fd >= 0) ::close(fd);
  }
};

// ui_mode -1: the dashboard is not part of the benchmark; 0, 1, 2: as above.
// critic false: the actor alone (`tickpath run --no-critic`). one_thread:
// `--inline-strategy`, pinned to core 0.
void pipeline_run(benchmark::State& state, double pace, int ui_mode, bool critic = true, bool one_thread = false) {
  engine::RunReport rep;
  for (auto _ : state) {
    UiClients clients;
    clients.mode = ui_mode;
    engine::PipelineConfig cfg;
    if (ui_mode > 0) {
      cfg.ui_listen = "127.0.0.1:0";
      cfg.ui_ready = [&clients](std::uint16_t port) { clients.connect(port); };
    }
    cfg.feed = engine::PipelineConfig::Feed::synthetic;
    cfg.messages = pace > 0 ? static_cast<std::uint64_t>(pace) * 2 : kFrames;  // paced: two seconds
    cfg.progress = false;
    cfg.feed_cpu = 0;
    cfg.strategy_cpu = one_thread ? 0 : 1;
    cfg.inline_strategy = one_thread;
    cfg.model_path = model_path();
    cfg.policy_backend = strategy::to_string(best_backend());
    cfg.policy_critic = critic;
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
  // vCPU steal of the more-robbed hot core, in % of the run: a tail the
  // host made, not the engine (absent when the host does not report it)
  double steal = -1;
  for (const auto& c : rep.steal) steal = std::max(steal, c.fraction * 100.0);
  if (steal >= 0) state.counters["steal_pct_max"] = steal;
  set_stage(state, rep, "tick_to_signal", "t2s");
  set_stage(state, rep, "end_to_end", "e2e");
  set_stage(state, rep, "queue", "queue");
  set_stage(state, rep, "parse", "parse");
  if (ui_mode >= 0) {
    state.counters["ui_clients"] = static_cast<double>(rep.ui_ws_clients);
    state.counters["ui_messages"] = static_cast<double>(rep.ui_ws_messages);
    state.counters["ui_coalesced"] = static_cast<double>(rep.ui_ws_coalesced);
    state.SetLabel(ui_mode == 0   ? "paced, no dashboard (anchor)"
                   : ui_mode == 1 ? "paced, dashboard without clients"
                   : ui_mode == 2 ? "paced, dashboard with a reading client"
                                  : "paced, dashboard with a reading and a stalled client");
  } else {
    state.SetLabel(std::string(pace > 0 ? "pipeline paced" : "pipeline saturated") + (one_thread ? ", one hot thread" : "") +
                   (critic ? "" : ", actor only"));
  }
}

void BM_Pipeline(benchmark::State& state) { pipeline_run(state, static_cast<double>(state.range(0)), -1); }
void BM_PipelineActor(benchmark::State& state) {
  pipeline_run(state, static_cast<double>(state.range(0)), -1, false);
}
void BM_PipelineOneThread(benchmark::State& state) {
  pipeline_run(state, static_cast<double>(state.range(0)), -1, state.range(1) != 0, true);
}
void BM_PipelineUi(benchmark::State& state) {
  pipeline_run(state, static_cast<double>(state.range(0)), static_cast<int>(state.range(1)));
}

// The anchor: the same frames and stages inline on one pinned thread.
void inline_run(benchmark::State& state, bool critic) {
  feed::SyntheticConfig sc;
  auto frames = feed::SyntheticMarket(sc).render(kFrames);
  std::string err;
  auto policy = strategy::Policy::create(strategy::PolicyModel::init_orthogonal(1), best_backend(), err, critic);
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
  state.SetLabel(critic ? "inline, one thread (anchor)" : "inline, one thread, actor only (anchor)");
}

void BM_Inline(benchmark::State& state) { inline_run(state, true); }
void BM_InlineActor(benchmark::State& state) { inline_run(state, false); }

}  // namespace

BENCHMARK(BM_Pipeline)->Arg(0)->Arg(100'000)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PipelineUi)
    ->Args({100'000, 0})
    ->Args({100'000, 1})
    ->Args({100'000, 2})
    ->Args({100'000, 3})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Inline)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PipelineActor)->Arg(0)->Arg(100'000)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_InlineActor)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PipelineOneThread)
    ->Args({0, 1})
    ->Args({100'000, 1})
    ->Args({0, 0})
    ->Args({100'000, 0})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
TICKPATH_BENCHMARK_MAIN()
