// ExchangeSimulator: Binance Spot's market-data endpoints on loopback, for
// tests and stress runs that must not need the internet. It serves the
// combined-stream WebSocket (/stream?streams=a/b/c, plain or TLS with a
// certificate it generates) and the REST depth snapshot (/api/v3/depth),
// from the synthetic market or a recording, at a chosen rate or as fast as
// it can, to many clients. It keeps its own order book per symbol from the
// diffs it generates, so a client's book can be compared with it.
//
// Each frame carries two extra keys in the combined-stream wrapper, ahead of
// Binance's: "sq" (1, 2, ... per connection) and "tx" (CLOCK_REALTIME ns
// when the frame was queued), so a client can account for every frame and
// measure the wire.
//
// Faults, on command (inject(), from any thread) or on a schedule: drop
// every connection (TCP reset), stall (send nothing for a while), a
// malformed frame, skip update ids (a depth diff generated but not sent),
// a ping that expects a pong, a close handshake, an oversized frame.
//
// Threading: one server thread does everything (poll-based, non-blocking);
// the public methods are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tickpath/feed/synthetic.hpp"

namespace tickpath::exsim {

// A self-signed P-256 certificate for localhost / 127.0.0.1 (and ::1),
// usable as its own trust anchor: clients load it as a CA file and verify
// chain and host name normally. Writes DIR/exsim-cert.pem and a 0600 key.
bool make_certificate(const std::string& dir, std::string& cert_path, std::string& key_path, std::string& error);

enum class Fault : std::uint8_t { drop, stall, malformed, skip_ids, ping, close, oversized };
const char* to_string(Fault f) noexcept;
bool parse_fault(const std::string& name, Fault& out) noexcept;

struct ScheduledFault {
  Fault fault;
  double every_s;
  double arg = 0;  // stall: seconds; oversized: bytes
};

struct SimConfig {
  std::string bind = "127.0.0.1";
  std::uint16_t port = 0;  // 0: an ephemeral port (see port())
  bool tls = true;
  std::string cert_dir;    // where the generated certificate is written (default: a temp dir)
  feed::SyntheticConfig market{};
  std::string recording;   // frames file to serve instead of the synthetic market (looped)
  double rate_per_s = 10'000;  // frames per second of wall time; 0 = as fast as the clients take them
  std::uint64_t max_frames = 0;  // stop generating after this many (0: never)
  std::size_t max_backlog_bytes = 64U << 20;  // a client further behind is disconnected (counted)
  std::vector<ScheduledFault> schedule;
  // Also multicast every frame (wrapped with "sq"/"tx" as on the streams) to
  // this UDP group:port from `udp_interface`; generation then starts at once.
  std::string udp_group;
  std::uint16_t udp_port = 0;
  std::string udp_interface = "127.0.0.1";
  bool log = false;        // one line per connection and fault on stderr
  // Every connection's frames leave this long after they are generated,
  // except a rotation's new connection (another with the same streams is
  // still open): the old connection lags the new one, as on a loaded host,
  // and still has frames in flight that the new one will never send.
  double lag_s = 0;
};

struct SimStats {
  std::uint64_t generated = 0;            // frames the market produced
  std::uint64_t generated_unsubscribed = 0;  // of those, while no client took their stream
  std::uint64_t sent = 0;                 // frames queued to clients (sum over clients)
  std::uint64_t udp_sent = 0, udp_send_failures = 0;  // datagrams multicast / refused by a full socket buffer
  std::uint64_t connections = 0, ws_connections = 0, rest_requests = 0;
  std::uint64_t pings_sent = 0, pongs_received = 0, pongs_matched = 0;
  std::uint64_t faults = 0, slow_client_drops = 0, skipped_diffs = 0, write_failures = 0;
  std::uint64_t backlog_bytes = 0;        // bytes waiting in send buffers now
  std::size_t open_ws = 0;                // WebSocket clients connected now
  bool done = false;                      // max_frames reached
  double generating_s = 0;                // from the first stream client to done (or to now)
  std::vector<std::uint64_t> sent_per_connection;  // by WebSocket connection, in accept order
  // Text frames that are not market data, by connection: injected malformed
  // and oversized frames (a client counts them among the messages it reads).
  std::vector<std::uint64_t> extra_per_connection;
  std::uint64_t malformed_sent = 0;       // malformed frames queued (sum over clients)
};

struct SimBook {
  std::int64_t last_update_id = 0;
  // U and u of the last diff the skip_ids fault kept back (0: none). When it
  // was the last diff of all, no later one reveals the gap to a client.
  std::int64_t last_skipped_first = 0, last_skipped_final = 0;
  std::vector<std::pair<std::int64_t, std::int64_t>> bids, asks;  // (price e8, qty e8), best first
};

class ExchangeSimulator {
 public:
  explicit ExchangeSimulator(SimConfig cfg);
  ~ExchangeSimulator();
  ExchangeSimulator(const ExchangeSimulator&) = delete;
  ExchangeSimulator& operator=(const ExchangeSimulator&) = delete;

  // Binds, writes the certificate (TLS) and starts the server thread.
  bool start(std::string& error);
  void stop();

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  [[nodiscard]] const std::string& ca_file() const noexcept { return ca_file_; }
  // ws(s)://127.0.0.1:PORT and http(s)://... for the engine's options
  [[nodiscard]] std::string ws_base() const;
  [[nodiscard]] std::string rest_base() const;

  void inject(Fault f, double arg = 0);
  void pause(bool paused);  // generation only; connections stay up
  [[nodiscard]] SimStats stats() const;
  [[nodiscard]] bool book(const std::string& symbol, SimBook& out) const;

  struct Impl;

 private:
  SimConfig cfg_;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
  std::uint16_t port_ = 0;
  std::string ca_file_;
};

}  // namespace tickpath::exsim
