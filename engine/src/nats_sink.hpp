// NatsSink: fans the engine's results out over NATS from the io thread.
// Subjects are `<prefix>.<kind>.<symbol>` (`<prefix>.stats.<shard>` for the
// engine-wide figures), payloads one JSON object each:
//
//   signal     {"symbol","t","action","reason","confidence","value","price","shard"}
//   bar        {"symbol","t","o","h","l","c","v","sma20","bb_upper","bb_lower","shard"}   (closed 1 m bars)
//   portfolio  {"symbol","t","position","equity","price","shard"}   (each change of a symbol's paper position)
//   trade      {"symbol","t","id","p","q","m","shard"}      (only with --nats-trades)
//   stats      the /api/stats object with "shard", every second
//
// or, with `binary`, the fixed little-endian records of nats_binary.hpp
// (stats stay JSON).
//
// Publishing never blocks: the client library buffers writes and flushes
// them from its own thread; while the server is away it keeps up to
// `reconnect_buffer` bytes and sends them on reconnect. A message the
// library refuses (that buffer full), one past the JetStream in-flight
// bound, and one the stream did not acknowledge waits in a spill file and
// is sent, in order, once the server takes it again. With a JetStream
// stream every message carries a Nats-Msg-Id derived from what it
// describes (symbol, kind, event time or id), so a retried one is stored
// once. A server that is down at start is retried in the background; the
// run goes on.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tickpath/engine/pipeline.hpp"
#include "tickpath/infra/signal.hpp"
#include "ui_feed.hpp"

namespace tickpath::engine {

struct NatsCounters {
  // published: messages handed to the client library (each once, however
  // often it was retried); failed: hand-overs the library refused (each
  // then spilled); unsent: messages not delivered when the sink stopped
  std::uint64_t published = 0, failed = 0, bytes = 0, disconnects = 0, reconnects = 0;
  std::uint64_t acked = 0, duplicates = 0, ack_errors = 0, spilled = 0, unsent = 0;
  bool connected = false;
};

class NatsSink {
 public:
  NatsSink();
  ~NatsSink();
  NatsSink(const NatsSink&) = delete;
  NatsSink& operator=(const NatsSink&) = delete;

  // Set-up: a malformed URL or prefix is an error; an unreachable server is
  // not (connected later, counted).
  // With a JetStream stream the server must have JetStream when it is
  // reachable at start (the stream is created or updated then).
  bool start(const NatsOptions& o, std::vector<std::string> symbol_names, std::string shard, std::string& error);

  void on_signal(const infra::Signal& s);  // and a portfolio message when its position differs from the last
  void on_bar(const UiBar& b);
  void on_trade(const UiTrade& t);
  void on_stats(std::string stats_json);
  // io thread, every few ms: failed JetStream publishes into the spill, the
  // spill back to the server while it takes them, the stream created once
  // the server is there.
  void poll();
  // Waits for everything buffered, in flight or spilled to reach the server
  // (JetStream: to be acknowledged): while it keeps draining, up to
  // `max_ms`; it gives up after `idle_ms` without progress, or when
  // `cancel` is set.
  void flush(int idle_ms, int max_ms, const std::atomic<bool>* cancel = nullptr);
  [[nodiscard]] NatsCounters counters() const;
  // The last stream or spill problem, "" when none.
  [[nodiscard]] std::string warning() const;

 private:
  void publish(std::string_view kind, std::string_view symbol, std::string_view payload, std::string_view id);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// `tickpath tail`: prints "SUBJECT PAYLOAD" for each message on `subject`
// (wildcards allowed; binary records decoded to JSON) until `count`
// messages (0: no limit), `seconds` without a message (0: no limit) or
// `stop`. With `replay`, from the first message the JetStream stream that
// holds the subject has kept (an ordered consumer), then live. Returns the
// process exit code; a server that cannot be reached is one line on stderr
// and 1.
int nats_tail(const std::string& url, const std::string& subject, std::uint64_t count, double seconds, bool replay,
              const std::atomic<bool>& stop);

// The symbol's shard among `count`: FNV-1a (64-bit) of its upper-case name,
// modulo `count`. Stable across hosts, builds and symbol lists.
std::uint32_t shard_of(std::string_view symbol, std::uint32_t count);
// "I/N" with 0 <= I < N; false with `error` otherwise.
bool parse_shard(const std::string& spec, std::uint32_t& index, std::uint32_t& count, std::string& error);

}  // namespace tickpath::engine
