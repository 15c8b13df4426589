#include "csv_sink.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>

namespace tickpath::engine {

namespace {
constexpr const char* kFile[3] = {"trades.csv", "bars_1m.csv", "signals.csv"};
constexpr const char* kHeader[3] = {
    "symbol,time_ms,id,price,qty,buyer_maker,aggregate\n",
    "symbol,open_time_ms,open,high,low,close,volume\n",
    "symbol,time_ms,action,reason,confidence,value,price,position,equity,shard\n"};
// Shortest round-trip decimal; empty (NULL) for NaN and infinities.
std::string num(double v) { return std::isfinite(v) ? fmt::format("{}", v) : ""; }
}  // namespace

CsvSink::~CsvSink() {
  for (auto*& f : f_)
    if (f != nullptr) std::fclose(f);
}

bool CsvSink::open(const std::string& dir, std::vector<std::string> symbol_names, std::string shard, std::int64_t from_ms,
                   std::int64_t to_ms, std::string& error) {
  names_ = std::move(symbol_names);
  shard_ = std::move(shard);
  dir_ = dir;
  from_ = from_ms;
  to_ = to_ms;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return error = fmt::format("--out {}: {}", dir, ec.message()), false;
  for (int i = 0; i < 3; ++i) {
    const std::string path = (std::filesystem::path(dir) / kFile[i]).string();
    f_[i] = std::fopen(path.c_str(), "w");
    if (f_[i] == nullptr) return error = fmt::format("cannot write {}: {}", path, std::strerror(errno)), false;
    std::fputs(kHeader[i], f_[i]);
  }
  return true;
}

void CsvSink::on_trade(const UiTrade& t) {
  if (f_[0] == nullptr || t.symbol >= names_.size() || !inside(t.time_ms)) return;
  fmt::print(f_[0], "{},{},{},{},{},{},{}\n", names_[t.symbol], t.time_ms, t.id, num(t.price), num(t.qty), t.buyer_maker,
             t.aggregate);
  ++c_.trades;
}

void CsvSink::on_bar(const UiBar& b) {
  if (f_[1] == nullptr || b.symbol >= names_.size() || !inside(b.bar.open_time_ms)) return;
  fmt::print(f_[1], "{},{},{},{},{},{},{}\n", names_[b.symbol], b.bar.open_time_ms, num(b.bar.open), num(b.bar.high),
             num(b.bar.low), num(b.bar.close), num(b.bar.volume));
  ++c_.bars;
}

void CsvSink::on_signal(const infra::Signal& s) {
  if (f_[2] == nullptr || s.symbol >= names_.size() || !inside(s.event_time_ms)) return;
  fmt::print(f_[2], "{},{},{},{},{},{},{},{},{},{}\n", names_[s.symbol], s.event_time_ms, infra::to_string(s.action),
             infra::to_string(s.reason), num(s.confidence), num(s.value), num(s.price), static_cast<int>(s.position),
             num(s.equity), shard_);
  ++c_.signals;
}

bool CsvSink::close(std::string& error) {
  bool ok = true;
  for (int i = 0; i < 3; ++i) {
    if (f_[i] == nullptr) continue;
    if (std::ferror(f_[i]) != 0 || std::fclose(f_[i]) != 0) {
      ok = false;
      error = fmt::format("writing {}/{} failed", dir_, kFile[i]);
    }
    f_[i] = nullptr;
  }
  return ok;
}

}  // namespace tickpath::engine
