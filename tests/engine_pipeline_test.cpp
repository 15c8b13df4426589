#include <gtest/gtest.h>

#include <atomic>

#include "support/alloc_counter.hpp"
#include "support/test_data.hpp"
#include "tickpath/engine/pipeline.hpp"

using namespace tickpath::engine;

namespace {
std::atomic<int> g_hot_threads_counting{0};
void start_counting(HotThread, void*) {
  tickpath::test::count_allocations_on_this_thread(true);
  g_hot_threads_counting.fetch_add(1);
}
}  // namespace

TEST(Pipeline_HotPath, NoAllocationOnFeedOrStrategyThreadAfterWarmup) {
  PipelineConfig cfg;
  cfg.feed = PipelineConfig::Feed::synthetic;
  cfg.synthetic.symbols = {"BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT"};
  cfg.messages = 200'000;
  cfg.progress = false;
  cfg.hooks.after_warmup = &start_counting;
  cfg.hooks.warmup_messages = 1000;
  g_hot_threads_counting = 0;
  const auto before = tickpath::test::counted_allocations();
  std::string error;
  const auto rep = run_pipeline(cfg, error);
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_EQ(g_hot_threads_counting.load(), 2);  // both hot threads were counting
  EXPECT_EQ(tickpath::test::counted_allocations() - before, 0U) << "allocations on a hot thread";
  EXPECT_EQ(rep.messages, 200'000U);
  EXPECT_EQ(rep.rejects, 0U);
  EXPECT_EQ(rep.dropped, 0U);
  EXPECT_EQ(rep.processed, rep.events);
  EXPECT_EQ(rep.events + rep.rejects, rep.messages);
  EXPECT_GT(rep.bars_closed, 0U);
  ASSERT_EQ(rep.stages.size(), 4U);
  for (const auto& s : rep.stages) {
    EXPECT_EQ(s.p.count, s.name == "parse" ? rep.events : rep.processed) << s.name;
    EXPECT_LE(s.p.p50_ns, s.p.p99_ns) << s.name;
    EXPECT_LE(s.p.p99_ns, s.p.max_ns) << s.name;
  }
}

TEST(Pipeline_Replay, RealRecordingFlowsThroughWithNothingLost) {
  PipelineConfig cfg;
  cfg.feed = PipelineConfig::Feed::replay;
  cfg.replay_path = tickpath::test::data_file("ws/cryptofeed_2021-04-04_btcusdt-ethusdt-dotusdt_raw-recording.txt");
  cfg.progress = false;
  std::string error;
  const auto rep = run_pipeline(cfg, error);
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_EQ(rep.messages, 4719U);
  EXPECT_EQ(rep.rejects, 0U);
  EXPECT_EQ(rep.processed, 4719U);
  EXPECT_EQ(rep.metadata_lines, 1U);
  EXPECT_EQ(rep.depth_gaps, 0U);
  ASSERT_EQ(rep.symbols.size(), 3U);
  std::uint64_t bars = 0;
  for (const auto& s : rep.symbols) bars += s.bars;
  EXPECT_EQ(bars, 3U);  // one closed kline_1m per symbol in this recording (or one trade-built bar)
  const std::string j = rep.to_json();
  for (const char* key : {"\"messages\":4719", "\"rejects\":0", "\"dropped\":0", "\"clock\":", "\"stages\":{\"parse\":",
                          "\"queue\":", "\"indicators\":", "\"end_to_end\":", "\"p999_ns\":", "\"throughput_msgs_per_s\":"})
    EXPECT_NE(j.find(key), std::string::npos) << key << " in " << j.substr(0, 400);
}

TEST(Pipeline_Replay, SymbolFilterRejectsAndCountsTheRest) {
  PipelineConfig cfg;
  cfg.feed = PipelineConfig::Feed::replay;
  cfg.replay_path = tickpath::test::data_file("ws/cryptofeed_2021-04-04_btcusdt-ethusdt-dotusdt_combined.jsonl");
  cfg.symbols = {"BTCUSDT"};
  cfg.progress = false;
  std::string error;
  const auto rep = run_pipeline(cfg, error);
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_EQ(rep.messages, 4716U);
  EXPECT_EQ(rep.events, 1227U + 899U + 44U);
  EXPECT_EQ(rep.rejects, rep.messages - rep.events);
  EXPECT_EQ(rep.reject_by_reason[static_cast<std::size_t>(tickpath::feed::RejectReason::unknown_symbol)], rep.rejects);
}

TEST(Pipeline_Replay, GapsAndBadFramesAreCountedNotFatal) {
  PipelineConfig cfg;
  cfg.feed = PipelineConfig::Feed::replay;
  cfg.replay_path = tickpath::test::data_file("ws/lukasbraun2_2025-07-13_btcusdt_depth1000ms_raw-stream.jsonl");
  cfg.progress = false;
  std::string error;
  auto rep = run_pipeline(cfg, error);
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_EQ(rep.depth_gaps, 3U);
  EXPECT_EQ(rep.messages, 71U);

  cfg.replay_path = "/nonexistent/frames.jsonl";
  rep = run_pipeline(cfg, error);
  EXPECT_NE(error.find("cannot open /nonexistent/frames.jsonl"), std::string::npos) << error;
}
