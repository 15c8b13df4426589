// CsvSink: the run's trades, closed bars and signals as CSV files in the
// columns (and order) of the ClickHouse tables (clickhouse_sink.hpp), so a
// file loads with `INSERT INTO trades FORMAT CSVWithNames`. Written by the
// io thread; what `tickpath export` produces from a journal.
#pragma once

#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "tickpath/infra/signal.hpp"
#include "ui_feed.hpp"

namespace tickpath::engine {

struct CsvCounters {
  std::uint64_t trades = 0, bars = 0, signals = 0, outside = 0;  // rows written; rows outside the time range
};

class CsvSink {
 public:
  CsvSink() = default;
  ~CsvSink();
  CsvSink(const CsvSink&) = delete;
  CsvSink& operator=(const CsvSink&) = delete;

  // Creates DIR (if missing) and trades.csv, bars_1m.csv, signals.csv in it,
  // each with a header. Rows outside [from_ms, to_ms) by event time are left out.
  bool open(const std::string& dir, std::vector<std::string> symbol_names, std::string shard, std::int64_t from_ms,
            std::int64_t to_ms, std::string& error);
  void on_trade(const UiTrade& t);
  void on_bar(const UiBar& b);
  void on_signal(const infra::Signal& s);
  // Flushes and closes; false with `error` when a write failed (disk full).
  bool close(std::string& error);
  [[nodiscard]] CsvCounters counters() const { return c_; }

 private:
  bool inside(std::int64_t t) {
    if (t >= from_ && t < to_) return true;
    ++c_.outside;
    return false;
  }
  std::FILE* f_[3] = {nullptr, nullptr, nullptr};
  std::vector<std::string> names_;
  std::string shard_, dir_;
  std::int64_t from_ = std::numeric_limits<std::int64_t>::min(), to_ = std::numeric_limits<std::int64_t>::max();
  CsvCounters c_;
};

}  // namespace tickpath::engine
