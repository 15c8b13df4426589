// NATS fan-out against a real nats-server on loopback (Debian's nats-server,
// installed by the test command; started per test on a free port and
// stopped by PID): every signal, closed bar and position change arrives on
// its subject and matches the engine's report; N sharded engine processes
// cover a symbol list exactly once; a server killed and restarted mid-run
// neither stops the run nor loses a message to a full buffer, and the
// outage is counted.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "nats_sink.hpp"
#include "support/loopback.hpp"
#include "support/run_command.hpp"
#include "tickpath/engine/pipeline.hpp"
#include "tickpath/strategy/policy_model.hpp"

using namespace tickpath;
using namespace std::chrono_literals;

namespace {

using test::accepts;
using test::free_port;

// nats-server on 127.0.0.1:port, its log in its own directory.
class NatsServer {
 public:
  NatsServer() : port_(free_port()) {
    char tmpl[] = "/tmp/tickpath-nats-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    start();
  }
  ~NatsServer() {
    stop();
    std::filesystem::remove_all(dir_);
  }
  void start() {
    pid_ = ::fork();
    if (pid_ == 0) {
      const std::string log = dir_ + "/server.log", port = std::to_string(port_);
      (void)!std::freopen(log.c_str(), "a", stdout);
      (void)!std::freopen(log.c_str(), "a", stderr);
      ::execl(TICKPATH_NATS_SERVER, "nats-server", "-a", "127.0.0.1", "-p", port.c_str(), static_cast<char*>(nullptr));
      std::_Exit(127);
    }
    for (int i = 0; i < 500 && !accepts(port_); ++i) std::this_thread::sleep_for(10ms);
  }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  [[nodiscard]] bool up() const { return accepts(port_); }
  [[nodiscard]] std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

 private:
  std::uint16_t port_;
  std::string dir_;
  pid_t pid_ = -1;
};

struct Msg {
  std::string subject;
  nlohmann::json body;
};

// A subscriber on `subject`; collect() takes what arrived until `quiet` passes without a message.
class Subscriber {
 public:
  Subscriber(const std::string& url, const std::string& subject) {
    natsOptions* o = nullptr;
    natsOptions_Create(&o);
    natsOptions_SetURL(o, url.c_str());
    natsOptions_SetMaxReconnect(o, -1);
    natsOptions_SetReconnectWait(o, 100);
    ok_ = natsConnection_Connect(&conn_, o) == NATS_OK && natsConnection_SubscribeSync(&sub_, conn_, subject.c_str()) == NATS_OK &&
          natsSubscription_SetPendingLimits(sub_, -1, -1) == NATS_OK && natsConnection_Flush(conn_) == NATS_OK;
    natsOptions_Destroy(o);
  }
  ~Subscriber() {
    natsSubscription_Destroy(sub_);
    natsConnection_Destroy(conn_);
  }
  [[nodiscard]] bool ok() const { return ok_; }
  bool collect_one(std::chrono::milliseconds wait) {
    natsMsg* m = nullptr;
    if (natsSubscription_NextMsg(&m, sub_, wait.count()) != NATS_OK) return false;
    natsMsg_Destroy(m);
    return true;
  }
  std::vector<Msg> collect(std::chrono::milliseconds quiet = 1000ms) {
    std::vector<Msg> out;
    for (;;) {
      natsMsg* m = nullptr;
      if (natsSubscription_NextMsg(&m, sub_, quiet.count()) != NATS_OK) break;
      out.push_back({natsMsg_GetSubject(m), nlohmann::json::parse(std::string(natsMsg_GetData(m), natsMsg_GetDataLength(m)))});
      natsMsg_Destroy(m);
    }
    return out;
  }

 private:
  natsConnection* conn_ = nullptr;
  natsSubscription* sub_ = nullptr;
  bool ok_ = false;
};

std::string model_file() {
  static const std::string path = [] {
    const std::string p = ::testing::TempDir() + "nats_policy.tpp";
    std::string err;
    strategy::save_policy_model(p, strategy::PolicyModel::init_orthogonal(1), err);
    return p;
  }();
  return path;
}

engine::PipelineConfig paced_run(const std::vector<std::string>& symbols, std::uint64_t frames, const std::string& url) {
  engine::PipelineConfig cfg;
  cfg.feed = engine::PipelineConfig::Feed::synthetic;
  cfg.symbols = symbols;
  cfg.messages = frames;
  cfg.pace_fps = 100'000;
  cfg.synthetic.rate_per_s = 20;  // a bar per 1,200 frames of two symbols: signals on bar closes after warm-up
  cfg.model_path = model_file();
  cfg.policy_on = engine::PipelineConfig::PolicyOn::bar;
  cfg.progress = false;
  cfg.nats.url = url;
  return cfg;
}

}  // namespace

TEST(Nats_Shard, EverySymbolFallsToExactlyOneShardAndSpecsAreChecked) {
  std::uint32_t i = 0, n = 0;
  std::string err;
  EXPECT_TRUE(engine::parse_shard("1/3", i, n, err));
  EXPECT_EQ(i, 1U);
  EXPECT_EQ(n, 3U);
  for (const char* bad : {"3/3", "1/0", "a/2", "1/", "/2", "1", "1/2x", "-1/2"}) {
    EXPECT_FALSE(engine::parse_shard(bad, i, n, err)) << bad;
    EXPECT_NE(err.find("--shard takes I/N"), std::string::npos) << err;
  }
  // Case does not matter; the value is FNV-1a of the upper-case name.
  EXPECT_EQ(engine::shard_of("btcusdt", 7), engine::shard_of("BTCUSDT", 7));
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : std::string("ETHUSDT")) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  EXPECT_EQ(engine::shard_of("ETHUSDT", 5), h % 5);
}

TEST(Nats_Sink, EverySignalBarAndPositionChangeArrivesOnItsSubjectAndMatchesTheReport) {
  NatsServer server;
  ASSERT_TRUE(server.up());
  Subscriber sub(server.url(), "tickpath.>");
  ASSERT_TRUE(sub.ok());
  const std::vector<std::string> symbols = {"BTCUSDT", "ETHUSDT", "SOLUSDT"};
  std::string error;
  const auto rep = engine::run_pipeline(paced_run(symbols, 200'000, server.url()), error);
  ASSERT_TRUE(error.empty()) << error;
  const auto msgs = sub.collect();

  std::map<std::string, std::vector<nlohmann::json>> by_subject;
  for (const auto& m : msgs) by_subject[m.subject].push_back(m.body);
  EXPECT_EQ(rep.nats_published, msgs.size());
  EXPECT_EQ(rep.nats_failed, 0U);
  EXPECT_EQ(rep.nats_disconnects, 0U);
  ASSERT_EQ(rep.symbols.size(), symbols.size());
  for (const auto& s : rep.symbols) {
    SCOPED_TRACE(s.name);
    const auto& sig = by_subject["tickpath.signal." + s.name];
    const auto& bars = by_subject["tickpath.bar." + s.name];
    const auto& pf = by_subject["tickpath.portfolio." + s.name];
    EXPECT_EQ(sig.size(), s.signals);
    EXPECT_EQ(bars.size(), s.bars);
    EXPECT_GT(sig.size(), 10U);
    for (std::size_t k = 1; k < bars.size(); ++k) EXPECT_EQ(bars[k]["t"].get<std::int64_t>() - bars[k - 1]["t"].get<std::int64_t>(), 60'000);
    for (const auto& b : bars) {
      EXPECT_LE(b["l"].get<double>(), std::min(b["o"].get<double>(), b["c"].get<double>()));
      EXPECT_GE(b["h"].get<double>(), std::max(b["o"].get<double>(), b["c"].get<double>()));
    }
    // Long/flat: the position after each signal follows from its action
    // (BUY long, SELL flat, HOLD keeps); the portfolio subject carries
    // exactly the changes of that sequence.
    int pos = 0;
    std::vector<int> changes;
    for (const auto& g : sig) {
      EXPECT_EQ(g["symbol"], s.name);
      EXPECT_EQ(g["shard"], "all");
      const std::string a = g["action"];
      const int next = a == "BUY" ? 1 : a == "SELL" ? 0 : pos;
      if (changes.empty() || next != pos) changes.push_back(next);
      pos = next;
    }
    ASSERT_EQ(pf.size(), changes.size());
    for (std::size_t k = 0; k < pf.size(); ++k) {
      EXPECT_EQ(pf[k]["position"].get<int>(), changes[k]) << k;
      EXPECT_GT(pf[k]["equity"].get<double>(), 0.0);
    }
  }
  // Stats every second and once at the end, with the final counters.
  const auto& stats = by_subject["tickpath.stats.all"];
  ASSERT_GE(stats.size(), 2U);
  EXPECT_EQ(stats.back()["counters"]["processed_total"].get<std::uint64_t>(), rep.processed);
  EXPECT_EQ(stats.back()["shard"], "all");
  std::size_t known = 0;
  for (const auto& [subject, v] : by_subject) known += v.size();
  EXPECT_EQ(known, msgs.size());
}

TEST(Nats_Shard, TwoEngineProcessesCoverEverySymbolExactlyOnce) {
  NatsServer server;
  ASSERT_TRUE(server.up());
  Subscriber sub(server.url(), "tickpath.signal.*");
  ASSERT_TRUE(sub.ok());
  const std::string list = "BTCUSDT,ETHUSDT,SOLUSDT,BNBUSDT,XRPUSDT,ADAUSDT,DOGEUSDT,LTCUSDT";
  const std::string dir = ::testing::TempDir();
  std::string cmd;
  for (int i = 0; i < 2; ++i)
    cmd += std::string(TICKPATH_BIN) + " run --feed synthetic --symbols " + list + " --shard " + std::to_string(i) +
           "/2 --messages 150000 --pace 100000 --rate 20 --model " + model_file() + " --policy-on bar --nats " + server.url() +
           " --quiet --no-mlock --report " + dir + "shard" + std::to_string(i) + ".json > /dev/null 2>&1 & ";
  const auto r = test::run_command(cmd + "wait");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto msgs = sub.collect();
  std::map<std::string, std::map<std::string, std::uint64_t>> by_symbol_shard;
  for (const auto& m : msgs) ++by_symbol_shard[m.body["symbol"]][m.body["shard"]];
  std::map<std::string, std::uint64_t> reported;
  for (int i = 0; i < 2; ++i) {
    const auto rep = nlohmann::json::parse(test::run_command("cat " + dir + "shard" + std::to_string(i) + ".json").out);
    for (const auto& [symbol, s] : rep["symbols"].items()) {
      EXPECT_EQ(reported.count(symbol), 0U) << symbol << " ran in both shards";
      reported[symbol] = s.value("signals", std::uint64_t{0});
      EXPECT_EQ(engine::shard_of(symbol, 2), static_cast<std::uint32_t>(i)) << symbol;
    }
  }
  EXPECT_EQ(reported.size(), 8U);  // every symbol of the list ran, in one engine
  for (const auto& [symbol, shards] : by_symbol_shard) {
    ASSERT_EQ(shards.size(), 1U) << symbol << " signalled from two shards";
    const auto& [shard, n] = *shards.begin();
    EXPECT_EQ(shard, std::to_string(engine::shard_of(symbol, 2)) + "/2") << symbol;
    EXPECT_EQ(n, reported[symbol]) << symbol;
  }
  EXPECT_EQ(by_symbol_shard.size(), 8U);
}

TEST(Nats_Outage, AServerKilledAndRestartedMidRunIsCountedAndNothingIsRefused) {
  NatsServer server;
  ASSERT_TRUE(server.up());
  engine::RunReport rep;
  std::string error;
  Subscriber first(server.url(), "tickpath.>");
  ASSERT_TRUE(first.ok());
  std::thread run([&] { rep = engine::run_pipeline(paced_run({"BTCUSDT", "ETHUSDT"}, 400'000, server.url()), error); });
  // Once the engine is publishing (its set-up done), the server goes away for a second.
  const auto early = first.collect_one(20s);
  EXPECT_TRUE(early);
  server.stop();
  std::this_thread::sleep_for(1s);
  server.start();
  ASSERT_TRUE(server.up());
  // A subscriber from after the outage: the run's last stats reach it.
  Subscriber sub(server.url(), "tickpath.stats.>");
  ASSERT_TRUE(sub.ok());
  run.join();
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_EQ(rep.processed, 400'000U);
  EXPECT_EQ(rep.dropped, 0U);
  EXPECT_GE(rep.nats_disconnects, 1U);
  EXPECT_GE(rep.nats_reconnects, 1U);
  EXPECT_EQ(rep.nats_failed, 0U);  // the 8 MiB reconnect buffer held the outage's messages
  const auto msgs = sub.collect();
  ASSERT_FALSE(msgs.empty());
  EXPECT_EQ(msgs.back().body["counters"]["processed_total"].get<std::uint64_t>(), rep.processed);
}

TEST(Nats_Sink, NoServerAtStartTheRunGoesOnAndSaysSoABadUrlIsASetUpError) {
  const std::string url = "nats://127.0.0.1:" + std::to_string(free_port());
  std::string error;
  const auto rep = engine::run_pipeline(paced_run({"BTCUSDT"}, 50'000, url), error);
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_EQ(rep.processed, 50'000U);
  bool warned = false;
  for (const auto& w : rep.warnings) warned |= w.find("NATS " + url + " is not connected") != std::string::npos;
  EXPECT_TRUE(warned);
  const auto bad = engine::run_pipeline(paced_run({"BTCUSDT"}, 1'000, "http://127.0.0.1:4222"), error);
  EXPECT_NE(error.find("--nats takes nats://HOST:PORT"), std::string::npos) << error;
  auto cfg = paced_run({"BTCUSDT"}, 1'000, url);
  cfg.nats.prefix = "a.*.b";
  error.clear();
  (void)engine::run_pipeline(cfg, error);
  EXPECT_NE(error.find("--nats-prefix"), std::string::npos) << error;
}
