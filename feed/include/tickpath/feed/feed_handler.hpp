// FeedHandler: the feed thread's per-frame stage. Parses a frame, resolves
// its symbol to an id, checks diff-depth sequence continuity (U == previous
// u + 1 per symbol) and fills the ring Event. Every frame ends either as an
// event or as a counted reject; gaps are flagged on the event and counted.
//
// Threading contract: owned by the feed thread. Counters are relaxed atomics
// written only by that thread, so a reporter may read them at any time.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "tickpath/feed/binance_parser.hpp"
#include "tickpath/feed/order_book.hpp"
#include "tickpath/infra/symbol_table.hpp"

namespace tickpath::feed {

struct alignas(64) FeedCounters {
  std::atomic<std::uint64_t> frames{0};
  std::atomic<std::uint64_t> events{0};
  std::atomic<std::uint64_t> rejects{0};
  std::atomic<std::uint64_t> depth_gaps{0};
  std::atomic<std::uint64_t> book_snapshots{0};
  std::atomic<std::uint64_t> book_out_of_sync{0};  // a diff did not follow the book: it needs a new snapshot
  std::atomic<std::uint64_t> duplicates{0};
  std::atomic<std::uint64_t> diffs_buffered{0};          // held while a book waited for its snapshot
  std::atomic<std::uint64_t> diff_buffer_overflows{0};  // the buffer filled: older held diffs were let go  // live: frames already seen on another connection (dropped)
  std::array<std::atomic<std::uint64_t>, kRejectReasons> reject_by_reason{};
  std::array<std::atomic<std::uint64_t>, 8> events_by_type{};
};

class FeedHandler {
 public:
  explicit FeedHandler(infra::SymbolTable& symbols)
      : symbols_(symbols), last_id_(std::make_unique<std::array<std::int64_t, kKinds>[]>(infra::SymbolTable::kMaxSymbols)) {
    last_u_.fill(-1);
    for (std::size_t i = 0; i < infra::SymbolTable::kMaxSymbols; ++i) last_id_[i].fill(INT64_MIN);
  }

  // Parses `data[0, len)` (padded, see BinanceParser) into `out`.
  // `symbol_hint` names the symbol when the frame cannot (a REST snapshot).
  [[nodiscard]] RejectReason on_frame(const char* data, std::size_t len, std::string_view symbol_hint,
                                      Event& out) noexcept;

  // Keeps a local order book for each symbol whose flag is set (set-up:
  // allocates `levels_per_side` levels per side per book). REST snapshots
  // (depth frames without a stream) seed a book; diffs keep it; depth events
  // then carry the book's best bid and ask.
  // With `diff_buffer_bytes` > 0 (live feeds), diffs that arrive while a
  // book waits for its snapshot are kept (raw, in a buffer of that size per
  // book) and applied right after the snapshot, as Binance's procedure asks:
  // the snapshot is usually older than the newest diff by the time it lands.
  void enable_books(const std::vector<bool>& symbols, std::uint32_t levels_per_side,
                    std::size_t diff_buffer_bytes = 0);
  [[nodiscard]] const BookSync* book(infra::SymbolId id) const noexcept {
    return id < books_.size() ? books_[id].get() : nullptr;
  }

  // Live feeds: drop a frame whose id this handler has already passed for
  // its symbol and kind (trade t, aggTrade a, depth u, partial depth
  // lastUpdateId; klines and book tickers, which restate a state, only when
  // older than the last), so two connections
  // overlapping during a rotation or a reconnect deliver each update once.
  // Returns RejectReason::duplicate, counted in `duplicates`, not `rejects`.
  void enable_dedup(bool on) noexcept { dedup_ = on; }

  // True when the symbol's book waits for a REST snapshot (never had one, or
  // a diff did not follow it); the live feed then fetches one.
  [[nodiscard]] bool book_needs_snapshot(infra::SymbolId id) const noexcept {
    return id < books_.size() && books_[id] && books_[id]->state() == BookState::awaiting_snapshot;
  }

  // Forget sequence state, e.g. after a reconnect or a replay lap: the next
  // diff of every symbol starts a new sequence instead of reporting a gap.
  void reset_sequences() noexcept { last_u_.fill(-1); }

  // Runs the parser over `frame` `rounds` times into a scratch message: code,
  // branch history and the parser's buffers warmed on the calling thread,
  // no state of this handler touched. Returns how many parses were accepted.
  std::uint64_t warm_up(const char* data, std::size_t len, std::uint32_t rounds) noexcept {
    Message scratch;
    std::uint64_t ok = 0;
    for (std::uint32_t i = 0; i < rounds; ++i) ok += parser_.parse(data, len, scratch) == RejectReason::none;
    return ok;
  }

  [[nodiscard]] const FeedCounters& counters() const noexcept { return counters_; }
  // Zeroes every counter (feed thread; after a warm start, so the run's
  // counters describe its own feed). State is kept.
  void reset_counters() noexcept;
  [[nodiscard]] const Message& last_message() const noexcept { return msg_; }

 private:
  static void bump(std::atomic<std::uint64_t>& c) noexcept {
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  RejectReason reject(RejectReason r) noexcept {
    bump(counters_.rejects);
    bump(counters_.reject_by_reason[static_cast<std::size_t>(r)]);
    return r;
  }

  infra::SymbolTable& symbols_;
  BinanceParser parser_;
  Message msg_;
  [[nodiscard]] bool duplicate(const Event& ev) noexcept;
  std::array<std::int64_t, infra::SymbolTable::kMaxSymbols> last_u_{};
  static constexpr std::size_t kKinds = 7;  // EventType values
  std::unique_ptr<std::array<std::int64_t, kKinds>[]> last_id_;
  bool dedup_ = false;
  std::vector<std::unique_ptr<BookSync>> books_;
  struct DiffBuffer {
    std::unique_ptr<char[]> bytes;
    std::size_t cap = 0, used = 0;
  };
  std::vector<DiffBuffer> held_;  // per book: [u32 length][frame][kPadding zero bytes]...
  void hold_diff(infra::SymbolId id, const char* data, std::size_t len) noexcept;
  void replay_held(infra::SymbolId id, BookSync& book) noexcept;
  FeedCounters counters_;
};

// Fills `out`'s payload from a parsed message (not the stamps or symbol).
void fill_event(const Message& m, Event& out) noexcept;

}  // namespace tickpath::feed
