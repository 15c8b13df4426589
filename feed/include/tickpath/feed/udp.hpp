// UDP datagram transport for synthetic high-rate feeds: one datagram is one
// message (no WebSocket framing, no stream reassembly). The receiver joins
// a multicast group (or binds a unicast port) and the feed thread spins on
// poll(), which takes up to a batch of datagrams with one recvmmsg call
// (MSG_DONTWAIT) into preallocated slots, stamps the batch once on arrival,
// and hands each to the caller, followed by kPadding readable bytes.
//
// Loss is the sender's to number: frames carrying the simulator's "sq" key
// let the caller count gaps. A datagram longer than a slot is truncated by
// the kernel; it is counted and not delivered.
//
// Threading contract: one thread polls a receiver; a sender is used by one
// thread. poll() and send_batch() never allocate and never throw.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tickpath/feed/binance_parser.hpp"
#include "tickpath/feed/transport.hpp"
#include "tickpath/infra/tsc_clock.hpp"

struct mmsghdr;
struct iovec;

namespace tickpath::feed {

struct UdpOptions {
  std::string group = "239.255.42.1";  // a multicast group, or a unicast address to bind
  std::uint16_t port = 0;              // 0: any free port (see UdpReceiver::port())
  std::string interface = "127.0.0.1"; // local address of the interface to join on / send from
  int recv_buffer_bytes = 8 << 20;     // SO_RCVBUF (capped by net.core.rmem_max)
  std::size_t batch = 64;              // datagrams per recvmmsg / sendmmsg
  std::size_t max_datagram = 65507;
  bool huge_pages = false;
};

struct alignas(64) UdpCounters {
  std::atomic<std::uint64_t> datagrams{0}, bytes{0}, batches{0}, truncated{0};
};

class UdpReceiver {
 public:
  UdpReceiver();
  ~UdpReceiver();
  UdpReceiver(const UdpReceiver&) = delete;
  UdpReceiver& operator=(const UdpReceiver&) = delete;

  bool open(const UdpOptions& opts, std::string& error);
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }

  // Hot path: one recvmmsg; on_message(const char*, std::size_t, std::uint64_t rx_tick) per datagram.
  template <class OnMessage>
  std::size_t poll(const infra::TscClock& clock, OnMessage&& on_message) noexcept {
    const int n = receive();
    if (n <= 0) return 0;
    const std::uint64_t rx = clock.now();
    std::size_t delivered = 0;
    for (int i = 0; i < n; ++i) {
      const std::size_t len = datagram_len(i);
      if (len == kTruncated) continue;
      on_message(slot(i), len, rx);
      ++delivered;
    }
    return delivered;
  }
  // Event-driven mode: sleeps until a datagram arrives or the timeout passes.
  [[nodiscard]] bool wait_readable(int timeout_ms) noexcept;
  [[nodiscard]] const UdpCounters& counters() const noexcept { return counters_; }

 private:
  static constexpr std::size_t kTruncated = ~std::size_t{0};
  int receive() noexcept;
  std::size_t datagram_len(int i) noexcept;
  [[nodiscard]] char* slot(int i) const noexcept { return mem_.data() + static_cast<std::size_t>(i) * stride_; }

  int fd_ = -1;
  std::uint16_t port_ = 0;
  UdpOptions opts_;
  RxMemory mem_;
  std::size_t stride_ = 0;
  std::unique_ptr<mmsghdr[]> msgs_;
  std::unique_ptr<iovec[]> iov_;
  UdpCounters counters_;
};

class UdpSender {
 public:
  UdpSender() = default;
  ~UdpSender();
  UdpSender(const UdpSender&) = delete;
  UdpSender& operator=(const UdpSender&) = delete;

  bool open(const UdpOptions& opts, std::uint16_t port, std::string& error);
  // Sends every message as its own datagram, `batch` per sendmmsg call;
  // returns how many were sent (the rest met a full socket buffer).
  std::size_t send_batch(const std::string_view* msgs, std::size_t n) noexcept;

 private:
  int fd_ = -1;
  std::size_t batch_ = 64;
  std::unique_ptr<mmsghdr[]> msgs_;
  std::unique_ptr<iovec[]> iov_;
};

}  // namespace tickpath::feed
