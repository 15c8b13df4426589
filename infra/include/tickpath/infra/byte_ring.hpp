// ByteRing: a single-producer single-consumer ring of variable-length
// records in one preallocated buffer, for handing raw bytes (journal
// records) from a hot thread to the io thread without a copy per field or
// an allocation. A record is claimed, filled in place and published; a
// full ring refuses the claim (the caller counts it) and never blocks.
//
// Layout: each record is [u32 length][length bytes], padded to 8 bytes.
// A record never wraps: when it does not fit before the end, the producer
// writes a wrap marker there (or nothing, when exactly at the end) and
// starts again at offset 0.
//
// Threading contract: one producer calls try_claim/publish, one consumer
// calls front/pop. Positions are monotonic 64-bit counters, each on its own
// cache line with a cached copy of the other side's (rigtorp's SPSCQueue).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

namespace tickpath::infra {

class ByteRing {
 public:
  // `capacity` is rounded up to a power of two (at least 64 bytes).
  explicit ByteRing(std::size_t capacity) {
    cap_ = 64;
    while (cap_ < capacity) cap_ <<= 1;
    mask_ = cap_ - 1;
    buf_ = std::make_unique<char[]>(cap_);
    std::memset(buf_.get(), 0, cap_);  // prefault: no page fault on the hot path
  }

  [[nodiscard]] std::size_t capacity() const noexcept { return cap_; }

  // Producer: room for `n` payload bytes, or nullptr when the ring is full
  // (or n can never fit). Fill it, then publish().
  [[nodiscard]] char* try_claim(std::size_t n) noexcept {
    const std::size_t need = round8(4 + n);
    if (need > cap_ / 2) return nullptr;
    std::uint64_t head = prod_.head;
    const std::size_t at_end = cap_ - static_cast<std::size_t>(head & mask_);
    const std::size_t skip = need > at_end ? at_end : 0;
    if (head + skip + need - prod_.tail_cache > cap_) {
      prod_.tail_cache = cons_.tail.load(std::memory_order_acquire);
      if (head + skip + need - prod_.tail_cache > cap_) return nullptr;
    }
    if (skip != 0) {
      const std::uint32_t marker = kWrap;
      std::memcpy(buf_.get() + (head & mask_), &marker, 4);  // at_end is a multiple of 8, so >= 8 here
      head += skip;
    }
    const auto len = static_cast<std::uint32_t>(n);
    std::memcpy(buf_.get() + (head & mask_), &len, 4);
    prod_.pending = head + need;
    return buf_.get() + (head & mask_) + 4;
  }
  void publish() noexcept {
    prod_.head = prod_.pending;
    prod_.head_pub.store(prod_.pending, std::memory_order_release);
  }

  // Consumer: the next record's bytes and length, or nullptr when empty.
  [[nodiscard]] const char* front(std::size_t& n) noexcept {
    while (true) {
      if (cons_.mine == cons_.head_cache) {
        cons_.head_cache = prod_.head_pub.load(std::memory_order_acquire);
        if (cons_.mine == cons_.head_cache) return nullptr;
      }
      const std::size_t idx = static_cast<std::size_t>(cons_.mine & mask_);
      std::uint32_t len = 0;
      std::memcpy(&len, buf_.get() + idx, 4);
      if (len == kWrap) {
        cons_.mine += cap_ - idx;
        continue;
      }
      n = len;
      return buf_.get() + idx + 4;
    }
  }
  void pop() noexcept {
    std::uint32_t len = 0;
    std::memcpy(&len, buf_.get() + (cons_.mine & mask_), 4);
    cons_.mine += round8(4 + len);
    cons_.tail.store(cons_.mine, std::memory_order_release);
  }

 private:
  static constexpr std::uint32_t kWrap = 0xFFFFFFFFU;
  static constexpr std::size_t round8(std::size_t v) noexcept { return (v + 7) & ~std::size_t{7}; }

  std::size_t cap_ = 0, mask_ = 0;
  std::unique_ptr<char[]> buf_;
  struct alignas(64) Prod {
    std::atomic<std::uint64_t> head_pub{0};
    std::uint64_t head = 0, pending = 0, tail_cache = 0;
  } prod_;
  struct alignas(64) Cons {
    std::atomic<std::uint64_t> tail{0};
    std::uint64_t mine = 0, head_cache = 0;
  } cons_;
};

}  // namespace tickpath::infra
