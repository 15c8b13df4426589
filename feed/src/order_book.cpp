#include "tickpath/feed/order_book.hpp"

#include <cstring>

namespace tickpath::feed {

std::uint32_t OrderBookSide::lower_bound(std::int64_t price) const noexcept {
  std::uint32_t lo = 0, hi = n_;
  while (lo < hi) {
    const std::uint32_t mid = (lo + hi) / 2;
    const bool better = desc_ ? levels_[mid].price_e8 > price : levels_[mid].price_e8 < price;
    if (better) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

bool OrderBookSide::set(std::int64_t price, std::int64_t qty) noexcept {
  const std::uint32_t i = lower_bound(price);
  const bool found = i < n_ && levels_[i].price_e8 == price;
  if (qty == 0) {
    if (found) {
      std::memmove(&levels_[i], &levels_[i + 1], (n_ - i - 1) * sizeof(BookLevel));
      --n_;
    }
    return true;
  }
  if (found) {
    levels_[i].qty_e8 = qty;
    return true;
  }
  if (n_ == cap_) {
    if (i == n_) return false;  // deeper than everything held: not taken
    std::memmove(&levels_[i + 1], &levels_[i], (n_ - i - 1) * sizeof(BookLevel));  // the deepest falls off
    levels_[i] = {price, qty};
    return false;
  }
  std::memmove(&levels_[i + 1], &levels_[i], (n_ - i) * sizeof(BookLevel));
  levels_[i] = {price, qty};
  ++n_;
  return true;
}

void BookSync::apply(const LevelSpan& s, OrderBookSide& side) noexcept {
  for (std::uint32_t i = 0; i < s.size; ++i) {
    const std::int64_t price = s.data[i].price.e8, qty = s.data[i].qty.e8;
    if (price <= 0 || qty < 0) {
      ++counters_.bad_levels;
      continue;
    }
    if (!side.set(price, qty)) ++counters_.overflows;
  }
}

void BookSync::on_snapshot(std::int64_t last_update_id, const LevelSpan& bids, const LevelSpan& asks) noexcept {
  bids_.clear();
  asks_.clear();
  apply(bids, bids_);
  apply(asks, asks_);
  last_u_ = last_update_id;
  state_ = BookState::awaiting_first_diff;
  ++counters_.snapshots;
}

bool BookSync::on_diff(std::int64_t first_id, std::int64_t final_id, const LevelSpan& bids,
                       const LevelSpan& asks) noexcept {
  switch (state_) {
    case BookState::awaiting_snapshot:
      ++counters_.diffs_before_snapshot;
      return true;
    case BookState::awaiting_first_diff:
      if (final_id <= last_u_) {
        ++counters_.diffs_stale;
        return true;
      }
      if (first_id > last_u_ + 1) {  // the snapshot is older than the stream: a hole
        ++counters_.gaps;
        state_ = BookState::awaiting_snapshot;
        return false;
      }
      break;
    case BookState::synced:
      if (first_id != last_u_ + 1) {
        ++counters_.gaps;
        state_ = BookState::awaiting_snapshot;
        return false;
      }
      break;
  }
  apply(bids, bids_);
  apply(asks, asks_);
  last_u_ = final_id;
  state_ = BookState::synced;
  ++counters_.diffs_applied;
  return true;
}

}  // namespace tickpath::feed
