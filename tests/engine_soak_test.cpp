// A bounded soak of the live feed against the exchange simulator under every
// fault at once. Its own test binary so that ctest runs it alone
// (RUN_SERIAL): it loads both cores for a minute, and the timing-sensitive
// live tests must not share them with it.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include <unistd.h>

#include "exsim.hpp"
#include "support/live_run.hpp"
#include "tickpath/engine/pipeline.hpp"

namespace {

using namespace tickpath;
using namespace tickpath::test;
using namespace std::chrono_literals;

std::uint64_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long long size = 0, resident = 0;
  const int n = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE)) : 0;
}

// A bounded soak under every fault at once, on a schedule: connection drops
// and server closes (reconnect, new snapshots), stalls, skipped update ids
// (resync), malformed frames four times a second, pings. TICKPATH_SOAK_SECONDS
// sets its length (60 by default; the test command's CI-sized form), e.g.
// 3600 for an hour. At the end: every frame the simulator queued either
// arrived or was in flight on a connection that was reset (an outage the
// report counts), nothing is missing inside a connection, every malformed
// frame that arrived is a counted reject, the books equal the simulator's,
// and the process's resident memory after the first quarter stays flat (in
// builds without sanitizers; under ASan, LeakSanitizer checks instead).
TEST(Soak_Exsim, EveryFaultOnAScheduleNothingLostUncountedBooksEqualMemoryFlat) {
  double seconds = 60;
  if (const char* s = std::getenv("TICKPATH_SOAK_SECONDS")) seconds = std::max(10.0, std::atof(s));
  const double rate = 4'000;
  exsim::SimConfig c = sim_config(static_cast<std::uint64_t>(rate * seconds), rate);
  c.schedule = {{exsim::Fault::drop, 9.0},      {exsim::Fault::close, 13.0},  {exsim::Fault::stall, 6.0, 0.4},
                {exsim::Fault::skip_ids, 4.0},  {exsim::Fault::malformed, 0.25}, {exsim::Fault::ping, 1.5}};
  SimUp s(c);
  ASSERT_TRUE(s.ok);
  LiveRun run(s.sim);
  run.start();
  run.wait_flowing();
  // Resident memory, once a second, from the end of the first quarter.
  std::vector<std::uint64_t> rss;
  std::atomic<bool> sampling{true};
  std::thread sampler([&] {
    const auto t0 = std::chrono::steady_clock::now();
    while (sampling.load()) {
      if (std::chrono::steady_clock::now() - t0 >= std::chrono::duration<double>(seconds / 4)) rss.push_back(resident_bytes());
      std::this_thread::sleep_for(1s);
    }
  });
  run.finish(std::chrono::seconds(static_cast<long>(seconds) + 120));
  sampling = false;
  sampler.join();
  ASSERT_TRUE(run.error.empty()) << run.error;
  const auto& r = run.rep;
  const auto st = s.sim.stats();
  EXPECT_TRUE(st.done) << "the simulator did not finish its " << c.max_frames << " frames";
  // Faults happened and were handled.
  EXPECT_GE(r.reconnects, static_cast<std::uint64_t>(seconds / 13));
  EXPECT_GT(r.outage_s, 0.0);
  EXPECT_GT(st.skipped_diffs, 0U);
  // a gap per skipped id, and at most one per symbol per reconnect (diffs in
  // flight on the reset connection)
  EXPECT_GT(r.depth_gaps, 0U);
  EXPECT_LE(r.depth_gaps, st.skipped_diffs + r.reconnects * 2);
  EXPECT_GT(r.pongs, 0U);
  // Every frame: arrived, or in flight when its connection was reset.
  ASSERT_EQ(r.connections.size(), st.sent_per_connection.size());
  std::uint64_t in_flight = 0;
  for (std::size_t i = 0; i < r.connections.size(); ++i) {
    const std::uint64_t queued = st.sent_per_connection[i] + st.extra_per_connection[i];
    EXPECT_LE(r.connections[i].messages, queued) << "connection " << i;
    EXPECT_EQ(r.connections[i].sq_missing, 0U) << "connection " << i << ": a frame went missing mid-connection";
    in_flight += queued - std::min(queued, r.connections[i].messages);
  }
  EXPECT_EQ(r.connections.back().messages, st.sent_per_connection.back() + st.extra_per_connection.back())
      << "the last connection, never reset, lost something";
  EXPECT_EQ(st.sent + st.generated_unsubscribed + st.skipped_diffs, st.generated);  // the market, all of it
  // Malformed frames: every one that arrived is a counted reject, no other reject.
  const auto malformed = r.reject_by_reason[static_cast<std::size_t>(feed::RejectReason::malformed_json)];
  EXPECT_GT(malformed, 0U);
  EXPECT_LE(malformed, st.malformed_sent);
  EXPECT_EQ(r.rejects, malformed);
  run.expect_books_equal_simulator();
  // Memory: flat after the first quarter (rings, books and buffers are all
  // sized at start; growth here would be a leak or an unbounded queue). The
  // figure includes the simulator, whose books grow with the synthetic
  // market's drift; tools/soak.sh measures the engine's process alone.
  ASSERT_GE(rss.size(), 3U);
  const std::uint64_t first = rss.front(), peak = *std::max_element(rss.begin(), rss.end());
  const double growth_mb = static_cast<double>(peak - std::min(peak, first)) / 1e6;
  RecordProperty("soak_seconds", std::to_string(seconds));
  RecordProperty("frames_generated", std::to_string(st.generated));
  RecordProperty("reconnects", std::to_string(r.reconnects));
  RecordProperty("frames_in_flight_at_resets", std::to_string(in_flight));
  RecordProperty("rss_first_mb", std::to_string(static_cast<double>(first) / 1e6));
  RecordProperty("rss_growth_mb", std::to_string(growth_mb));
  std::printf("soak %.0f s: %llu frames generated, %llu reconnects, outage %.2f s, %llu frames in flight at resets, "
              "%llu malformed rejected, %llu gaps resynced; resident %.1f MB after the first quarter, peak growth %.2f MB\n",
              seconds, static_cast<unsigned long long>(st.generated), static_cast<unsigned long long>(r.reconnects),
              r.outage_s, static_cast<unsigned long long>(in_flight), static_cast<unsigned long long>(malformed),
              static_cast<unsigned long long>(r.depth_gaps), static_cast<double>(first) / 1e6, growth_mb);
#ifndef TICKPATH_SANITIZED
  EXPECT_LT(growth_mb, 8.0) << "resident memory grew during the soak";
#else
  // ASan keeps freed memory in its quarantine (up to 256 MB by default), so
  // resident size says nothing about leaks in this build; LeakSanitizer
  // checks the process at exit instead. The figure above is printed anyway.
#endif
}

}  // namespace
