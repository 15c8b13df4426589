#include "stress.hpp"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "exsim.hpp"
#include "tickpath/engine/pipeline.hpp"
#include "tickpath/strategy/policy.hpp"

namespace tickpath::engine {

namespace {

struct StepResult {
  double offered = 0, achieved = 0;
  std::uint64_t generated = 0, sent = 0, received = 0, lost = 0, reconnects = 0, slow_drops = 0;
  double drain_s = 0;
  bool pass = false;
  std::string why;
  std::vector<StageSummary> stages;
};

const infra::Percentiles* stage(const std::vector<StageSummary>& st, const char* name) {
  for (const auto& s : st)
    if (s.name == name) return &s.p;
  return nullptr;
}

}  // namespace

int run_stress(const StressOptions& o) {
  if (!o.model.empty()) {  // a bad model is a set-up error, before any step
    std::string error;
    if (!strategy::load_policy(o.model, "auto", true, error)) {
      std::fprintf(stderr, "tickpath: %s\n", error.c_str());
      return 1;
    }
  }
  std::vector<StepResult> steps;
  double best = 0;
  std::printf("tickpath stress: %zu symbols over %s on loopback, %.1f s per step%s%s\n", o.symbols.size(),
              o.tls ? "TLS" : "plain TCP", o.step_s, o.model.empty() ? "" : ", policy on every trade",
              o.inline_strategy ? ", one hot thread" : "");
  std::printf("\n  %10s %10s %9s %9s %6s %9s %11s %11s %11s %11s  %s\n", "offered/s", "achieved/s", "sent", "received",
              "lost", "drain ms", "wire p50", "wire p99", "e2e p99", "t2s p99", "result");
  for (const double rate : o.rates) {
    StepResult r;
    r.offered = rate;
    exsim::SimConfig sc;
    sc.tls = o.tls;
    sc.rate_per_s = rate;
    sc.max_frames = static_cast<std::uint64_t>(rate * o.step_s);
    sc.market.symbols = o.symbols;
    sc.market.rate_per_s = 20;  // event time runs faster than the wall, so bars close and the policy warms up
    exsim::ExchangeSimulator sim(sc);
    std::string error;
    if (!sim.start(error)) {
      std::fprintf(stderr, "tickpath: stress: %s\n", error.c_str());
      return 1;
    }
    PipelineConfig cfg;
    cfg.feed = PipelineConfig::Feed::live;
    cfg.symbols = o.symbols;
    cfg.live.ws_url = sim.ws_base();
    cfg.live.rest_url = sim.rest_base();
    cfg.live.ca_file = sim.ca_file();
    cfg.live.streams = {"trade", "aggTrade", "bookTicker", "depth@100ms", "kline_1m"};
    cfg.live.stale_after_s = 0;  // a step that starves the engine must show as loss, not as a reconnect
    cfg.model_path = o.model;
    cfg.feed_cpu = o.feed_cpu;
    cfg.strategy_cpu = o.strategy_cpu;
    cfg.inline_strategy = o.inline_strategy;
    cfg.progress = false;
    std::atomic<bool> stop{false};
    RunReport rep;
    std::thread run([&] { rep = run_pipeline(cfg, error, &stop); });
    const auto t0 = std::chrono::steady_clock::now();
    const auto limit = t0 + std::chrono::duration<double>(o.step_s * 4 + 10);
    auto done_at = std::chrono::steady_clock::time_point{};
    while (std::chrono::steady_clock::now() < limit) {
      const auto st = sim.stats();
      if (st.done && done_at == std::chrono::steady_clock::time_point{}) done_at = std::chrono::steady_clock::now();
      if (st.done && st.backlog_bytes == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    const auto flushed = std::chrono::steady_clock::now();
    // TCP buffers hold what the simulator flushed last; give the engine its drain allowance.
    std::this_thread::sleep_for(std::chrono::duration<double>(o.max_drain_s));
    stop = true;
    run.join();
    const auto st = sim.stats();
    sim.stop();
    if (!error.empty()) {
      std::fprintf(stderr, "tickpath: stress: %s\n", error.c_str());
      return 1;
    }
    const double gen_s = st.generating_s;
    r.generated = st.generated;
    r.achieved = gen_s > 0 ? static_cast<double>(st.generated) / gen_s : 0;
    r.sent = st.sent;
    r.received = rep.messages - rep.snapshots_applied;
    r.lost = r.sent > r.received ? r.sent - r.received : 0;
    r.reconnects = rep.reconnects;
    r.slow_drops = st.slow_client_drops;
    r.drain_s = done_at == std::chrono::steady_clock::time_point{}
                    ? -1
                    : std::chrono::duration<double>(flushed - done_at).count();
    r.stages = rep.stages;
    if (r.slow_drops != 0) r.why = "the simulator dropped the engine as a slow client";
    else if (st.write_failures != 0) r.why = "the simulator's sends failed";
    else if (r.reconnects != 0) r.why = "disconnected";
    else if (!st.done || r.achieved < rate * 0.95)
      r.why = fmt::format("the simulator reached only {:.0f}/s (it shares the cores)", r.achieved);
    else if (r.lost != 0 || rep.sq_missing != 0) r.why = fmt::format("{} frames lost", r.lost + rep.sq_missing);
    else if (r.drain_s > o.max_drain_s) r.why = "the engine fell behind";
    r.pass = r.why.empty();
    if (r.pass) best = std::max(best, rate);
    const auto* w = stage(r.stages, "wire");
    const auto* e = stage(r.stages, "end_to_end");
    const auto* t = stage(r.stages, "tick_to_signal");
    auto us = [](const infra::Percentiles* p, double infra::Percentiles::*f) {
      return p == nullptr || p->count == 0 ? std::string("-") : fmt::format("{:.1f} us", p->*f * 1e-3);
    };
    std::printf("  %10.0f %10.0f %9llu %9llu %6llu %9.0f %11s %11s %11s %11s  %s\n", rate, r.achieved,
                static_cast<unsigned long long>(r.sent), static_cast<unsigned long long>(r.received),
                static_cast<unsigned long long>(r.lost), r.drain_s * 1e3, us(w, &infra::Percentiles::p50_ns).c_str(),
                us(w, &infra::Percentiles::p99_ns).c_str(), us(e, &infra::Percentiles::p99_ns).c_str(),
                us(t, &infra::Percentiles::p99_ns).c_str(), r.pass ? "ok" : r.why.c_str());
    std::fflush(stdout);
    steps.push_back(std::move(r));
  }
  std::printf("\n  highest rate sustained with zero loss: %.0f frames/s\n", best);
  if (!o.report.empty()) {
    std::string j = fmt::format("{{\"tls\":{},\"step_s\":{},\"symbols\":{},\"hot_threads\":{},\"best_rate\":{},\"steps\":[",
                                o.tls, o.step_s, o.symbols.size(), o.inline_strategy ? 1 : 2, best);
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const auto& s = steps[i];
      j += fmt::format("{}{{\"offered\":{},\"achieved\":{:.0f},\"sent\":{},\"received\":{},\"lost\":{},\"drain_s\":{:.4f},"
                       "\"pass\":{},\"why\":\"{}\",\"stages\":{{",
                       i ? "," : "", s.offered, s.achieved, s.sent, s.received, s.lost, s.drain_s, s.pass, s.why);
      for (std::size_t k = 0; k < s.stages.size(); ++k) {
        const auto& p = s.stages[k].p;
        j += fmt::format("{}\"{}\":{{\"count\":{},\"p50_ns\":{:.0f},\"p99_ns\":{:.0f},\"p999_ns\":{:.0f},\"max_ns\":{:.0f}}}",
                         k ? "," : "", s.stages[k].name, p.count, p.p50_ns, p.p99_ns, p.p999_ns, p.max_ns);
      }
      j += "}}";
    }
    j += "]}\n";
    std::ofstream out(o.report);
    if (!(out << j)) {
      std::fprintf(stderr, "tickpath: cannot write %s\n", o.report.c_str());
      return 1;
    }
    std::printf("  report written to %s\n", o.report.c_str());
  }
  return 0;
}

}  // namespace tickpath::engine
