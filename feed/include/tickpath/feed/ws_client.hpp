// WsClient: an RFC 6455 client over any Transport. The handshake (blocking,
// with a deadline) runs at set-up or on the io thread; poll() is the feed
// thread's hot call: one non-blocking read into a preallocated stream
// buffer, the receive tick taken once when the bytes arrive, then every
// complete message handed to the caller as a view into that buffer (an
// unfragmented text frame is never copied; fragments are reassembled by
// WsDecoder in a buffer sized at construction). Pings are answered with a
// pong at once, a server close is answered and reported, a protocol error
// or an oversized message fails the connection with a reason.
//
// Padding: every message view is followed by at least kPadding readable
// bytes, as BinanceParser requires.
//
// Threading contract: one thread polls a client at a time (it may be
// handed over, e.g. built on the io thread and polled by the feed thread).
// After handshake(), poll() and send_*() never allocate and never throw.
// Counters are relaxed atomics, readable from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "tickpath/feed/binance_parser.hpp"
#include "tickpath/feed/transport.hpp"
#include "tickpath/feed/websocket.hpp"
#include "tickpath/infra/tsc_clock.hpp"

namespace tickpath::feed {

enum class WsState : std::uint8_t { connecting, open, closing, closed, failed };
const char* to_string(WsState s) noexcept;

struct alignas(64) WsCounters {
  std::atomic<std::uint64_t> messages{0}, bytes{0}, reads{0}, pings{0}, pongs_sent{0}, pongs_received{0},
      control_deferred{0};
};

struct WsClientOptions {
  std::size_t max_message_bytes = 1U << 20;  // a larger message fails the connection (Binance's are < 100 KB)
  std::size_t read_chunk_bytes = 256U << 10;   // stream buffer beyond one maximal message
  bool huge_pages = false;
  int handshake_timeout_ms = 5000;
  // Binance counts client frames (pong, subscribe) against 5 per second per
  // connection; control frames beyond this wait for the next second.
  double max_sent_per_s = 5;
};

class WsClient {
 public:
  WsClient(std::unique_ptr<Transport> transport, const WsClientOptions& opts = {});

  // Set-up: sends the upgrade request for `target` and checks the 101 reply
  // (Sec-WebSocket-Accept included). Bytes after the reply are kept as the
  // first frames, stamped with `clock` when given. False with `error` set to one line.
  bool handshake(const std::string& host, std::uint16_t port, const std::string& target, std::string& error,
                 const infra::TscClock* clock = nullptr);

  // Hot path. Reads once, then calls on_message(const char* data,
  // std::size_t len, std::uint64_t rx_tick) for each complete message.
  // Returns the number of messages; check state() for open/closed/failed.
  template <class OnMessage>
  std::size_t poll(const infra::TscClock& clock, OnMessage&& on_message) noexcept {
    if (state_ != WsState::open && state_ != WsState::closing) return 0;
    fill(clock);
    std::size_t n = 0;
    while (head_ < tail_) {
      const WsEvent ev = dec_.decode(buf_ + head_, tail_ - head_);
      head_ += ev.consumed;
      if (ev.kind == WsEventKind::message) {
        ++n;
        on_message(ev.payload.data(), ev.payload.size(), rx_tick_);
        continue;
      }
      if (ev.kind == WsEventKind::need_more) {
        if (ev.consumed == 0) break;
        continue;
      }
      if (!on_control(ev, clock)) break;
    }
    if (head_ == tail_) head_ = tail_ = 0;
    if (n != 0) bump(counters_.messages, n);
    if (pong_pending_) flush_pong(clock);
    return n;
  }

  // Sends a text frame (e.g. a SUBSCRIBE request); false if it cannot.
  bool send_text(std::string_view text) noexcept;
  // Starts the close handshake (code 1000 unless given).
  void close(std::uint16_t code = 1000) noexcept;

  [[nodiscard]] WsState state() const noexcept { return state_; }
  // Why the connection failed or what the server said when it closed.
  [[nodiscard]] const char* reason() const noexcept { return reason_; }
  [[nodiscard]] std::uint16_t close_code() const noexcept { return close_code_; }
  [[nodiscard]] const WsCounters& counters() const noexcept { return counters_; }
  [[nodiscard]] std::uint64_t last_rx_tick() const noexcept { return rx_tick_; }
  [[nodiscard]] Transport& transport() noexcept { return *t_; }
  [[nodiscard]] bool huge_pages() const noexcept { return mem_.huge(); }

 private:
  static void bump(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void fill(const infra::TscClock& clock) noexcept;
  bool on_control(const WsEvent& ev, const infra::TscClock& clock) noexcept;
  bool send_frame(WsOpcode op, std::string_view payload) noexcept;
  void flush_pong(const infra::TscClock& clock) noexcept;
  void fail(const char* why) noexcept;

  std::unique_ptr<Transport> t_;
  WsClientOptions opts_;
  WsDecoder dec_;
  RxMemory mem_;
  char* buf_ = nullptr;
  std::size_t cap_ = 0, head_ = 0, tail_ = 0;
  std::uint64_t rx_tick_ = 0;
  std::unique_ptr<char[]> tx_;
  std::size_t tx_cap_ = 0;
  std::uint64_t mask_state_;
  // pong waiting for the send budget (the latest ping's payload wins)
  char pending_pong_[125];
  std::size_t pending_pong_len_ = 0;
  bool pong_pending_ = false;
  std::uint64_t budget_window_tick_ = 0;
  int sent_in_window_ = 0;
  WsState state_ = WsState::connecting;
  const char* reason_ = "";
  char close_reason_[128] = {};
  std::uint16_t close_code_ = 0;
  WsCounters counters_;
};

}  // namespace tickpath::feed
