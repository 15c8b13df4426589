// WsClient, TLS transport and REST fetch against the exchange simulator on
// loopback: every frame in order, certificate checks, ping/pong, server
// close, oversized messages, the depth snapshot equal to the simulator's
// own book, and no allocation per message once the connection is up.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "exsim.hpp"
#include "support/alloc_counter.hpp"
#include "tickpath/feed/binance_parser.hpp"
#include "tickpath/feed/rest_client.hpp"
#include "tickpath/feed/ws_client.hpp"

namespace {

using namespace tickpath;
using namespace std::chrono_literals;

struct Sim {
  explicit Sim(exsim::SimConfig cfg) : sim(std::move(cfg)) {
    std::string error;
    started = sim.start(error);
    EXPECT_TRUE(started) << error;
  }
  exsim::ExchangeSimulator sim;
  bool started = false;
};

exsim::SimConfig config(std::uint64_t frames, bool tls = true) {
  exsim::SimConfig c;
  c.tls = tls;
  c.max_frames = frames;
  c.rate_per_s = 0;
  c.market.symbols = {"BTCUSDT", "ETHUSDT"};
  return c;
}

std::unique_ptr<feed::WsClient> connect(const exsim::ExchangeSimulator& sim, bool tls, const std::string& ca,
                                        std::string& error, feed::WsClientOptions opts = {}) {
  feed::TransportOptions t;
  t.tls = tls;
  t.ca_file = ca;
  auto tr = feed::connect_transport("127.0.0.1", sim.port(), t, error);
  if (!tr) return nullptr;
  auto ws = std::make_unique<feed::WsClient>(std::move(tr), opts);
  if (!ws->handshake("127.0.0.1", sim.port(), "/stream?streams=btcusdt@trade/btcusdt@depth@100ms/ethusdt@trade/"
                                              "btcusdt@aggTrade/ethusdt@bookTicker/btcusdt@kline_1m",
                     error))
    return nullptr;
  return ws;
}

// Polls until `pred` or the deadline.
template <class F, class P>
void poll_until(feed::WsClient& ws, const infra::TscClock& clock, F&& on_msg, P&& pred,
                std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred() && std::chrono::steady_clock::now() < deadline &&
         (ws.state() == feed::WsState::open || ws.state() == feed::WsState::closing)) {
    if (ws.poll(clock, on_msg) == 0) std::this_thread::sleep_for(50us);
  }
}

// A client streaming from a paced simulator over verified TLS, past its
// first `warm` messages: the start of the fault tests below.
struct Streaming {
  explicit Streaming(double rate, feed::WsClientOptions opts = {}, std::uint64_t warm = 3) : s([rate] {
    auto c = config(0);
    c.rate_per_s = rate;
    return c;
  }()) {
    if (!s.started) return;
    std::string error;
    ws = connect(s.sim, true, s.sim.ca_file(), error, opts);
    EXPECT_TRUE(ws) << error;
    if (ws) poll_until(*ws, clock, noop, [&] { return ws->counters().messages.load() > warm; });
  }
  static void noop(const char*, std::size_t, std::uint64_t) {}
  Sim s;
  infra::TscClock clock{5};
  std::unique_ptr<feed::WsClient> ws;
};

TEST(WsClient_Exsim, ReceivesEveryFrameInOrderOverVerifiedTls) {
  Sim s(config(3000));
  ASSERT_TRUE(s.started);
  infra::TscClock clock(5);
  std::string error;
  auto ws = connect(s.sim, true, s.sim.ca_file(), error);
  ASSERT_TRUE(ws) << error;
  feed::BinanceParser parser;
  feed::Message m;
  std::int64_t expect_seq = 1;
  std::uint64_t got = 0, out_of_order = 0, rejects = 0;
  auto on_msg = [&](const char* d, std::size_t n, std::uint64_t rx) {
    EXPECT_NE(rx, 0U);
    if (parser.parse(d, n, m) != feed::RejectReason::none) {
      ++rejects;
      return;
    }
    out_of_order += m.sim_seq != expect_seq;
    expect_seq = m.sim_seq + 1;
    ++got;
  };
  poll_until(*ws, clock, on_msg, [&] {
    const auto st = s.sim.stats();
    return st.done && got == st.sent;
  });
  const auto st = s.sim.stats();
  EXPECT_TRUE(st.done);
  EXPECT_EQ(got, st.sent);
  EXPECT_GT(got, 1000U);  // a subscription covering most of the market
  EXPECT_EQ(out_of_order, 0U);
  EXPECT_EQ(rejects, 0U);
  EXPECT_EQ(ws->counters().messages.load(), got);
}

TEST(WsClient_Exsim, PlainTcpWorksToo) {
  Sim s(config(500, false));
  ASSERT_TRUE(s.started);
  infra::TscClock clock(5);
  std::string error;
  auto ws = connect(s.sim, false, "", error);
  ASSERT_TRUE(ws) << error;
  std::uint64_t got = 0;
  poll_until(*ws, clock, [&](const char*, std::size_t, std::uint64_t) { ++got; },
             [&] { return s.sim.stats().done && got == s.sim.stats().sent; });
  EXPECT_EQ(got, s.sim.stats().sent);
}

TEST(WsClient_Exsim, UntrustedCertificateIsRefusedWithAClearReason) {
  Sim s(config(10));
  ASSERT_TRUE(s.started);
  std::string error;
  feed::TransportOptions t;
  t.tls = true;  // system store: the simulator's self-signed certificate is not in it
  auto tr = feed::connect_transport("127.0.0.1", s.sim.port(), t, error);
  EXPECT_FALSE(tr);
  EXPECT_NE(error.find("certificate"), std::string::npos) << error;
  // and the right CA but the wrong host name
  t.ca_file = s.sim.ca_file();
  error.clear();
  tr = feed::connect_transport("127.0.0.2", s.sim.port(), t, error);
  if (error.find("cannot connect") == std::string::npos) {  // 127.0.0.2 reaches loopback on Linux
    EXPECT_FALSE(tr);
    EXPECT_NE(error.find("certificate"), std::string::npos) << error;
  }
  // the explicit insecure switch accepts it
  t.ca_file.clear();
  t.verify_peer = false;
  error.clear();
  tr = feed::connect_transport("127.0.0.1", s.sim.port(), t, error);
  EXPECT_TRUE(tr) << error;
}

TEST(WsClient_Exsim, AnswersPingWithMatchingPong) {
  Streaming st(200);
  ASSERT_TRUE(st.ws);
  auto& ws = st.ws;
  auto& s = st.s;
  s.sim.inject(exsim::Fault::ping);
  s.sim.inject(exsim::Fault::ping);
  poll_until(*ws, st.clock, Streaming::noop, [&] { return s.sim.stats().pongs_matched == 2; });
  EXPECT_EQ(ws->counters().pings.load(), 2U);
  EXPECT_EQ(ws->counters().pongs_sent.load(), 2U);
  EXPECT_EQ(s.sim.stats().pongs_matched, 2U);
  EXPECT_EQ(ws->state(), feed::WsState::open);
}

TEST(WsClient_Exsim, ServerCloseIsAnsweredAndReported) {
  Streaming st(200);
  ASSERT_TRUE(st.ws);
  auto& ws = st.ws;
  st.s.sim.inject(exsim::Fault::close);
  poll_until(*ws, st.clock, Streaming::noop, [] { return false; }, 3s);
  EXPECT_EQ(ws->state(), feed::WsState::closed);
  EXPECT_EQ(ws->close_code(), 1001);
  EXPECT_STREQ(ws->reason(), "server rotating the connection");
}

TEST(WsClient_Exsim, OversizedMessageFailsTheConnectionWithAReason) {
  feed::WsClientOptions o;
  o.max_message_bytes = 64U << 10;
  Streaming st(200, o);
  ASSERT_TRUE(st.ws);
  auto& ws = st.ws;
  st.s.sim.inject(exsim::Fault::oversized, 100'000);
  poll_until(*ws, st.clock, Streaming::noop, [] { return false; }, 3s);
  EXPECT_EQ(ws->state(), feed::WsState::failed);
  EXPECT_NE(std::string(ws->reason()).find("maximum message size"), std::string::npos) << ws->reason();
}

TEST(WsClient_Exsim, NoAllocationPerMessageOnceOpen) {
  Streaming st(20'000);
  ASSERT_TRUE(st.ws);
  auto& ws = st.ws;
  auto& s = st.s;
  auto& clock = st.clock;
  feed::BinanceParser parser;
  feed::Message m;
  std::uint64_t got = 0;
  auto on_msg = [&](const char* d, std::size_t n, std::uint64_t) {
    got += parser.parse(d, n, m) == feed::RejectReason::none;
  };
  poll_until(*ws, clock, on_msg, [&] { return got > 500; });  // warm-up
  s.sim.inject(exsim::Fault::ping);
  std::uint64_t allocs = 0;
  {
    test::AllocationScope scope;
    poll_until(*ws, clock, on_msg, [&] { return got > 5000 && ws->counters().pongs_sent.load() == 1; });
    allocs = scope.count();
  }
  EXPECT_GT(got, 5000U);
  EXPECT_EQ(ws->state(), feed::WsState::open) << ws->reason();
  EXPECT_EQ(ws->counters().pongs_sent.load(), 1U);
  EXPECT_EQ(allocs, 0U);
}

TEST(RestClient_Exsim, DepthSnapshotEqualsTheSimulatorsBook) {
  Sim s(config(4000));
  ASSERT_TRUE(s.started);
  infra::TscClock clock(5);
  std::string error;
  auto ws = connect(s.sim, true, s.sim.ca_file(), error);  // generation starts with the first stream client
  ASSERT_TRUE(ws) << error;
  poll_until(*ws, clock, [](const char*, std::size_t, std::uint64_t) {}, [&] { return s.sim.stats().done; });
  feed::TransportOptions t;
  t.ca_file = s.sim.ca_file();
  feed::HttpResponse r;
  ASSERT_TRUE(feed::http_get(s.sim.rest_base() + "/api/v3/depth?symbol=BTCUSDT&limit=5000", t, r, error)) << error;
  ASSERT_EQ(r.status, 200) << r.body;
  exsim::SimBook book;
  ASSERT_TRUE(s.sim.book("BTCUSDT", book));
  r.body.append(feed::kPadding, '\0');
  feed::BinanceParser parser;
  feed::Message m;
  ASSERT_EQ(parser.parse(r.body.data(), r.body.size() - feed::kPadding, m), feed::RejectReason::none);
  EXPECT_EQ(m.type, feed::MessageType::depth);
  EXPECT_EQ(m.last_update_id, book.last_update_id);
  ASSERT_EQ(m.bids.size, book.bids.size());
  ASSERT_EQ(m.asks.size, book.asks.size());
  ASSERT_GT(book.bids.size(), 5U);
  for (std::uint32_t i = 0; i < m.bids.size; ++i) {
    EXPECT_EQ(m.bids.data[i].price.e8, book.bids[i].first);
    EXPECT_EQ(m.bids.data[i].qty.e8, book.bids[i].second);
  }
  for (std::uint32_t i = 0; i < m.asks.size; ++i) EXPECT_EQ(m.asks.data[i].price.e8, book.asks[i].first);
  // an unknown symbol is Binance's 400 with its error body
  ASSERT_TRUE(feed::http_get(s.sim.rest_base() + "/api/v3/depth?symbol=NOPE", t, r, error)) << error;
  EXPECT_EQ(r.status, 400);
}

TEST(Url_Parse, SchemesPortsAndTargets) {
  feed::Url u;
  std::string error;
  ASSERT_TRUE(feed::parse_url("wss://stream.binance.com:9443/stream?streams=btcusdt@trade", u, error));
  EXPECT_TRUE(u.tls);
  EXPECT_TRUE(u.websocket);
  EXPECT_EQ(u.host, "stream.binance.com");
  EXPECT_EQ(u.port, 9443);
  EXPECT_EQ(u.target, "/stream?streams=btcusdt@trade");
  ASSERT_TRUE(feed::parse_url("https://api.binance.com", u, error));
  EXPECT_EQ(u.port, 443);
  EXPECT_EQ(u.target, "/");
  EXPECT_FALSE(feed::parse_url("ftp://x", u, error));
  EXPECT_FALSE(feed::parse_url("ws://host:99999/", u, error));
  EXPECT_FALSE(feed::parse_url("ws://:80/", u, error));
}

}  // namespace

namespace {

TEST(WsClient_Exsim, ManyClientsEachGetEveryFrameOfTheirStreams) {
  auto c = config(3000);
  c.rate_per_s = 3000;  // a second of market, so every client joins while it runs
  Sim s(c);
  ASSERT_TRUE(s.started);
  infra::TscClock clock(5);
  std::string error;
  std::vector<std::unique_ptr<feed::WsClient>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(connect(s.sim, true, s.sim.ca_file(), error));
    ASSERT_TRUE(clients.back()) << error;
  }
  std::vector<std::uint64_t> got(clients.size(), 0), disorder(clients.size(), 0);
  std::vector<std::int64_t> last(clients.size(), 0);
  feed::BinanceParser parser;
  feed::Message m;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  auto all_in = [&] {
    const auto st = s.sim.stats();
    if (!st.done || st.sent_per_connection.size() != clients.size()) return false;
    for (std::size_t i = 0; i < clients.size(); ++i)
      if (got[i] != st.sent_per_connection[i]) return false;
    return true;
  };
  while (!all_in() && std::chrono::steady_clock::now() < deadline) {
    for (std::size_t i = 0; i < clients.size(); ++i)
      clients[i]->poll(clock, [&](const char* d, std::size_t n, std::uint64_t) {
        if (parser.parse(d, n, m) != feed::RejectReason::none) return;
        disorder[i] += m.sim_seq != last[i] + 1;
        last[i] = m.sim_seq;
        ++got[i];
      });
  }
  const auto st = s.sim.stats();
  ASSERT_EQ(st.sent_per_connection.size(), clients.size());
  for (std::size_t i = 0; i < clients.size(); ++i) {
    EXPECT_EQ(got[i], st.sent_per_connection[i]) << i;
    EXPECT_EQ(disorder[i], 0U) << i;
  }
  // Clients connected a moment apart share the market from when each joined:
  // the last one got a suffix of the first one's frames.
  EXPECT_GE(got[0], got[3]);
  EXPECT_GT(got[3], 0U);
}

}  // namespace
