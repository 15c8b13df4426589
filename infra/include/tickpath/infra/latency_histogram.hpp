// LatencyHistogram: fixed-memory log-linear histogram of nanosecond values.
// Values below 64 ns get a bucket each; above, every power of two is split
// into 64 equal buckets, so a reported percentile is within 1/64 (1.6%) of
// the true sample. Covers 1 ns to 2^36 ns (68.7 s); larger values are counted
// as overflow (and still raise max).
//
// Threading contract: one writer thread calls record(); any thread may call
// snapshot() at the same time and gets a consistent-enough copy (each bucket
// is an atomic updated with relaxed load+store by its single writer, which
// on x86 costs the same as a plain increment). record() never allocates,
// blocks or throws.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstdint>

namespace tickpath::infra {

struct Percentiles {
  std::uint64_t count = 0;
  std::uint64_t overflow = 0;
  double p50_ns = 0, p90_ns = 0, p99_ns = 0, p999_ns = 0, p9999_ns = 0, max_ns = 0, min_ns = 0, mean_ns = 0;
};

class HistogramSnapshot;

class LatencyHistogram {
 public:
  static constexpr unsigned kSubBits = 6;                 // 64 sub-buckets per octave
  static constexpr std::uint64_t kSub = 1ULL << kSubBits;
  static constexpr unsigned kMaxBits = 36;                // values < 2^36 ns are bucketed
  static constexpr std::size_t kBuckets = (kMaxBits - kSubBits + 1) * kSub;
  static constexpr std::uint64_t kMaxTrackable = (1ULL << kMaxBits) - 1;

  [[nodiscard]] static constexpr std::size_t bucket_of(std::uint64_t v) noexcept {
    if (v < kSub) return static_cast<std::size_t>(v);
    const unsigned msb = 63U - static_cast<unsigned>(std::countl_zero(v));
    const unsigned shift = msb - kSubBits;
    return static_cast<std::size_t>((msb - kSubBits + 1) * kSub + ((v >> shift) & (kSub - 1)));
  }
  // Smallest and largest value that land in bucket `b`.
  [[nodiscard]] static constexpr std::uint64_t bucket_low(std::size_t b) noexcept {
    if (b < kSub) return b;
    const std::uint64_t octave = b / kSub - 1;  // msb - kSubBits
    return (kSub + (b % kSub)) << octave;
  }
  [[nodiscard]] static constexpr std::uint64_t bucket_high(std::size_t b) noexcept {
    if (b < kSub) return b;
    const std::uint64_t octave = b / kSub - 1;
    return bucket_low(b) + (1ULL << octave) - 1;
  }

  void record(std::uint64_t ns) noexcept {
    bump(count_);
    if (ns > kMaxTrackable) {
      bump(overflow_);
    } else {
      bump(buckets_[bucket_of(ns)]);
    }
    store(sum_ns_, load(sum_ns_) + ns);
    if (ns > load(max_ns_)) store(max_ns_, ns);
    if (ns < load(min_ns_)) store(min_ns_, ns);
  }

  void reset() noexcept;
  [[nodiscard]] HistogramSnapshot snapshot() const noexcept;

 private:
  using Counter = std::atomic<std::uint64_t>;
  static std::uint64_t load(const Counter& c) noexcept { return c.load(std::memory_order_relaxed); }
  static void store(Counter& c, std::uint64_t v) noexcept { c.store(v, std::memory_order_relaxed); }
  static void bump(Counter& c) noexcept { store(c, load(c) + 1); }

  friend class HistogramSnapshot;
  std::array<Counter, kBuckets> buckets_{};
  Counter count_{0};
  Counter overflow_{0};
  Counter sum_ns_{0};
  Counter max_ns_{0};
  Counter min_ns_{~0ULL};
};

// A plain (non-atomic) copy of a histogram: what reports merge and query.
class HistogramSnapshot {
 public:
  HistogramSnapshot() = default;
  explicit HistogramSnapshot(const LatencyHistogram& h) noexcept;

  void merge(const HistogramSnapshot& o) noexcept;
  // The samples recorded after `earlier` (a snapshot of the same histogram):
  // exact buckets and count; min and max are the edges of the lowest and
  // highest non-empty buckets (within the cumulative min and max).
  [[nodiscard]] HistogramSnapshot since(const HistogramSnapshot& earlier) const noexcept;
  // Nearest-rank percentile, q in [0, 1]: the upper edge of the bucket that
  // holds the ceil(q*count)-th smallest sample, clamped to the observed max.
  [[nodiscard]] double percentile(double q) const noexcept;
  [[nodiscard]] Percentiles summary() const noexcept;

  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  [[nodiscard]] std::uint64_t overflow() const noexcept { return overflow_; }
  [[nodiscard]] std::uint64_t max_ns() const noexcept { return count_ ? max_ns_ : 0; }
  [[nodiscard]] std::uint64_t min_ns() const noexcept { return count_ ? min_ns_ : 0; }
  [[nodiscard]] std::uint64_t bucket(std::size_t b) const noexcept { return buckets_[b]; }

 private:
  std::array<std::uint64_t, LatencyHistogram::kBuckets> buckets_{};
  std::uint64_t count_ = 0;
  std::uint64_t overflow_ = 0;
  std::uint64_t sum_ns_ = 0;
  std::uint64_t max_ns_ = 0;
  std::uint64_t min_ns_ = ~0ULL;
};

}  // namespace tickpath::infra
