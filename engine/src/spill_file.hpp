// SpillFile: records waiting on disk for a sink that cannot take them now,
// first in, first out. Each record is a few byte strings (a sink's subject,
// id and payload, say): [u32 record bytes][u8 fields]([u32 length][bytes])...
// Appended at the end, read from the front; once everything written has been
// taken the file is emptied, and it is removed when the sink is done. io
// thread only; a failed write is the caller's to count.
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
  SpillFile() = default;
  ~SpillFile();
  SpillFile(const SpillFile&) = delete;
  SpillFile& operator=(const SpillFile&) = delete;

  // Creates DIR/<name>-<pid>-<n>.bin (mode 0600), DIR too if missing; an
  // empty DIR is the temporary directory.
  bool open(const std::string& dir, const std::string& name, std::string& error);
  bool put(std::initializer_list<std::string_view> fields);
  // The oldest record's fields (valid until the next call); false when none
  // waits or the file cannot be read.
  bool front(std::array<std::string_view, kMaxFields>& fields);
  void pop();  // after front()

  [[nodiscard]] std::uint64_t pending() const noexcept { return written_ - taken_; }
  [[nodiscard]] std::uint64_t pending_bytes() const noexcept { return end_ - begin_; }
  [[nodiscard]] std::uint64_t written() const noexcept { return written_; }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

 private:
  int fd_ = -1;
  std::string path_, rec_, buf_;
  std::uint64_t begin_ = 0, end_ = 0, next_ = 0, written_ = 0, taken_ = 0;
};

}  // namespace tickpath::engine
