#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <random>
#include <thread>

#include "support/alloc_counter.hpp"
#include "tickpath/infra/spsc_ring.hpp"

using tickpath::infra::SpscRing;

namespace {
#if defined(TICKPATH_SANITIZED)
constexpr std::uint64_t kItems = 2'000'000;  // sanitizers slow every access ~10x
#else
constexpr std::uint64_t kItems = 20'000'000;
#endif

struct Item {
  std::uint64_t seq;
  std::uint64_t check;
};
}  // namespace

TEST(SpscRing_Capacity, AllSlotsUsableAndFullIsRefused) {
  SpscRing<int, 8> r;
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(r.try_push(i));
  EXPECT_FALSE(r.try_push(99));
  EXPECT_EQ(r.size_guess(), 8U);
  int v = -1;
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(r.try_pop(v));
    EXPECT_EQ(v, i);
  }
  EXPECT_FALSE(r.try_pop(v));
  EXPECT_EQ(v, 7);  // a failed pop leaves the output alone
}

TEST(SpscRing_RandomWalk, MatchesStdDeque) {
  SpscRing<std::uint32_t, 64> r;
  std::deque<std::uint32_t> ref;
  std::mt19937_64 rng(7);
  std::uint32_t next = 0;
  std::uint32_t batch[32];
  for (int step = 0; step < 1'000'000; ++step) {
    const auto op = rng() % 5;
    if (op < 2) {
      const bool ok = r.try_push(next);
      EXPECT_EQ(ok, ref.size() < 64);
      if (ok) ref.push_back(next);
      ++next;
    } else if (op == 2) {
      if (auto* slot = r.try_claim()) {
        *slot = next;
        r.publish();
        ref.push_back(next);
      } else {
        EXPECT_EQ(ref.size(), 64U);
      }
      ++next;
    } else if (op == 3) {
      std::uint32_t v = 0;
      const bool ok = r.try_pop(v);
      ASSERT_EQ(ok, !ref.empty());
      if (ok) {
        ASSERT_EQ(v, ref.front());
        ref.pop_front();
      }
    } else {
      const std::size_t want = rng() % 32 + 1;
      const std::size_t got = r.pop_batch(batch, want);
      ASSERT_EQ(got, std::min(want, ref.size()));
      for (std::size_t i = 0; i < got; ++i) {
        ASSERT_EQ(batch[i], ref.front());
        ref.pop_front();
      }
    }
    ASSERT_EQ(r.size_guess(), ref.size());
  }
}

TEST(SpscRing_TwoThreads, OrderAndCountOverTensOfMillions) {
  auto r = std::make_unique<SpscRing<Item, 1024>>();
  std::uint64_t received = 0, bad = 0;
  std::thread consumer([&] {
    std::uint64_t expect = 0;
    while (expect < kItems) {
      const std::size_t n = r->pop_batch(64, [&](const Item& it) noexcept {
        bad += (it.seq != expect) | (it.check != it.seq * 2654435761ULL);
        ++expect;
      });
      received += n;
    }
  });
  for (std::uint64_t i = 0; i < kItems;) {
    if (r->try_push(Item{i, i * 2654435761ULL})) ++i;
  }
  consumer.join();
  EXPECT_EQ(received, kItems);
  EXPECT_EQ(bad, 0U);
  EXPECT_EQ(r->size_guess(), 0U);
}

TEST(SpscRing_HotPath, PushPopNeverAllocate) {
  SpscRing<Item, 256> r;
  tickpath::test::AllocationScope scope;
  Item out{};
  for (std::uint64_t i = 0; i < 100'000; ++i) {
    ASSERT_TRUE(r.try_push(Item{i, i}));
    ASSERT_TRUE(r.try_pop(out));
  }
  EXPECT_EQ(scope.count(), 0U);
}
