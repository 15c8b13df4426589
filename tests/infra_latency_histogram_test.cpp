#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>
#include <vector>

#include "support/alloc_counter.hpp"
#include "tickpath/infra/latency_histogram.hpp"

using tickpath::infra::HistogramSnapshot;
using tickpath::infra::LatencyHistogram;

namespace {
double nearest_rank(const std::vector<std::uint64_t>& sorted, double q) {
  const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(sorted.size()))));
  return static_cast<double>(sorted[rank - 1]);
}
}  // namespace

TEST(LatencyHistogram_Buckets, EveryValueLandsInsideItsBucketWithin2Percent) {
  std::mt19937_64 rng(1);
  for (int i = 0; i < 200'000; ++i) {
    const std::uint64_t v = rng() >> (rng() % 64);
    if (v > LatencyHistogram::kMaxTrackable) continue;
    const auto b = LatencyHistogram::bucket_of(v);
    ASSERT_LT(b, LatencyHistogram::kBuckets);
    ASSERT_LE(LatencyHistogram::bucket_low(b), v);
    ASSERT_GE(LatencyHistogram::bucket_high(b), v);
    const double width = static_cast<double>(LatencyHistogram::bucket_high(b) - LatencyHistogram::bucket_low(b));
    ASSERT_LE(width, 0.02 * static_cast<double>(std::max<std::uint64_t>(v, 1)));
  }
  // Buckets tile the range: each starts right after the previous one ends.
  for (std::size_t b = 1; b < LatencyHistogram::kBuckets; ++b)
    ASSERT_EQ(LatencyHistogram::bucket_low(b), LatencyHistogram::bucket_high(b - 1) + 1) << b;
  EXPECT_GE(LatencyHistogram::kMaxTrackable, 60'000'000'000ULL);  // at least 60 s
}

TEST(LatencyHistogram_Percentiles, MatchSortedVectorWithin2Percent) {
  std::mt19937_64 rng(2);
  std::lognormal_distribution<double> dist(7.0, 1.5);  // ~1 us median, long tail
  auto h = std::make_unique<LatencyHistogram>();
  std::vector<std::uint64_t> ref;
  for (int i = 0; i < 500'000; ++i) {
    const auto v = static_cast<std::uint64_t>(dist(rng)) + 1;
    h->record(v);
    ref.push_back(v);
  }
  std::sort(ref.begin(), ref.end());
  const HistogramSnapshot s = h->snapshot();
  EXPECT_EQ(s.count(), ref.size());
  for (double q : {0.0, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0}) {
    const double want = nearest_rank(ref, q);
    EXPECT_NEAR(s.percentile(q), want, want * 0.02) << "q=" << q;
  }
  const auto p = s.summary();
  EXPECT_EQ(p.max_ns, static_cast<double>(ref.back()));
  EXPECT_EQ(p.min_ns, static_cast<double>(ref.front()));
}

TEST(LatencyHistogram_Overflow, CountedAndRaisesMax) {
  auto h = std::make_unique<LatencyHistogram>();
  h->record(100);
  h->record(LatencyHistogram::kMaxTrackable + 5);
  const auto s = h->snapshot();
  EXPECT_EQ(s.count(), 2U);
  EXPECT_EQ(s.overflow(), 1U);
  EXPECT_EQ(s.max_ns(), LatencyHistogram::kMaxTrackable + 5);
  EXPECT_EQ(s.percentile(1.0), static_cast<double>(LatencyHistogram::kMaxTrackable + 5));
  EXPECT_NEAR(s.percentile(0.5), 100.0, 2.0);
}

TEST(LatencyHistogram_Merge, EqualsOneHistogramOfAllSamples) {
  auto a = std::make_unique<LatencyHistogram>();
  auto b = std::make_unique<LatencyHistogram>();
  auto all = std::make_unique<LatencyHistogram>();
  std::mt19937_64 rng(3);
  for (int i = 0; i < 100'000; ++i) {
    const std::uint64_t v = rng() % 1'000'000;
    (i % 3 ? *a : *b).record(v);
    all->record(v);
  }
  HistogramSnapshot m = a->snapshot();
  m.merge(b->snapshot());
  const HistogramSnapshot r = all->snapshot();
  ASSERT_EQ(m.count(), r.count());
  for (std::size_t i = 0; i < LatencyHistogram::kBuckets; ++i) ASSERT_EQ(m.bucket(i), r.bucket(i));
  EXPECT_EQ(m.percentile(0.99), r.percentile(0.99));
}

TEST(LatencyHistogram_Since, TheDifferenceOfTwoSnapshotsIsTheLaterSamplesAlone) {
  auto h = std::make_unique<LatencyHistogram>();
  auto later = std::make_unique<LatencyHistogram>();
  std::mt19937_64 rng(4);
  std::lognormal_distribution<double> dist(7.0, 1.5);
  for (int i = 0; i < 50'000; ++i) h->record(static_cast<std::uint64_t>(dist(rng)) + 1);
  const HistogramSnapshot first = h->snapshot();
  std::vector<std::uint64_t> ref;
  for (int i = 0; i < 30'000; ++i) {
    const auto v = static_cast<std::uint64_t>(dist(rng) * 3) + 1;
    h->record(v);
    later->record(v);
    ref.push_back(v);
  }
  const HistogramSnapshot d = h->snapshot().since(first);
  const HistogramSnapshot want = later->snapshot();
  ASSERT_EQ(d.count(), want.count());
  for (std::size_t i = 0; i < LatencyHistogram::kBuckets; ++i) ASSERT_EQ(d.bucket(i), want.bucket(i)) << i;
  std::sort(ref.begin(), ref.end());
  for (double q : {0.5, 0.9, 0.99, 0.999, 1.0}) {
    const double w = nearest_rank(ref, q);
    EXPECT_NEAR(d.percentile(q), w, w * 0.02) << "q=" << q;
  }
  EXPECT_EQ(h->snapshot().since(h->snapshot()).count(), 0U);
}

TEST(LatencyHistogram_Record, NeverAllocatesAndSnapshotsWhileWriting) {
  auto h = std::make_unique<LatencyHistogram>();
  std::atomic<bool> done{false};
  std::thread reader([&] {
    while (!done.load()) {
      const auto s = h->snapshot();
      ASSERT_LE(s.percentile(0.5), s.percentile(0.99));
    }
  });
  {
    tickpath::test::AllocationScope scope;
    for (std::uint64_t i = 0; i < 2'000'000; ++i) h->record(i % 5000);
    EXPECT_EQ(scope.count(), 0U);
  }
  done = true;
  reader.join();
  EXPECT_EQ(h->snapshot().count(), 2'000'000U);
}
