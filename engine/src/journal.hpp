// Journal: every raw frame the feed thread saw, with its receive time,
// appended to text files partitioned by symbol and UTC date
// (DIR/S=BTCUSDT/date=2025-08-01/frames-<run start ns>.txt). The lines use
// the recorder format FrameSet reads ("<epoch s.ns>: <frame>", and
// "rest:/api/v3/depth?symbol=S -> <epoch s.ns>: <body>" for snapshots), so
// `--feed replay:DIR` plays a journal back in the order it was received.
//
// The feed thread only copies the bytes into a ByteRing (JournalRecord
// header + frame); the io thread drains the ring into the files. A full
// ring drops the record and counts it: the hot path never waits for a disk.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>

#include "tickpath/infra/byte_ring.hpp"
#include "tickpath/infra/symbol_table.hpp"

namespace tickpath::engine {

struct JournalRecord {
  std::int64_t rx_wall_ns;
  infra::SymbolId symbol;  // kNoSymbol: the frame named none we know
  std::uint8_t rest;       // 1: a REST snapshot body
  std::uint8_t pad[5];
};
static_assert(sizeof(JournalRecord) == 16);

class JournalWriter {
 public:
  JournalWriter(std::string dir, const infra::SymbolTable& symbols);
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  // Set-up: creates DIR and checks it is writable.
  bool open(std::string& error);
  // io thread: writes every record in the ring.
  void drain(infra::ByteRing& ring);
  // Flushes and closes the files.
  void close();

  [[nodiscard]] std::uint64_t frames() const noexcept { return frames_; }
  [[nodiscard]] std::uint64_t bytes() const noexcept { return bytes_; }
  [[nodiscard]] std::uint64_t files() const noexcept { return files_opened_; }
  [[nodiscard]] const std::string& error() const noexcept { return error_; }

 private:
  std::FILE* file_for(const JournalRecord& r);
  std::string dir_;
  const infra::SymbolTable& symbols_;
  std::int64_t run_ns_ = 0;
  std::map<std::string, std::FILE*> files_;  // by partition directory
  std::string line_;
  std::uint64_t frames_ = 0, bytes_ = 0, files_opened_ = 0;
  std::string error_;
};

}  // namespace tickpath::engine
