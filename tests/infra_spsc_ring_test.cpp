#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <thread>
#include <type_traits>

#include "support/alloc_counter.hpp"
#include "tickpath/infra/event.hpp"
#include "tickpath/infra/spsc_ring.hpp"

using tickpath::infra::RingWait;
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
// Two cache lines, as the engine's Event: the indexed layout.
struct alignas(64) WideItem {
  std::uint64_t seq = 0;
  std::uint64_t check = 0;
  char rest[112] = {};
};

// Two cache lines with a word reserved for the ring in the first, as Event.
struct alignas(64) TaggedItem {
  std::uint32_t head = 0;
  std::uint32_t ring_seq = 0;
  std::uint64_t seq = 0;
  std::uint64_t check = 0;
  char rest[104] = {};
};

static_assert(SpscRing<std::uint32_t, 64>::sequenced && SpscRing<Item, 64>::sequenced);
static_assert(SpscRing<char[56], 64>::sequenced && !SpscRing<char[57], 64>::sequenced);
static_assert(!SpscRing<WideItem, 64>::sequenced);
static_assert(SpscRing<TaggedItem, 64>::seq_in_element && SpscRing<tickpath::infra::Event, 64>::seq_in_element);
static_assert(!SpscRing<Item, 64>::seq_in_element && !SpscRing<WideItem, 64>::seq_in_element);
static_assert(!SpscRing<Item, 64, RingWait::index>::sequenced && !SpscRing<TaggedItem, 64, RingWait::index>::sequenced);

std::uint64_t key(const std::uint32_t& v) { return v; }
template <typename T>
std::uint64_t key(const T& v) {
  return v.seq;
}
template <typename T>
T make(std::uint32_t i) {
  if constexpr (std::is_same_v<T, std::uint32_t>) {
    return i;
  } else {
    T v{};
    v.seq = i;
    v.check = i * 2654435761ULL;
    v.rest[sizeof(v.rest) - 1] = static_cast<char>(i);
    if constexpr (std::is_same_v<T, TaggedItem>) v.head = ~i;
    return v;
  }
}
bool intact(const std::uint32_t&) { return true; }
template <typename T>
bool intact(const T& v) {
  bool ok = v.check == v.seq * 2654435761ULL && v.rest[sizeof(v.rest) - 1] == static_cast<char>(v.seq);
  if constexpr (std::is_same_v<T, TaggedItem>) ok &= v.head == static_cast<std::uint32_t>(~v.seq);
  return ok;
}
// A claimed slot written in place, or (where the element carries the ring's
// sequence and there is no in-place claim) a push.
template <typename Ring, typename T>
bool claim_or_push(Ring& r, const T& v) {
  if constexpr (Ring::seq_in_element) {
    return r.try_push(v);
  } else {
    T* slot = r.try_claim();
    if (slot == nullptr) return false;
    *slot = v;
    r.publish();
    return true;
  }
}

template <typename T>
class SpscRing_Layouts : public ::testing::Test {};
// An element type and what the ring's consumer waits on.
template <typename E, RingWait W>
struct Layout {
  using T = E;
  static constexpr RingWait wait = W;
};
using Elements = ::testing::Types<Layout<std::uint32_t, RingWait::hop>, Layout<TaggedItem, RingWait::hop>,
                                  Layout<WideItem, RingWait::hop>, Layout<TaggedItem, RingWait::index>>;
struct LayoutName {
  template <typename L>
  static std::string GetName(int) {
    using R = SpscRing<typename L::T, 64, L::wait>;
    if (L::wait == RingWait::index) return "IndexChosen";
    return R::seq_in_element ? "SeqInElement" : R::sequenced ? "SeqInSlot" : "Indexed";
  }
};
TYPED_TEST_SUITE(SpscRing_Layouts, Elements, LayoutName);
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

TYPED_TEST(SpscRing_Layouts, RandomWalkMatchesStdDeque) {
  using T = typename TypeParam::T;
  auto r = std::make_unique<SpscRing<T, 64, TypeParam::wait>>();
  std::deque<std::uint64_t> ref;
  std::mt19937_64 rng(7);
  std::uint32_t next = 0;
  T batch[32];
  for (int step = 0; step < 1'000'000; ++step) {
    const auto op = rng() % 6;
    if (op < 2) {
      const bool ok = r->try_push(make<T>(next));
      EXPECT_EQ(ok, ref.size() < 64);
      if (ok) ref.push_back(next);
      ++next;
    } else if (op == 2) {
      if (claim_or_push(*r, make<T>(next))) {
        ref.push_back(next);
      } else {
        EXPECT_EQ(ref.size(), 64U);
      }
      ++next;
    } else if (op == 3) {
      T v{};
      const bool ok = r->try_pop(v);
      ASSERT_EQ(ok, !ref.empty());
      if (ok) {
        ASSERT_EQ(key(v), ref.front());
        ASSERT_TRUE(intact(v));
        ref.pop_front();
      }
    } else if (op == 4) {
      const T* f = r->front();
      ASSERT_EQ(f != nullptr, !ref.empty());
      if (f != nullptr) {
        ASSERT_EQ(key(*f), ref.front());
        if (rng() % 2 == 0) {
          r->pop();
          ref.pop_front();
        }
      }
    } else {
      const std::size_t want = rng() % 32 + 1;
      const std::size_t got = r->pop_batch(batch, want);
      ASSERT_EQ(got, std::min(want, ref.size()));
      for (std::size_t i = 0; i < got; ++i) {
        ASSERT_EQ(key(batch[i]), ref.front());
        ASSERT_TRUE(intact(batch[i]));
        ref.pop_front();
      }
    }
    ASSERT_EQ(r->size_guess(), ref.size());
  }
}

// Both sides on their own threads, the consumer alternating zero-copy reads
// and batches, the producer alternating copies and in-place claims: every
// element arrives once, in order, whole.
TYPED_TEST(SpscRing_Layouts, TwoThreadsOrderAndContent) {
  using T = typename TypeParam::T;
  auto r = std::make_unique<SpscRing<T, 1024, TypeParam::wait>>();
  const std::uint64_t items = kItems / 4;
  std::uint64_t received = 0, bad = 0;
  std::thread consumer([&] {
    std::uint64_t expect = 0;
    while (expect < items) {
      if (expect % 3 == 0) {
        if (const T* f = r->front()) {
          bad += (key(*f) != (expect & 0xffffffffU)) | !intact(*f);
          r->pop();
          ++expect;
          ++received;
        }
        continue;
      }
      received += r->pop_batch(64, [&](const T& it) noexcept {
        bad += (key(it) != (expect & 0xffffffffU)) | !intact(it);
        ++expect;
      });
    }
  });
  for (std::uint64_t i = 0; i < items;) {
    if (i % 2 == 0) {
      if (r->try_push(make<T>(static_cast<std::uint32_t>(i)))) ++i;
    } else if (claim_or_push(*r, make<T>(static_cast<std::uint32_t>(i)))) {
      ++i;
    }
  }
  consumer.join();
  EXPECT_EQ(received, items);
  EXPECT_EQ(bad, 0U);
  EXPECT_EQ(r->size_guess(), 0U);
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
