#include "spill_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

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
  return true;
}

bool SpillFile::put(std::initializer_list<std::string_view> fields) {
  if (fd_ < 0 || fields.size() > kMaxFields) return false;
  auto u32 = [this](std::size_t v) {
    const auto x = static_cast<std::uint32_t>(v);
    rec_.append(reinterpret_cast<const char*>(&x), sizeof x);
  };
  rec_.assign(4, '\0');
  rec_.push_back(static_cast<char>(fields.size()));
  for (const auto f : fields) u32(f.size());
  for (const auto f : fields) rec_.append(f);
  const auto total = static_cast<std::uint32_t>(rec_.size());
  std::memcpy(rec_.data(), &total, sizeof total);
  if (::pwrite(fd_, rec_.data(), rec_.size(), static_cast<off_t>(end_)) != static_cast<ssize_t>(rec_.size())) return false;
  end_ += rec_.size();
  ++written_;
  return true;
}

bool SpillFile::front(std::array<std::string_view, kMaxFields>& fields) {
  if (pending() == 0) return false;
  std::uint32_t total = 0;
  if (::pread(fd_, &total, sizeof total, static_cast<off_t>(begin_)) != static_cast<ssize_t>(sizeof total) || total < 5)
    return false;
  buf_.resize(total);
  if (::pread(fd_, buf_.data(), total, static_cast<off_t>(begin_)) != static_cast<ssize_t>(total)) return false;
  const auto n = static_cast<std::size_t>(static_cast<unsigned char>(buf_[4]));
  if (n > kMaxFields || 5 + 4 * n > total) return false;
  std::size_t at = 5 + 4 * n;
  fields = {};
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t len = 0;
    std::memcpy(&len, buf_.data() + 5 + 4 * i, sizeof len);
    if (at + len > total) return false;
    fields[i] = std::string_view(buf_).substr(at, len);
    at += len;
  }
  next_ = begin_ + total;
  return true;
}

void SpillFile::pop() {
  begin_ = next_;
  if (++taken_ == written_ && ::ftruncate(fd_, 0) == 0) begin_ = end_ = next_ = 0;
}

}  // namespace tickpath::engine
