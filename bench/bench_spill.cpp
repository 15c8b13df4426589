// The sinks' spill file (engine/src/spill_file.hpp): what a record costs the
// io thread on its way to disk and back while a server is away. Each
// iteration puts 10,000 records (a subject, an id and a payload of the
// given size, as the NATS sink spills them) and then takes them all back,
// in order. The file is in the temporary directory, so this is the system
// calls and the copies, not the disk.
//
//  - BM_Spill/0/S: tickpath's SpillFile: records gather in memory and go
//    to the file, and come back from it, 256 KiB at a time.
//  - BM_Spill/1/S: the anchor, a write per record and two reads per take
//    (the record's length, then the record), which is what the sinks did
//    before.
//
// Items are records through put and take; put_p50_ns / put_p99_ns /
// put_p999_ns are one put's stamped latency (a block write lands on one put
// in about 1,300 at 200 bytes).
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "bench_common.hpp"
#include "spill_file.hpp"

namespace {

using tickpath::engine::SpillFile;

// The anchor: the same file format, one system call per record written and
// two per record read.
class PerRecordSpill {
 public:
  explicit PerRecordSpill(const std::string& path)
      : path_(path), fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) {}
  ~PerRecordSpill() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  bool put(std::initializer_list<std::string_view> fields) {
    rec_.assign(4, '\0');
    rec_.push_back(static_cast<char>(fields.size()));
    for (const auto f : fields) {
      const auto n = static_cast<std::uint32_t>(f.size());
      rec_.append(reinterpret_cast<const char*>(&n), sizeof n);
    }
    for (const auto f : fields) rec_.append(f);
    const auto total = static_cast<std::uint32_t>(rec_.size());
    std::memcpy(rec_.data(), &total, sizeof total);
    if (::pwrite(fd_, rec_.data(), rec_.size(), static_cast<off_t>(end_)) != static_cast<ssize_t>(rec_.size())) return false;
    end_ += rec_.size();
    ++pending_;
    return true;
  }
  bool front(std::array<std::string_view, SpillFile::kMaxFields>& fields) {
    std::uint32_t total = 0;
    if (pending_ == 0 || ::pread(fd_, &total, sizeof total, static_cast<off_t>(begin_)) != static_cast<ssize_t>(sizeof total))
      return false;
    buf_.resize(total);
    if (::pread(fd_, buf_.data(), total, static_cast<off_t>(begin_)) != static_cast<ssize_t>(total)) return false;
    const auto n = static_cast<std::size_t>(static_cast<unsigned char>(buf_[4]));
    std::size_t at = 5 + 4 * n;
    fields = {};
    for (std::size_t i = 0; i < n; ++i) {
      std::uint32_t len = 0;
      std::memcpy(&len, buf_.data() + 5 + 4 * i, sizeof len);
      fields[i] = std::string_view(buf_).substr(at, len);
      at += len;
    }
    next_ = begin_ + total;
    return true;
  }
  void pop() {
    begin_ = next_;
    if (--pending_ == 0 && ::ftruncate(fd_, 0) == 0) begin_ = end_ = next_ = 0;
  }

 private:
  std::string path_, rec_, buf_;
  int fd_;
  std::uint64_t begin_ = 0, end_ = 0, next_ = 0, pending_ = 0;
};

constexpr int kRecords = 10000;

template <class Spill>
void put_and_take(benchmark::State& state, Spill& spill, const std::string& payload) {
  const auto& clk = tickpath::bench::clock();
  tickpath::infra::LatencyHistogram h;
  const std::string subject = "tickpath.trade.BTCUSDT";
  std::array<std::string_view, SpillFile::kMaxFields> f;
  std::uint64_t checksum = 0;
  for (auto _ : state) {
    for (int i = 0; i < kRecords; ++i) {
      const std::string_view id(reinterpret_cast<const char*>(&i), sizeof i);
      const auto t0 = clk.now();
      if (!spill.put({subject, id, payload})) {
        state.SkipWithError("put refused");
        return;
      }
      h.record(clk.delta_ns(t0, clk.now()));
    }
    for (int i = 0; i < kRecords; ++i) {
      if (!spill.front(f) || f[1].size() != sizeof i || std::memcmp(f[1].data(), &i, sizeof i) != 0) {
        state.SkipWithError("a record did not come back in order");
        return;
      }
      checksum += static_cast<unsigned char>(f[2][f[2].size() / 2]);
      spill.pop();
    }
  }
  benchmark::DoNotOptimize(checksum);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * kRecords);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * kRecords *
                          static_cast<std::int64_t>(subject.size() + sizeof(int) + payload.size()));
  tickpath::bench::report_percentiles(state, h, "put_");
}

void BM_Spill(benchmark::State& state) {
  const bool per_record = state.range(0) == 1;
  const std::string payload(static_cast<std::size_t>(state.range(1)), 'x');
  const auto dir = std::filesystem::temp_directory_path() / ("tickpath-bench-spill-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  if (per_record) {
    PerRecordSpill s((dir / "per-record.bin").string());
    put_and_take(state, s, payload);
  } else {
    SpillFile s;
    std::string err;
    if (!s.open(dir.string(), "bench", err)) {
      state.SkipWithError(err.c_str());
      return;
    }
    put_and_take(state, s, payload);
  }
  std::filesystem::remove_all(dir);
  state.SetLabel(std::string(per_record ? "a write per record (anchor)" : "256 KiB blocks") + ", payload " +
                 std::to_string(state.range(1)) + " B");
}

}  // namespace

BENCHMARK(BM_Spill)->ArgsProduct({{0, 1}, {200, 4096, 65536}})->Unit(benchmark::kMicrosecond);
TICKPATH_BENCHMARK_MAIN()
