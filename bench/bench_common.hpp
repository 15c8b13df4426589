// Shared by the benchmarks: a calibrated clock and per-iteration latency
// percentiles attached to a benchmark's counters. Every percentile counter
// includes one clock read (the "clock_ns" counter says what that costs).
#pragma once

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <string>

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

// Context recorded with every result: compiler and flags from the build,
// CPU model from the kernel, commit from TICKPATH_COMMIT (tools/bench.sh).
inline void add_context() {
  benchmark::AddCustomContext("compiler", "g++ " __VERSION__);
  benchmark::AddCustomContext("flags", TICKPATH_BUILD_FLAGS);
  if (const char* c = std::getenv("TICKPATH_COMMIT")) benchmark::AddCustomContext("commit", c);
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) {
      benchmark::AddCustomContext("cpu_model", line.substr(line.find(':') + 2));
      break;
    }
  }
  benchmark::AddCustomContext("clock", std::string(clock().source_name()));
  benchmark::AddCustomContext("clock_stamp_ns", std::to_string(clock().overhead_ns()));
}

}  // namespace tickpath::bench

#define TICKPATH_BENCHMARK_MAIN()                                   \
  int main(int argc, char** argv) {                                 \
    benchmark::Initialize(&argc, argv);                             \
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1; \
    tickpath::bench::add_context();                                 \
    benchmark::RunSpecifiedBenchmarks();                            \
    benchmark::Shutdown();                                          \
    return 0;                                                       \
  }
