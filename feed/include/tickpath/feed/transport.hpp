// Transport: the byte-stream boundary under the WebSocket layer. The feed
// thread spins on read_some(), which copies whatever bytes have arrived into
// the caller's preallocated stream buffer and returns at once (would_block
// when nothing is there): it never sleeps in the kernel on the hot path.
// Everything that may block (resolve, connect, TLS handshake) happens in
// connect_transport(), at set-up or on the io thread.
//
// Back-ends here: plain TCP and TLS over it (Boost.Asio for resolve and
// connect, OpenSSL for TLS on the same non-blocking socket). A kernel-bypass
// back-end (AF_XDP with a user-space TCP stack, DPDK, Solarflare ef_vi,
// io_uring with registered buffers) implements the same five calls: it
// delivers stream bytes into the caller's buffer from its own receive ring
// in read_some(), and nothing above this header changes. OpenOnload needs no
// code at all: it intercepts these same socket calls (run under `onload`).
//
// Threading contract: a Transport is used by one thread at a time; it may be
// created on one thread and handed to another. read_some / write_all /
// wait_readable never allocate and never throw.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace tickpath::feed {

enum class IoStatus : std::uint8_t { ok, would_block, closed, error };

struct IoResult {
  IoStatus status = IoStatus::ok;
  std::size_t bytes = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Hot path: copies up to `cap` bytes that have arrived into `dst`.
  [[nodiscard]] virtual IoResult read_some(char* dst, std::size_t cap) noexcept = 0;
  // Sends all of `data` (control frames, requests). Waits for socket space
  // at most `timeout_ms`; an error or timeout is IoStatus::error.
  [[nodiscard]] virtual IoResult write_all(const char* data, std::size_t len, int timeout_ms = 1000) noexcept = 0;
  // Event-driven mode: sleeps until bytes can be read or `timeout_ms` passes.
  [[nodiscard]] virtual bool wait_readable(int timeout_ms) noexcept = 0;
  virtual void close() noexcept = 0;
  // For an event loop over many transports: the descriptor to wait on, and
  // whether bytes are already buffered above it (TLS records decrypted but
  // not yet read), in which case waiting would be wrong.
  [[nodiscard]] virtual int native_handle() const noexcept = 0;
  [[nodiscard]] virtual bool buffered() const noexcept { return false; }
  [[nodiscard]] virtual const char* kind() const noexcept = 0;  // "tcp", "tls"
  // Why the last call failed (one line; "" when it did not).
  [[nodiscard]] virtual const char* last_error() const noexcept = 0;
};

struct TransportOptions {
  bool tls = false;
  bool verify_peer = true;     // TLS: chain checked against the system store (or ca_file) and the host name
  std::string ca_file;         // TLS: trust this PEM file instead of the system store
  int connect_timeout_ms = 5000;
  int recv_buffer_bytes = 0;   // SO_RCVBUF; 0 = the kernel's default
  bool busy_poll_socket = false;  // SO_BUSY_POLL (50 us) where the kernel allows it
};

// A peer that vanishes must come back as an error code, not kill the
// process: OpenSSL writes with write(2), so SIGPIPE is set to ignored once,
// by the first connect_transport() (and by servers in this code base).
void ignore_sigpipe() noexcept;

// Resolves, connects (TCP_NODELAY, non-blocking) and, with opts.tls, runs
// the TLS handshake with SNI. nullptr on failure with `error` set to one line.
std::unique_ptr<Transport> connect_transport(const std::string& host, std::uint16_t port, const TransportOptions& opts,
                                             std::string& error);

// ws://host[:port]/path, wss://..., http://..., https://...
struct Url {
  bool tls = false;
  bool websocket = false;
  std::string host;
  std::uint16_t port = 0;
  std::string target = "/";  // path and query
};
bool parse_url(std::string_view url, Url& out, std::string& error);

// Memory for receive buffers: one mapping made at set-up, on 2 MB huge pages
// when asked and available (else ordinary pages, with `note` saying why),
// prefaulted so the hot path takes no page fault.
class RxMemory {
 public:
  RxMemory() = default;
  RxMemory(std::size_t bytes, bool huge_pages);
  ~RxMemory();
  RxMemory(RxMemory&& o) noexcept;
  RxMemory& operator=(RxMemory&& o) noexcept;
  RxMemory(const RxMemory&) = delete;
  RxMemory& operator=(const RxMemory&) = delete;
  [[nodiscard]] char* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool huge() const noexcept { return huge_; }
  [[nodiscard]] const std::string& note() const noexcept { return note_; }

 private:
  char* data_ = nullptr;
  std::size_t size_ = 0, mapped_ = 0;
  bool huge_ = false;
  std::string note_;
};

}  // namespace tickpath::feed
