#include "spill_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace tickpath::engine {

SpillFile::~SpillFile() {
  if (fd_ < 0) return;
  ::close(fd_);
  ::unlink(path_.c_str());
}

bool SpillFile::open(const std::string& dir, const std::string& name, std::string& error) {
  static std::atomic<unsigned> serial{0};
  std::error_code ec;
  const std::filesystem::path where = dir.empty() ? std::filesystem::temp_directory_path(ec) : std::filesystem::path(dir);
  std::filesystem::create_directories(where, ec);
  path_ = (where / fmt::format("{}-{}-{}.bin", name, ::getpid(), serial.fetch_add(1))).string();
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd_ < 0) return error = "cannot create the spill file " + path_ + ": " + std::strerror(errno), false;
  tail_.reserve(kBlockBytes);
  return true;
}

bool SpillFile::write_tail() {
  std::size_t done = 0;
  while (done < tail_.size()) {
    const ssize_t n = ::pwrite(fd_, tail_.data() + done, tail_.size() - done, static_cast<off_t>(file_end_ + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // Whatever part did reach the file is written again next time, at the same offset.
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  file_end_ += tail_.size();
  tail_.clear();
  return true;
}

bool SpillFile::put(std::initializer_list<std::string_view> fields) {
  if (fd_ < 0 || fields.size() > kMaxFields) return false;
  std::size_t total = 5 + 4 * fields.size();
  for (const auto f : fields) total += f.size();
  if (total > UINT32_MAX) return false;
  if (!tail_.empty() && tail_.size() + total > kBlockBytes && !write_tail()) return false;
  auto u32 = [this](std::size_t v) {
    const auto x = static_cast<std::uint32_t>(v);
    tail_.append(reinterpret_cast<const char*>(&x), sizeof x);
  };
  u32(total);
  tail_.push_back(static_cast<char>(fields.size()));
  for (const auto f : fields) u32(f.size());
  for (const auto f : fields) tail_.append(f);
  end_ += total;
  ++written_;
  return true;
}

bool SpillFile::read_head(std::uint64_t at, std::uint64_t bytes) {
  const std::uint64_t len = std::min<std::uint64_t>(std::max<std::uint64_t>(bytes, kBlockBytes), file_end_ - at);
  head_.resize(static_cast<std::size_t>(len));
  std::size_t done = 0;
  while (done < head_.size()) {
    const ssize_t n = ::pread(fd_, head_.data() + done, head_.size() - done, static_cast<off_t>(at + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      head_.clear();
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  head_at_ = at;
  return len >= bytes;
}

bool SpillFile::front(std::array<std::string_view, kMaxFields>& fields) {
  if (pending() == 0) return false;
  // A record is whole either in the file or in memory.
  std::string_view rec;
  if (begin_ >= file_end_) {
    rec = std::string_view(tail_).substr(static_cast<std::size_t>(begin_ - file_end_));
  } else {
    const auto cached = [this](std::uint64_t bytes) { return begin_ >= head_at_ && begin_ + bytes <= head_at_ + head_.size(); };
    if (!cached(4) && !read_head(begin_, 4)) return false;
    std::uint32_t total = 0;
    std::memcpy(&total, head_.data() + (begin_ - head_at_), sizeof total);
    if (total < 5 || begin_ + total > file_end_) return false;
    if (!cached(total) && !read_head(begin_, total)) return false;
    rec = std::string_view(head_).substr(static_cast<std::size_t>(begin_ - head_at_));
  }
  std::uint32_t total = 0;
  if (rec.size() < 5) return false;
  std::memcpy(&total, rec.data(), sizeof total);
  if (total < 5 || total > rec.size()) return false;
  const auto n = static_cast<std::size_t>(static_cast<unsigned char>(rec[4]));
  if (n > kMaxFields || 5 + 4 * n > total) return false;
  std::size_t at = 5 + 4 * n;
  fields = {};
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t len = 0;
    std::memcpy(&len, rec.data() + 5 + 4 * i, sizeof len);
    if (at + len > total) return false;
    fields[i] = rec.substr(at, len);
    at += len;
  }
  next_ = begin_ + total;
  return true;
}

void SpillFile::pop() {
  begin_ = next_;
  if (++taken_ != written_) return;
  // Everything taken: start again at the front of an empty file.
  tail_.clear();
  head_.clear();
  head_at_ = 0;
  if (file_end_ == 0 || ::ftruncate(fd_, 0) == 0) begin_ = end_ = next_ = file_end_ = 0;
  else file_end_ = end_;  // not emptied: carry on past what was taken
}

}  // namespace tickpath::engine
