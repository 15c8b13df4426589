// The read-only HTTP endpoint: its documented shapes, checked against the
// run's own report (an independent path to the same counters), Prometheus
// histogram invariants, and that clients that misbehave cost only their own
// sockets.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "support/loopback.hpp"
#include "tickpath/engine/pipeline.hpp"
#include "tickpath/strategy/policy_model.hpp"
#include "ui_feed.hpp"
#include "ui_server.hpp"

namespace {

using namespace tickpath;
using namespace std::chrono_literals;

int connect_to(std::uint16_t port) {
  const int fd = test::connect_loopback(port);
  if (fd < 0) return -1;
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
};

// One request on a fresh connection (Connection: close), read to EOF.
Reply request(std::uint16_t port, const std::string& method, const std::string& path) {
  Reply r;
  const int fd = connect_to(port);
  if (fd < 0) return r;
  const std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  (void)::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string raw;
  char buf[8192];
  for (long n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) raw.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  const auto end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos) return r;
  r.status = std::stoi(raw.substr(9, 3));
  std::istringstream hs(raw.substr(0, end));
  std::string line;
  std::getline(hs, line);
  while (std::getline(hs, line)) {
    const auto c = line.find(':');
    if (c == std::string::npos) continue;
    std::string v = line.substr(c + 1);
    while (!v.empty() && (v.front() == ' ')) v.erase(0, 1);
    while (!v.empty() && (v.back() == '\r')) v.pop_back();
    r.headers[line.substr(0, c)] = v;
  }
  r.body = raw.substr(end + 4);
  return r;
}

// A pipeline on its own thread with the endpoint on a free port.
struct UiRun {
  engine::RunReport rep;
  std::string error;
  std::atomic<std::uint16_t> port{0};
  std::thread th;
  // False when the endpoint did not come up (the run is then over, `error` says why).
  bool start(engine::PipelineConfig& cfg) {
    cfg.ui_listen = "127.0.0.1:0";
    cfg.ui_ready = [this](std::uint16_t p) { port = p; };
    th = std::thread([this, &cfg] { rep = engine::run_pipeline(cfg, error); });
    for (int i = 0; i < 6000 && port == 0; ++i) std::this_thread::sleep_for(10ms);  // set-up renders the market first
    if (port == 0) th.join();
    return port != 0;
  }
};

TEST(Ui_ListenAddress, PortAloneMeansLoopbackAndBadSpecsAreOneLine) {
  std::string addr, err;
  std::uint16_t port = 1;
  ASSERT_TRUE(engine::parse_listen_address("8080", addr, port, err));
  EXPECT_EQ(addr, "127.0.0.1");
  EXPECT_EQ(port, 8080);
  ASSERT_TRUE(engine::parse_listen_address("0.0.0.0:0", addr, port, err));
  EXPECT_EQ(addr, "0.0.0.0");
  EXPECT_EQ(port, 0);
  ASSERT_TRUE(engine::parse_listen_address("[::1]:9000", addr, port, err));
  EXPECT_EQ(addr, "::1");
  for (const char* bad : {"", "x", "127.0.0.1:", "127.0.0.1:70000", "8080x", "-1"}) {
    EXPECT_FALSE(engine::parse_listen_address(bad, addr, port, err)) << bad;
    EXPECT_EQ(err.find('\n'), std::string::npos);
  }
}

TEST(Ui_Server, AnAddressInUseIsASetUpError) {
  engine::UiServer a, b;
  std::string err;
  ASSERT_TRUE(a.start("127.0.0.1", 0, {}, err)) << err;
  EXPECT_FALSE(b.start("127.0.0.1", a.port(), {}, err));
  EXPECT_NE(err.find("cannot listen"), std::string::npos) << err;
}

// A running pipeline serves its counters and histograms while it runs; the
// figures agree with the final report (they only grow), the histogram
// buckets add up, and bad requests get clear answers.
TEST(Ui_Pipeline, ApiAndMetricsServeTheRunningEnginesFigures) {
  char tmpl[] = "/tmp/tickpath-ui-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string model = std::string(tmpl) + "/policy.tpp";
  {
    std::string err;
    ASSERT_TRUE(strategy::save_policy_model(model, strategy::PolicyModel::init_orthogonal(1), err)) << err;
  }
  engine::PipelineConfig cfg;
  cfg.feed = engine::PipelineConfig::Feed::synthetic;
  cfg.symbols = {"BTCUSDT", "ETHUSDT"};
  cfg.messages = 200'000;
  cfg.pace_fps = 50'000;  // about 4 s
  cfg.synthetic.rate_per_s = 20;  // some 80 bars per symbol of market time: signals on bar closes after warm-up
  cfg.model_path = model;
  cfg.policy_on = engine::PipelineConfig::PolicyOn::bar;
  cfg.progress = false;
  UiRun run;
  if (!run.start(cfg)) FAIL() << "the endpoint did not come up: " << run.error;
  const std::uint16_t port = run.port;

  // A client that connects and never sends, and one that sends half a request:
  // neither holds up the others.
  const int idle = connect_to(port);
  const int half = connect_to(port);
  ASSERT_GE(idle, 0);
  ASSERT_GE(half, 0);
  (void)::send(half, "GET /api/st", 11, MSG_NOSIGNAL);

  Reply health;
  for (int i = 0; i < 300; ++i) {  // until the feed has started
    health = request(port, "GET", "/api/health");
    if (health.status == 200 && nlohmann::json::parse(health.body)["uptime_s"].get<double>() > 0) break;
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(health.status, 200);
  EXPECT_EQ(health.headers["Content-Type"], "application/json");
  const auto h = nlohmann::json::parse(health.body);
  EXPECT_EQ(h["status"], "ok");
  EXPECT_EQ(h["feed"], "synthetic");

  std::this_thread::sleep_for(500ms);
  const Reply stats = request(port, "GET", "/api/stats?pretty=0");  // a query string is ignored
  ASSERT_EQ(stats.status, 200);
  const auto s = nlohmann::json::parse(stats.body);
  const auto frames_mid = s["counters"]["frames_total"].get<std::uint64_t>();
  EXPECT_GT(frames_mid, 0U);
  EXPECT_TRUE(s["counters"]["rejects_total"].is_object());
  EXPECT_EQ(s["counters"]["rejects_total"]["malformed_json"], 0);
  ASSERT_TRUE(s["stages"].is_array());
  std::map<std::string, nlohmann::json> stage;
  for (const auto& st : s["stages"]) stage[st["stage"].get<std::string>()] = st;
  for (const char* name : {"parse", "queue", "indicators", "end_to_end"}) {
    ASSERT_TRUE(stage.count(name)) << name;
    const auto& st = stage[name];
    std::uint64_t sum = 0, prev_bound = 0;
    bool first = true;
    for (const auto& b : st["buckets"]) {
      const auto bound = b[0].get<std::uint64_t>();
      EXPECT_TRUE(first || bound > prev_bound) << name;  // ascending power-of-two bounds
      EXPECT_EQ(bound & (bound + 1), 0U) << name << ": bound " << bound << " is not 2^k - 1";
      first = false;
      prev_bound = bound;
      sum += b[1].get<std::uint64_t>();
    }
    EXPECT_EQ(sum + st["overflow"].get<std::uint64_t>(), st["count"].get<std::uint64_t>()) << name;
    EXPECT_LE(st["p50_ns"].get<double>(), st["p99_ns"].get<double>()) << name;
    EXPECT_LE(st["p99_ns"].get<double>(), st["max_ns"].get<double>()) << name;
  }

  Reply metrics = request(port, "GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.headers["Content-Type"], "text/plain; version=0.0.4");
  // Every sample line: name{labels} value; every histogram's buckets are
  // cumulative and end in +Inf == _count.
  std::istringstream ms(metrics.body);
  std::string line;
  std::map<std::string, std::uint64_t> last_bucket, inf_bucket, count;
  std::uint64_t frames_metric = 0;
  std::size_t samples = 0;
  while (std::getline(ms, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto sp = line.rfind(' ');
    ASSERT_NE(sp, std::string::npos) << line;
    const std::string name = line.substr(0, sp);
    const std::string value = line.substr(sp + 1);
    ASSERT_EQ(name.rfind("tickpath_", 0), 0U) << line;
    std::size_t used = 0;
    const double v = std::stod(value, &used);
    ASSERT_EQ(used, value.size()) << line;
    ++samples;
    if (name == "tickpath_frames_total") frames_metric = static_cast<std::uint64_t>(v);
    const auto st = name.find("stage=\"");
    if (st == std::string::npos) continue;
    const std::string stage_name = name.substr(st + 7, name.find('"', st + 7) - st - 7);
    if (name.rfind("tickpath_stage_latency_seconds_bucket", 0) == 0) {
      const auto n = static_cast<std::uint64_t>(v);
      EXPECT_GE(n, last_bucket[stage_name]) << line;
      last_bucket[stage_name] = n;
      if (name.find("le=\"+Inf\"") != std::string::npos) inf_bucket[stage_name] = n;
    } else if (name.rfind("tickpath_stage_latency_seconds_count", 0) == 0) {
      count[stage_name] = static_cast<std::uint64_t>(v);
    }
  }
  EXPECT_GT(samples, 50U);
  EXPECT_GE(frames_metric, frames_mid);
  ASSERT_EQ(count.size(), 8U);
  for (const auto& [name, n] : count) EXPECT_EQ(inf_bucket[name], n) << name;

  // The top of book per symbol, and the latest signals (once some are made).
  const Reply book = request(port, "GET", "/api/book");
  ASSERT_EQ(book.status, 200);
  const auto bk = nlohmann::json::parse(book.body);
  ASSERT_EQ(bk["symbols"].size(), 2U);
  EXPECT_EQ(bk["symbols"][0]["symbol"], "BTCUSDT");
  EXPECT_EQ(bk["symbols"][1]["symbol"], "ETHUSDT");
  for (const auto& b : bk["symbols"]) {
    ASSERT_TRUE(b["bid"].is_number() && b["ask"].is_number()) << b;
    EXPECT_GT(b["bid"].get<double>(), 0.0);
    EXPECT_DOUBLE_EQ(b["mid"].get<double>(), (b["bid"].get<double>() + b["ask"].get<double>()) / 2);
    EXPECT_GT(b["t"].get<std::int64_t>(), 0);
    EXPECT_GT(b["last"].get<double>(), 0.0);
  }
  nlohmann::json sg;
  for (int i = 0; i < 400; ++i) {
    const Reply r = request(port, "GET", "/api/signals");
    if (r.status != 200) break;  // (the run ended: the check below says so)
    sg = nlohmann::json::parse(r.body);
    if (sg["signals"].size() >= 3) break;
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_GE(sg["signals"].size(), 3U) << sg;
  EXPECT_LE(sg["signals"].size(), 100U);
  std::map<std::string, std::int64_t> last_t;
  for (const auto& g : sg["signals"]) {
    const std::string sym = g["symbol"];
    EXPECT_TRUE(sym == "BTCUSDT" || sym == "ETHUSDT") << g;
    const std::string action = g["action"];
    EXPECT_TRUE(action == "BUY" || action == "SELL" || action == "HOLD") << g;
    EXPECT_GE(g["confidence"].get<double>(), 0.0);
    EXPECT_LE(g["confidence"].get<double>(), 1.0);
    EXPECT_GT(g["price"].get<double>(), 0.0);
    EXPECT_GE(g["t"].get<std::int64_t>(), last_t[sym]) << "signals out of order";
    last_t[sym] = g["t"];
  }

  const Reply missing = request(port, "GET", "/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.body.find("/api/stats"), std::string::npos);  // it lists the endpoints
  EXPECT_EQ(request(port, "POST", "/api/stats").status, 405);
  const Reply head = request(port, "HEAD", "/api/health");
  EXPECT_EQ(head.status, 200);

  run.th.join();
  ::close(idle);
  ::close(half);
  const engine::RunReport& rep = run.rep;
  ASSERT_TRUE(run.error.empty()) << run.error;
  EXPECT_GE(rep.messages, frames_metric);  // the final count includes everything served before
  EXPECT_GE(rep.ui_requests, 7U);
  EXPECT_GE(rep.ui_connections, 9U);
  EXPECT_GE(rep.signals, sg["signals"].size());
}

// The update stream: a fast client gets a snapshot and then deltas that,
// put together, hold every closed bar and every signal of the run exactly
// once (checked against the report); a client that stops reading (a 4 KB
// receive buffer, never read) only has its updates coalesced, counted, and
// the run does not wait for it.
TEST(Ui_Stream, EveryBarAndSignalReachesAFastClientOnceASlowOneIsCoalesced) {
  namespace beast = boost::beast;
  namespace websocket = beast::websocket;
  using tcp = boost::asio::ip::tcp;
  char tmpl[] = "/tmp/tickpath-ui-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string model = std::string(tmpl) + "/policy.tpp";
  {
    std::string err;
    ASSERT_TRUE(strategy::save_policy_model(model, strategy::PolicyModel::init_orthogonal(1), err)) << err;
  }
  engine::PipelineConfig cfg;
  cfg.feed = engine::PipelineConfig::Feed::synthetic;
  cfg.symbols = {"BTCUSDT", "ETHUSDT"};
  cfg.messages = 200'000;
  cfg.pace_fps = 50'000;  // about 4 s, some 30 bars per symbol of market time
  cfg.synthetic.rate_per_s = 100;
  cfg.model_path = model;
  cfg.policy_on = engine::PipelineConfig::PolicyOn::bar;
  cfg.progress = false;
  UiRun run;
  if (!run.start(cfg)) FAIL() << "the endpoint did not come up: " << run.error;
  const std::uint16_t port = run.port;

  // The slow client: a WebSocket handshake by hand, then it never reads.
  const int slow = ::socket(AF_INET, SOCK_STREAM, 0);
  const int small = 4096;
  ::setsockopt(slow, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(slow, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  const std::string hs = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  ASSERT_EQ(::send(slow, hs.data(), hs.size(), MSG_NOSIGNAL), static_cast<long>(hs.size()));

  // The fast client reads until the engine goes away.
  boost::asio::io_context ioc;
  websocket::stream<tcp::socket> ws(ioc);
  ws.next_layer().connect({boost::asio::ip::make_address("127.0.0.1"), port});
  ws.read_message_max(64U << 20);
  ws.handshake("127.0.0.1", "/ws");
  std::vector<nlohmann::json> msgs;
  for (;;) {
    beast::flat_buffer b;
    beast::error_code ec;
    ws.read(b, ec);
    if (ec) break;
    msgs.push_back(nlohmann::json::parse(beast::buffers_to_string(b.data())));
  }
  run.th.join();
  ::close(slow);
  const engine::RunReport& rep = run.rep;
  ASSERT_TRUE(run.error.empty()) << run.error;

  ASSERT_GE(msgs.size(), 10U);
  EXPECT_EQ(msgs.front()["type"], "snapshot");
  EXPECT_EQ(msgs.front()["symbols"], nlohmann::json({"BTCUSDT", "ETHUSDT"}));
  for (std::size_t i = 1; i < msgs.size(); ++i) EXPECT_EQ(msgs[i]["type"], "delta");
  std::map<int, std::vector<std::int64_t>> bar_times;
  std::map<int, std::size_t> signals;
  for (const auto& m : msgs) {
    for (const auto& b : m["bars"]) {
      bar_times[b["s"].get<int>()].push_back(b["bar"]["t"].get<std::int64_t>());
      EXPECT_LE(b["bar"]["l"].get<double>(), b["bar"]["h"].get<double>());
    }
    for (const auto& sg : m["signals"]) ++signals[sg["s"].get<int>()];
  }
  ASSERT_EQ(rep.symbols.size(), 2U);
  for (int id = 0; id < 2; ++id) {
    const auto& ts = bar_times[id];
    EXPECT_EQ(ts.size(), rep.symbols[id].bars) << rep.symbols[id].name;  // every closed bar, once
    EXPECT_GT(ts.size(), 5U);
    for (std::size_t i = 1; i < ts.size(); ++i) EXPECT_LT(ts[i - 1], ts[i]) << "bars out of order or repeated";
    EXPECT_EQ(signals[id], rep.symbols[id].signals) << rep.symbols[id].name;  // every signal, once
  }
  // The tape: real trades of each symbol, in order, never repeated, at most
  // kTapePerMessage per message (the newest), none refused by the ring; a
  // symbol's aggTrades only until its raw trades arrive (the same trades).
  std::map<int, std::int64_t> last_id;
  std::map<int, std::uint64_t> tape;
  std::map<int, bool> raw;
  for (const auto& m : msgs) {
    EXPECT_LE(m["trades"].size(), engine::UiHub::kTapePerMessage);
    for (const auto& t : m["trades"]) {
      const int sym = t["s"].get<int>();
      const std::int64_t id = t["id"].get<std::int64_t>();
      const bool agg = t["agg"] == 1;
      if (agg) {
        EXPECT_FALSE(raw[sym]) << "an aggTrade after the raw trades began";
      } else if (!raw[sym]) {
        raw[sym] = true;  // ids switch from aggTrade's to trade's
      } else {
        EXPECT_GT(id, last_id[sym]) << "tape out of order or repeated";
      }
      ++tape[sym];
      last_id[sym] = id;
      EXPECT_GT(t["p"].get<double>(), 0.0);
      EXPECT_GT(t["q"].get<double>(), 0.0);
      EXPECT_TRUE(t["m"] == 0 || t["m"] == 1);
    }
  }
  for (int id = 0; id < 2; ++id) {
    EXPECT_GT(tape[id], 50U) << rep.symbols[id].name;
    EXPECT_LE(tape[id], rep.symbols[id].trades) << rep.symbols[id].name;
  }
  EXPECT_EQ(rep.ui_tape_drops, 0U);
  // The last frame of each symbol agrees with the report's end state.
  const auto& last = msgs.back();
  ASSERT_EQ(last["frames"].size(), 2U);
  for (const auto& f : last["frames"]) EXPECT_GT(f["trades"].get<std::uint64_t>(), 0U);
  EXPECT_TRUE(last["stats"]["stages"].is_array());
  EXPECT_EQ(rep.ui_ws_clients, 2U);
  EXPECT_GT(rep.ui_ws_coalesced, 0U) << "the slow client's updates should have been coalesced";
  EXPECT_EQ(rep.ui_bar_drops, 0U);
  EXPECT_EQ(rep.dropped, 0U);
}

}  // namespace
