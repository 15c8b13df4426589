// Runs the tickpath binary the way a user does and checks what it prints.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <cmath>
#include <sstream>
#include <string>

#include "backtest_report.hpp"
#include "support/loopback.hpp"
#include "support/run_command.hpp"
#include "support/test_data.hpp"
#include "tickpath/strategy/backtest.hpp"
#include "tickpath/strategy/kline_csv.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {
using Result = tickpath::test::CommandResult;
Result run(const std::string& args) { return tickpath::test::run_command(std::string(TICKPATH_BIN) + " " + args); }

// Whether a recording run has written a frame into `dir` yet.
bool journaled(const std::string& dir) {
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec))
    if (e.is_regular_file(ec) && e.file_size(ec) > 0) return true;
  return false;
}

// Whether child `pid` exits within `ms` (its status in `status`).
bool exited_within(pid_t pid, int ms, int& status) {
  for (int i = 0; i < ms / 10; ++i) {
    if (waitpid(pid, &status, WNOHANG) == pid) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}
std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::size_t a = 0;
  while (a < s.size()) {
    auto b = s.find(sep, a);
    if (b == std::string::npos) b = s.size();
    out.push_back(s.substr(a, b - a));
    a = b + 1;
  }
  return out;
}
std::vector<std::string> lines(const std::string& s) { return split(s, '\n'); }
}  // namespace

TEST(Cli_Parse, PrintsEveryFieldWithEightDecimalStrings) {
  const auto r = run("parse " + tickpath::test::data_file("ws/andreytokmakov_2025-11-08_btcusdt_trade_single.json") + " 2>/dev/null");
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(r.out,
            "{\"type\":\"trade\",\"stream\":\"btcusdt@trade\",\"symbol\":\"BTCUSDT\",\"e\":\"trade\",\"E\":1762578805373,"
            "\"s\":\"BTCUSDT\",\"t\":5455447976,\"p\":\"102571.17000000\",\"q\":\"0.00100000\",\"T\":1762578805372,"
            "\"m\":true,\"M\":true}\n");
}

TEST(Cli_Parse, OneObjectPerFrameInOrderMatchingTheInput) {
  const std::string file = tickpath::test::data_file("ws/cryptofeed_2021-10-12_4symbols_combined.jsonl");
  const auto r = run("parse " + file + " 2>/dev/null");
  ASSERT_EQ(r.status, 0);
  const auto out = lines(r.out);
  const auto in = lines(tickpath::test::read_file(file));
  ASSERT_EQ(out.size(), in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const auto src = nlohmann::json::parse(in[i]);
    const auto got = nlohmann::json::parse(out[i]);
    const auto& d = src["data"];
    EXPECT_EQ(got["stream"], src["stream"]);
    EXPECT_EQ(got["type"], d.contains("e") ? d["e"] : nlohmann::json("bookTicker"));
    // Every payload field comes back under its own key; decimals as 8-decimal strings of the same value.
    for (auto it = d.begin(); it != d.end(); ++it) {
      ASSERT_TRUE(got.contains(it.key())) << it.key() << " line " << i;
      if (it.value().is_string() && it.key() != "e" && it.key() != "s") {
        EXPECT_EQ(std::stod(got[it.key()].get<std::string>()), std::stod(it.value().get<std::string>()));
      } else if (!it.value().is_array() && !it.value().is_object()) {
        EXPECT_EQ(got[it.key()], it.value()) << it.key();
      }
    }
  }
}

TEST(Cli_Parse, RejectsAreObjectsWithAReason) {
  const std::string path = ::testing::TempDir() + "bad_frames.jsonl";
  FILE* f = fopen(path.c_str(), "w");
  fputs("{\"e\":\"trade\",\"E\":1}\nnot json\n{\"u\":1,\"s\":\"X\",\"b\":\"1\",\"B\":\"1\",\"a\":\"2\",\"A\":\"1\"}\n", f);
  fclose(f);
  const auto r = run("parse " + path + " 2>/dev/null");
  const auto out = lines(r.out);
  ASSERT_EQ(out.size(), 3U);
  EXPECT_EQ(out[0], "{\"type\":\"reject\",\"reason\":\"missing_field\",\"field\":\"s\"}");
  EXPECT_EQ(out[1], "{\"type\":\"reject\",\"reason\":\"not_an_object\"}");  // simdjson reads "not" as a bad literal
  EXPECT_EQ(nlohmann::json::parse(out[2])["type"], "bookTicker");
  EXPECT_EQ(run("parse --strict " + path + " 2>/dev/null").status, 1);
}

TEST(Cli_Errors, SetupFailuresEndInOneLineAndNonZeroExit) {
  auto r = run("parse /nonexistent/x.jsonl 2>&1");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(lines(r.out).size(), 1U) << r.out;
  EXPECT_EQ(r.out.rfind("tickpath: cannot open /nonexistent/x.jsonl", 0), 0U) << r.out;
  r = run("run --feed bogus 2>&1");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(lines(r.out).size(), 1U) << r.out;
  r = run("indicators --klines /nonexistent.csv 2>&1");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(lines(r.out).size(), 1U) << r.out;
  // live: nothing listening, and a bad URL
  r = run("run --feed wss://127.0.0.1:1 --symbols BTCUSDT --quiet 2>&1");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(lines(r.out).size(), 1U) << r.out;
  EXPECT_NE(r.out.find("cannot connect"), std::string::npos) << r.out;
  r = run("run --feed wss://127.0.0.1:99999 --symbols BTCUSDT --quiet 2>&1");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(lines(r.out).size(), 1U) << r.out;
}

// On two hot threads, then on one (--inline-strategy: no queue stage).
TEST(Cli_Stress, RampReportsEveryStepAndTheHighestSustainedRate) {
  for (const bool one : {false, true}) {
    const std::string report = ::testing::TempDir() + "stress.json";
    const auto r = run(std::string("stress --rates 1000,3000 --step 0.5 --drain 0.3") + (one ? " --inline-strategy" : "") +
                       " --report " + report + " 2>&1");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("highest rate sustained with zero loss"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find(", one hot thread") != std::string::npos, one) << r.out;
    std::ifstream in(report);
    const auto j = nlohmann::json::parse(in);
    EXPECT_EQ(j["hot_threads"], one ? 1 : 2);
    ASSERT_EQ(j["steps"].size(), 2U);
    for (const auto& st : j["steps"]) {
      EXPECT_EQ(st["sent"], st["received"]) << st.dump();
      EXPECT_TRUE(st["stages"].contains("wire")) << st.dump();
      EXPECT_GT(st["stages"]["wire"]["count"].get<int>(), 0);
      EXPECT_EQ(st["stages"].contains("queue"), !one) << st.dump();
    }
    EXPECT_GE(j["best_rate"].get<double>(), 1000.0) << r.out;
  }
}

TEST(Cli_Indicators, CsvColumnsLookbackAndValues) {
  const auto r = run("indicators --klines " +
                     tickpath::test::data_file("klines/camfeghali_BTCUSDT_1m_2025-08-01_2025-08-11_spot.csv"));
  ASSERT_EQ(r.status, 0);
  const auto out = lines(r.out);
  ASSERT_EQ(out.size(), 14402U);
  EXPECT_EQ(out[0],
            "open_time,close,sma_20,ema_12,ema_26,rsi_14,macd,macd_signal,macd_hist,bb_upper,bb_middle,bb_lower,stddev_20");
  EXPECT_EQ(out[1].rfind("1754006400000,115729,,,,,,,,,,,", 0), 0U) << out[1];
  // Row 34 (bar index 33) is the first with MACD; bar 19 the first with SMA(20).
  auto cells = [](const std::string& l) {
    std::vector<std::string> c;
    std::size_t a = 0;
    while (true) {
      auto b = l.find(',', a);
      c.push_back(l.substr(a, b == std::string::npos ? std::string::npos : b - a));
      if (b == std::string::npos) break;
      a = b + 1;
    }
    return c;
  };
  EXPECT_TRUE(cells(out[19])[2].empty());
  EXPECT_FALSE(cells(out[20])[2].empty());
  EXPECT_TRUE(cells(out[33])[6].empty());
  EXPECT_FALSE(cells(out[34])[6].empty());
  EXPECT_FALSE(cells(out[34])[8].empty());
}

TEST(Cli_Run, SyntheticRunWritesTheJsonReport) {
  const std::string report = ::testing::TempDir() + "report.json";
  const auto r = run("run --feed synthetic --messages 50000 --quiet --cpus 0,9999 --report " + report + " 2>&1");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("core 9999"), std::string::npos) << "missing core warning: " << r.out;
  const auto j = nlohmann::json::parse(tickpath::test::read_file(report));
  EXPECT_EQ(j["messages"], 50000);
  EXPECT_EQ(j["rejects"], 0);
  EXPECT_EQ(j["dropped"], 0);
  EXPECT_TRUE(j["clock"] == "tsc" || j["clock"] == "steady");
  for (const char* s : {"parse", "queue", "indicators", "end_to_end"}) {
    ASSERT_TRUE(j["stages"].contains(s)) << s;
    for (const char* k : {"count", "p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns"})
      EXPECT_TRUE(j["stages"][s].contains(k)) << s << "." << k;
  }
  EXPECT_GT(j["throughput_msgs_per_s"].get<double>(), 0.0);
  EXPECT_EQ(j["hot_threads"], 2);
}

// --inline-strategy: one hot thread on one core, no queue stage; --cpus then
// takes exactly one core, and anything else is a one-line set-up error.
TEST(Cli_Run, InlineStrategyRunsOnOneCoreWithoutAQueueStage) {
  const std::string report = ::testing::TempDir() + "report_inline.json";
  auto r = run("run --feed synthetic --messages 50000 --quiet --inline-strategy --cpus 0 --report " + report + " 2>&1");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("one hot thread (the feed thread ran the strategy)"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("run the hot path on one core"), std::string::npos) << "no hint when it is on: " << r.out;
  const auto j = nlohmann::json::parse(tickpath::test::read_file(report));
  EXPECT_EQ(j["hot_threads"], 1);
  EXPECT_EQ(j["processed"], j["events"]);
  EXPECT_FALSE(j["stages"].contains("queue"));
  EXPECT_EQ(j["stages"]["end_to_end"]["count"], j["processed"]);
  r = run("run --feed synthetic --messages 1000 --quiet --inline-strategy --drop-on-full 2>&1");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(lines(r.out).size(), 1U) << r.out;
  EXPECT_NE(r.out.find("with --inline-strategy there is none"), std::string::npos) << r.out;
  for (const char* cpus : {"0,1", "x"}) {
    r = run(std::string("run --feed synthetic --messages 1000 --quiet --inline-strategy --cpus ") + cpus + " 2>&1");
    EXPECT_EQ(r.status, 1) << cpus;
    EXPECT_EQ(lines(r.out).size(), 1U) << r.out;
    EXPECT_NE(r.out.find("--cpus takes one core with --inline-strategy"), std::string::npos) << r.out;
  }
}

TEST(Cli_Gen, GeneratedFileReplaysCleanly) {
  const std::string path = ::testing::TempDir() + "gen.jsonl";
  ASSERT_EQ(run("gen --symbols BTCUSDT,ETHUSDT --messages 20000 --seed 7 --out " + path).status, 0);
  const auto a = tickpath::test::read_file(path);
  ASSERT_EQ(run("gen --symbols BTCUSDT,ETHUSDT --messages 20000 --seed 7 --out " + path + ".2").status, 0);
  EXPECT_EQ(a, tickpath::test::read_file(path + ".2"));
  EXPECT_EQ(lines(a).size(), 20000U);
  const auto r = run("run --feed replay:" + path + " --quiet 2>&1");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("frames 20000  events 20000  processed 20000  rejects 0  dropped 0  depth gaps 0"),
            std::string::npos)
      << r.out;
}

TEST(Cli_Infer, BackendsAgreeAndNonFiniteRowsHold) {
  const std::string model = ::testing::TempDir() + "cli_model.tpp";
  const std::string obs = ::testing::TempDir() + "cli_obs.csv";
  ASSERT_EQ(run("init-model --seed 9 --out " + model + " 2>/dev/null").status, 0);
  FILE* f = fopen(obs.c_str(), "w");
  fputs("r1,r5,r15,vol,relvol,rsi,macd,sig,hist,pctb,width,pos,upnl\n", f);
  for (int i = 0; i < 50; ++i) {
    for (int k = 0; k < 13; ++k) fprintf(f, "%s%g", k ? "," : "", std::sin(i * 13 + k) * (k == 4 ? 3 : 1));
    fputs("\n", f);
  }
  fputs("0,0,0,0,1,0.5,0,0,0,0.5,0.01,0,nan\n", f);
  fclose(f);
  const auto scalar = lines(run("infer --model " + model + " --input " + obs + " --backend scalar").out);
  const auto best = lines(run("infer --model " + model + " --input " + obs).out);
  ASSERT_EQ(scalar.size(), 52U);
  ASSERT_EQ(best.size(), 52U);
  EXPECT_EQ(scalar[0], "p_hold,p_buy,p_sell,value,action,confidence");
  for (std::size_t i = 1; i < 51; ++i) {
    std::stringstream a(scalar[i]), b(best[i]);
    std::string x, y;
    for (int col = 0; col < 6; ++col) {
      std::getline(a, x, ','), std::getline(b, y, ',');
      if (col == 4) continue;  // action name: may differ only on a near-tie, which the probabilities show
      EXPECT_NEAR(std::stod(x), std::stod(y), 1e-5) << "row " << i << " col " << col;
    }
  }
  EXPECT_EQ(scalar[51], "0,0,0,0,HOLD,0,non_finite_input");
  const auto bad = run("infer --model " + obs + " --input " + obs + " 2>&1");
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.out.find("not a tickpath policy model"), std::string::npos) << bad.out;
}

TEST(Cli_Backtest, TableJsonAndEquityForPolicyAndBaselines) {
  const std::string model = ::testing::TempDir() + "bt_model.tpp";
  const std::string report = ::testing::TempDir() + "bt.json";
  const std::string equity = ::testing::TempDir() + "bt_equity.csv";
  ASSERT_EQ(run("init-model --seed 2 --out " + model + " 2>/dev/null").status, 0);
  const std::string klines = tickpath::test::data_file("klines/benicio1007_BTCUSDT_1m_2023-01-01_2023-01-28_spot_ohlcv.csv");
  const auto r = run("backtest --klines " + klines + " --model " + model + " --fee-bps 10 --report " + report +
                     " --equity " + equity + " 2>&1");
  ASSERT_EQ(r.status, 0) << r.out;
  for (const char* name : {"policy", "buy_and_hold", "macd_crossover", "rsi_reversion"})
    EXPECT_NE(r.out.find(name), std::string::npos) << name;
  const auto j = nlohmann::json::parse(tickpath::test::read_file(report));
  EXPECT_EQ(j["bars"], 40000);
  for (const char* name : {"policy", "buy_and_hold", "macd_crossover", "rsi_reversion"})
    for (const char* k : {"total_return", "sharpe", "max_drawdown", "trades", "fees"})
      EXPECT_TRUE(j["strategies"][name].contains(k)) << name << "." << k;
  const auto eq = lines(tickpath::test::read_file(equity));
  ASSERT_EQ(eq.size(), 40001U);
  EXPECT_EQ(eq[0], "open_time,policy,buy_and_hold,macd_crossover,rsi_reversion");
  const auto bad = run("backtest --klines " + klines + " --from 2030-01-01 2>&1");
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.out.find("no bars"), std::string::npos) << bad.out;
}

namespace {
// The data a backtest report inlines, parsed.
nlohmann::json report_data(const std::string& html) {
  const std::string open = "<script type=\"application/json\" id=\"tickpath-backtest\">";
  const auto a = html.find(open);
  if (a == std::string::npos) return {};
  const auto z = html.find("</script>", a);
  return nlohmann::json::parse(html.substr(a + open.size(), z - a - open.size()));
}
}  // namespace

TEST(Cli_Backtest, HtmlReportInlinesThePageAndTheSameEquityTradesAndCandles) {
  // A stand-in page whose script and style would end their elements early
  // if inlined as they are.
  const std::string root = ::testing::TempDir() + "bt_web";
  std::filesystem::create_directories(root + "/report");
  std::ofstream(root + "/report/report.js") << "window.x = \"</script><b>\"; // </SCRIPT>\n";
  std::ofstream(root + "/report/report.css") << "body { color: red } /* </style> */\n";
  const std::string model = ::testing::TempDir() + "bt_html_model.tpp";
  const std::string html = ::testing::TempDir() + "bt.html";
  const std::string report = ::testing::TempDir() + "bt_html.json";
  const std::string equity = ::testing::TempDir() + "bt_html_equity.csv";
  ASSERT_EQ(run("init-model --seed 3 --out " + model + " 2>/dev/null").status, 0);
  const std::string klines = tickpath::test::data_file("klines/camfeghali_BTCUSDT_1m_2025-08-01_2025-08-11_spot.csv");
  const auto r = run("backtest --klines " + klines + " --model " + model + " --from 2025-08-03 --short --html " + html +
                     " --ui-root " + root + " --report " + report + " --equity " + equity + " 2>&1");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("report: " + html), std::string::npos) << r.out;
  const std::string doc = tickpath::test::read_file(html);
  // Exactly the document's own elements close: the inlined text cannot end them.
  auto count = [&](const std::string& s) {
    std::size_t n = 0;
    for (std::size_t at = 0; (at = doc.find(s, at)) != std::string::npos; at += s.size()) ++n;
    return n;
  };
  EXPECT_EQ(count("</script>"), 2U);
  EXPECT_EQ(count("</style>"), 1U);
  EXPECT_EQ(count("</SCRIPT>"), 0U);
  EXPECT_NE(doc.find("window.x = \"<\\/script><b>\""), std::string::npos);
  EXPECT_EQ(doc.find("src=\"http"), std::string::npos);

  const auto d = report_data(doc);
  ASSERT_TRUE(d.is_object());
  const auto table = nlohmann::json::parse(tickpath::test::read_file(report));
  const auto eq = lines(tickpath::test::read_file(equity));
  const std::size_t bars = table["bars"];
  EXPECT_EQ(d["bars"], bars);
  EXPECT_EQ(d["mode"], "long/short");
  EXPECT_EQ(d["bars_per_candle"], 1);
  ASSERT_EQ(eq.size(), bars + 1);
  // Candles: the CSV's rows from the window's first bar on.
  const auto load = tickpath::strategy::load_kline_csv(klines);
  ASSERT_TRUE(load.error.empty());
  const auto& c = d["candles"];
  ASSERT_EQ(c["t"].size(), bars);
  const std::size_t first = load.bars.size() - bars;
  for (std::size_t i = 0; i < bars; i += 997) {
    const auto& b = load.bars[first + i];
    EXPECT_EQ(c["t"][i].get<std::int64_t>(), b.open_time_ms / 1000);
    EXPECT_EQ(c["o"][i].get<double>(), b.open);
    EXPECT_EQ(c["h"][i].get<double>(), b.high);
    EXPECT_EQ(c["l"][i].get<double>(), b.low);
    EXPECT_EQ(c["c"][i].get<double>(), b.close);
  }
  // Per strategy: the table's figures, the equity CSV's column, one marker per position change.
  const auto names = split(eq[0], ',');
  ASSERT_EQ(d["strategies"].size(), names.size() - 1);
  for (std::size_t s = 0; s < d["strategies"].size(); ++s) {
    const auto& st = d["strategies"][s];
    const std::string name = st["name"];
    SCOPED_TRACE(name);
    EXPECT_EQ(name, names[s + 1]);
    EXPECT_EQ(st["fills"], table["strategies"][name]["fills"]);
    // (the table and the CSV print 10 significant digits)
    EXPECT_NEAR(st["total_return"].get<double>(), table["strategies"][name]["total_return"].get<double>(), 1e-9);
    ASSERT_EQ(st["equity"].size(), bars);
    for (std::size_t i = 0; i < bars; i += 101) {
      const double v = st["equity"][i];
      EXPECT_NEAR(v, std::stod(split(eq[i + 1], ',')[s + 1]), 1e-9 * v) << "bar " << i;
    }
    const auto& f = st["fills_at"];
    std::uint64_t fills = 0;
    for (std::size_t k = 0; k < f["t"].size(); ++k) {
      const int from = f["from"][k], to = f["to"][k];
      EXPECT_NE(from, to);
      fills += (from != 0) + (to != 0);
    }
    EXPECT_EQ(fills, st["fills"].get<std::uint64_t>());
  }

  const auto missing = run("backtest --klines " + klines + " --html " + html + " --ui-root /nonexistent 2>&1");
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.out.find("report page is not built"), std::string::npos) << missing.out;
}

TEST(BacktestReport_Candles, PastTheLimitBarsMergeAndEquityAndFillsFollowTheirCandles) {
  using namespace tickpath::strategy;
  const auto load = load_kline_csv(tickpath::test::data_file("klines/benicio1007_BTCUSDT_1m_2023-01-01_2023-01-28_spot_ohlcv.csv"));
  ASSERT_TRUE(load.error.empty());
  BacktestConfig cfg;
  cfg.keep_equity = cfg.keep_trades = true;
  const auto res = run_backtest(load.bars, nullptr, cfg);
  tickpath::engine::BacktestReportInput in{"k.csv", "", "", 10, false, &load.bars, &res};
  const auto d = nlohmann::json::parse(tickpath::engine::backtest_report_json(in, 7'000));
  const std::size_t n = load.bars.size(), k = (n + 6'999) / 7'000, groups = (n + k - 1) / k;  // 40,000 bars: 6 per candle
  ASSERT_EQ(d["bars_per_candle"].get<std::size_t>(), k);
  const auto& c = d["candles"];
  ASSERT_EQ(c["t"].size(), groups);
  for (std::size_t g = 0; g < groups; ++g) {
    double hi = -1, lo = 1e300, vol = 0;
    for (std::size_t i = g * k; i < std::min(n, g * k + k); ++i)
      hi = std::max(hi, load.bars[i].high), lo = std::min(lo, load.bars[i].low), vol += load.bars[i].volume;
    ASSERT_EQ(c["t"][g].get<std::int64_t>(), load.bars[g * k].open_time_ms / 1000) << g;
    ASSERT_EQ(c["o"][g].get<double>(), load.bars[g * k].open) << g;
    ASSERT_EQ(c["c"][g].get<double>(), load.bars[std::min(n, g * k + k) - 1].close) << g;
    ASSERT_EQ(c["h"][g].get<double>(), hi) << g;
    ASSERT_EQ(c["l"][g].get<double>(), lo) << g;
    ASSERT_NEAR(c["v"][g].get<double>(), vol, 1e-9 * vol) << g;
  }
  for (std::size_t s = 0; s < res.strategies.size(); ++s) {
    const auto& st = d["strategies"][s];
    const auto& want = res.strategies[s];
    ASSERT_EQ(st["equity"].size(), groups);
    for (std::size_t g = 0; g < groups; ++g)
      ASSERT_EQ(st["equity"][g].get<double>(), want.equity[std::min(n, g * k + k) - 1]) << g;
    ASSERT_EQ(st["fills_at"]["t"].size(), want.trades.size());
    for (std::size_t i = 0; i < want.trades.size(); ++i) {
      // The candle that holds the fill's bar.
      const std::int64_t t = st["fills_at"]["t"][i];
      const auto at = std::find_if(load.bars.begin(), load.bars.end(),
                                   [&](const Bar& b) { return b.open_time_ms == want.trades[i].time_ms; });
      ASSERT_NE(at, load.bars.end());
      const auto bar = static_cast<std::size_t>(at - load.bars.begin());
      ASSERT_EQ(t, load.bars[bar / k * k].open_time_ms / 1000) << want.name << " fill " << i;
      ASSERT_EQ(st["fills_at"]["price"][i].get<double>(), want.trades[i].price);
    }
  }
}

// tickpath export: a recorded run's journal back out as CSV in the
// ClickHouse tables' columns; the rows are the recording run's own bars and
// signals (the journal replays bit for bit), and a time range keeps exactly
// the rows inside it.
TEST(Cli_Export, AJournalBecomesTheRecordingRunsBarsSignalsAndTradesAsCsv) {
  const std::string dir = ::testing::TempDir() + "export_journal";
  const std::string out = ::testing::TempDir() + "export_csv", part = ::testing::TempDir() + "export_csv_part";
  const std::string model = ::testing::TempDir() + "export_model.tpp", report = ::testing::TempDir() + "export_rec.json";
  std::filesystem::remove_all(dir);
  ASSERT_EQ(run("init-model --seed 5 --out " + model + " 2>/dev/null").status, 0);
  const auto rec = run("run --feed synthetic --symbols BTCUSDT,ETHUSDT --messages 120000 --rate 20 --model " + model +
                       " --policy-on bar --record " + dir + " --quiet --no-mlock --report " + report + " 2>&1");
  ASSERT_EQ(rec.status, 0) << rec.out;
  const auto r = run("export " + dir + " --out " + out + " --model " + model + " --policy-on bar 2>&1");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto rep = nlohmann::json::parse(tickpath::test::read_file(report));
  auto rows = [](const std::string& file) {
    auto l = lines(tickpath::test::read_file(file));
    std::vector<std::vector<std::string>> v;
    for (std::size_t i = 1; i < l.size(); ++i)
      if (!l[i].empty()) v.push_back(split(l[i], ','));
    return v;
  };
  EXPECT_EQ(lines(tickpath::test::read_file(out + "/signals.csv"))[0],
            "symbol,time_ms,action,reason,confidence,value,price,position,equity,shard");
  const auto sig = rows(out + "/signals.csv"), bars = rows(out + "/bars_1m.csv"), trades = rows(out + "/trades.csv");
  std::map<std::string, std::uint64_t> n_sig, n_bar, n_trade;
  for (const auto& row : sig) ++n_sig[row[0]];
  for (const auto& row : bars) {
    ++n_bar[row[0]];
    EXPECT_LE(std::stod(row[4]), std::min(std::stod(row[2]), std::stod(row[5])));  // low <= open, close
    EXPECT_GE(std::stod(row[3]), std::max(std::stod(row[2]), std::stod(row[5])));  // high >= open, close
  }
  for (const auto& row : trades) ++n_trade[row[0]];
  for (const auto& [symbol, s] : rep["symbols"].items()) {
    SCOPED_TRACE(symbol);
    EXPECT_EQ(n_sig[symbol], s["signals"].get<std::uint64_t>());
    EXPECT_EQ(n_bar[symbol], s["bars"].get<std::uint64_t>());
    EXPECT_GT(n_sig[symbol], 10U);
    if (s["bar_source"] == "trade") {
      EXPECT_EQ(n_trade[symbol], s["trades"].get<std::uint64_t>());
    }
    // The last signal is the recording run's last signal.
    std::vector<std::string> last;
    for (const auto& row : sig)
      if (row[0] == symbol) last = row;
    ASSERT_FALSE(last.empty());
    EXPECT_EQ(last[2], s["last_signal"]["action"].get<std::string>());
    EXPECT_EQ(std::stoll(last[1]), s["last_signal"]["event_time_ms"].get<std::int64_t>());
    EXPECT_NEAR(std::stod(last[4]), s["last_signal"]["confidence"].get<double>(), 1e-6);  // (the report prints 6 digits)
  }
  // A time range: exactly the full export's rows inside it.
  const std::int64_t from = std::stoll(sig[sig.size() / 2][1]);
  const auto p = run("export " + dir + " --out " + part + " --model " + model + " --policy-on bar --from " +
                     std::to_string(from) + " 2>&1");
  ASSERT_EQ(p.status, 0) << p.out;
  std::vector<std::vector<std::string>> want;
  for (const auto& row : sig)
    if (std::stoll(row[1]) >= from) want.push_back(row);
  EXPECT_EQ(rows(part + "/signals.csv"), want);
  EXPECT_LT(want.size(), sig.size());
  // The actor alone: the same signals (actions, reasons, confidences),
  // with the value column empty where the full export has a number.
  const std::string actor = ::testing::TempDir() + "export_csv_actor";
  const auto a = run("export " + dir + " --out " + actor + " --model " + model + " --policy-on bar --no-critic 2>&1");
  ASSERT_EQ(a.status, 0) << a.out;
  const auto asig = rows(actor + "/signals.csv");
  ASSERT_EQ(asig.size(), sig.size());
  for (std::size_t i = 0; i < sig.size(); ++i) {
    ASSERT_EQ(asig[i].size(), sig[i].size()) << i;
    for (std::size_t c = 0; c < sig[i].size(); ++c) {
      if (c == 5) {
        EXPECT_FALSE(sig[i][c].empty()) << i;
        EXPECT_TRUE(asig[i][c].empty()) << i << ": " << asig[i][c];
      } else if (c == 4) {  // the vector actor sums in another order than both networks interleaved
        EXPECT_NEAR(std::stod(asig[i][c]), std::stod(sig[i][c]), 1e-5) << i;
      } else {
        EXPECT_EQ(asig[i][c], sig[i][c]) << i << " column " << c;
      }
    }
  }
  const std::string areport = ::testing::TempDir() + "export_actor_run.json";
  const auto ar = run("run --feed synthetic --symbols BTCUSDT --messages 20000 --model " + model +
                      " --no-critic --quiet --no-mlock --report " + areport + " 2>&1");
  ASSERT_EQ(ar.status, 0) << ar.out;
  EXPECT_NE(ar.out.find("actor only (no value)"), std::string::npos) << ar.out;
  EXPECT_FALSE(nlohmann::json::parse(tickpath::test::read_file(areport))["policy"]["critic"].get<bool>());
  const auto bad = run("export /nonexistent --out " + part + " 2>&1");
  EXPECT_EQ(bad.status, 1);
}

TEST(Cli_Train, WritesAServableModelAndOneLogRowPerIterationThenBacktestsIt) {
  const std::string model = ::testing::TempDir() + "trained.tpp";
  const std::string log = ::testing::TempDir() + "trained.csv";
  const std::string klines = tickpath::test::data_file("klines/benicio1007_BTCUSDT_1m_2023-01-01_2023-01-28_spot_ohlcv.csv");
  // 3 iterations of 2 environments x 512 steps; train on January's first half.
  const auto r = run("train --klines " + klines + " --to 2023-01-15 --out " + model + " --log " + log +
                     " --steps 3000 --envs 2 --n-steps 512 --epochs 2 --threads 2 --quiet 2>&1");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("3072 environment steps"), std::string::npos) << r.out;
  const auto rows = lines(tickpath::test::read_file(log));
  ASSERT_EQ(rows.size(), 4U);
  EXPECT_EQ(rows[0].rfind("iteration,total_steps,episodes,mean_episode_reward,policy_loss,value_loss,entropy", 0), 0U);
  EXPECT_EQ(rows[3].rfind("3,3072,", 0), 0U) << rows[3];
  // The engine serves it: a backtest on the later, unseen half.
  const auto bt = run("backtest --klines " + klines + " --from 2023-01-15 --model " + model + " 2>&1");
  ASSERT_EQ(bt.status, 0) << bt.out;
  EXPECT_NE(bt.out.find("0 non-finite observations"), std::string::npos) << bt.out;
  // Set-up errors: one line, exit 1.
  for (const std::string args : {"--reward sharpe", "--from 2030-01-01", "--steps 0"}) {
    const auto bad = run("train --klines " + klines + " --out " + model + " " + args + " --quiet 2>&1");
    EXPECT_EQ(bad.status, 1) << args;
    EXPECT_EQ(lines(bad.out).size(), 1U) << args << ": " << bad.out;
  }
}

TEST(Cli_Train, TheShippedModelIsServedAndMatchesItsWalkForwardRow) {
  const std::string model = std::string(TICKPATH_SOURCE_DIR) + "/strategy/models/ppo-btcusdt-1m-2023-01.tpp";
  const std::string report = ::testing::TempDir() + "shipped.json";
  const std::string klines = tickpath::test::data_file("klines/camfeghali_BTCUSDT_1m_2025-08-01_2025-08-11_spot.csv");
  // Every back-end makes the same decisions on these bars; scalar runs anywhere.
  const auto r = run("backtest --klines " + klines + " --model " + model + " --backend scalar --report " + report + " 2>&1");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(tickpath::test::read_file(report));
  // The README's walk-forward row for the shipped model (seed 1).
  EXPECT_NEAR(j["strategies"]["policy"]["total_return"].get<double>(), 0.0288, 0.00005);
  EXPECT_EQ(j["strategies"]["policy"]["trades"], 5);
  EXPECT_NEAR(j["strategies"]["buy_and_hold"]["total_return"].get<double>(), 0.0292, 0.00005);
}

// SIGINT and SIGTERM end a run the way the end of a feed does: the journal
// is drained and closed (it replays to exactly the frames it says it holds),
// the final report is written and says what stopped the run, exit status 0.
TEST(Cli_Signals, SigintAndSigtermStopARecordingRunCleanly) {
  namespace fs = std::filesystem;
  for (const int sig : {SIGINT, SIGTERM}) {
    const std::string name = sig == SIGINT ? "SIGINT" : "SIGTERM";
    const std::string dir = ::testing::TempDir() + "signal-journal-" + name;
    const std::string report = ::testing::TempDir() + "signal-report-" + name + ".json";
    fs::remove_all(dir);
    fs::remove(report);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      const int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      execl(TICKPATH_BIN, TICKPATH_BIN, "run", "--feed", "synthetic", "--duration", "600", "--pace", "20000", "--record",
            dir.c_str(), "--report", report.c_str(), "--quiet", "--no-mlock", static_cast<char*>(nullptr));
      _exit(127);
    }
    // Wait until frames are being journaled, then signal.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!journaled(dir) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(journaled(dir)) << "the run never journaled a frame";
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ASSERT_EQ(kill(pid, sig), 0);
    int status = 0;
    if (!exited_within(pid, 30'000, status)) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      FAIL() << name << " did not stop the run within 30 s";
    }
    ASSERT_TRUE(WIFEXITED(status)) << name << ": the run died instead of exiting";
    EXPECT_EQ(WEXITSTATUS(status), 0) << name;
    const auto j = nlohmann::json::parse(tickpath::test::read_file(report));
    EXPECT_EQ(j["stopped_by"], name);
    const auto frames = j["journal"]["frames"].get<std::uint64_t>();
    EXPECT_GT(frames, 0U);
    EXPECT_EQ(j["journal"]["drops"], 0);
    EXPECT_EQ(j["journal"]["error"], "");
    EXPECT_EQ(j["messages"].get<std::uint64_t>(), frames) << "every frame the feed read is in the journal";
    // The journal holds every frame it counted, readable to the last one.
    const std::string replay_report = ::testing::TempDir() + "signal-replay-" + name + ".json";
    const auto r = run("run --feed replay:" + dir + " --quiet --no-mlock --report " + replay_report + " 2>&1");
    ASSERT_EQ(r.status, 0) << r.out;
    const auto jr = nlohmann::json::parse(tickpath::test::read_file(replay_report));
    EXPECT_EQ(jr["messages"].get<std::uint64_t>(), frames) << name;
    EXPECT_EQ(jr["rejects"], 0) << name;
  }
}

// After the first SIGINT the run delivers what its sinks still hold, for as
// long as that makes progress (a server that is away: 5 s), and says so; a
// second SIGINT ends that wait at once. What was not delivered is counted,
// the report is written, exit status 0.
TEST(Cli_Signals, ASecondSigintCutsTheEndOfRunDeliveryShort) {
  const std::string report = ::testing::TempDir() + "signal-cut-short.json";
  const std::string err = ::testing::TempDir() + "signal-cut-short.err";
  const std::string journal = ::testing::TempDir() + "signal-cut-short-journal";
  std::filesystem::remove(report);
  std::filesystem::remove_all(journal);
  const std::string url = "http://127.0.0.1:" + std::to_string(tickpath::test::free_port());  // nothing listens
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    const int errfd = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(errfd, 2);
    execl(TICKPATH_BIN, TICKPATH_BIN, "run", "--feed", "synthetic", "--duration", "600", "--pace", "20000", "--clickhouse",
          url.c_str(), "--record", journal.c_str(), "--report", report.c_str(), "--quiet", "--no-mlock", static_cast<char*>(nullptr));
    _exit(127);
  }
  auto says = [&](const std::string& text) {
    std::ifstream in(err);
    const std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return all.find(text) != std::string::npos;
  };
  auto wait_for = [&](const std::string& text, int ms) {
    for (int i = 0; i < ms / 10; ++i) {
      if (says(text)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return says(text);
  };
  int status = 0;
  // Frames flowing (journaled; start-up is slow under sanitizers), then bars
  // and latency rows pile up for the absent server.
  for (int i = 0; i < 3000 && !journaled(journal); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (!journaled(journal)) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    FAIL() << "the run never journaled a frame within 30 s";
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_EQ(kill(pid, SIGINT), 0);
  // The run stops reading and starts delivering, saying so.
  if (!wait_for("signal again to stop now", 15'000)) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    FAIL() << "no word of the end-of-run delivery within 15 s of SIGINT";
  }
  // It waits for the server (5 s without progress) ...
  ASSERT_FALSE(exited_within(pid, 500, status)) << "the run ended before it had waited for the server";
  // ... until the second SIGINT.
  ASSERT_EQ(kill(pid, SIGINT), 0);
  const auto t0 = std::chrono::steady_clock::now();
  if (!exited_within(pid, 30'000, status)) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    FAIL() << "the run did not end within 30 s of the second SIGINT";
  }
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  EXPECT_LT(waited.count(), 2000) << "the second SIGINT did not cut the delivery short";
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  const auto j = nlohmann::json::parse(tickpath::test::read_file(report));
  EXPECT_EQ(j["stopped_by"], "SIGINT");
  EXPECT_EQ(j["delivery_cut_short"], true);
  EXPECT_GT(j["clickhouse"]["unsent"].get<std::uint64_t>(), 0U) << "rows the server never took are counted";
  EXPECT_TRUE(says("a second signal cut the end-of-run delivery"));
  std::filesystem::remove_all(journal);
}
