#include "journal.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>

namespace tickpath::engine {

namespace fs = std::filesystem;

JournalWriter::JournalWriter(std::string dir, const infra::SymbolTable& symbols)
    : dir_(std::move(dir)), symbols_(symbols) {
  run_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
                .count();
}

JournalWriter::~JournalWriter() { close(); }

bool JournalWriter::open(std::string& error) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return error = "cannot create the journal directory " + dir_ + ": " + ec.message(), false;
  if (::access(dir_.c_str(), W_OK) != 0) return error = "the journal directory " + dir_ + " is not writable", false;
  return true;
}

std::FILE* JournalWriter::file_for(const JournalRecord& r) {
  const std::time_t secs = static_cast<std::time_t>(r.rx_wall_ns / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  const std::string sym = r.symbol == infra::kNoSymbol ? std::string("_unknown") : std::string(symbols_.name(r.symbol));
  const std::string part = fmt::format("{}/S={}/date={:04d}-{:02d}-{:02d}", dir_, sym, tm.tm_year + 1900, tm.tm_mon + 1,
                                       tm.tm_mday);
  const auto it = files_.find(part);
  if (it != files_.end()) return it->second;
  std::error_code ec;
  fs::create_directories(part, ec);
  const std::string path = fmt::format("{}/frames-{}.txt", part, run_ns_);
  std::FILE* f = ec ? nullptr : std::fopen(path.c_str(), "ab");  // append-only: never rewrites a recording
  if (f == nullptr) {
    if (error_.empty()) error_ = "cannot write " + path + ": " + std::strerror(errno);
    return nullptr;
  }
  std::setvbuf(f, nullptr, _IOFBF, 1U << 20);
  ++files_opened_;
  files_.emplace(part, f);
  return f;
}

void JournalWriter::drain(infra::ByteRing& ring) {
  std::size_t n = 0;
  while (const char* p = ring.front(n)) {
    JournalRecord r{};
    std::memcpy(&r, p, sizeof r);
    const std::string_view frame(p + sizeof r, n - sizeof r);
    if (std::FILE* f = file_for(r)) {
      line_.clear();
      if (r.rest) line_ += fmt::format("rest:/api/v3/depth?symbol={} -> ", symbols_.name(r.symbol));
      line_ += fmt::format("{}.{:09d}: ", r.rx_wall_ns / 1'000'000'000, r.rx_wall_ns % 1'000'000'000);
      const std::size_t at = line_.size();
      line_ += frame;
      for (std::size_t i = at; i < line_.size(); ++i)  // one frame per line (a raw newline is not valid JSON anyway)
        if (line_[i] == '\n' || line_[i] == '\r') line_[i] = ' ';
      line_ += '\n';
      if (std::fwrite(line_.data(), 1, line_.size(), f) != line_.size() && error_.empty())
        error_ = std::string("journal write failed: ") + std::strerror(errno);
      ++frames_;
      bytes_ += line_.size();
    }
    ring.pop();
  }
}

void JournalWriter::close() {
  for (auto& [part, f] : files_) {
    if (std::fflush(f) != 0 && error_.empty()) error_ = "journal flush failed for " + part;
    std::fclose(f);
  }
  files_.clear();
}

}  // namespace tickpath::engine
