// UiServer: the engine's read-only HTTP endpoint (JSON API, Prometheus
// metrics) for people and for monitoring. It lives on the io thread and
// never touches a hot thread: poll() runs whatever network work is ready
// and returns at once (the io thread calls it every tick); the handlers
// answer from counters and histogram snapshots the hot threads publish
// with relaxed atomics. A slow or stuck client only holds its own socket:
// every read and write is asynchronous, with a deadline, and the number of
// open connections is bounded.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tickpath/infra/latency_histogram.hpp"

namespace tickpath::engine {

struct UiRoute {
  std::string path;          // exact match, e.g. "/api/stats"
  std::string content_type;  // e.g. "application/json"
  std::function<std::string()> body;
};

struct UiCounters {
  std::uint64_t connections = 0, requests = 0, not_found = 0, bad_requests = 0, refused = 0, timeouts = 0;
  // WebSocket stream: clients accepted, messages sent, updates a client
  // missed because its previous message was still being written (the next
  // one covers them: coalesced, not lost).
  std::uint64_t ws_clients = 0, ws_messages = 0, ws_coalesced = 0;
};

// Where a WebSocket client is in the numbered histories it is sent.
struct UiCursor {
  std::uint64_t bars = 0, signals = 0, trades = 0;
};

// The update stream: a snapshot on connect, then a delta per broadcast,
// each rendered for the client's cursor (and advancing it).
struct UiStream {
  std::string path = "/ws";
  std::function<std::string(UiCursor&)> snapshot, delta;
};

class UiServer {
 public:
  UiServer();
  ~UiServer();
  UiServer(const UiServer&) = delete;
  UiServer& operator=(const UiServer&) = delete;

  // Binds ADDRESS:PORT (port 0: any free one) and starts listening. A
  // failure is a set-up error, one line in `error`.
  bool start(const std::string& address, std::uint16_t port, std::vector<UiRoute> routes, std::string& error);
  [[nodiscard]] std::uint16_t port() const noexcept;
  // Serves `stream` to WebSocket clients (before start()).
  void set_stream(UiStream stream);
  // Serves the files under `dir` (the built page: index.html at "/"), read
  // into memory here, at set-up; at most 32 MiB. False with a one-line
  // message when the directory has no index.html.
  bool set_static_root(const std::string& dir, std::string& error);
  // io thread: each WebSocket client gets a delta, unless its previous
  // message is still being written (then it is skipped, counted, and the
  // next delta covers both).
  void broadcast();
  [[nodiscard]] std::size_t ws_clients_open() const noexcept;
  // io thread: runs ready handlers, never blocks.
  void poll();
  void stop();
  [[nodiscard]] UiCounters counters() const noexcept;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// What the JSON API and the metrics endpoint report, read on the io thread:
// counters are getters over relaxed atomics (or io-thread state), stages are
// the hot threads' histograms (snapshot() is safe beside their writer).
struct StatsView {
  struct Stage {
    std::string name;
    const infra::LatencyHistogram* h = nullptr;
  };
  struct Counter {
    std::string name;   // Prometheus name without the tickpath_ prefix, e.g. "frames_total"
    std::string help;
    std::string label;  // optional: label name (e.g. "reason") ...
    std::string value;  // ... and its value for this series
    std::function<std::uint64_t()> get;
  };
  std::string feed;
  std::function<double()> uptime_s;
  std::function<bool()> running;  // the hot threads have not finished
  std::vector<Counter> counters;
  std::vector<Stage> stages;
};

// A JSON number; NaN and infinities (e.g. an indicator inside its lookback) are null.
std::string json_number(double v);
// The inside of a JSON string (quotes, backslashes and control characters escaped).
std::string json_escape(std::string_view in);

// GET /api/health: {"status":"ok"|"finished","feed":...,"uptime_s":...}
std::string health_json(const StatsView& v);
// GET /api/stats: counters (labelled ones as objects by label value) and,
// per stage, count, percentiles and the histogram in power-of-two buckets.
std::string stats_json(const StatsView& v);
// GET /metrics: Prometheus text format 0.0.4; stages as histograms in
// seconds with power-of-two bucket bounds (le = 2^k - 1 ns, exact).
std::string metrics_text(const StatsView& v);

// "[ADDR:]PORT" -> address (default 127.0.0.1) and port; false with a
// one-line message when it is not that.
bool parse_listen_address(const std::string& spec, std::string& address, std::uint16_t& port, std::string& error);

}  // namespace tickpath::engine
