// ByteRing against a std::deque of strings: random claim sizes and random
// interleavings of producer and consumer, wrap markers included; then two
// threads (run under TSan in CI).
#include <gtest/gtest.h>

#include <deque>
#include <random>
#include <string>
#include <thread>

#include "tickpath/infra/byte_ring.hpp"

namespace {

using tickpath::infra::ByteRing;

TEST(ByteRing, MatchesADequeUnderRandomInterleaving) {
  ByteRing ring(4096);
  std::deque<std::string> ref;
  std::mt19937_64 rng(3);
  std::uint64_t refused = 0, popped = 0;
  for (int step = 0; step < 200'000; ++step) {
    if (rng() % 2 == 0) {
      const std::size_t n = rng() % 700;
      std::string s(n, '\0');
      for (auto& c : s) c = static_cast<char>('a' + rng() % 26);
      char* p = ring.try_claim(n);
      if (p == nullptr) {
        ++refused;
        continue;
      }
      std::memcpy(p, s.data(), n);
      ring.publish();
      ref.push_back(std::move(s));
    } else {
      std::size_t n = 0;
      const char* p = ring.front(n);
      if (ref.empty()) {
        EXPECT_EQ(p, nullptr);
        continue;
      }
      ASSERT_NE(p, nullptr);
      ASSERT_EQ(std::string(p, n), ref.front());
      ref.pop_front();
      ring.pop();
      ++popped;
    }
  }
  EXPECT_GT(refused, 0U);  // the ring did fill
  EXPECT_GT(popped, 50'000U);
  EXPECT_EQ(ring.try_claim(ring.capacity()), nullptr);  // never more than half the ring in one record
}

TEST(ByteRing, TwoThreadsDeliverEveryRecordInOrder) {
  ByteRing ring(1U << 16);
  constexpr std::uint32_t kRecords = 300'000;
  std::thread producer([&] {
    for (std::uint32_t i = 0; i < kRecords;) {
      const std::size_t n = 4 + i % 61;
      char* p = ring.try_claim(n);
      if (p == nullptr) continue;
      std::memcpy(p, &i, 4);
      std::memset(p + 4, static_cast<int>(i & 0x7F), n - 4);
      ring.publish();
      ++i;
    }
  });
  std::uint32_t expect = 0, bad = 0;
  while (expect < kRecords) {
    std::size_t n = 0;
    const char* p = ring.front(n);
    if (p == nullptr) continue;
    std::uint32_t v = 0;
    std::memcpy(&v, p, 4);
    bad += v != expect || n != 4 + expect % 61 || (n > 4 && p[n - 1] != static_cast<char>(expect & 0x7F));
    ring.pop();
    ++expect;
  }
  producer.join();
  EXPECT_EQ(bad, 0U);
}

}  // namespace
