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
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <fmt/format.h>
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

// nats-server on 127.0.0.1:port, its log (and JetStream's store) in its own directory.
class NatsServer {
 public:
  explicit NatsServer(bool jetstream = false) : port_(free_port()), jetstream_(jetstream) {
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
      const std::string store = dir_ + "/js";
      if (jetstream_)
        ::execl(TICKPATH_NATS_SERVER, "nats-server", "-a", "127.0.0.1", "-p", port.c_str(), "-js", "-sd", store.c_str(),
                static_cast<char*>(nullptr));
      else
        ::execl(TICKPATH_NATS_SERVER, "nats-server", "-a", "127.0.0.1", "-p", port.c_str(), static_cast<char*>(nullptr));
      std::_Exit(127);
    }
    for (int i = 0; i < 500 && !accepts(port_); ++i) std::this_thread::sleep_for(10ms);
  }
  void stop(int sig = SIGTERM) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  [[nodiscard]] bool up() const { return accepts(port_); }
  [[nodiscard]] std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

 private:
  std::uint16_t port_;
  bool jetstream_;
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

namespace {

// Everything the JetStream stream `stream` kept, from its first message (an
// ordered consumer on `subject`), with each message's Nats-Msg-Id, and the
// count the server's stream information gives. The subscription takes any
// backlog (no pending limit: a slow reader, as under a sanitizer, would
// otherwise overflow the client's default 65,536 messages and wait for the
// ordered consumer's reset), and reading stops at the server's count or after
// 10 s without a message.
struct Stored {
  std::string subject, id, data;
};
struct StreamContents {
  std::uint64_t server_count = 0;
  std::vector<Stored> messages;
};
StreamContents read_stream(const std::string& url, const std::string& stream, const std::string& subject) {
  StreamContents out;
  natsConnection* conn = nullptr;
  jsCtx* js = nullptr;
  natsSubscription* sub = nullptr;
  jsStreamInfo* si = nullptr;
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Ordered = true;
  so.Config.DeliverPolicy = js_DeliverAll;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  if (natsConnection_ConnectTo(&conn, url.c_str()) == NATS_OK && natsConnection_JetStream(&js, conn, nullptr) == NATS_OK &&
      js_GetStreamInfo(&si, js, stream.c_str(), nullptr, &jerr) == NATS_OK &&
      js_SubscribeSync(&sub, js, subject.c_str(), nullptr, &so, &jerr) == NATS_OK &&
      natsSubscription_SetPendingLimits(sub, -1, -1) == NATS_OK) {
    out.server_count = si->State.Msgs;
    natsMsg* m = nullptr;
    while (out.messages.size() < out.server_count && natsSubscription_NextMsg(&m, sub, 10'000) == NATS_OK) {
      const char* id = nullptr;
      (void)natsMsgHeader_Get(m, "Nats-Msg-Id", &id);
      out.messages.push_back({natsMsg_GetSubject(m), id != nullptr ? id : "",
                              std::string(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m)))});
      natsMsg_Destroy(m);
    }
  }
  jsStreamInfo_Destroy(si);
  natsSubscription_Destroy(sub);
  jsCtx_Destroy(js);
  natsConnection_Destroy(conn);
  return out;
}

}  // namespace

// JetStream: the server is killed (SIGKILL) once the engine publishes and
// restarted a second later on the same store. The run completes; what the
// server could not take waited on disk (a small in-flight bound forces it)
// and was sent on recovery; publishes that got no answer were sent again
// with the same id. Read back from the stream afterwards (as a consumer that
// was away would), every signal, bar and position change of the report is
// there exactly once and no message id is stored twice.
TEST(Nats_JetStream, AServerKilledMidRunTheStreamHoldsEveryMessageOnce) {
  NatsServer server(true);
  ASSERT_TRUE(server.up());
  auto cfg = paced_run({"BTCUSDT", "ETHUSDT"}, 400'000, server.url());
  cfg.nats.stream = "TICKPATH";
  cfg.nats.trades = true;
  cfg.nats.max_in_flight = 2048;
  engine::RunReport rep;
  std::string error;
  Subscriber first(server.url(), "tickpath.>");
  ASSERT_TRUE(first.ok());
  std::thread run([&] { rep = engine::run_pipeline(cfg, error); });
  EXPECT_TRUE(first.collect_one(20s));
  std::this_thread::sleep_for(300ms);
  server.stop(SIGKILL);
  std::this_thread::sleep_for(1s);
  server.start();
  ASSERT_TRUE(server.up());
  run.join();
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_EQ(rep.processed, 400'000U);
  EXPECT_GE(rep.nats_disconnects, 1U);
  EXPECT_EQ(rep.nats_unsent, 0U) << "everything reached the stream by the end";
  EXPECT_GT(rep.nats_spilled, 0U) << "the outage outlasted the in-flight bound: messages waited on disk";
  // The io thread spills the outage in blocks (SpillFile), so it keeps up
  // with the tape even under ThreadSanitizer, beside another test's threads.
  EXPECT_EQ(rep.ui_tape_drops, 0U);

  std::printf("published %llu, refused %llu, spilled %llu, acked %llu (duplicates %llu), not acknowledged %llu\n",
              static_cast<unsigned long long>(rep.nats_published), static_cast<unsigned long long>(rep.nats_failed),
              static_cast<unsigned long long>(rep.nats_spilled), static_cast<unsigned long long>(rep.nats_acked),
              static_cast<unsigned long long>(rep.nats_duplicates), static_cast<unsigned long long>(rep.nats_ack_errors));
  const auto contents = read_stream(server.url(), "TICKPATH", "tickpath.>");
  const auto& stored = contents.messages;
  // Each message acknowledged once; a retry of one the server had stored
  // before its answer was lost is acknowledged as a duplicate, not stored.
  EXPECT_EQ(contents.server_count, rep.nats_acked) << "the server's own count";
  EXPECT_EQ(stored.size(), contents.server_count) << "the consumer read the whole stream";
  EXPECT_EQ(stored.size(), rep.nats_acked);
  EXPECT_EQ(stored.size(), rep.nats_published) << "each message the engine made is in the stream once";
  std::map<std::string, std::uint64_t> ids, by_subject;
  for (const auto& m : stored) {
    ++by_subject[m.subject];
    EXPECT_FALSE(m.id.empty()) << m.subject;
    EXPECT_EQ(++ids[m.id], 1U) << m.id << " stored twice";
  }
  for (const auto& s : rep.symbols) {
    SCOPED_TRACE(s.name);
    EXPECT_EQ(by_subject["tickpath.signal." + s.name], s.signals);
    EXPECT_EQ(by_subject["tickpath.bar." + s.name], s.bars);
    EXPECT_GT(by_subject["tickpath.trade." + s.name], 1000U);
    EXPECT_GT(by_subject["tickpath.portfolio." + s.name], 0U);
  }
  EXPECT_GE(by_subject["tickpath.stats.all"], 2U);
  // A second consumer, later still, replays the same stream through the command line.
  const auto tail = test::run_command(std::string(TICKPATH_BIN) + " tail " + server.url() +
                                      " 'tickpath.signal.>' --replay --idle 1 2>/dev/null | wc -l");
  EXPECT_EQ(std::stoull(tail.out), rep.signals);
}

TEST(Nats_JetStream, AServerWithoutJetStreamIsASetUpError) {
  NatsServer server;  // no -js
  ASSERT_TRUE(server.up());
  auto cfg = paced_run({"BTCUSDT"}, 1'000, server.url());
  cfg.nats.stream = "TICKPATH";
  std::string error;
  (void)engine::run_pipeline(cfg, error);
  EXPECT_NE(error.find("has no JetStream"), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos);
  cfg.nats.stream = "a.b";
  (void)engine::run_pipeline(cfg, error);
  EXPECT_NE(error.find("--nats-stream"), std::string::npos) << error;
}

// The binary records (README: NATS binary records), read at their documented
// offsets, carry the signals the engine wrote to its CSV export, field for field.
TEST(Nats_Sink, BinaryRecordsCarryTheSignalsTheEngineExported) {
  NatsServer server;
  ASSERT_TRUE(server.up());
  natsConnection* conn = nullptr;
  natsSubscription* sub = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&conn, server.url().c_str()), NATS_OK);
  ASSERT_EQ(natsConnection_SubscribeSync(&sub, conn, "tickpath.*.*"), NATS_OK);
  natsSubscription_SetPendingLimits(sub, -1, -1);
  natsConnection_Flush(conn);
  auto cfg = paced_run({"BTCUSDT", "ETHUSDT"}, 150'000, server.url());
  cfg.nats.binary = true;
  cfg.export_dir = ::testing::TempDir() + "nats_binary_export";
  std::string error;
  const auto rep = engine::run_pipeline(cfg, error);
  ASSERT_TRUE(error.empty()) << error;
  std::map<std::string, std::vector<std::string>> got;  // symbol -> "t,action,position,price,equity"
  std::uint64_t bars = 0;
  natsMsg* m = nullptr;
  while (natsSubscription_NextMsg(&m, sub, 1000) == NATS_OK) {
    const std::string subject = natsMsg_GetSubject(m);
    const char* d = natsMsg_GetData(m);
    const int n = natsMsg_GetDataLength(m);
    const std::string symbol = subject.substr(subject.rfind('.') + 1);
    if (subject.rfind("tickpath.signal.", 0) == 0) {
      EXPECT_EQ(n, 48);
      EXPECT_EQ(d[0], 1);  // version
      EXPECT_EQ(d[1], 1);  // signal
      std::int64_t t = 0;
      double price = 0, equity = 0;
      std::memcpy(&t, d + 8, 8);
      std::memcpy(&price, d + 24, 8);
      std::memcpy(&equity, d + 32, 8);
      const char* action[] = {"HOLD", "BUY", "SELL"};
      got[symbol].push_back(fmt::format("{},{},{},{},{}", t, action[static_cast<int>(d[6]) % 3], static_cast<int>(d[40]),
                                        price, equity));
    } else if (subject.rfind("tickpath.bar.", 0) == 0) {
      EXPECT_EQ(n, 80);
      double o = 0, h = 0, l = 0, c = 0;
      std::memcpy(&o, d + 16, 8);
      std::memcpy(&h, d + 24, 8);
      std::memcpy(&l, d + 32, 8);
      std::memcpy(&c, d + 40, 8);
      EXPECT_LE(l, std::min(o, c));
      EXPECT_GE(h, std::max(o, c));
      ++bars;
    }
    natsMsg_Destroy(m);
  }
  natsSubscription_Destroy(sub);
  natsConnection_Destroy(conn);
  // signals.csv: symbol,time,action,reason,confidence,value,price,position,equity,shard
  std::map<std::string, std::vector<std::string>> want;
  std::ifstream in(cfg.export_dir + "/signals.csv");
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    for (std::size_t a = 0, b; a <= line.size(); a = b + 1) {
      b = line.find(',', a);
      if (b == std::string::npos) b = line.size();
      f.push_back(line.substr(a, b - a));
    }
    ASSERT_GE(f.size(), 9U);
    want[f[0]].push_back(fmt::format("{},{},{},{},{}", f[1], f[2], f[7], std::stod(f[6]), std::stod(f[8])));
  }
  EXPECT_EQ(got, want);
  std::uint64_t signals = 0, report_bars = 0;
  for (const auto& s : rep.symbols) signals += s.signals, report_bars += s.bars;
  EXPECT_GT(signals, 20U);
  EXPECT_EQ(bars, report_bars);
  std::filesystem::remove_all(cfg.export_dir);
}
