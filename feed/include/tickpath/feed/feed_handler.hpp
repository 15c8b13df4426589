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
#include <string_view>

#include "tickpath/feed/binance_parser.hpp"
#include "tickpath/infra/symbol_table.hpp"

namespace tickpath::feed {

struct alignas(64) FeedCounters {
  std::atomic<std::uint64_t> frames{0};
  std::atomic<std::uint64_t> events{0};
  std::atomic<std::uint64_t> rejects{0};
  std::atomic<std::uint64_t> depth_gaps{0};
  std::array<std::atomic<std::uint64_t>, kRejectReasons> reject_by_reason{};
  std::array<std::atomic<std::uint64_t>, 8> events_by_type{};
};

class FeedHandler {
 public:
  explicit FeedHandler(infra::SymbolTable& symbols) : symbols_(symbols) { last_u_.fill(-1); }

  // Parses `data[0, len)` (padded, see BinanceParser) into `out`.
  // `symbol_hint` names the symbol when the frame cannot (a REST snapshot).
  [[nodiscard]] RejectReason on_frame(const char* data, std::size_t len, std::string_view symbol_hint,
                                      Event& out) noexcept;

  // Forget sequence state, e.g. after a reconnect or a replay lap: the next
  // diff of every symbol starts a new sequence instead of reporting a gap.
  void reset_sequences() noexcept { last_u_.fill(-1); }

  [[nodiscard]] const FeedCounters& counters() const noexcept { return counters_; }
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
  std::array<std::int64_t, infra::SymbolTable::kMaxSymbols> last_u_{};
  FeedCounters counters_;
};

// Fills `out`'s payload from a parsed message (not the stamps or symbol).
void fill_event(const Message& m, Event& out) noexcept;

}  // namespace tickpath::feed
