// SpillFile: records waiting on disk for a sink that cannot take them now,
// first in, first out. Each record is a few byte strings (a sink's subject,
// id and payload, say): [u32 record bytes][u8 fields]([u32 length][bytes])...
// Appended at the end, read from the front; once everything written has been
// taken the file is emptied, and it is removed when the sink is done. io
// thread only; a refused write is the caller's to count.
//
// Writes and reads go to the disk in blocks, not a system call per record:
// new records gather in memory (up to kBlockBytes, or one record if it is
// larger) and are written together when the next one would not fit; the
// front is read a block at a time. A record still in memory is read from
// there. When a block cannot be written, put() refuses the new record and
// keeps the block to try again at the next put(): every record it accepted
// is still there to be read.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace tickpath::engine {

class SpillFile {
 public:
  static constexpr std::size_t kMaxFields = 4;
  static constexpr std::size_t kBlockBytes = 256 * 1024;
  SpillFile() = default;
  ~SpillFile();
  SpillFile(const SpillFile&) = delete;
  SpillFile& operator=(const SpillFile&) = delete;

  // Creates DIR/<name>-<pid>-<n>.bin (mode 0600), DIR too if missing; an
  // empty DIR is the temporary directory.
  bool open(const std::string& dir, const std::string& name, std::string& error);
  // False (and the record not taken) when the file is not open, there are
  // more than kMaxFields fields, or the block before it cannot be written.
  bool put(std::initializer_list<std::string_view> fields);
  // The oldest record's fields (valid until the next call); false when none
  // waits or the file cannot be read.
  bool front(std::array<std::string_view, kMaxFields>& fields);
  void pop();  // after front()

  [[nodiscard]] std::uint64_t pending() const noexcept { return written_ - taken_; }
  [[nodiscard]] std::uint64_t pending_bytes() const noexcept { return end_ - begin_; }
  [[nodiscard]] std::uint64_t written() const noexcept { return written_; }
  // Bytes written to the file so far (the rest of pending_bytes() is in memory).
  [[nodiscard]] std::uint64_t on_disk() const noexcept { return file_end_; }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

 private:
  bool write_tail();
  bool read_head(std::uint64_t at, std::uint64_t bytes);

  int fd_ = -1;
  std::string path_;
  std::string tail_;  // records [file_end_, end_), not written yet
  std::string head_;  // file bytes [head_at_, head_at_ + head_.size())
  std::uint64_t begin_ = 0, end_ = 0, next_ = 0, file_end_ = 0, head_at_ = 0, written_ = 0, taken_ = 0;
};

}  // namespace tickpath::engine
