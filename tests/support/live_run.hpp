// The engine against tickpath-exsim in one process: a simulator on an
// ephemeral port, a live run of the pipeline against it on a thread, and a
// comparison of the run's books with the simulator's own. Shared by the live
// tests and the soak.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include "exsim.hpp"
#include "tickpath/engine/pipeline.hpp"

namespace tickpath::test {

using namespace std::chrono_literals;

// FNV-1a 64 over (price, qty) int64 pairs, bids then asks: the report's
// documented checksum, computed here from the simulator's std::map book.
inline std::uint64_t checksum(const exsim::SimBook& b, std::size_t levels = SIZE_MAX) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  auto mix = [&h](std::int64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= static_cast<std::uint64_t>(v >> (8 * i)) & 0xFF;
      h *= 0x100000001b3ULL;
    }
  };
  for (const auto* side : {&b.bids, &b.asks})
    for (std::size_t i = 0; i < side->size() && i < levels; ++i) mix((*side)[i].first), mix((*side)[i].second);
  return h;
}

inline exsim::SimConfig sim_config(std::uint64_t frames, double rate) {
  exsim::SimConfig c;
  c.max_frames = frames;
  c.rate_per_s = rate;
  c.market.symbols = {"BTCUSDT", "ETHUSDT"};
  c.market.seed = 7;
  return c;
}

struct LiveRun {
  explicit LiveRun(exsim::ExchangeSimulator& s) : sim(s) {
    cfg.feed = engine::PipelineConfig::Feed::live;
    cfg.symbols = {"BTCUSDT", "ETHUSDT"};
    cfg.live.ws_url = sim.ws_base();
    cfg.live.rest_url = sim.rest_base();
    cfg.live.ca_file = sim.ca_file();
    cfg.live.streams = {"trade", "aggTrade", "bookTicker", "depth@100ms", "kline_1m"};
    cfg.live.backoff_initial_s = 0.05;
    cfg.progress = false;
    // The feed thread says when frames flow, so faults land mid-stream on
    // any machine (sanitizer builds take longer to set up).
    cfg.hooks.warmup_messages = 200;
    cfg.hooks.ctx = this;
    cfg.hooks.after_warmup = [](engine::HotThread t, void* ctx) {
      if (t == engine::HotThread::feed) static_cast<LiveRun*>(ctx)->flowing.store(true);
    };
  }
  void wait_flowing() {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!flowing.load() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
    EXPECT_TRUE(flowing.load()) << "no frames reached the engine";
  }
  void start() {
    thread = std::thread([this] { rep = engine::run_pipeline(cfg, error, &stop); });
  }
  // Waits until the simulator has generated and flushed everything, lets
  // the engine drain, then stops it.
  void finish(std::chrono::seconds limit = 60s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      const auto st = sim.stats();
      if (st.done && st.backlog_bytes == 0 && st.open_ws > 0) break;
      std::this_thread::sleep_for(20ms);
    }
    std::this_thread::sleep_for(700ms);
    stop = true;
    thread.join();
  }
  void expect_books_equal_simulator() const {
    ASSERT_EQ(rep.book_states.size(), 2U);
    for (const auto& b : rep.book_states) {
      exsim::SimBook sb;
      ASSERT_TRUE(sim.book(b.symbol, sb)) << b.symbol;
      if (sb.last_skipped_final == sb.last_update_id && b.last_update_id + 1 == sb.last_skipped_first) {
        // The simulator's very last diff was one it kept back (skip_ids):
        // no diff after it tells the client of the gap, so a book one diff
        // behind is all a client can have. (A later diff would show the gap
        // and the book would resync: the soak counts those.)
        continue;
      }
      // synced, or still on a snapshot taken after the simulator's last diff (slow set-up, e.g. under TSan)
      EXPECT_TRUE(b.synced || b.last_update_id == sb.last_update_id) << b.symbol << "\n" << rep.to_table();
      EXPECT_EQ(b.last_update_id, sb.last_update_id) << b.symbol;
      EXPECT_EQ(b.top_checksum, checksum(sb, engine::BookSummary::kTopLevels)) << b.symbol << ": the top of the book differs";
      if (b.level_overflows == 0) {  // the whole book, when it never reached its capacity
        EXPECT_EQ(b.bid_levels, sb.bids.size()) << b.symbol;
        EXPECT_EQ(b.ask_levels, sb.asks.size()) << b.symbol;
        EXPECT_EQ(b.checksum, checksum(sb)) << b.symbol;
      } else {
        EXPECT_EQ(std::max(b.bid_levels, b.ask_levels), 5000U) << b.symbol << ": overflows without a full side";
      }
    }
  }
  exsim::ExchangeSimulator& sim;
  engine::PipelineConfig cfg;
  std::atomic<bool> stop{false}, flowing{false};
  engine::RunReport rep;
  std::string error;
  std::thread thread;
};

struct SimUp {
  explicit SimUp(exsim::SimConfig c) : sim(std::move(c)) {
    std::string error;
    ok = sim.start(error);
    EXPECT_TRUE(ok) << error;
  }
  exsim::ExchangeSimulator sim;
  bool ok = false;
};

}  // namespace tickpath::test
