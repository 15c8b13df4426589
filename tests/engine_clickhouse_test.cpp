// ClickHouse storage against a real clickhouse-server on loopback (Debian's
// package, installed by the test command; each test starts its own server
// with its own data directory and free ports, and stops it by PID): every
// trade, bar and signal of a run lands in its table once and agrees with
// the report; a server killed mid-run and started again loses nothing (the
// sink retries its batches, the tables collapse a repeated one); no server
// at all: the run completes and says what was not stored.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <utility>  // (Boost 1.74's Asio uses std::exchange without including it)

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "nats_sink.hpp"
#include "support/loopback.hpp"
#include "support/run_command.hpp"
#include "tickpath/engine/pipeline.hpp"
#include "tickpath/strategy/policy_model.hpp"

using namespace tickpath;
using namespace std::chrono_literals;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

using test::accepts;
using test::free_port;

// POST a query to the HTTP interface; {status, body}, status 0 when nothing answered.
std::pair<int, std::string> query(std::uint16_t port, const std::string& sql) {
  try {
    boost::asio::io_context ioc;
    beast::tcp_stream s(ioc);
    s.expires_after(10s);
    s.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    http::request<http::string_body> req{http::verb::post, "/", 11};
    req.set(http::field::host, "127.0.0.1");
    req.body() = sql;
    req.prepare_payload();
    http::write(s, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(s, buf, res);
    return {res.result_int(), res.body()};
  } catch (const std::exception&) {
    return {0, {}};
  }
}

class ClickHouseServer {
 public:
  // `cluster`: the <remote_servers> section (a Distributed table's shards).
  explicit ClickHouseServer(std::uint16_t http = free_port(), std::uint16_t tcp = free_port(), const std::string& cluster = "")
      : http_(http), tcp_(tcp) {
    char tmpl[] = "/tmp/tickpath-ch-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    std::filesystem::copy_file("/etc/clickhouse-server/users.xml", dir_ + "/users.xml");
    std::ofstream(dir_ + "/config.xml") << "<?xml version=\"1.0\"?>\n<yandex>\n"
        << "  <logger><level>warning</level><log>" << dir_ << "/server.log</log><errorlog>" << dir_
        << "/server.err.log</errorlog><console>0</console></logger>\n"
        << "  <listen_host>127.0.0.1</listen_host>\n  <http_port>" << http_ << "</http_port>\n  <tcp_port>" << tcp_
        << "</tcp_port>\n  <path>" << dir_ << "/data/</path>\n  <tmp_path>" << dir_ << "/tmp/</tmp_path>\n"
        << "  <user_files_path>" << dir_ << "/user_files/</user_files_path>\n  <users_config>users.xml</users_config>\n"
        << "  <default_profile>default</default_profile>\n  <default_database>default</default_database>\n"
        << "  <mark_cache_size>5368709</mark_cache_size>\n" << cluster << "</yandex>\n";
    start();
  }
  ~ClickHouseServer() {
    stop(SIGTERM);
    std::filesystem::remove_all(dir_);
  }
  void start() {
    pid_ = ::fork();
    if (pid_ == 0) {
      const std::string out = dir_ + "/stdout.log", cfg = "--config-file=" + dir_ + "/config.xml";
      (void)!std::freopen(out.c_str(), "a", stdout);
      (void)!std::freopen(out.c_str(), "a", stderr);
      ::execl(TICKPATH_CLICKHOUSE_SERVER, "clickhouse-server", cfg.c_str(), static_cast<char*>(nullptr));
      std::_Exit(127);
    }
    for (int i = 0; i < 600 && !up(); ++i) std::this_thread::sleep_for(50ms);
  }
  void stop(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  [[nodiscard]] bool up() const { return query(http_, "SELECT 1").first == 200; }
  [[nodiscard]] std::uint16_t port() const { return http_; }
  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(http_); }
  // symbol -> count() of a table, with FINAL (a batch stored twice counts once).
  std::map<std::string, std::uint64_t> counts(const std::string& table) const {
    std::map<std::string, std::uint64_t> out;
    const auto [status, body] = query(http_, "SELECT symbol, count() FROM " + table + " FINAL GROUP BY symbol FORMAT TSV");
    if (status != 200) return out;  // (no such table yet: the error's text is not a count)
    std::istringstream in(body);
    std::string sym;
    std::uint64_t n = 0;
    while (in >> sym >> n) out[sym] = n;
    return out;
  }

 private:
  std::uint16_t http_, tcp_;
  std::string dir_;
  pid_t pid_ = -1;
};

std::string model_file() {
  static const std::string path = [] {
    const std::string p = ::testing::TempDir() + "ch_policy.tpp";
    std::string err;
    strategy::save_policy_model(p, strategy::PolicyModel::init_orthogonal(1), err);
    return p;
  }();
  return path;
}

engine::PipelineConfig paced_run(std::uint64_t frames, const std::string& url) {
  engine::PipelineConfig cfg;
  cfg.feed = engine::PipelineConfig::Feed::synthetic;
  cfg.symbols = {"BTCUSDT", "ETHUSDT"};
  cfg.messages = frames;
  cfg.pace_fps = 100'000;
  cfg.synthetic.rate_per_s = 20;
  cfg.model_path = model_file();
  cfg.policy_on = engine::PipelineConfig::PolicyOn::bar;
  cfg.progress = false;
  cfg.clickhouse.url = url;
  cfg.clickhouse.batch_ms = 300;
  return cfg;
}

// Every bar and signal the report counts is stored once; trades of a symbol
// whose bars come from raw trades equal the report's trade count.
void expect_stored(const ClickHouseServer& ch, const engine::RunReport& rep) {
  const auto bars = ch.counts("bars_1m"), signals = ch.counts("signals"), trades = ch.counts("trades");
  std::uint64_t all_bars = 0, all_signals = 0, all_trades = 0;
  for (const auto& s : rep.symbols) {
    SCOPED_TRACE(s.name);
    EXPECT_EQ(bars.count(s.name) ? bars.at(s.name) : 0, s.bars);
    EXPECT_EQ(signals.count(s.name) ? signals.at(s.name) : 0, s.signals);
    EXPECT_GT(s.signals, 10U);
    if (std::string(s.bar_source) == "trade") {
      EXPECT_EQ(trades.count(s.name) ? trades.at(s.name) : 0, s.trades);
    }
    all_bars += s.bars;
    all_signals += s.signals;
  }
  for (const auto& [sym, n] : trades) all_trades += n;
  EXPECT_GT(all_trades, 0U);
  // Stored once per key: what the sink counted as accepted is at least what is there.
  EXPECT_GE(rep.ch_bars, all_bars);
  EXPECT_GE(rep.ch_signals, all_signals);
  EXPECT_GE(rep.ch_trades, all_trades);
  EXPECT_EQ(rep.ch_dropped, 0U);
  EXPECT_EQ(rep.ch_unsent, 0U);
}

}  // namespace

TEST(ClickHouse_Sink, EveryTradeBarAndSignalIsStoredOnceAndMatchesTheReport) {
  ClickHouseServer ch;
  ASSERT_TRUE(ch.up());
  std::string error;
  const auto rep = engine::run_pipeline(paced_run(200'000, ch.url()), error);
  ASSERT_TRUE(error.empty()) << error;
  expect_stored(ch, rep);
  EXPECT_EQ(rep.ch_failures, 0U);
  EXPECT_EQ(rep.ch_bars, ch.counts("bars_1m")["BTCUSDT"] + ch.counts("bars_1m")["ETHUSDT"]);  // nothing sent twice
  // Bars: their OHLC hold together; trades: ids unique per symbol.
  EXPECT_EQ(query(ch.port(), "SELECT count() FROM bars_1m WHERE NOT (low <= least(open, close) AND high >= greatest(open, close))")
                .second, "0\n");
  EXPECT_EQ(query(ch.port(), "SELECT count() FROM (SELECT symbol, aggregate, count() AS n, uniqExact(id) AS u FROM trades "
                             "GROUP BY symbol, aggregate) WHERE n != u").second, "0\n");
  // Latency: a row per stage per second, percentiles ordered.
  const auto lat = query(ch.port(), "SELECT count(), countIf(p50_ns <= p99_ns AND p99_ns <= max_ns), uniqExact(stage) FROM "
                                    "latency WHERE count > 0 FORMAT TSV").second;
  std::istringstream in(lat);
  std::uint64_t rows = 0, ordered = 0, stages = 0;
  in >> rows >> ordered >> stages;
  EXPECT_GE(rows, 4U);
  EXPECT_EQ(ordered, rows);
  EXPECT_GE(stages, 4U);
}

TEST(ClickHouse_Outage, AServerKilledMidRunAndStartedAgainLosesNothing) {
  ClickHouseServer ch;
  ASSERT_TRUE(ch.up());
  engine::RunReport rep;
  std::string error;
  std::atomic<bool> finished{false};
  auto cfg = paced_run(1'000'000, ch.url());  // 10 s
  // A small memory bound, so the outage's rows (~2.5 MB/s) also wait on disk.
  cfg.clickhouse.max_buffer_bytes = 1U << 20;
  std::thread run([&] {
    rep = engine::run_pipeline(cfg, error);
    finished = true;
  });
  // Once rows are arriving, the server dies and comes back a second later.
  for (int i = 0; i < 400 && ch.counts("bars_1m").empty(); ++i) std::this_thread::sleep_for(25ms);
  EXPECT_FALSE(ch.counts("bars_1m").empty());
  ch.stop(SIGKILL);
  const bool mid_run = !finished.load();
  std::this_thread::sleep_for(1s);
  ch.start();
  ASSERT_TRUE(ch.up());
  std::uint64_t at_restart = 0;  // what survived the kill (stored before it)
  for (const auto& [sym, n] : ch.counts("bars_1m")) at_restart += n;
  run.join();
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_EQ(rep.processed, 1'000'000U);
  EXPECT_EQ(rep.dropped, 0U);
  expect_stored(ch, rep);
  // (A host too loaded to run the engine through the outage proves less:
  // the rows are still checked above, the outage itself only when it hit.)
  EXPECT_TRUE(mid_run) << "the run ended before the server was killed";
  if (mid_run) {
    EXPECT_GE(rep.ch_failures, 1U);  // the attempts during the outage, retried
    EXPECT_GT(rep.ch_spilled, 0U);   // past the memory bound, on disk
    EXPECT_EQ(rep.ch_dropped, 0U);
    EXPECT_EQ(rep.ch_unsent, 0U);
    std::uint64_t final_rows = 0;
    for (const auto& [sym, n] : ch.counts("bars_1m")) final_rows += n;
    EXPECT_GT(final_rows, at_restart);  // rows kept through the outage arrived after it
  }
}

TEST(ClickHouse_Sink, NoServerTheRunCompletesAndSaysWhatWasNotStoredABadUrlIsASetUpError) {
  const std::string url = "http://127.0.0.1:" + std::to_string(free_port());
  std::string error;
  auto cfg = paced_run(20'000, url);
  const auto rep = engine::run_pipeline(cfg, error);
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_EQ(rep.processed, 20'000U);
  EXPECT_GT(rep.ch_unsent, 0U);
  EXPECT_GE(rep.ch_failures, 1U);
  bool warned = false;
  for (const auto& w : rep.warnings) warned |= w.find("rows not stored") != std::string::npos;
  EXPECT_TRUE(warned);
  cfg.clickhouse.url = "https://127.0.0.1:8443";
  (void)engine::run_pipeline(cfg, error);
  EXPECT_NE(error.find("--clickhouse takes http://HOST:PORT"), std::string::npos) << error;
}

// The sharded layout: two engine processes (--shard 0/2 and 1/2), each
// storing into its own server; a Distributed table over both servers sees
// every symbol once, with the counts each engine's report gives.
TEST(ClickHouse_Distributed, TwoShardsTwoServersOneTableOverBoth) {
  const std::uint16_t http[2] = {free_port(), free_port()}, tcp[2] = {free_port(), free_port()};
  std::string cluster = "  <remote_servers><tickpath>";
  for (const auto port : tcp)
    cluster += "<shard><replica><host>127.0.0.1</host><port>" + std::to_string(port) + "</port></replica></shard>";
  cluster += "</tickpath></remote_servers>\n";
  ClickHouseServer a(http[0], tcp[0], cluster), b(http[1], tcp[1], cluster);
  ASSERT_TRUE(a.up());
  ASSERT_TRUE(b.up());
  const std::string list = "BTCUSDT,ETHUSDT,SOLUSDT,BNBUSDT,XRPUSDT,ADAUSDT";
  const std::string dir = ::testing::TempDir();
  std::string cmd;
  for (int i = 0; i < 2; ++i)
    cmd += std::string(TICKPATH_BIN) + " run --feed synthetic --symbols " + list + " --shard " + std::to_string(i) +
           "/2 --messages 150000 --pace 100000 --rate 20 --model " + model_file() + " --policy-on bar --clickhouse " +
           (i ? b : a).url() + " --quiet --no-mlock --report " + dir + "chshard" + std::to_string(i) + ".json > /dev/null 2>&1 & ";
  ASSERT_EQ(test::run_command(cmd + "wait").status, 0);
  ASSERT_EQ(query(a.port(), "CREATE TABLE signals_all AS signals ENGINE = Distributed(tickpath, default, signals)").first, 200);
  ASSERT_EQ(query(a.port(), "CREATE TABLE bars_all AS bars_1m ENGINE = Distributed(tickpath, default, bars_1m)").first, 200);
  const auto signals = a.counts("signals_all"), bars = a.counts("bars_all");
  std::size_t symbols = 0;
  for (int i = 0; i < 2; ++i) {
    const auto rep = nlohmann::json::parse(test::run_command("cat " + dir + "chshard" + std::to_string(i) + ".json").out);
    const auto local = (i ? b : a).counts("signals");
    for (const auto& [symbol, s] : rep["symbols"].items()) {
      ++symbols;
      EXPECT_EQ(engine::shard_of(symbol, 2), static_cast<std::uint32_t>(i)) << symbol;
      EXPECT_EQ(local.count(symbol) ? local.at(symbol) : 0, s.value("signals", std::uint64_t{0})) << symbol;
      EXPECT_EQ(signals.count(symbol) ? signals.at(symbol) : 0, s.value("signals", std::uint64_t{0})) << symbol;
      EXPECT_EQ(bars.count(symbol) ? bars.at(symbol) : 0, s["bars"].get<std::uint64_t>()) << symbol;
    }
  }
  EXPECT_EQ(symbols, 6U);
  EXPECT_EQ(signals.size(), 6U);
}
