#include "nats_sink.hpp"

#include <fmt/format.h>
#include <nats/nats.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <thread>

namespace tickpath::engine {

namespace {
std::string num(double v) { return json_number(v); }

bool valid_token(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s)
    if (c == ' ' || c == '*' || c == '>' || c == '\t' || static_cast<unsigned char>(c) < 0x21) return false;
  return true;
}
}  // namespace

struct NatsSink::Impl {
  NatsOptions opt;
  std::string shard;
  std::vector<std::string> names;
  std::vector<double> position;  // last published per symbol (NaN: none yet)
  natsOptions* nopts = nullptr;
  natsConnection* conn = nullptr;
  std::string subject;
  std::uint64_t published = 0, failed = 0, bytes = 0;
  std::atomic<std::uint64_t> disconnects{0}, reconnects{0};
  std::atomic<bool> connected{false};

  static void on_connected(natsConnection*, void* self) { static_cast<Impl*>(self)->connected = true; }
  static void on_disconnected(natsConnection*, void* self) {
    auto* s = static_cast<Impl*>(self);
    s->connected = false;
    s->disconnects.fetch_add(1);
  }
  // The last callback the client library makes for a connection (on its own thread).
  static void on_closed(natsConnection*, void* self) { static_cast<Impl*>(self)->closed = true; }
  std::atomic<bool> closed{false};
  static void on_reconnected(natsConnection*, void* self) {
    auto* s = static_cast<Impl*>(self);
    s->connected = true;
    s->reconnects.fetch_add(1);
  }
};

NatsSink::NatsSink() : impl_(std::make_unique<Impl>()) {}

NatsSink::~NatsSink() {
  if (impl_->conn != nullptr) {
    // Closing makes the library call back (disconnected, then closed) from
    // its own thread: Impl must outlive those calls, so wait for the last.
    natsConnection_Close(impl_->conn);
    for (int i = 0; i < 500 && !impl_->closed.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    natsConnection_Destroy(impl_->conn);
    if (!impl_->closed.load()) {
      (void)impl_.release();  // a callback may still come: leave its target alive
      return;
    }
  }
  if (impl_->nopts != nullptr) natsOptions_Destroy(impl_->nopts);
}

bool NatsSink::start(const NatsOptions& o, std::vector<std::string> symbol_names, std::string shard, std::string& error) {
  Impl& m = *impl_;
  m.opt = o;
  m.shard = std::move(shard);
  m.names = std::move(symbol_names);
  m.position.assign(m.names.size(), std::nan(""));
  if (o.url.rfind("nats://", 0) != 0 && o.url.rfind("tls://", 0) != 0)
    return error = "--nats takes nats://HOST:PORT, not '" + o.url + "'", false;
  for (std::size_t a = 0, b; a <= o.prefix.size(); a = b + 1) {
    b = o.prefix.find('.', a);
    if (b == std::string::npos) b = o.prefix.size();
    if (!valid_token(std::string_view(o.prefix).substr(a, b - a)))
      return error = "--nats-prefix: '" + o.prefix + "' is not a NATS subject prefix (tokens without spaces, * or >)", false;
  }
  natsStatus s = natsOptions_Create(&m.nopts);
  if (s == NATS_OK) s = natsOptions_SetURL(m.nopts, o.url.c_str());
  if (s == NATS_OK) s = natsOptions_SetName(m.nopts, ("tickpath " + m.shard).c_str());
  if (s == NATS_OK) s = natsOptions_SetAllowReconnect(m.nopts, true);
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(m.nopts, -1);  // for ever
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(m.nopts, 250);
  if (s == NATS_OK) s = natsOptions_SetReconnectBufSize(m.nopts, o.reconnect_buffer);
  if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(m.nopts, &Impl::on_disconnected, &m);
  if (s == NATS_OK) s = natsOptions_SetReconnectedCB(m.nopts, &Impl::on_reconnected, &m);
  if (s == NATS_OK) s = natsOptions_SetClosedCB(m.nopts, &Impl::on_closed, &m);
  if (s == NATS_OK) s = natsOptions_SetRetryOnFailedConnect(m.nopts, true, &Impl::on_connected, &m);
  if (s != NATS_OK) return error = fmt::format("--nats {}: {}", o.url, natsStatus_GetText(s)), false;
  s = natsConnection_Connect(&m.conn, m.nopts);
  if (s == NATS_OK) m.connected = true;
  else if (s != NATS_NOT_YET_CONNECTED)
    return error = fmt::format("--nats {}: {}", o.url, natsStatus_GetText(s)), false;
  return true;
}

void NatsSink::publish(std::string_view kind, std::string_view symbol, const std::string& payload) {
  Impl& m = *impl_;
  if (m.conn == nullptr) return;
  m.subject.assign(m.opt.prefix).append(".").append(kind).append(".").append(symbol);
  const natsStatus s = natsConnection_Publish(m.conn, m.subject.c_str(), payload.data(), static_cast<int>(payload.size()));
  if (s == NATS_OK) {
    ++m.published;
    m.bytes += payload.size();
  } else {
    ++m.failed;  // the reconnect buffer is full (or the connection closed)
  }
}

void NatsSink::on_signal(const infra::Signal& sg) {
  Impl& m = *impl_;
  if (sg.symbol >= m.names.size()) return;
  publish("signal", m.names[sg.symbol],
          fmt::format(R"({{"symbol":"{}","t":{},"action":"{}","reason":"{}","confidence":{},"value":{},"price":{},"shard":"{}"}})",
                      m.names[sg.symbol], sg.event_time_ms, infra::to_string(sg.action), infra::to_string(sg.reason),
                      num(sg.confidence), num(sg.value), num(sg.price), m.shard));
  if (static_cast<double>(sg.position) == m.position[sg.symbol]) return;
  m.position[sg.symbol] = sg.position;
  publish("portfolio", m.names[sg.symbol],
          fmt::format(R"({{"symbol":"{}","t":{},"position":{},"equity":{},"price":{},"shard":"{}"}})", m.names[sg.symbol],
                      sg.event_time_ms, static_cast<int>(sg.position), num(sg.equity), num(sg.price), m.shard));
}

void NatsSink::on_bar(const UiBar& b) {
  Impl& m = *impl_;
  if (b.symbol >= m.names.size()) return;
  publish("bar", m.names[b.symbol],
          fmt::format(R"({{"symbol":"{}","t":{},"o":{},"h":{},"l":{},"c":{},"v":{},"sma20":{},"bb_upper":{},"bb_lower":{},"shard":"{}"}})",
                      m.names[b.symbol], b.bar.open_time_ms, num(b.bar.open), num(b.bar.high), num(b.bar.low),
                      num(b.bar.close), num(b.bar.volume), num(b.sma_20), num(b.bb_upper), num(b.bb_lower), m.shard));
}

void NatsSink::on_trade(const UiTrade& t) {
  Impl& m = *impl_;
  if (!m.opt.trades || t.symbol >= m.names.size()) return;
  publish("trade", m.names[t.symbol],
          fmt::format(R"({{"symbol":"{}","t":{},"id":{},"agg":{},"p":{},"q":{},"m":{},"shard":"{}"}})", m.names[t.symbol],
                      t.time_ms, t.id, t.aggregate, num(t.price), num(t.qty), t.buyer_maker, m.shard));
}

void NatsSink::on_stats(std::string stats) {
  Impl& m = *impl_;
  // {...}\n -> {...,"shard":"I/N"}
  while (!stats.empty() && std::isspace(static_cast<unsigned char>(stats.back()))) stats.pop_back();
  if (stats.empty() || stats.back() != '}') return;
  stats.pop_back();
  stats += fmt::format(R"(,"shard":"{}"}})", m.shard);
  std::string label = m.shard;
  for (char& c : label)
    if (c == '/') c = '_';
  publish("stats", label, stats);
}

void NatsSink::flush(int timeout_ms) {
  if (impl_->conn != nullptr && impl_->connected) (void)natsConnection_FlushTimeout(impl_->conn, timeout_ms);
}

NatsCounters NatsSink::counters() const {
  const Impl& m = *impl_;
  return {m.published, m.failed, m.bytes, m.disconnects.load(), m.reconnects.load(), m.connected.load()};
}

int nats_tail(const std::string& url, const std::string& subject, std::uint64_t count, double seconds,
              const std::atomic<bool>& stop) {
  natsConnection* conn = nullptr;
  natsSubscription* sub = nullptr;
  natsStatus s = natsConnection_ConnectTo(&conn, url.c_str());
  if (s == NATS_OK) s = natsConnection_SubscribeSync(&sub, conn, subject.c_str());
  if (s == NATS_OK) s = natsConnection_Flush(conn);  // the subscription is registered before we report ready
  if (s != NATS_OK) {
    std::fprintf(stderr, "tickpath tail: %s %s: %s\n", url.c_str(), subject.c_str(), natsStatus_GetText(s));
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(conn);
    return 1;
  }
  std::fprintf(stderr, "tickpath tail: %s %s: subscribed\n", url.c_str(), subject.c_str());
  std::uint64_t got = 0;
  double idle = 0;
  int rc = 0;
  while (!stop.load() && (count == 0 || got < count)) {
    natsMsg* msg = nullptr;
    s = natsSubscription_NextMsg(&msg, sub, 200);
    if (s == NATS_TIMEOUT) {
      idle += 0.2;
      if (seconds > 0 && idle >= seconds) break;
      continue;
    }
    if (s != NATS_OK) {
      std::fprintf(stderr, "tickpath tail: %s\n", natsStatus_GetText(s));
      rc = 1;
      break;
    }
    idle = 0;
    ++got;
    std::fprintf(stdout, "%s %.*s\n", natsMsg_GetSubject(msg), natsMsg_GetDataLength(msg), natsMsg_GetData(msg));
    std::fflush(stdout);
    natsMsg_Destroy(msg);
  }
  natsSubscription_Destroy(sub);
  natsConnection_Destroy(conn);
  std::fprintf(stderr, "tickpath tail: %llu messages\n", static_cast<unsigned long long>(got));
  return rc;
}

std::uint32_t shard_of(std::string_view symbol, std::uint32_t count) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : symbol) {
    h ^= static_cast<unsigned char>(std::toupper(static_cast<unsigned char>(c)));
    h *= 0x100000001b3ULL;
  }
  return count == 0 ? 0 : static_cast<std::uint32_t>(h % count);
}

bool parse_shard(const std::string& spec, std::uint32_t& index, std::uint32_t& count, std::string& error) {
  const auto slash = spec.find('/');
  const char* end = spec.data() + spec.size();
  if (slash != std::string::npos) {
    const auto a = std::from_chars(spec.data(), spec.data() + slash, index);
    const auto b = std::from_chars(spec.data() + slash + 1, end, count);
    if (a.ec == std::errc{} && a.ptr == spec.data() + slash && b.ec == std::errc{} && b.ptr == end && count > 0 &&
        index < count)
      return true;
  }
  error = "--shard takes I/N with 0 <= I < N (e.g. 0/2 and 1/2 for two engines), not '" + spec + "'";
  return false;
}

}  // namespace tickpath::engine
