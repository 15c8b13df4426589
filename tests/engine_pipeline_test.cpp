#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>
#include <thread>

#include "support/alloc_counter.hpp"
#include "support/test_data.hpp"
#include "cpu_steal.hpp"
#include "tickpath/engine/pipeline.hpp"
#include "tickpath/infra/hygiene.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>

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
  cfg.hooks.after_warmup = &start_counting;  // order books included: no allocation after warm-up
  cfg.hooks.warmup_messages = 500;
  g_hot_threads_counting = 0;
  const auto before = tickpath::test::counted_allocations();
  std::string error;
  const auto rep = run_pipeline(cfg, error);
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_EQ(g_hot_threads_counting.load(), 2);
  EXPECT_EQ(tickpath::test::counted_allocations() - before, 0U);
  // The recording's three REST snapshots seed three books, which stay in sync.
  EXPECT_EQ(rep.books, 3U);
  EXPECT_EQ(rep.books_synced, 3U);
  EXPECT_EQ(rep.book_snapshots, 3U);
  EXPECT_EQ(rep.book_out_of_sync, 0U);
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

TEST(Pipeline_Replay, RecordedPaceTimesSpeedFactor) {
  // The recording spans 91 s of receive time; at 100x it takes ~0.91 s.
  PipelineConfig cfg;
  cfg.feed = PipelineConfig::Feed::replay;
  cfg.replay_path = tickpath::test::data_file("ws/cryptofeed_2021-04-04_btcusdt-ethusdt-dotusdt_raw-recording.txt");
  cfg.replay_speed = 100;
  cfg.progress = false;
  std::string error;
  const auto rep = run_pipeline(cfg, error);
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_EQ(rep.processed, 4719U);
  EXPECT_GT(rep.duration_s, 0.85);
  EXPECT_LT(rep.duration_s, 3.0);
}

TEST(Pipeline_Report, VcpuStealOfEveryCoreWhenNotPinned) {
  // Not pinned: the run reports the steal of every CPU /proc/stat lists.
  std::ifstream f("/proc/stat");
  std::stringstream text;
  text << f.rdbuf();
  const auto cpus = stat_cpus(text.str());
  std::uint64_t ticks = 0;
  if (cpus.empty() || !parse_steal_ticks(text.str(), cpus[0], ticks)) GTEST_SKIP() << "this host's /proc/stat has no steal";
  PipelineConfig cfg;
  cfg.feed = PipelineConfig::Feed::replay;
  cfg.replay_path = tickpath::test::data_file("ws/cryptofeed_2021-04-04_btcusdt-ethusdt-dotusdt_raw-recording.txt");
  cfg.replay_speed = 200;  // ~0.45 s: long enough for the io thread to read /proc/stat at the first frame
  cfg.progress = false;
  std::string error;
  const auto rep = run_pipeline(cfg, error);
  ASSERT_TRUE(error.empty()) << error;
  ASSERT_EQ(rep.steal.size(), cpus.size());
  for (std::size_t i = 0; i < cpus.size(); ++i) {
    EXPECT_EQ(rep.steal[i].cpu, cpus[i]);
    EXPECT_GE(rep.steal[i].ms, 0.0);
    EXPECT_GE(rep.steal[i].fraction, 0.0);
    EXPECT_LE(rep.steal[i].fraction, 1.0);
    EXPECT_LE(rep.steal[i].ms, rep.duration_s * 1000.0 + 50.0);  // a core cannot lose more than the run
  }
  EXPECT_NE(rep.to_json().find("\"steal\":[{\"cpu\":" + std::to_string(cpus[0])), std::string::npos);
  EXPECT_NE(rep.to_table().find("host: vCPU steal during the run"), std::string::npos);
}

TEST(Pipeline_Replay, GarbageLinesAreCountedByReasonAndTheRunGoesOn) {
  const std::string path = ::testing::TempDir() + "mixed_frames.jsonl";
  FILE* f = fopen(path.c_str(), "w");
  fputs("{\"stream\":\"btcusdt@aggTrade\",\"data\":{\"e\":\"aggTrade\",\"E\":1,\"s\":\"BTCUSDT\",\"a\":1,\"p\":\"1.0\","
        "\"q\":\"1.0\",\"f\":1,\"l\":1,\"T\":1,\"m\":true,\"M\":true}}\n"
        "garbage\n"
        "{\"e\":\"trade\",\"E\":2}\n"
        "{\"e\":\"aggTrade\",\"E\":3,\"s\":\"BTCUSDT\",\"a\":2,\"p\":\"oops\",\"q\":\"1.0\",\"f\":2,\"l\":2,\"T\":3,\"m\":true}\n"
        "{\"e\":\"aggTrade\",\"E\":4,\"s\":\"BTCUSDT\",\"a\":3,\"p\":\"1.5\",\"q\":\"1.0\",\"f\":3,\"l\":3,\"T\":4,\"m\":true}\n",
        f);
  fclose(f);
  PipelineConfig cfg;
  cfg.feed = PipelineConfig::Feed::replay;
  cfg.replay_path = path;
  cfg.progress = false;
  std::string error;
  const auto rep = run_pipeline(cfg, error);
  ASSERT_TRUE(error.empty()) << error;
  using tickpath::feed::RejectReason;
  EXPECT_EQ(rep.messages, 5U);
  EXPECT_EQ(rep.processed, 2U);
  EXPECT_EQ(rep.rejects, 3U);
  EXPECT_EQ(rep.reject_by_reason[static_cast<std::size_t>(RejectReason::not_an_object)], 1U);
  EXPECT_EQ(rep.reject_by_reason[static_cast<std::size_t>(RejectReason::missing_field)], 1U);
  EXPECT_EQ(rep.reject_by_reason[static_cast<std::size_t>(RejectReason::bad_decimal)], 1U);
  ASSERT_EQ(rep.symbols.size(), 1U);
  EXPECT_EQ(rep.symbols[0].trades, 2U);
}

namespace {
// The strategy thread stalls after warm-up until the feed has found the ring
// full, then a little longer, so the test does not depend on how fast the
// feed runs (sanitizer builds are many times slower).
std::atomic<bool> g_ring_was_full{false};
void note_ring_full(void*) { g_ring_was_full.store(true); }
void stall_strategy(HotThread t, void*) {
  if (t != HotThread::strategy) return;
  while (!g_ring_was_full.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
}
}  // namespace

TEST(Pipeline_FullRing, WaitsAndCountsBackpressureOrDropsAndCounts) {
  for (const bool drop : {false, true}) {
    g_ring_was_full = false;
    PipelineConfig cfg;
    cfg.feed = PipelineConfig::Feed::synthetic;
    cfg.messages = 100'000;
    cfg.progress = false;
    cfg.drop_on_full = drop;
    cfg.hooks.after_warmup = &stall_strategy;
    cfg.hooks.ring_full = &note_ring_full;
    cfg.hooks.warmup_messages = 1000;
    std::string error;
    const auto rep = run_pipeline(cfg, error);
    ASSERT_TRUE(error.empty()) << error;
    EXPECT_TRUE(g_ring_was_full.load());
    EXPECT_EQ(rep.events, 100'000U);
    if (drop) {
      EXPECT_GT(rep.dropped, 0U);
      EXPECT_EQ(rep.processed + rep.dropped, rep.events);  // every event either handled or counted as dropped
    } else {
      EXPECT_EQ(rep.dropped, 0U);
      EXPECT_EQ(rep.processed, rep.events);
      EXPECT_GT(rep.backpressure_ns, 40e6);  // the feed waited through the stall
    }
  }
}

TEST(Pipeline_Policy, SignalsOnEveryTradeWithStagesAndNoHotAllocation) {
  const std::string model = ::testing::TempDir() + "untrained.tpp";
  std::string error;
  ASSERT_TRUE(tickpath::strategy::save_policy_model(model, tickpath::strategy::PolicyModel::init_orthogonal(5), error));
  // The third run has the dashboard stream on: the strategy thread then also
  // publishes each symbol's frame and its closed bars, still without allocating.
  // The fourth runs the actor alone: the same signals, without a value.
  for (int variant = 0; variant < 4; ++variant) {
    const char* backend = variant == 0 ? "scalar" : "auto";
    PipelineConfig cfg;
    if (variant == 2) cfg.ui_listen = "127.0.0.1:0";
    cfg.policy_critic = variant != 3;
    cfg.feed = PipelineConfig::Feed::synthetic;
    cfg.synthetic.symbols = {"BTCUSDT", "ETHUSDT"};
    cfg.synthetic.rate_per_s = 50;  // 300,000 frames = 100 minutes of market: past the 35-bar warm-up
    cfg.messages = 300'000;
    cfg.progress = false;
    cfg.model_path = model;
    cfg.policy_backend = backend;
    cfg.hooks.after_warmup = &start_counting;
    cfg.hooks.warmup_messages = 1000;
    g_hot_threads_counting = 0;
    const auto before = tickpath::test::counted_allocations();
    const auto rep = run_pipeline(cfg, error);
    ASSERT_TRUE(error.empty()) << error;
    EXPECT_EQ(tickpath::test::counted_allocations() - before, 0U) << "allocations on a hot thread, " << backend;
    ASSERT_FALSE(rep.policy_backend.empty());
    EXPECT_GT(rep.signals, 0U);
    EXPECT_EQ(rep.signal_drops, 0U);
    EXPECT_EQ(rep.non_finite_observations, 0U);
    EXPECT_EQ(rep.signals_by_action[0] + rep.signals_by_action[1] + rep.signals_by_action[2], rep.signals);
    std::uint64_t per_symbol = 0;
    for (const auto& s : rep.symbols) per_symbol += s.signals;
    EXPECT_EQ(per_symbol, rep.signals);
    std::uint64_t policy_runs = 0, t2s = 0;
    for (const auto& s : rep.stages) {
      if (s.name == "policy") policy_runs = s.p.count;
      if (s.name == "tick_to_signal") t2s = s.p.count;
    }
    EXPECT_GT(rep.policy_warmup_skips, 0U);
    EXPECT_EQ(policy_runs, rep.signals) << "the policy stage times forward passes, not warm-up skips";
    EXPECT_EQ(t2s, rep.signals);
    EXPECT_EQ(rep.policy_critic, cfg.policy_critic);
    for (const auto& s : rep.symbols) {
      ASSERT_GT(s.signals, 0U) << s.name;
      EXPECT_EQ(std::isfinite(s.last_signal.value), cfg.policy_critic) << s.name << " value " << s.last_signal.value;
    }
    const std::string j = rep.to_json();
    EXPECT_NE(j.find("\"tick_to_signal\":{"), std::string::npos);
    EXPECT_NE(j.find(std::string("\"policy\":{\"backend\":\"") + rep.policy_backend + "\",\"critic\":" +
                     (cfg.policy_critic ? "true" : "false")),
              std::string::npos)
        << j;
    EXPECT_EQ(rep.to_table().find("actor only (no value)") != std::string::npos, !cfg.policy_critic);
  }
}

// One hot thread (inline_strategy): the feed thread runs the strategy. The
// two-thread run of the same feed is the reference: the same events reach the
// same state, so every signal is the same, symbol by symbol; there is no
// event ring, so no queue stage; and that one thread allocates nothing after
// its warm-up.
TEST(Pipeline_OneHotThread, TheTwoThreadRunsSignalsWithoutAQueueStageOrAnAllocation) {
  const std::string model = ::testing::TempDir() + "untrained_inline.tpp";
  std::string error;
  ASSERT_TRUE(tickpath::strategy::save_policy_model(model, tickpath::strategy::PolicyModel::init_orthogonal(9), error));
  auto config = [&](bool one_thread) {
    PipelineConfig cfg;
    cfg.feed = PipelineConfig::Feed::synthetic;
    cfg.synthetic.symbols = {"BTCUSDT", "ETHUSDT", "SOLUSDT"};
    cfg.synthetic.rate_per_s = 50;
    cfg.messages = 240'000;  // 80 minutes of market: past the observation's warm-up
    cfg.progress = false;
    cfg.model_path = model;
    cfg.inline_strategy = one_thread;
    cfg.hooks.after_warmup = &start_counting;
    cfg.hooks.warmup_messages = 1000;
    return cfg;
  };
  g_hot_threads_counting = 0;
  const auto two = run_pipeline(config(false), error);
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_EQ(g_hot_threads_counting.load(), 2);
  EXPECT_FALSE(two.inline_strategy);

  g_hot_threads_counting = 0;
  const auto before = tickpath::test::counted_allocations();
  const auto one = run_pipeline(config(true), error);
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_EQ(g_hot_threads_counting.load(), 1) << "one hot thread, warmed up once";
  EXPECT_EQ(tickpath::test::counted_allocations() - before, 0U) << "allocations on the hot thread";
  EXPECT_TRUE(one.inline_strategy);

  EXPECT_EQ(one.messages, two.messages);
  EXPECT_EQ(one.events, two.events);
  EXPECT_EQ(one.processed, one.events);
  EXPECT_EQ(one.dropped, 0U);
  EXPECT_EQ(one.bars_closed, two.bars_closed);
  ASSERT_GT(two.signals, 0U);
  EXPECT_EQ(one.signals, two.signals);
  EXPECT_EQ(one.signals_by_action, two.signals_by_action);
  EXPECT_EQ(one.policy_warmup_skips, two.policy_warmup_skips);
  ASSERT_EQ(one.symbols.size(), two.symbols.size());
  for (std::size_t i = 0; i < one.symbols.size(); ++i) {
    EXPECT_EQ(one.symbols[i].name, two.symbols[i].name);
    EXPECT_GT(one.symbols[i].signals, 0U) << one.symbols[i].name;
    EXPECT_EQ(one.symbols[i].signal_digest, two.symbols[i].signal_digest) << one.symbols[i].name;
    EXPECT_EQ(one.symbols[i].portfolio.round_trips, two.symbols[i].portfolio.round_trips) << one.symbols[i].name;
  }
  auto stage_names = [](const RunReport& r) {
    std::vector<std::string> names;
    for (const auto& s : r.stages) names.push_back(s.name);
    return names;
  };
  EXPECT_EQ(stage_names(two), (std::vector<std::string>{"parse", "queue", "indicators", "policy", "signal",
                                                         "tick_to_signal", "end_to_end"}));
  EXPECT_EQ(stage_names(one),
            (std::vector<std::string>{"parse", "indicators", "policy", "signal", "tick_to_signal", "end_to_end"}));
  for (const auto& s : one.stages) {
    if (s.name == "tick_to_signal") {
      EXPECT_EQ(s.p.count, one.signals);
    }
    if (s.name == "indicators" || s.name == "end_to_end") {
      EXPECT_EQ(s.p.count, one.processed) << s.name;
    }
  }
  EXPECT_NE(one.to_json().find("\"hot_threads\":1,"), std::string::npos);
  EXPECT_NE(two.to_json().find("\"hot_threads\":2,"), std::string::npos);
  EXPECT_NE(one.to_table().find("one hot thread (the feed thread ran the strategy)"), std::string::npos);
  EXPECT_EQ(two.to_table().find("one hot thread"), std::string::npos);
}

TEST(Pipeline_Policy, BadModelIsASetupError) {
  PipelineConfig cfg;
  cfg.model_path = "/nonexistent/model.tpp";
  cfg.progress = false;
  std::string error;
  run_pipeline(cfg, error);
  EXPECT_NE(error.find("cannot open model /nonexistent/model.tpp"), std::string::npos) << error;
  const std::string wrong = ::testing::TempDir() + "wrong_shape.tpp";
  ASSERT_TRUE(tickpath::strategy::save_policy_model(wrong, tickpath::strategy::PolicyModel::init_orthogonal(1, 7), error));
  cfg.model_path = wrong;
  run_pipeline(cfg, error);
  EXPECT_NE(error.find("reads 7 observations"), std::string::npos) << error;
}

TEST(Pipeline_Policy, IntervalModeRunsAtMostOncePerPeriodPerSymbol) {
  const std::string model = ::testing::TempDir() + "interval.tpp";
  std::string error;
  ASSERT_TRUE(tickpath::strategy::save_policy_model(model, tickpath::strategy::PolicyModel::init_orthogonal(6), error));
  PipelineConfig cfg;
  cfg.synthetic.symbols = {"BTCUSDT", "ETHUSDT"};
  cfg.synthetic.rate_per_s = 50;
  cfg.messages = 300'000;  // ~100 minutes of event time
  cfg.progress = false;
  cfg.model_path = model;
  cfg.policy_on = PipelineConfig::PolicyOn::interval;
  cfg.policy_every_ms = 60'000;
  const auto rep = run_pipeline(cfg, error);
  ASSERT_TRUE(error.empty()) << error;
  std::uint64_t runs = rep.policy_warmup_skips;  // decisions due: forward passes and warm-up skips
  for (const auto& s : rep.stages)
    if (s.name == "policy") runs += s.p.count;
  const double minutes = 300'000.0 / 50.0 / 60.0;
  EXPECT_LE(runs, static_cast<std::uint64_t>(2 * (minutes + 2)));
  EXPECT_GE(runs, static_cast<std::uint64_t>(2 * (minutes - 2)));
}

TEST(Pipeline_Policy, PaperAccountTradesTheSignals) {
  // A policy that always says BUY: each symbol's account goes long once and stays.
  auto m = tickpath::strategy::PolicyModel::init_orthogonal(8);
  m.action.b = {0.0f, 20.0f, 0.0f};
  const std::string model = ::testing::TempDir() + "always_buy.tpp";
  std::string error;
  ASSERT_TRUE(tickpath::strategy::save_policy_model(model, m, error));
  PipelineConfig cfg;
  cfg.synthetic.symbols = {"BTCUSDT", "ETHUSDT"};
  cfg.synthetic.rate_per_s = 50;
  cfg.messages = 200'000;
  cfg.progress = false;
  cfg.model_path = model;
  cfg.policy_on = PipelineConfig::PolicyOn::bar;
  const auto rep = run_pipeline(cfg, error);
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_EQ(rep.signals_by_action[1], rep.signals);
  ASSERT_EQ(rep.symbols.size(), 2U);
  for (const auto& s : rep.symbols) {
    ASSERT_TRUE(s.has_portfolio);
    EXPECT_EQ(s.portfolio.fills, 1U) << s.name;  // bought once; later BUYs find it long already
    EXPECT_NEAR(s.portfolio.fees, 10'000.0 / 1.001 * 0.001, 1e-6) << s.name;
    EXPECT_NE(s.portfolio.equity, 10'000.0 - s.portfolio.fees) << s.name;  // marked to market since
  }
}

// Start-up hygiene: each step is reported; the warm-up frames (one of each
// kind, compact as on the wire) all parse; a locked run has locked pages.
TEST(Pipeline_Hygiene, StartUpStepsAreReportedAndTheWarmUpFramesParse) {
  PipelineConfig cfg;
  cfg.messages = 20'000;
  cfg.progress = false;
  cfg.warmup_rounds = 100;
  cfg.lock_memory = true;
  cfg.start_note = "host: test note";
  std::string error;
  const auto rep = run_pipeline(cfg, error);
  ASSERT_TRUE(error.empty()) << error;
  std::string all;
  for (const auto& h : rep.hygiene) all += h + "\n";
  EXPECT_NE(all.find("host: test note"), std::string::npos) << all;
  EXPECT_NE(all.find("feed thread: stack prefaulted (256 KiB), normal scheduling, warm-up 500 parses of 5 frame kinds (500 accepted)"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("strategy thread: stack prefaulted"), std::string::npos) << all;
  EXPECT_NE(all.find("rings prefaulted at construction: events 8 MiB"), std::string::npos) << all;
  if (all.find("memory locked (mlockall)") != std::string::npos) {
    EXPECT_GT(tickpath::infra::locked_bytes(), 8U << 20);  // at least the event ring
    munlockall();
  } else {
    EXPECT_NE(all.find("memory not locked: "), std::string::npos) << all;
  }
  EXPECT_NE(rep.to_json().find("\"hygiene\":[\"host: test note\""), std::string::npos);
  EXPECT_NE(rep.to_table().find("  start-up: feed thread"), std::string::npos);
}

TEST(Pipeline_Hygiene, FifoIsWhatTheKernelSaysOrAReasonWhy) {
  std::thread t([] {
    const auto r = tickpath::infra::set_fifo(1);
    const int policy = sched_getscheduler(0);
    if (r.done) {
      EXPECT_EQ(policy, SCHED_FIFO);
      sched_param sp{};
      EXPECT_EQ(pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp), 0);
    } else {
      EXPECT_NE(policy, SCHED_FIFO);
      EXPECT_NE(r.note.find("refused"), std::string::npos) << r.note;
    }
  });
  t.join();
}
