#include "tickpath/infra/tsc_clock.hpp"

#include <algorithm>
#include <array>
#include <ctime>

#if TICKPATH_HAVE_RDTSC
#include <cpuid.h>
#endif

namespace tickpath::infra {

namespace {
std::uint64_t monotonic_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}
}  // namespace

bool TscClock::has_invariant_tsc() noexcept {
#if TICKPATH_HAVE_RDTSC
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid_max(0x80000000U, nullptr) < 0x80000007U) return false;
  __cpuid(0x80000007U, eax, ebx, ecx, edx);
  return (edx & (1U << 8)) != 0;
#else
  return false;
#endif
}

TscClock::TscClock(unsigned calibration_ms, bool force_steady) {
  if (force_steady) {
    fallback_reason_ = "steady clock requested";
  } else if (!has_invariant_tsc()) {
    fallback_reason_ = "CPU reports no invariant TSC";
  } else {
#if TICKPATH_HAVE_RDTSC
    // Pair each TSC read with the monotonic clock at both ends of a spin and
    // take the slope. Bracketing each monotonic read between two TSC reads
    // bounds the error of a pair by the time one clock_gettime takes.
    auto pair = [](std::uint64_t& tsc, std::uint64_t& ns) {
      std::uint64_t best = ~0ULL;
      for (int i = 0; i < 5; ++i) {
        _mm_lfence();
        const std::uint64_t a = __rdtsc();
        const std::uint64_t m = monotonic_ns();
        _mm_lfence();
        const std::uint64_t b = __rdtsc();
        if (b - a < best) {
          best = b - a;
          tsc = a + (b - a) / 2;
          ns = m;
        }
      }
    };
    std::uint64_t t0 = 0, n0 = 0, t1 = 0, n1 = 0;
    pair(t0, n0);
    const std::uint64_t until = n0 + std::max(1U, calibration_ms) * 1'000'000ULL;
    while (monotonic_ns() < until) {
    }
    pair(t1, n1);
    if (t1 > t0 && n1 > n0) {
      source_ = ClockSource::tsc;
      ns_per_tick_ = static_cast<double>(n1 - n0) / static_cast<double>(t1 - t0);
    } else {
      fallback_reason_ = "TSC did not advance during calibration";
    }
#endif
  }
  // What one stamp costs: median of back-to-back pairs.
  std::array<std::uint64_t, 257> d{};
  for (auto& x : d) {
    const std::uint64_t a = now();
    const std::uint64_t b = now();
    x = b - a;
  }
  std::nth_element(d.begin(), d.begin() + d.size() / 2, d.end());
  overhead_ns_ = to_ns(d[d.size() / 2]);
}

}  // namespace tickpath::infra
