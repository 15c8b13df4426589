// ClickHouseSink: the engine's trades, closed bars, signals and per-stage
// latency stored in ClickHouse, inserted over HTTP in RowBinary from the io
// thread, batched by size and time. Tables (created if missing, in plain
// types old and current releases accept):
//
//   trades   (symbol String, time_ms Int64, id Int64, price Float64, qty Float64, buyer_maker UInt8, aggregate UInt8)
//   bars_1m  (symbol String, open_time_ms Int64, open, high, low, close, volume Float64)
//   signals  (symbol String, time_ms Int64, action String, reason String, confidence Float64, value Float64,
//             price Float64, position Int8, equity Float64, shard String)
//   latency  (symbol String, time_ms Int64, stage String, count UInt64, p50_ns, p90_ns, p99_ns, p999_ns, max_ns Float64)
//             one row per stage per second, the percentiles of that second; `symbol` holds the shard
//
// Each is a ReplacingMergeTree partitioned by day (toYYYYMMDD of the time)
// and ordered by (symbol, time, id or stage), so a batch sent twice (a
// retry after a timeout that in fact succeeded) collapses to one copy on
// merge: count with FINAL or GROUP BY the key. One request is in flight at
// a time; a failure keeps the batch and retries it after 0.5 s, so an
// outage delays rows but loses none: past `max_buffer_bytes` in memory the
// batches wait in a spill file on disk and come back as the queue drains.
// Never blocks: the socket work is asynchronous and poll() only runs what is
// ready.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tickpath/engine/pipeline.hpp"
#include "tickpath/infra/latency_histogram.hpp"
#include "tickpath/infra/signal.hpp"
#include "ui_feed.hpp"

namespace tickpath::engine {

struct ClickHouseCounters {
  std::uint64_t trades = 0, bars = 0, signals = 0, latency = 0;  // rows the server accepted
  std::uint64_t batches = 0, failures = 0, dropped = 0, pending = 0;
  std::uint64_t spilled = 0;  // rows that waited on disk (the memory bound reached)
  std::string last_error;
};

class ClickHouseSink {
 public:
  ClickHouseSink();
  ~ClickHouseSink();
  ClickHouseSink(const ClickHouseSink&) = delete;
  ClickHouseSink& operator=(const ClickHouseSink&) = delete;

  // Set-up: a malformed URL is an error; an unreachable server is not (the
  // tables are created by the first request that gets through).
  bool start(const ClickHouseOptions& o, std::vector<std::string> symbol_names, std::string shard, std::string& error);

  void on_trade(const UiTrade& t);
  void on_bar(const UiBar& b);
  void on_signal(const infra::Signal& s);
  // One row per stage: the samples recorded since the previous call.
  void on_latency(std::int64_t time_ms, const std::string& stage, const infra::HistogramSnapshot& interval);
  // io thread, every tick: closes batches that are due and moves the request along.
  void poll();
  // At the end: sends everything, for as long as batches keep being stored
  // (at most `max_ms`); gives up after `idle_ms` without one, or when
  // `cancel` is set.
  void finish(int idle_ms, int max_ms, const std::atomic<bool>* cancel = nullptr);
  [[nodiscard]] ClickHouseCounters counters() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tickpath::engine
