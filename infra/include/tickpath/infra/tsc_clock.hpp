// TscClock: the one time source of the hot path. Stamps are raw ticks (TSC
// cycles when the CPU has an invariant TSC, steady_clock nanoseconds
// otherwise); converting to nanoseconds is left to whoever reports, off the
// hot path. Calibrated once against CLOCK_MONOTONIC at construction.
#pragma once

#include <cstdint>
#include <string_view>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define TICKPATH_HAVE_RDTSC 1
#else
#define TICKPATH_HAVE_RDTSC 0
#endif
#include <chrono>

namespace tickpath::infra {

enum class ClockSource : std::uint8_t { tsc, steady };

class TscClock {
 public:
  // Probes CPUID for an invariant TSC and calibrates ticks per nanosecond
  // over `calibration_ms` of wall time (spins; call at start-up only).
  // `force_steady` skips the TSC, for tests and hosts with a broken one.
  explicit TscClock(unsigned calibration_ms = 50, bool force_steady = false);

  // One stamp. lfence before rdtsc keeps earlier loads from drifting past it;
  // cost is measured at construction (overhead_ns()). Thread-safe, never
  // blocks, never allocates.
  [[nodiscard]] std::uint64_t now() const noexcept {
#if TICKPATH_HAVE_RDTSC
    if (source_ == ClockSource::tsc) {
      _mm_lfence();
      return __rdtsc();
    }
#endif
    return steady_ns();
  }

  [[nodiscard]] double to_ns(std::uint64_t ticks) const noexcept {
    return static_cast<double>(ticks) * ns_per_tick_;
  }
  [[nodiscard]] std::uint64_t ns_to_ticks(double ns) const noexcept {
    return static_cast<std::uint64_t>(ns / ns_per_tick_);
  }
  // Difference of two stamps in whole nanoseconds; 0 when `later` < `earlier`
  // (cross-core TSC skew of a few ticks can do that).
  [[nodiscard]] std::uint64_t delta_ns(std::uint64_t earlier, std::uint64_t later) const noexcept {
    return later > earlier ? static_cast<std::uint64_t>(static_cast<double>(later - earlier) * ns_per_tick_)
                           : 0;
  }

  [[nodiscard]] ClockSource source() const noexcept { return source_; }
  [[nodiscard]] std::string_view source_name() const noexcept {
    return source_ == ClockSource::tsc ? "tsc" : "steady";
  }
  // Why the TSC was not used ("" when it is).
  [[nodiscard]] std::string_view fallback_reason() const noexcept { return fallback_reason_; }
  [[nodiscard]] double ticks_per_ns() const noexcept { return 1.0 / ns_per_tick_; }
  // Median cost of one now() call measured back to back at start-up.
  [[nodiscard]] double overhead_ns() const noexcept { return overhead_ns_; }

  static std::uint64_t steady_ns() noexcept {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count());
  }

  // True when CPUID reports an invariant (constant, non-stop) TSC.
  static bool has_invariant_tsc() noexcept;

 private:
  ClockSource source_ = ClockSource::steady;
  double ns_per_tick_ = 1.0;
  double overhead_ns_ = 0.0;
  std::string_view fallback_reason_;
};

}  // namespace tickpath::infra
