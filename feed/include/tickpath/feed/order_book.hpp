// OrderBook: one symbol's price levels, kept where the depth diffs are
// parsed (the feed thread), in int64 x1e8 prices so equality is exact.
// Levels live in two sorted fixed-capacity arrays (bids descending, asks
// ascending): binary search, and a memmove that is short near the top of
// the book where nearly all updates land. No allocation after construction.
//
// BookSync applies Binance's rules for a local book from a REST snapshot and
// the diff stream: drop diffs with u <= lastUpdateId; the first applied diff
// must have U <= lastUpdateId + 1 <= u; every later one U == previous u + 1,
// otherwise the book is out of sync and waits for a new snapshot (counted).
// A quantity of 0 removes the level.
#pragma once

#include <cstdint>
#include <memory>

#include "tickpath/feed/binance_parser.hpp"

namespace tickpath::feed {

struct BookLevel {
  std::int64_t price_e8;
  std::int64_t qty_e8;
};

class OrderBookSide {
 public:
  OrderBookSide(bool descending, std::uint32_t capacity)
      : desc_(descending), cap_(capacity), levels_(std::make_unique<BookLevel[]>(capacity)) {}

  // Sets (qty > 0) or removes (qty == 0) a level. A full side keeps its
  // best levels: a new level better than the deepest pushes the deepest out,
  // one worse than all of them is not taken; both return false (counted by
  // the caller), so the top of the book stays exact and only its far tail
  // is bounded.
  bool set(std::int64_t price, std::int64_t qty) noexcept;
  void clear() noexcept { n_ = 0; }
  [[nodiscard]] std::uint32_t size() const noexcept { return n_; }
  [[nodiscard]] const BookLevel& operator[](std::uint32_t i) const noexcept { return levels_[i]; }
  [[nodiscard]] bool empty() const noexcept { return n_ == 0; }

 private:
  // First index whose price is not better than `price`.
  [[nodiscard]] std::uint32_t lower_bound(std::int64_t price) const noexcept;
  bool desc_;
  std::uint32_t cap_;
  std::uint32_t n_ = 0;
  std::unique_ptr<BookLevel[]> levels_;
};

enum class BookState : std::uint8_t { awaiting_snapshot, awaiting_first_diff, synced };

struct BookCounters {
  std::uint64_t diffs_applied = 0, diffs_stale = 0, diffs_before_snapshot = 0, gaps = 0, overflows = 0, snapshots = 0;
  // Levels refused: a price that is not positive or a quantity below zero
  // (no exchange sends them; the frame's other levels still apply).
  std::uint64_t bad_levels = 0;
};

class BookSync {
 public:
  explicit BookSync(std::uint32_t levels_per_side = 10'000)
      : bids_(true, levels_per_side), asks_(false, levels_per_side) {}

  void on_snapshot(std::int64_t last_update_id, const LevelSpan& bids, const LevelSpan& asks) noexcept;
  // Returns false when the diff could not be applied in sequence (the book
  // is then out of sync until the next snapshot) - the caller re-fetches.
  bool on_diff(std::int64_t first_id, std::int64_t final_id, const LevelSpan& bids, const LevelSpan& asks) noexcept;

  [[nodiscard]] BookState state() const noexcept { return state_; }
  [[nodiscard]] const OrderBookSide& bids() const noexcept { return bids_; }
  [[nodiscard]] const OrderBookSide& asks() const noexcept { return asks_; }
  [[nodiscard]] std::int64_t last_update_id() const noexcept { return last_u_; }
  [[nodiscard]] const BookCounters& counters() const noexcept { return counters_; }

 private:
  void apply(const LevelSpan& s, OrderBookSide& side) noexcept;
  OrderBookSide bids_, asks_;
  BookState state_ = BookState::awaiting_snapshot;
  std::int64_t last_u_ = 0;
  BookCounters counters_{};
};

}  // namespace tickpath::feed
