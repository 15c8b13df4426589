// UDP multicast on loopback: every datagram in order with its bytes, each
// followed by the parser's padding, too-long datagrams counted and not
// delivered, no allocation per poll.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "support/alloc_counter.hpp"
#include "tickpath/feed/binance_parser.hpp"
#include "tickpath/feed/udp.hpp"

namespace {

using namespace tickpath;

feed::UdpOptions opts() {
  feed::UdpOptions o;
  o.group = "239.255.42.9";
  o.interface = "127.0.0.1";
  o.batch = 16;
  o.max_datagram = 1024;
  return o;
}

TEST(Udp_Multicast, EveryDatagramArrivesInOrderAndParses) {
  feed::UdpReceiver rx;
  feed::UdpSender tx;
  std::string error;
  ASSERT_TRUE(rx.open(opts(), error)) << error;
  ASSERT_TRUE(tx.open(opts(), rx.port(), error)) << error;
  std::vector<std::string> frames;
  for (int i = 1; i <= 500; ++i)
    frames.push_back(R"({"sq":)" + std::to_string(i) +
                     R"(,"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":)" + std::to_string(i) +
                     R"(,"p":"1.5","q":"2","T":1,"m":true,"M":true}})");
  std::vector<std::string_view> views(frames.begin(), frames.end());
  infra::TscClock clock(5);
  feed::BinanceParser parser;
  feed::Message m;
  std::int64_t expect = 1;
  std::size_t got = 0, bad = 0;
  auto on = [&](const char* d, std::size_t n, std::uint64_t rx_tick) {
    bad += rx_tick == 0;
    if (parser.parse(d, n, m) != feed::RejectReason::none || m.sim_seq != expect || m.t != expect) ++bad;
    ++expect;
    ++got;
  };
  std::size_t sent = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (got < frames.size() && std::chrono::steady_clock::now() < deadline) {
    if (sent < views.size()) sent += tx.send_batch(views.data() + sent, std::min<std::size_t>(50, views.size() - sent));
    if (rx.poll(clock, on) == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  EXPECT_EQ(got, frames.size());
  EXPECT_EQ(bad, 0U);
  EXPECT_EQ(rx.counters().datagrams.load(), frames.size());
}

TEST(Udp_Multicast, TooLongDatagramIsCountedNotDelivered) {
  feed::UdpReceiver rx;
  feed::UdpSender tx;
  std::string error;
  ASSERT_TRUE(rx.open(opts(), error)) << error;
  ASSERT_TRUE(tx.open(opts(), rx.port(), error)) << error;
  const std::string big(4000, 'x'), small = "{}";
  const std::string_view v[2] = {big, small};
  ASSERT_EQ(tx.send_batch(v, 2), 2U);
  infra::TscClock clock(5);
  std::vector<std::string> got;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (got.size() < 1 && std::chrono::steady_clock::now() < deadline)
    rx.poll(clock, [&](const char* d, std::size_t n, std::uint64_t) { got.emplace_back(d, n); });
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(got[0], "{}");
  EXPECT_EQ(rx.counters().truncated.load(), 1U);
}

TEST(Udp_Multicast, PollDoesNotAllocate) {
  feed::UdpReceiver rx;
  feed::UdpSender tx;
  std::string error;
  ASSERT_TRUE(rx.open(opts(), error)) << error;
  ASSERT_TRUE(tx.open(opts(), rx.port(), error)) << error;
  const std::string f = R"({"stream":"x","data":{}})";
  std::vector<std::string_view> v(64, f);
  infra::TscClock clock(5);
  std::size_t got = 0;
  std::uint64_t allocs = 0;
  {
    test::AllocationScope scope;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (int round = 0; round < 20 && std::chrono::steady_clock::now() < deadline;) {
      if (tx.send_batch(v.data(), v.size()) == v.size()) ++round;
      while (rx.poll(clock, [&](const char*, std::size_t, std::uint64_t) { ++got; }) > 0) {
      }
    }
    allocs = scope.count();
  }
  EXPECT_GT(got, 0U);
  EXPECT_EQ(allocs, 0U);
}

}  // namespace
