// SpillFile against a std::deque of the same records: random puts and takes
// across the in-memory block and the file, the writes in blocks, and a
// block the disk refuses (a file size limit) losing nothing it accepted.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <csignal>
#include <deque>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "spill_file.hpp"

namespace {

using tickpath::engine::SpillFile;
using Record = std::vector<std::string>;

std::uint64_t record_bytes(const Record& r) {
  std::uint64_t n = 5 + 4 * r.size();
  for (const auto& f : r) n += f.size();
  return n;
}

bool put(SpillFile& s, const Record& r) {
  switch (r.size()) {
    case 1: return s.put({r[0]});
    case 2: return s.put({r[0], r[1]});
    case 3: return s.put({r[0], r[1], r[2]});
    default: return s.put({r[0], r[1], r[2], r[3]});
  }
}

// Takes the front record and checks it against the deque's.
void take(SpillFile& s, std::deque<Record>& want) {
  std::array<std::string_view, SpillFile::kMaxFields> f;
  ASSERT_TRUE(s.front(f));
  const Record& r = want.front();
  for (std::size_t i = 0; i < SpillFile::kMaxFields; ++i) {
    if (i < r.size()) {
      ASSERT_EQ(f[i], r[i]) << "field " << i;
    } else {
      ASSERT_TRUE(f[i].empty());
    }
  }
  s.pop();
  want.pop_front();
}

std::filesystem::path test_dir() {
  return std::filesystem::temp_directory_path() / ("tickpath-spill-test-" + std::to_string(::getpid()));
}

TEST(SpillFile, MatchesADequeUnderRandomPutsAndTakes) {
  SpillFile s;
  std::string err;
  ASSERT_TRUE(s.open(test_dir().string(), "spill", err)) << err;
  std::mt19937_64 rng(7);
  std::deque<Record> want;
  std::uint64_t bytes = 0, written = 0, max_on_disk = 0;
  const auto field = [&rng] {
    const auto k = rng() % 100;
    const std::size_t len = k < 80 ? rng() % 300 : k < 99 ? 5000 + rng() % 40000 : 300000 + rng() % 100000;
    std::string f(len, static_cast<char>(rng()));
    for (std::size_t i = 0; i < len; i += 1 + rng() % 64) f[i] = static_cast<char>(rng());  // not one byte repeated
    return f;
  };
  for (int step = 0; step < 12000; ++step) {
    // Phases that mostly put and phases that mostly take, so the queue
    // grows past several blocks and drains to empty again.
    const bool filling = (step / 2000) % 2 == 0;
    if (want.empty() || rng() % 100 < (filling ? 70U : 30U)) {
      Record r(1 + rng() % SpillFile::kMaxFields);
      for (auto& f : r) f = field();
      ASSERT_TRUE(put(s, r));
      bytes += record_bytes(r);
      ++written;
      want.push_back(std::move(r));
    } else {
      bytes -= record_bytes(want.front());
      ASSERT_NO_FATAL_FAILURE(take(s, want));
    }
    ASSERT_EQ(s.pending(), want.size());
    ASSERT_EQ(s.pending_bytes(), bytes);
    ASSERT_EQ(s.written(), written);
    max_on_disk = std::max(max_on_disk, s.on_disk());
  }
  while (!want.empty()) ASSERT_NO_FATAL_FAILURE(take(s, want));
  std::array<std::string_view, SpillFile::kMaxFields> f;
  EXPECT_FALSE(s.front(f));
  EXPECT_GT(max_on_disk, 4 * SpillFile::kBlockBytes) << "the queue outgrew memory: records went through the file";
  EXPECT_EQ(std::filesystem::file_size(s.path()), 0U) << "emptied once everything was taken";
  std::filesystem::remove_all(test_dir());
}

TEST(SpillFile, WritesWholeBlocksNotARecordAtATime) {
  SpillFile s;
  std::string err;
  ASSERT_TRUE(s.open(test_dir().string(), "spill", err)) << err;
  std::deque<Record> want;
  const std::string payload(100, 'x');
  std::uint64_t bytes = 0;
  while (bytes + 121 <= SpillFile::kBlockBytes) {
    want.push_back({"subject", std::to_string(want.size()), payload});
    bytes += record_bytes(want.back());
    ASSERT_TRUE(put(s, want.back()));
  }
  EXPECT_EQ(s.on_disk(), 0U);
  EXPECT_EQ(std::filesystem::file_size(s.path()), 0U) << want.size() << " records and nothing written yet";
  want.push_back({"subject", "next", std::string(200, 'y')});  // does not fit: the block goes to the file
  ASSERT_TRUE(put(s, want.back()));
  EXPECT_EQ(s.on_disk(), bytes);
  EXPECT_EQ(std::filesystem::file_size(s.path()), bytes);
  while (!want.empty()) ASSERT_NO_FATAL_FAILURE(take(s, want));
  std::filesystem::remove_all(test_dir());
}

TEST(SpillFile, ABlockTheDiskRefusesLosesNoAcceptedRecord) {
  // A file size limit makes the disk refuse the third block part way
  // through (EFBIG; SIGXFSZ ignored so it is an error, not a signal).
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  SpillFile s;
  std::string err;
  ASSERT_TRUE(s.open(test_dir().string(), "spill", err)) << err;
  rlimit lim = old;
  lim.rlim_cur = 2 * SpillFile::kBlockBytes + SpillFile::kBlockBytes / 3;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &lim), 0);
  std::deque<Record> want;
  int refused = 0;
  for (int i = 0; i < 200; ++i) {
    Record r{"s", std::to_string(i), std::string(10000, static_cast<char>('a' + i % 26))};
    if (put(s, r)) {
      ASSERT_EQ(refused, 0) << "accepted after a refusal, with the disk still full";
      want.push_back(std::move(r));
    } else {
      ++refused;
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_EQ(s.pending(), want.size());
  EXPECT_LE(s.on_disk(), lim.rlim_cur);
  // Everything accepted comes back, in order: from the file, then from the
  // block the disk would not take.
  while (!want.empty()) ASSERT_NO_FATAL_FAILURE(take(s, want));
  // Emptied, the file takes records again.
  const Record r{"s", "after", std::string(10000, 'z')};
  EXPECT_TRUE(put(s, r));
  want.push_back(r);
  ASSERT_NO_FATAL_FAILURE(take(s, want));
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old), 0);
  std::signal(SIGXFSZ, old_handler);
  std::filesystem::remove_all(test_dir());
}

}  // namespace
