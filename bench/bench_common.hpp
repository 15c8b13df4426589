// Shared by the benchmarks: a calibrated clock and per-iteration latency
// percentiles attached to a benchmark's counters. Every percentile counter
// includes one clock read (the "clock_ns" counter says what that costs).
#pragma once

#include <benchmark/benchmark.h>
#include <immintrin.h>

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

// What this core retires when it does nothing but independent vector FMAs
// from registers, in multiply-adds per second (items/s): the ceiling for any
// dense-layer kernel, measured rather than computed from a clock rate (the
// core's clock under load is not the TSC's).
inline void BM_FmaPeak(benchmark::State& state) {
  constexpr int kChains = 12;  // > latency x ports: the FMA units, not a dependency, set the pace
  constexpr int kSteps = 256;
#if defined(__AVX512F__)
  using V = __m512;
  constexpr int kLanes = 16;
  auto fma = [](V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); };
  auto set1 = [](float x) { return _mm512_set1_ps(x); };
#else
  using V = __m256;
  constexpr int kLanes = 8;
  auto fma = [](V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); };
  auto set1 = [](float x) { return _mm256_set1_ps(x); };
#endif
  V acc[kChains];
  for (int j = 0; j < kChains; ++j) acc[j] = set1(static_cast<float>(j) * 1e-3f);
  const V m = set1(0.999f), a = set1(1e-4f);
  for (auto _ : state) {
    for (int s = 0; s < kSteps; ++s)
      for (int j = 0; j < kChains; ++j) acc[j] = fma(acc[j], m, a);
    for (int j = 0; j < kChains; ++j) benchmark::DoNotOptimize(acc[j]);
  }
  state.SetItemsProcessed(state.iterations() * kSteps * kChains * kLanes);
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
