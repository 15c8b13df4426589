#include "tickpath/infra/latency_histogram.hpp"

#include <algorithm>
#include <cmath>

namespace tickpath::infra {

void LatencyHistogram::reset() noexcept {
  for (auto& b : buckets_) store(b, 0);
  store(count_, 0);
  store(overflow_, 0);
  store(sum_ns_, 0);
  store(max_ns_, 0);
  store(min_ns_, ~0ULL);
}

HistogramSnapshot LatencyHistogram::snapshot() const noexcept { return HistogramSnapshot(*this); }

HistogramSnapshot::HistogramSnapshot(const LatencyHistogram& h) noexcept {
  for (std::size_t i = 0; i < buckets_.size(); ++i) buckets_[i] = LatencyHistogram::load(h.buckets_[i]);
  overflow_ = LatencyHistogram::load(h.overflow_);
  sum_ns_ = LatencyHistogram::load(h.sum_ns_);
  max_ns_ = LatencyHistogram::load(h.max_ns_);
  min_ns_ = LatencyHistogram::load(h.min_ns_);
  // Read concurrently with a writer, count_ may run ahead of the buckets; the
  // buckets are what percentiles walk, so derive the count from them.
  std::uint64_t n = overflow_;
  for (auto b : buckets_) n += b;
  count_ = n;
}

void HistogramSnapshot::merge(const HistogramSnapshot& o) noexcept {
  for (std::size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += o.buckets_[i];
  count_ += o.count_;
  overflow_ += o.overflow_;
  sum_ns_ += o.sum_ns_;
  max_ns_ = std::max(max_ns_, o.max_ns_);
  min_ns_ = std::min(min_ns_, o.min_ns_);
}

HistogramSnapshot HistogramSnapshot::since(const HistogramSnapshot& earlier) const noexcept {
  HistogramSnapshot d;
  auto minus = [](std::uint64_t a, std::uint64_t b) { return a > b ? a - b : 0; };
  std::size_t lo = buckets_.size(), hi = 0;
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    d.buckets_[i] = minus(buckets_[i], earlier.buckets_[i]);
    if (d.buckets_[i] != 0) {
      lo = std::min(lo, i);
      hi = i;
    }
    n += d.buckets_[i];
  }
  d.overflow_ = minus(overflow_, earlier.overflow_);
  d.count_ = n + d.overflow_;
  d.sum_ns_ = minus(sum_ns_, earlier.sum_ns_);
  if (d.overflow_ != 0) d.max_ns_ = max_ns_;
  else if (n != 0) d.max_ns_ = std::min(LatencyHistogram::bucket_high(hi), max_ns_);
  if (n != 0) d.min_ns_ = std::max(LatencyHistogram::bucket_low(lo), min_ns_);
  return d;
}

double HistogramSnapshot::percentile(double q) const noexcept {
  if (count_ == 0) return 0.0;
  q = std::clamp(q, 0.0, 1.0);
  const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_))));
  std::uint64_t seen = 0;
  for (std::size_t b = 0; b < buckets_.size(); ++b) {
    seen += buckets_[b];
    if (seen >= rank) {
      const std::uint64_t hi = LatencyHistogram::bucket_high(b);
      const std::uint64_t lo = LatencyHistogram::bucket_low(b);
      return static_cast<double>(std::max(std::min(hi, max_ns_), std::max(lo, min_ns_)));
    }
  }
  return static_cast<double>(max_ns_);  // the rank falls among the overflowed samples
}

Percentiles HistogramSnapshot::summary() const noexcept {
  Percentiles p;
  p.count = count_;
  p.overflow = overflow_;
  if (count_ == 0) return p;
  p.p50_ns = percentile(0.50);
  p.p90_ns = percentile(0.90);
  p.p99_ns = percentile(0.99);
  p.p999_ns = percentile(0.999);
  p.p9999_ns = percentile(0.9999);
  p.max_ns = static_cast<double>(max_ns_);
  p.min_ns = static_cast<double>(min_ns_);
  p.mean_ns = static_cast<double>(sum_ns_) / static_cast<double>(count_);
  return p;
}

}  // namespace tickpath::infra
