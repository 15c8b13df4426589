// Shared by the benchmarks: a calibrated clock and per-iteration latency
// percentiles attached to a benchmark's counters. Every percentile counter
// includes one clock read (the "clock_ns" counter says what that costs).
#pragma once

#include <benchmark/benchmark.h>

#include "tickpath/infra/latency_histogram.hpp"
#include "tickpath/infra/tsc_clock.hpp"

namespace tickpath::bench {

inline const infra::TscClock& clock() {
  static const infra::TscClock c(100);
  return c;
}

inline void report_percentiles(benchmark::State& state, const infra::LatencyHistogram& h, const char* prefix = "") {
  const auto p = h.snapshot().summary();
  const std::string pre(prefix);
  state.counters[pre + "p50_ns"] = p.p50_ns;
  state.counters[pre + "p99_ns"] = p.p99_ns;
  state.counters[pre + "p999_ns"] = p.p999_ns;
  state.counters["clock_ns"] = clock().overhead_ns();
}

}  // namespace tickpath::bench
