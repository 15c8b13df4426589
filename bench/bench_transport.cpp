// Receive paths side by side on loopback, each with a sender thread on the
// other core: WebSocket over TCP busy-polled (the default), over TCP
// event-driven (poll(2) sleeps until bytes arrive), over TLS busy-polled,
// and UDP multicast with recvmmsg batches. Two measurements each:
//   Throughput: the sender writes 168-byte messages as fast as the socket
//               takes them; the benchmark thread receives; items/s.
//   Latency:    the sender stamps the TSC and sends one message when the
//               receiver asks (an atomic, not the network); one way =
//               receive stamp - send stamp (same host, invariant TSC),
//               with percentiles.
// The anchor for each row is the plain-TCP busy-poll row of the same run.
// Threads: receiver on core 1, sender on core 0 (TICKPATH_BENCH_CPUS="a,b").
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <immintrin.h>
#include <memory>
#include <string>
#include <thread>

#include "bench_common.hpp"
#include "exsim.hpp"
#include "tickpath/feed/udp.hpp"
#include "tickpath/feed/websocket.hpp"
#include "tickpath/feed/ws_client.hpp"
#include "tickpath/infra/affinity.hpp"

namespace {

using namespace tickpath;
constexpr std::size_t kPayload = 168;  // a Binance trade frame's size

int cpu_for(int i) {
  int a = 0, b = 1;
  if (const char* env = std::getenv("TICKPATH_BENCH_CPUS")) std::sscanf(env, "%d,%d", &a, &b);
  return i == 0 ? a : b;
}

// Payload: [u64 send tick][u64 sequence][filler to kPayload].
void fill_payload(char* p, std::uint64_t tick, std::uint64_t seq) {
  std::memcpy(p, &tick, 8);
  std::memcpy(p + 8, &seq, 8);
}

std::string server_frame(const char* payload, std::size_t n) {
  std::string f;
  f += static_cast<char>(0x81);
  f += static_cast<char>(126);
  f += static_cast<char>(n >> 8);
  f += static_cast<char>(n & 0xFF);
  f.append(payload, n);
  return f;
}

// The sending end of a WebSocket over TCP or TLS: accepts one client,
// answers its upgrade, then writes frames from its own thread.
class WsServer {
 public:
  explicit WsServer(bool tls) : tls_(tls) {
    feed::ignore_sigpipe();
    lfd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(lfd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(lfd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(lfd_, 4);
    socklen_t len = sizeof a;
    ::getsockname(lfd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    if (tls_) {
      char tmpl[] = "/tmp/tickpath-bench-XXXXXX";
      dir_ = ::mkdtemp(tmpl);
      std::string cert, key, error;
      exsim::make_certificate(dir_, cert, key, error);
      ctx_ = SSL_CTX_new(TLS_server_method());
      SSL_CTX_use_certificate_file(ctx_, cert.c_str(), SSL_FILETYPE_PEM);
      SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM);
      ca_ = cert;
    }
  }
  ~WsServer() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
    ::close(lfd_);
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  // Runs on the sender thread: accept and upgrade.
  void accept_and_upgrade() {
    fd_ = ::accept(lfd_, nullptr, nullptr);
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (tls_) {
      ssl_ = SSL_new(ctx_);
      SSL_set_fd(ssl_, fd_);
      SSL_accept(ssl_);
    }
    std::string req;
    char buf[4096];
    while (req.find("\r\n\r\n") == std::string::npos) {
      const long n = rd(buf, sizeof buf);
      if (n <= 0) return;
      req.append(buf, static_cast<std::size_t>(n));
    }
    const auto k = req.find("Sec-WebSocket-Key: ");
    const std::string key = req.substr(k + 19, req.find("\r\n", k) - k - 19);
    const std::string resp = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             "Sec-WebSocket-Accept: " + feed::ws_accept_key(key) + "\r\n\r\n";
    wr(resp.data(), resp.size());
  }
  bool wr(const char* p, std::size_t n) {
    while (n > 0) {
      const long w = tls_ ? SSL_write(ssl_, p, static_cast<int>(n)) : ::send(fd_, p, n, MSG_NOSIGNAL);
      if (w <= 0) return false;
      p += w;
      n -= static_cast<std::size_t>(w);
    }
    return true;
  }
  long rd(char* p, std::size_t n) { return tls_ ? SSL_read(ssl_, p, static_cast<int>(n)) : ::recv(fd_, p, n, 0); }
  std::uint16_t port() const { return port_; }
  const std::string& ca() const { return ca_; }
  void shutdown() {
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
  }

 private:
  bool tls_;
  int lfd_ = -1, fd_ = -1;
  std::uint16_t port_ = 0;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string dir_, ca_;
};

enum class Mode { busy, event };

// The receiving end, on the benchmark thread (core 1). nullptr, with the
// benchmark marked skipped and why, when it cannot connect.
std::unique_ptr<feed::WsClient> connect_receiver(WsServer& server, bool tls, benchmark::State& state) {
  infra::pin_this_thread(cpu_for(1), "bench");
  std::string error;
  feed::TransportOptions t;
  t.tls = tls;
  t.ca_file = server.ca();
  std::unique_ptr<feed::WsClient> ws;
  if (auto tr = feed::connect_transport("127.0.0.1", server.port(), t, error)) {
    ws = std::make_unique<feed::WsClient>(std::move(tr));
    if (!ws->handshake("127.0.0.1", server.port(), "/", error)) ws.reset();
  }
  if (!ws) state.SkipWithError(error.c_str());
  return ws;
}

template <bool Tls, Mode M>
void BM_WsThroughput(benchmark::State& state) {
  WsServer server(Tls);
  std::atomic<bool> stop{false};
  std::thread sender([&] {
    infra::pin_this_thread(cpu_for(0), "bench-sender");
    server.accept_and_upgrade();
    char payload[kPayload] = {};
    std::string burst;
    for (int i = 0; i < 64; ++i) burst += server_frame(payload, kPayload);
    while (!stop.load(std::memory_order_relaxed))
      if (!server.wr(burst.data(), burst.size())) break;
  });
  auto ws = connect_receiver(server, Tls, state);
  if (!ws) {
    stop = true;
    server.shutdown();
    sender.join();
    return;
  }
  const auto& clk = bench::clock();
  std::uint64_t pending = 0, bytes = 0;
  auto on = [&](const char*, std::size_t n, std::uint64_t) {
    ++pending;
    bytes += n;
  };
  for (auto _ : state) {
    while (pending == 0) {
      if (ws->poll(clk, on) == 0 && M == Mode::event) (void)ws->transport().wait_readable(100);
    }
    --pending;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  stop = true;
  ws->close();
  server.shutdown();
  sender.join();
}

template <bool Tls, Mode M>
void BM_WsLatency(benchmark::State& state) {
  WsServer server(Tls);
  std::atomic<std::uint64_t> want{0};
  std::atomic<bool> stop{false};
  const auto& clk = bench::clock();
  std::thread sender([&] {
    infra::pin_this_thread(cpu_for(0), "bench-sender");
    server.accept_and_upgrade();
    char payload[kPayload] = {};
    std::string f = server_frame(payload, kPayload);  // built once; the stamp is written in place
    std::uint64_t sent = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      if (want.load(std::memory_order_acquire) == sent) {
        _mm_pause();
        continue;
      }
      ++sent;
      fill_payload(f.data() + 4, clk.now(), sent);
      if (!server.wr(f.data(), f.size())) break;
    }
  });
  auto ws = connect_receiver(server, Tls, state);
  if (!ws) {
    stop = true;
    server.shutdown();
    sender.join();
    return;
  }
  infra::LatencyHistogram h;
  std::uint64_t seq = 0, got = 0;
  auto on = [&](const char* d, std::size_t, std::uint64_t rx) {
    std::uint64_t tx = 0;
    std::memcpy(&tx, d, 8);
    h.record(clk.delta_ns(tx, rx));
    ++got;
  };
  for (auto _ : state) {
    want.store(++seq, std::memory_order_release);
    while (got < seq) {
      if (ws->poll(clk, on) == 0 && M == Mode::event) (void)ws->transport().wait_readable(100);
    }
  }
  bench::report_percentiles(state, h, "one_way_");
  stop = true;
  ws->close();
  server.shutdown();
  sender.join();
}

feed::UdpOptions udp_options() {
  feed::UdpOptions o;
  o.group = "239.255.42.7";
  o.interface = "127.0.0.1";
  o.batch = 64;
  o.max_datagram = 2048;
  return o;
}

void BM_UdpMulticastThroughput(benchmark::State& state) {
  feed::UdpReceiver rx;
  feed::UdpSender tx;
  std::string error;
  const auto o = udp_options();
  if (!rx.open(o, error) || !tx.open(o, rx.port(), error)) {
    state.SkipWithError(error.c_str());
    return;
  }
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> sent{0};
  std::thread sender([&] {
    infra::pin_this_thread(cpu_for(0), "bench-sender");
    static char payload[kPayload] = {};
    std::string_view msgs[64];
    for (auto& m : msgs) m = std::string_view(payload, kPayload);
    while (!stop.load(std::memory_order_relaxed)) sent.fetch_add(tx.send_batch(msgs, 64), std::memory_order_relaxed);
  });
  infra::pin_this_thread(cpu_for(1), "bench");
  const auto& clk = bench::clock();
  std::uint64_t pending = 0, received = 0;
  auto on = [&](const char*, std::size_t, std::uint64_t) { ++pending; };
  for (auto _ : state) {
    while (pending == 0) rx.poll(clk, on);
    --pending;
    ++received;
  }
  stop = true;
  sender.join();
  state.SetItemsProcessed(state.iterations());
  const double s = static_cast<double>(sent.load());
  state.counters["sent_per_received"] = received > 0 ? s / static_cast<double>(received) : 0;  // > 1: the kernel dropped
}

void BM_UdpMulticastLatency(benchmark::State& state) {
  feed::UdpReceiver rx;
  feed::UdpSender tx;
  std::string error;
  const auto o = udp_options();
  if (!rx.open(o, error) || !tx.open(o, rx.port(), error)) {
    state.SkipWithError(error.c_str());
    return;
  }
  std::atomic<std::uint64_t> want{0};
  std::atomic<bool> stop{false};
  const auto& clk = bench::clock();
  std::thread sender([&] {
    infra::pin_this_thread(cpu_for(0), "bench-sender");
    char payload[kPayload] = {};
    std::uint64_t sent = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      if (want.load(std::memory_order_acquire) == sent) {
        _mm_pause();
        continue;
      }
      ++sent;
      fill_payload(payload, clk.now(), sent);
      const std::string_view m(payload, kPayload);
      tx.send_batch(&m, 1);
    }
  });
  infra::pin_this_thread(cpu_for(1), "bench");
  infra::LatencyHistogram h;
  std::uint64_t seq = 0, got = 0;
  auto on = [&](const char* d, std::size_t, std::uint64_t rxt) {
    std::uint64_t t = 0, s = 0;
    std::memcpy(&t, d, 8);
    std::memcpy(&s, d + 8, 8);
    if (s == seq) {
      h.record(clk.delta_ns(t, rxt));
      ++got;
    }
  };
  for (auto _ : state) {
    want.store(++seq, std::memory_order_release);
    const auto deadline = clk.now() + clk.ns_to_ticks(50e6);
    while (got < seq) {
      rx.poll(clk, on);
      if (clk.now() > deadline) {  // a lost datagram: ask again
        want.store(seq, std::memory_order_release);
        break;
      }
    }
  }
  bench::report_percentiles(state, h, "one_way_");
  stop = true;
  sender.join();
}

}  // namespace

BENCHMARK_TEMPLATE(BM_WsThroughput, false, Mode::busy)->Name("BM_Throughput/ws_tcp_busy_poll")->UseRealTime();
BENCHMARK_TEMPLATE(BM_WsThroughput, false, Mode::event)->Name("BM_Throughput/ws_tcp_event_driven")->UseRealTime();
BENCHMARK_TEMPLATE(BM_WsThroughput, true, Mode::busy)->Name("BM_Throughput/ws_tls_busy_poll")->UseRealTime();
BENCHMARK(BM_UdpMulticastThroughput)->Name("BM_Throughput/udp_multicast_busy_poll")->UseRealTime();
BENCHMARK_TEMPLATE(BM_WsLatency, false, Mode::busy)->Name("BM_Latency/ws_tcp_busy_poll")->UseRealTime();
BENCHMARK_TEMPLATE(BM_WsLatency, false, Mode::event)->Name("BM_Latency/ws_tcp_event_driven")->UseRealTime();
BENCHMARK_TEMPLATE(BM_WsLatency, true, Mode::busy)->Name("BM_Latency/ws_tls_busy_poll")->UseRealTime();
BENCHMARK(BM_UdpMulticastLatency)->Name("BM_Latency/udp_multicast_busy_poll")->UseRealTime();
TICKPATH_BENCHMARK_MAIN()
