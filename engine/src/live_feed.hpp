// LiveFeed: the engine's connections to Binance (or the simulator), split
// between the two threads that touch them. The io thread does everything
// that may block: connect, TLS and WebSocket handshakes, back-off, the
// connection-rate limit, 24-hour rotation and REST depth snapshots. It hands
// each ready connection to the feed thread through an SPSC ring; the feed
// thread only polls (one non-blocking read per connection per spin),
// answers pings, watches for a stale feed and hands dead or rotated-out
// connections back. Nothing on the feed thread allocates or blocks.
//
// Streams are spread over connections ("slots") of at most
// max_streams_per_connection each. A slot holds one connection, or two
// while a rotation overlaps them. During the overlap the new connection's
// frames are held (raw, in a buffer the io thread allocated) and handled
// after the old connection's last one; the FeedHandler's de-duplication
// then drops what both delivered. Handling both as they come would let
// whichever runs ahead pass ids the other has not delivered yet: the
// de-duplication would then drop the late ones, a hole in trades and books.
#pragma once

#include <immintrin.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "tickpath/engine/pipeline.hpp"
#include "tickpath/feed/feed_handler.hpp"
#include "tickpath/feed/ws_client.hpp"
#include "tickpath/infra/spsc_ring.hpp"
#include "tickpath/infra/symbol_table.hpp"
#include "tickpath/infra/tsc_clock.hpp"

namespace tickpath::engine {

enum class RetireReason : std::uint8_t { failed, closed_by_server, stale, rotated, shutdown };
const char* to_string(RetireReason r) noexcept;

// Frames the simulator numbers ("sq"): a jump is frames that never arrived
// on this connection (counted from the first one received).
struct SeqAccount {
  std::int64_t last = 0;
  std::uint64_t missing = 0;
  void on(std::int64_t sq) noexcept {
    if (sq <= 0) return;
    if (last > 0 && sq > last + 1) missing += static_cast<std::uint64_t>(sq - last - 1);
    if (sq > last) last = sq;
  }
};

struct LiveConn {
  std::unique_ptr<feed::WsClient> ws;
  std::size_t slot = 0;
  std::uint64_t id = 0;
  std::uint64_t adopted_tick = 0, last_msg_tick = 0, overlap_end_tick = 0;
  std::uint64_t messages = 0;
  SeqAccount sq;
  bool rotating_out = false;
  // Rotation hold: [u32 length][u64 rx tick][frame][kPadding zero bytes]...
  std::unique_ptr<char[]> hold;
  std::size_t hold_cap = 0, hold_used = 0;
  bool holding = false;
  RetireReason reason = RetireReason::failed;
  std::chrono::steady_clock::time_point opened_at{};
};

struct SnapshotMsg {
  infra::SymbolId symbol = infra::kNoSymbol;
  std::string body;  // padded with kPadding bytes
};

class LiveFeed {
 public:
  LiveFeed(const LiveOptions& opts, const infra::SymbolTable& symbols, const infra::TscClock& clock);
  ~LiveFeed();

  // Set-up (io thread): opens every slot's first connection. A failure here
  // is a set-up error (one line in `error`).
  bool start(std::string& error);
  // io thread, every few milliseconds: retired connections, reconnects with
  // back-off and jitter, rotation, snapshot requests.
  void io_tick();
  // io thread, after the feed thread has stopped: closes what is left and
  // fills the report.
  void finish(RunReport& rep);

  [[nodiscard]] const std::vector<bool>& book_symbols() const noexcept { return book_symbols_; }

  // ---- feed thread ----
  // One spin: adopt handed-over connections, poll each, watchdog, rotation
  // overlap, and apply any REST snapshot that arrived. on_frame(data, len,
  // hint, rx_tick, conn) is called for every message and snapshot.
  template <class OnFrame>
  std::size_t feed_poll(OnFrame&& on_frame) noexcept {
    LiveConn* c = nullptr;
    while (handoff_.pop(c)) adopt(c);
    std::size_t n = 0;
    for (std::size_t i = 0; i < nconns_;) {
      LiveConn& lc = *conns_[i];
      n += lc.ws->poll(clock_, [&](const char* d, std::size_t len, std::uint64_t rx) noexcept {
        if (rx > lc.last_msg_tick) lc.last_msg_tick = rx;
        if (++lc.messages == 1) on_first_message(lc, rx);
        if (lc.holding) {
          if (hold(lc, d, len, rx)) return;
          // Full: the overlap ends now. What was held goes first, then this
          // frame; the old connection retires at the end of this spin.
          end_overlap_now(lc);
          release(lc, on_frame);
        }
        on_frame(d, len, std::string_view{}, rx, &lc);
      });
      const feed::WsState st = lc.ws->state();
      if (st == feed::WsState::failed || st == feed::WsState::closed) {
        if (lc.holding) release(lc, on_frame);  // received, so handled, even from a connection that failed
        retire(i, st == feed::WsState::closed ? RetireReason::closed_by_server : RetireReason::failed);
        continue;
      }
      ++i;
    }
    if ((++spins_ & 255) == 0 || overlap_cut_) {
      overlap_cut_ = false;
      const std::uint64_t now = clock_.now();
      for (std::size_t i = 0; i < nconns_;) {
        LiveConn& lc = *conns_[i];
        RetireReason why{};
        if (!retire_due(lc, now, why)) {
          ++i;
          continue;
        }
        if (lc.holding) release(lc, on_frame);
        lc.ws->close(1000);
        retire(i, why);
      }
    }
    if (holding_ != 0)  // an old connection is gone: its successor's held frames come next
      for (std::size_t i = 0; i < nconns_; ++i)
        if (conns_[i]->holding && slot_open_[conns_[i]->slot] == 1) release(*conns_[i], on_frame);
    SnapshotMsg* s = nullptr;
    while (snapshots_.pop(s)) {
      const std::string_view name = symbols_.name(s->symbol);
      if (s->body.size() > feed::kPadding)  // empty: the fetch failed (counted by the io thread)
        on_frame(s->body.data(), s->body.size() - feed::kPadding, name, clock_.now(), nullptr);
      snapshot_requested_[s->symbol] = false;
      ++snapshots_applied_;
      (void)snapshots_done_.push(s);
    }
    return n;
  }
  // Feed thread, after an event: asks the io thread for a snapshot when the
  // symbol's book needs one (at most one request in flight per symbol).
  void maybe_request_snapshot(const feed::FeedHandler& h, infra::SymbolId id) noexcept {
    if (id >= snapshot_requested_.size() || snapshot_requested_[id] || !h.book_needs_snapshot(id)) return;
    if (requests_.push(id)) snapshot_requested_[id] = true;
  }
  // Feed thread, event-driven mode: sleeps in poll(2) on every connection
  // until bytes arrive or `timeout_ms` passes (at once if some are buffered).
  void feed_wait(int timeout_ms) noexcept;
  // Feed thread, when it stops: held frames are handled, then every
  // connection is closed and handed back.
  template <class OnFrame>
  void feed_shutdown(OnFrame&& on_frame) noexcept {
    shutting_down_.store(true, std::memory_order_release);  // the io thread stops reconnecting
    LiveConn* c = nullptr;
    while (handoff_.pop(c)) adopt(c);
    for (std::size_t i = 0; i < nconns_; ++i)
      if (conns_[i]->holding) release(*conns_[i], on_frame);
    while (nconns_ > 0) {
      conns_[0]->ws->close(1000);
      retire(0, RetireReason::shutdown);
    }
  }
  [[nodiscard]] std::uint64_t outage_ticks() const noexcept { return outage_ticks_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t snapshots_applied() const noexcept { return snapshots_applied_; }
  [[nodiscard]] std::size_t open_connections() const noexcept { return open_.load(std::memory_order_relaxed); }

 private:
  // A ring of pointers: ownership moves with the pointer.
  template <class T, std::size_t N>
  struct PtrRing {
    infra::SpscRing<T, N> ring;
    bool push(T v) noexcept { return ring.try_push(v); }
    bool pop(T& v) noexcept {
      const T* f = ring.front();
      if (f == nullptr) return false;
      v = *f;
      ring.pop();
      return true;
    }
  };

  void adopt(LiveConn* c) noexcept;
  void on_first_message(const LiveConn& c, std::uint64_t rx) noexcept;
  void retire(std::size_t i, RetireReason why) noexcept;
  // Rotated out after its overlap, or silent for stale_after_s.
  [[nodiscard]] bool retire_due(const LiveConn& c, std::uint64_t now, RetireReason& why) const noexcept;
  // Appends a frame to c's hold; false when it does not fit.
  bool hold(LiveConn& c, const char* d, std::size_t len, std::uint64_t rx) noexcept;
  // c's hold is full: the connections it overlaps retire in this spin.
  void end_overlap_now(const LiveConn& c) noexcept;
  // Hands c's held frames to on_frame in arrival order; c stops holding.
  template <class OnFrame>
  void release(LiveConn& c, OnFrame& on_frame) noexcept {
    std::size_t off = 0;
    while (off < c.hold_used) {
      std::uint32_t n = 0;
      std::uint64_t rx = 0;
      std::memcpy(&n, c.hold.get() + off, sizeof n);
      std::memcpy(&rx, c.hold.get() + off + sizeof n, sizeof rx);
      const char* d = c.hold.get() + off + sizeof n + sizeof rx;
      off += sizeof n + sizeof rx + n + feed::kPadding;
      on_frame(d, n, std::string_view{}, rx, &c);
    }
    c.hold_used = 0;
    c.holding = false;
    --holding_;
  }
  LiveConn* open_connection(std::size_t slot, std::string& error);

  LiveOptions opts_;
  const infra::SymbolTable& symbols_;
  const infra::TscClock& clock_;
  std::vector<std::string> targets_;  // per slot: /stream?streams=...
  std::vector<bool> book_symbols_;
  feed::Url ws_url_;

  // feed thread state
  static constexpr std::size_t kMaxConns = 64;
  std::array<LiveConn*, kMaxConns> conns_{};
  std::size_t nconns_ = 0;
  std::vector<std::uint8_t> slot_open_;          // connections per slot
  std::vector<std::uint64_t> slot_down_since_;   // tick the slot lost its last connection (0: up)
  std::vector<bool> snapshot_requested_;
  std::uint64_t spins_ = 0, stale_ticks_ = 0, snapshots_applied_ = 0;
  std::size_t holding_ = 0;                      // connections holding frames now
  bool overlap_cut_ = false;                     // a hold filled: retire what it overlaps in this spin
  std::uint64_t held_frames_ = 0, hold_full_ = 0;
  std::atomic<std::uint64_t> outage_ticks_{0};
  std::atomic<std::size_t> open_{0};

  PtrRing<LiveConn*, 64> handoff_, retired_;
  PtrRing<infra::SymbolId, 1024> requests_;
  PtrRing<SnapshotMsg*, 256> snapshots_, snapshots_done_;

  // io thread state
  struct Slot {
    int conns = 0;
    bool rotating = false;
    std::chrono::steady_clock::time_point current_opened{}, next_attempt{};
    double backoff_s = 0;
    bool ever_connected = false;
  };
  std::vector<Slot> slots_;
  void schedule_retry(Slot& s, std::chrono::steady_clock::time_point now) noexcept;
  std::deque<std::chrono::steady_clock::time_point> connect_times_;
  std::deque<infra::SymbolId> pending_requests_;
  std::chrono::steady_clock::time_point weight_window_{};
  int weight_used_ = 0;
  std::uint64_t next_id_ = 1, rng_ = 0x2545F4914F6CDD1DULL;
  std::vector<ConnectionRecord> records_;
  std::uint64_t reconnects_ = 0, rotations_ = 0, connect_failures_ = 0, rate_limited_ = 0;
  std::uint64_t snapshot_fetches_ = 0, snapshot_failures_ = 0, pings_ = 0, pongs_ = 0;
  std::chrono::steady_clock::time_point start_time_{};
  bool stopping_ = false;
  std::atomic<bool> shutting_down_{false};
  std::string last_connect_error_;
  std::vector<std::string> notes_;
};

}  // namespace tickpath::engine
