// SpscRing: the bounded single-producer / single-consumer queue between
// pinned hot threads. Wait-free on both sides, no allocation after the
// constructor, never overwrites unread data.
//
// Threading contract: exactly one producer thread calls try_push / try_claim
// / publish; exactly one consumer thread calls try_pop / front / pop /
// pop_batch. size_guess() may be called from anywhere and is only a hint.
//
// Layout: each side owns one cache line holding its own index and its cached
// copy of the other side's index, so the common case touches only local
// lines; the producer reads the consumer's line only when its cache says the
// ring looks full. Indices count up forever (64-bit), so all N slots are
// usable.
//
// How the consumer learns that an element is there (the first two are
// "sequenced": the consumer looks at the slot itself, so a nearly empty ring
// costs one line crossing per element, the slot's, not two, the producer's
// index and then the slot; that is what decides the one-way hop):
// - Elements that reserve a word for the ring (a member `std::uint32_t
//   ring_seq`, as the engine's Event does in its first cache line): the
//   ring stores the element's publication sequence there. try_push copies
//   every other byte; the producer never writes that member, so there is no
//   in-place try_claim for such elements.
// - Small elements (with an 8-byte sequence word beside them, at most one
//   cache line): each slot holds the element and the sequence, padded so
//   that a slot never straddles two lines.
// - Other elements, and any ring declared with RingWait::index: the
//   consumer reads the producer's index when its cached copy runs out, then
//   the slots. A sequence word would add a line to every slot. A ring that
//   is drained in large batches now and then (by the io thread) is better
//   served by the index too: one acquire per batch instead of one per
//   element, and the slots behind the first are prefetched.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>

namespace tickpath::infra {

inline constexpr std::size_t kCacheLine = 64;

// An element with a word the ring may use for its publication sequence.
template <typename T>
concept CarriesRingSeq = std::is_same_v<decltype(T::ring_seq), std::uint32_t>;

// What the consumer waits on (see above): `hop` picks the sequenced layouts
// where the element allows them, for a consumer that keeps up with the
// producer; `index` always uses the producer's index, for batch drains.
enum class RingWait : std::uint8_t { hop, index };

template <typename T, std::size_t N, RingWait Wait = RingWait::hop>
class SpscRing {
  static_assert(N >= 2 && (N & (N - 1)) == 0, "SpscRing capacity must be a power of two");
  static_assert(std::is_trivially_copyable_v<T>, "SpscRing holds trivially copyable events only");
  static_assert(std::is_default_constructible_v<T>);

 public:
  using value_type = T;
  static constexpr std::size_t capacity = N;

  // The sequence lives in the element's own `ring_seq` (see above).
  static constexpr bool seq_in_element = Wait == RingWait::hop && CarriesRingSeq<T>;
  // The consumer reads each slot's publication sequence, not the producer's index.
  static constexpr bool sequenced =
      seq_in_element ||
      (Wait == RingWait::hop && alignof(T) <= 8 && (sizeof(T) + 7) / 8 * 8 + 8 <= kCacheLine);

  SpscRing() : slots_(static_cast<Slot*>(::operator new[](sizeof(Slot) * N, std::align_val_t{kAlign}))) {
    for (std::size_t i = 0; i < N; ++i) new (&slots_[i]) Slot{};
  }
  ~SpscRing() { ::operator delete[](slots_, std::align_val_t{kAlign}); }
  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  // --- producer side ---

  [[nodiscard]] bool try_push(const T& v) noexcept {
    T* slot = claim();
    if (slot == nullptr) return false;
    if constexpr (seq_in_element) {  // all but the sequence, which the consumer may be reading
      constexpr std::size_t at = offsetof(T, ring_seq), after = at + sizeof(std::uint32_t);
      std::memcpy(static_cast<void*>(slot), &v, at);
      std::memcpy(reinterpret_cast<char*>(slot) + after, reinterpret_cast<const char*>(&v) + after, sizeof(T) - after);
    } else {
      *slot = v;
    }
    publish();
    return true;
  }

  // Zero-copy push: a slot to write in place, or nullptr when full. The slot
  // becomes visible to the consumer only at publish(). Claim again without a
  // publish and you get the same slot.
  [[nodiscard]] T* try_claim() noexcept
    requires(!seq_in_element)
  {
    return claim();
  }
  void publish() noexcept {
    const std::uint64_t w = prod_.mine++;
    if constexpr (seq_in_element) {
      std::atomic_ref<std::uint32_t>(value(w)->ring_seq).store(static_cast<std::uint32_t>(w + 1), std::memory_order_release);
      prod_.index.store(w + 1, std::memory_order_relaxed);  // read by size_guess() only
    } else if constexpr (kSlotSeq) {
      slots_[w & (N - 1)].seq.store(w + 1, std::memory_order_release);
      prod_.index.store(w + 1, std::memory_order_relaxed);
    } else {
      prod_.index.store(w + 1, std::memory_order_release);
    }
  }

  // --- consumer side ---

  [[nodiscard]] bool try_pop(T& out) noexcept {
    const T* f = front();
    if (f == nullptr) return false;
    out = *f;
    pop();
    return true;
  }

  // Zero-copy read: the oldest element, or nullptr when empty. Valid until pop().
  [[nodiscard]] const T* front() noexcept {
    const std::uint64_t r = cons_.mine;
    if constexpr (sequenced) {
      if (!published(r)) return nullptr;
    } else if (r == cons_.cached_other) {
      cons_.cached_other = prod_.index.load(std::memory_order_acquire);
      if (r == cons_.cached_other) return nullptr;
    }
    return value(r);
  }
  void pop() noexcept { cons_.index.store(++cons_.mine, std::memory_order_release); }

  // Hands up to `max` elements to `fn(const T&)` in order, then frees their
  // slots with one release store. Returns how many were consumed.
  template <typename Fn>
  std::size_t pop_batch(std::size_t max, Fn&& fn) noexcept(noexcept(fn(std::declval<const T&>()))) {
    const std::uint64_t r = cons_.mine;
    std::size_t n = 0;
    if constexpr (sequenced) {
      // Each slot says whether it is published. No prefetching ahead: a
      // line not yet written would be pulled away from the producer; the
      // slots follow each other in memory, which the hardware prefetcher sees.
      while (n < max && published(r + n)) {
        fn(static_cast<const T&>(*value(r + n)));
        ++n;
      }
      if (n == 0) return 0;
    } else {
      std::uint64_t avail = cons_.cached_other - r;
      if (avail < max) {  // the cache may be stale: look at the producer once
        cons_.cached_other = prod_.index.load(std::memory_order_acquire);
        avail = cons_.cached_other - r;
        if (avail == 0) return 0;
      }
      n = avail < max ? static_cast<std::size_t>(avail) : max;
      // Published slots behind the first start their trip from the producer's
      // core now, while the first is handled.
      for (std::size_t i = 1; i < n && i <= kPrefetchSlots; ++i) prefetch(&slots_[(r + i) & (N - 1)]);
      for (std::size_t i = 0; i < n; ++i) {
        if (i + kPrefetchSlots + 1 < n) prefetch(&slots_[(r + i + kPrefetchSlots + 1) & (N - 1)]);
        fn(static_cast<const T&>(*value(r + i)));
      }
    }
    cons_.mine = r + n;
    cons_.index.store(r + n, std::memory_order_release);
    return n;
  }

  // Copying batch pop into `out[0..max)`.
  std::size_t pop_batch(T* out, std::size_t max) noexcept {
    return pop_batch(max, [&out](const T& v) noexcept { *out++ = v; });
  }

  // Racy: exact only when both sides are quiescent.
  [[nodiscard]] std::size_t size_guess() const noexcept {
    const std::uint64_t w = prod_.index.load(std::memory_order_acquire);
    const std::uint64_t r = cons_.index.load(std::memory_order_acquire);
    return w >= r ? static_cast<std::size_t>(w - r) : 0;
  }

 private:
  // A sequenced slot: the element, then the sequence it was published under
  // (index + 1; 0 before its first use), padded to a power of two so that
  // slots tile cache lines.
  struct alignas(std::bit_ceil((sizeof(T) + 7) / 8 * 8 + 8)) SequencedSlot {
    T value{};
    std::atomic<std::uint64_t> seq{0};
  };
  static constexpr bool kSlotSeq = sequenced && !seq_in_element;
  using Slot = std::conditional_t<kSlotSeq, SequencedSlot, T>;
  static_assert(!kSlotSeq || (sizeof(Slot) <= kCacheLine && kCacheLine % sizeof(Slot) == 0));
  static constexpr std::size_t kAlign = alignof(Slot) > kCacheLine ? alignof(Slot) : kCacheLine;

  T* claim() noexcept {
    const std::uint64_t w = prod_.mine;
    if (w - prod_.cached_other >= N) {
      prod_.cached_other = cons_.index.load(std::memory_order_acquire);
      if (w - prod_.cached_other >= N) return nullptr;
    }
    // The line a few slots ahead, for writing, while it is known free: it
    // was last read on the consumer's core, and now comes back (owned)
    // before it is written. Small elements: once per line.
    if constexpr (kWriteAhead < N)
      if ((w % kPerLine) == 0 && w + kWriteAhead - prod_.cached_other < N)
        prefetch_write(&slots_[(w + kWriteAhead) & (N - 1)]);
    return value(w);
  }

  T* value(std::uint64_t i) noexcept {
    if constexpr (kSlotSeq) return &slots_[i & (N - 1)].value;
    else return &slots_[i & (N - 1)];
  }
  // Has the producer published index i (sequenced layouts)? In the element
  // the sequence is the low 32 bits of i + 1; it wraps, but a slot waiting
  // for index i still holds i + 1 - N (mod 2^32), or 0 before its first use
  // (and i + 1 wraps to 0 only long after every slot has been used), so the
  // two never agree while N < 2^32.
  bool published(std::uint64_t i) noexcept {
    if constexpr (seq_in_element) {
      static_assert(N < (std::uint64_t{1} << 32));
      static_assert(std::is_standard_layout_v<T> &&
                    offsetof(T, ring_seq) % std::atomic_ref<std::uint32_t>::required_alignment == 0);
      return std::atomic_ref<std::uint32_t>(value(i)->ring_seq).load(std::memory_order_acquire) ==
             static_cast<std::uint32_t>(i + 1);
    } else {
      return slots_[i & (N - 1)].seq.load(std::memory_order_acquire) == i + 1;
    }
  }

  static constexpr std::size_t kPrefetchSlots = 4;
  static constexpr std::size_t kPerLine = sizeof(Slot) >= kCacheLine ? 1 : kCacheLine / sizeof(Slot);
  static constexpr std::size_t kWriteAhead = kPrefetchSlots * kPerLine;  // (rings smaller than this: no write prefetch)
  static void prefetch_write(const Slot* p) noexcept {
    for (std::size_t off = 0; off < sizeof(Slot); off += kCacheLine)
      __builtin_prefetch(reinterpret_cast<const char*>(p) + off, 1, 3);
  }
  static void prefetch(const Slot* p) noexcept {
    for (std::size_t off = 0; off < sizeof(Slot); off += kCacheLine)
      __builtin_prefetch(reinterpret_cast<const char*>(p) + off, 0, 3);
  }
  struct alignas(kCacheLine) Side {
    std::atomic<std::uint64_t> index{0};  // published to the other side
    std::uint64_t mine = 0;               // the same value, read without an atomic load
    std::uint64_t cached_other = 0;       // this side's last view of the other index
  };
  Side prod_;
  Side cons_;
  Slot* const slots_;
  char pad_[kCacheLine - sizeof(T*)] = {};
};

}  // namespace tickpath::infra
