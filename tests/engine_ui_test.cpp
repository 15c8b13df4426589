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

#include "tickpath/engine/pipeline.hpp"
#include "ui_server.hpp"

namespace {

using namespace tickpath;
using namespace std::chrono_literals;

int connect_to(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
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
  engine::PipelineConfig cfg;
  cfg.feed = engine::PipelineConfig::Feed::synthetic;
  cfg.symbols = {"BTCUSDT", "ETHUSDT"};
  cfg.messages = 200'000;
  cfg.pace_fps = 50'000;  // about 4 s
  cfg.progress = false;
  cfg.ui_listen = "127.0.0.1:0";
  std::atomic<std::uint16_t> port{0};
  cfg.ui_ready = [&](std::uint16_t p) { port = p; };
  std::string error;
  engine::RunReport rep;
  std::thread run([&] { rep = engine::run_pipeline(cfg, error); });
  for (int i = 0; i < 6000 && port == 0; ++i) std::this_thread::sleep_for(10ms);  // set-up renders the market first
  if (port == 0) {
    run.join();
    FAIL() << "the endpoint did not come up: " << error;
  }

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

  const Reply missing = request(port, "GET", "/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.body.find("/api/stats"), std::string::npos);  // it lists the endpoints
  EXPECT_EQ(request(port, "POST", "/api/stats").status, 405);
  const Reply head = request(port, "HEAD", "/api/health");
  EXPECT_EQ(head.status, 200);

  run.join();
  ::close(idle);
  ::close(half);
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_GE(rep.messages, frames_metric);  // the final count includes everything served before
  EXPECT_GE(rep.ui_requests, 5U);
  EXPECT_GE(rep.ui_connections, 7U);
}

}  // namespace
