#include <gtest/gtest.h>

#include <ctime>
#include <thread>

#include "tickpath/infra/affinity.hpp"
#include "tickpath/infra/tsc_clock.hpp"

using tickpath::infra::ClockSource;
using tickpath::infra::TscClock;

TEST(TscClock_Calibration, AgreesWithMonotonicClock) {
  TscClock clock(50);
  if (TscClock::has_invariant_tsc()) {
    EXPECT_EQ(clock.source(), ClockSource::tsc);
  } else {
    EXPECT_EQ(clock.source(), ClockSource::steady);
    EXPECT_FALSE(clock.fallback_reason().empty());
  }
  // 200 ms of sleep measured both ways must agree within 1%.
  const auto m0 = TscClock::steady_ns();
  const auto t0 = clock.now();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto t1 = clock.now();
  const auto m1 = TscClock::steady_ns();
  const double tsc_ns = clock.to_ns(t1 - t0);
  const double mono_ns = static_cast<double>(m1 - m0);
  EXPECT_NEAR(tsc_ns, mono_ns, mono_ns * 0.01);
  EXPECT_GT(clock.overhead_ns(), 0.0);
  EXPECT_LT(clock.overhead_ns(), 10'000.0);
}

TEST(TscClock_Fallback, SteadyClockWhenForcedAndSaysSo) {
  TscClock clock(1, /*force_steady=*/true);
  EXPECT_EQ(clock.source(), ClockSource::steady);
  EXPECT_EQ(clock.source_name(), "steady");
  EXPECT_FALSE(clock.fallback_reason().empty());
  const auto a = clock.now();
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_GE(clock.delta_ns(a, clock.now()), 5'000'000U);
  EXPECT_EQ(clock.delta_ns(10, 5), 0U);  // never negative
}

TEST(Affinity_Pin, MissingCoreWarnsAndNamesIt) {
  const int n = tickpath::infra::allowed_cpu_count();
  ASSERT_GT(n, 0);
  std::thread t([] {
    const auto r = tickpath::infra::pin_this_thread(4000, "test");
    EXPECT_FALSE(r.pinned);
    EXPECT_NE(r.warning.find("core 4000"), std::string::npos) << r.warning;
    EXPECT_NE(r.warning.find("unpinned"), std::string::npos) << r.warning;
  });
  t.join();
  std::thread u([] {
    cpu_set_t set;
    CPU_ZERO(&set);
    sched_getaffinity(0, sizeof(set), &set);
    int first = 0;
    while (!CPU_ISSET(first, &set)) ++first;
    const auto r = tickpath::infra::pin_this_thread(first, "test");
    EXPECT_TRUE(r.pinned) << r.warning;
    EXPECT_EQ(sched_getcpu(), first);
  });
  u.join();
}
