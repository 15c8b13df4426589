#include "nats_sink.hpp"

#include <fmt/format.h>
#include <nats/nats.h>

#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <mutex>
#include <thread>

#include "nats_binary.hpp"
#include "spill_file.hpp"

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
  std::uint16_t shard_index = 0, shard_count = 0;
  std::vector<std::string> names;
  std::vector<double> position;  // last published per symbol (NaN: none yet)
  // per symbol: the last signal's event time and how many signals had it (the message id's last part)
  std::vector<std::int64_t> signal_t;
  std::vector<std::uint32_t> signal_n;
  natsOptions* nopts = nullptr;
  natsConnection* conn = nullptr;
  jsCtx* js = nullptr;
  bool stream_ready = false;
  std::string subject, id, payload, spilled_subject, spilled_id;
  std::uint64_t published = 0, failed = 0, bytes = 0, js_sent = 0, spilled = 0, unsent = 0, stats_seq = 0;
  std::int64_t run_ns = 0;
  std::atomic<std::uint64_t> disconnects{0}, reconnects{0};
  std::atomic<std::uint64_t> acked{0}, duplicates{0}, ack_errors{0};
  std::atomic<bool> connected{false};
  std::atomic<bool> closed{false};
  SpillFile spill;
  std::chrono::steady_clock::time_point retry_after{};
  std::mutex retry_mu;              // the library's ack thread hands failed publishes to the io thread
  std::vector<natsMsg*> retry;      // guarded by retry_mu
  std::string warning;              // the last stream error, once

  [[nodiscard]] std::uint64_t in_flight() const noexcept {
    return js_sent - acked.load(std::memory_order_acquire) - ack_errors.load(std::memory_order_acquire);
  }

  static void on_connected(natsConnection*, void* self) { static_cast<Impl*>(self)->connected = true; }
  static void on_disconnected(natsConnection*, void* self) {
    auto* s = static_cast<Impl*>(self);
    s->connected = false;
    s->disconnects.fetch_add(1);
  }
  // The last callback the client library makes for a connection (on its own thread).
  static void on_closed(natsConnection*, void* self) { static_cast<Impl*>(self)->closed = true; }
  static void on_reconnected(natsConnection*, void* self) {
    auto* s = static_cast<Impl*>(self);
    s->connected = true;
    s->reconnects.fetch_add(1);
  }
  // JetStream's answer to each asynchronous publish (library thread): an
  // acknowledged message is done; any other outcome (an error from the
  // server, no answer within the wait) goes back to the io thread to be
  // sent again with the same id.
  static void on_ack(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* self) {
    auto* s = static_cast<Impl*>(self);
    if (pa != nullptr && pae == nullptr) {
      if (pa->Duplicate) s->duplicates.fetch_add(1, std::memory_order_relaxed);
      natsMsg_Destroy(msg);
      s->acked.fetch_add(1, std::memory_order_release);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(s->retry_mu);
      s->retry.push_back(msg);
    }
    s->ack_errors.fetch_add(1, std::memory_order_release);
  }

  // Creates the stream, or updates one of that name to this configuration.
  natsStatus ensure_stream(std::string& why) {
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    const std::string subjects = opt.prefix + ".>";
    const char* list[] = {subjects.c_str()};
    sc.Name = opt.stream.c_str();
    sc.Subjects = list;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    sc.Retention = js_LimitsPolicy;
    sc.Discard = js_DiscardOld;
    sc.MaxBytes = opt.stream_max_bytes;
    sc.MaxAge = static_cast<std::int64_t>(opt.stream_max_age_s * 1e9);
    sc.Duplicates = std::int64_t{120} * 1'000'000'000;  // a retry within 2 min is stored once
    sc.Replicas = opt.stream_replicas;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    jsStreamInfo* si = nullptr;
    natsStatus s = js_AddStream(&si, js, &sc, nullptr, &jerr);
    if (s != NATS_OK && jerr == JSStreamNameExistErr) s = js_UpdateStream(&si, js, &sc, nullptr, &jerr);
    jsStreamInfo_Destroy(si);
    if (s == NATS_OK) {
      stream_ready = true;
      return s;
    }
    why = s == NATS_NO_RESPONDERS ? "the server has no JetStream (start nats-server with -js)"
          : jerr != 0             ? fmt::format("{} (JetStream error {})", nats_GetLastError(nullptr), static_cast<int>(jerr))
                                  : std::string(natsStatus_GetText(s));
    return s;
  }

  // One hand-over to the library; false when it refused.
  bool send(const std::string& subj, const std::string& msg_id, std::string_view data) {
    if (js == nullptr)
      return natsConnection_Publish(conn, subj.c_str(), data.data(), static_cast<int>(data.size())) == NATS_OK;
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = msg_id.c_str();
    po.MaxWait = 5000;  // no answer in 5 s: the publish comes back as an error and is sent again
    if (js_PublishAsync(js, subj.c_str(), data.data(), static_cast<int>(data.size()), &po) != NATS_OK) return false;
    ++js_sent;
    return true;
  }
  [[nodiscard]] bool room() const noexcept { return js == nullptr || in_flight() < opt.max_in_flight; }
  [[nodiscard]] bool can_send() const noexcept { return conn != nullptr && (js == nullptr || stream_ready); }

  void to_spill(std::string_view subj, std::string_view msg_id, std::string_view data, bool handed_over) {
    if (spill.put({subj, msg_id, data, handed_over ? "1" : "0"})) {
      ++spilled;
    } else {
      ++unsent;  // the disk refused too: lost, counted
      if (warning.empty()) warning = "cannot write the NATS spill file " + spill.path();
    }
  }

  // A new message: straight to the library when nothing waits before it
  // and there is room, else behind what waits.
  void publish(std::string_view data) {
    if (spill.pending() == 0 && can_send() && room()) {
      if (send(subject, id, data)) {
        ++published;
        bytes += data.size();
        return;
      }
      ++failed;
    }
    to_spill(subject, id, data, false);
  }

  void poll() {
    std::vector<natsMsg*> again;
    {
      std::lock_guard<std::mutex> lock(retry_mu);
      again.swap(retry);
    }
    for (natsMsg* m : again) {
      const char* mid = nullptr;
      (void)natsMsgHeader_Get(m, "Nats-Msg-Id", &mid);
      to_spill(natsMsg_GetSubject(m), mid != nullptr ? mid : "",
               std::string_view(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m))), true);
      natsMsg_Destroy(m);
    }
    if (!again.empty()) retry_after = std::chrono::steady_clock::now() + std::chrono::milliseconds(250);
    if (js != nullptr && !stream_ready && connected.load()) {
      std::string why;
      if (ensure_stream(why) != NATS_OK && warning.empty()) warning = "JetStream stream " + opt.stream + ": " + why;
    }
    if (spill.pending() == 0 || !connected.load() || !can_send() || std::chrono::steady_clock::now() < retry_after) return;
    std::array<std::string_view, SpillFile::kMaxFields> f;  // subject, id, payload, handed over before
    for (int i = 0; i < 4096 && room() && spill.front(f); ++i) {
      const std::string_view data = f[2];
      spilled_subject.assign(f[0]);
      spilled_id.assign(f[1]);
      if (!send(spilled_subject, spilled_id, data)) {
        ++failed;
        retry_after = std::chrono::steady_clock::now() + std::chrono::milliseconds(250);
        return;
      }
      if (f[3] != "1") {
        ++published;
        bytes += data.size();
      }
      spill.pop();
    }
  }

  [[nodiscard]] std::uint64_t waiting() {
    std::lock_guard<std::mutex> lock(retry_mu);
    return spill.pending() + retry.size() + (js != nullptr ? in_flight() : 0);
  }
};

NatsSink::NatsSink() : impl_(std::make_unique<Impl>()) {}

NatsSink::~NatsSink() {
  if (impl_->conn != nullptr) {
    // Closing makes the library call back (disconnected, then closed) from
    // its own thread: Impl must outlive those calls, so wait for the last.
    natsConnection_Close(impl_->conn);
    for (int i = 0; i < 500 && !impl_->closed.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    if (impl_->js != nullptr) jsCtx_Destroy(impl_->js);
    natsConnection_Destroy(impl_->conn);
    if (!impl_->closed.load()) {
      (void)impl_.release();  // a callback may still come: leave its target alive
      return;
    }
  }
  for (natsMsg* m : impl_->retry) natsMsg_Destroy(m);
  if (impl_->nopts != nullptr) natsOptions_Destroy(impl_->nopts);
}

bool NatsSink::start(const NatsOptions& o, std::vector<std::string> symbol_names, std::string shard, std::string& error) {
  Impl& m = *impl_;
  m.opt = o;
  m.shard = std::move(shard);
  if (std::uint32_t i = 0, n = 0; m.shard != "all" && parse_shard(m.shard, i, n, error)) {
    m.shard_index = static_cast<std::uint16_t>(i);
    m.shard_count = static_cast<std::uint16_t>(n);
  } else if (m.shard != "all") {
    return false;  // (the command line checked it already)
  }
  m.names = std::move(symbol_names);
  m.position.assign(m.names.size(), std::nan(""));
  m.signal_t.assign(m.names.size(), INT64_MIN);
  m.signal_n.assign(m.names.size(), 0);
  m.run_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  if (o.url.rfind("nats://", 0) != 0 && o.url.rfind("tls://", 0) != 0)
    return error = "--nats takes nats://HOST:PORT, not '" + o.url + "'", false;
  for (std::size_t a = 0, b; a <= o.prefix.size(); a = b + 1) {
    b = o.prefix.find('.', a);
    if (b == std::string::npos) b = o.prefix.size();
    if (!valid_token(std::string_view(o.prefix).substr(a, b - a)))
      return error = "--nats-prefix: '" + o.prefix + "' is not a NATS subject prefix (tokens without spaces, * or >)", false;
  }
  if (!o.stream.empty() && (!valid_token(o.stream) || o.stream.find('.') != std::string::npos))
    return error = "--nats-stream: '" + o.stream + "' is not a stream name (no spaces, dots, * or >)", false;
  if (o.max_in_flight == 0) return error = "--nats-max-in-flight must be at least 1", false;
  if (!m.spill.open(o.spill_dir, "nats-spill", error)) return false;
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
  if (!o.stream.empty()) {
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 2000;
    jo.PublishAsync.MaxPending = static_cast<std::int64_t>(o.max_in_flight) + 1;  // our bound is checked first: never stalls
    jo.PublishAsync.AckHandler = &Impl::on_ack;
    jo.PublishAsync.AckHandlerClosure = &m;
    s = natsConnection_JetStream(&m.js, m.conn, &jo);
    if (s != NATS_OK) return error = fmt::format("--nats-stream {}: {}", o.stream, natsStatus_GetText(s)), false;
    std::string why;
    if (m.connected.load() && m.ensure_stream(why) != NATS_OK)
      return error = fmt::format("--nats-stream {} on {}: {}", o.stream, o.url, why), false;
  }
  return true;
}

void NatsSink::publish(std::string_view kind, std::string_view symbol, std::string_view payload, std::string_view id) {
  Impl& m = *impl_;
  if (m.conn == nullptr) return;
  m.subject.assign(m.opt.prefix).append(".").append(kind).append(".").append(symbol);
  m.id.assign(id);
  m.publish(payload);
}

void NatsSink::on_signal(const infra::Signal& sg) {
  Impl& m = *impl_;
  if (sg.symbol >= m.names.size()) return;
  const std::string& name = m.names[sg.symbol];
  // The id: symbol, event time and the signal's place among that symbol's signals at that time.
  std::uint32_t& n = m.signal_n[sg.symbol];
  n = m.signal_t[sg.symbol] == sg.event_time_ms ? n + 1 : 0;
  m.signal_t[sg.symbol] = sg.event_time_ms;
  const bool keyed = m.js != nullptr;  // ids only where a stream de-duplicates by them
  const std::string key = keyed ? fmt::format("{}.{}.{}", name, sg.event_time_ms, n) : std::string();
  if (m.opt.binary) {
    natsbin::Writer(m.payload, natsbin::Kind::signal, m.shard_index, m.shard_count, static_cast<std::uint8_t>(sg.action),
                    static_cast<std::uint8_t>(sg.reason))
        .put(8, sg.event_time_ms)
        .put(16, sg.confidence)
        .put(20, sg.value)
        .put(24, sg.price)
        .put(32, sg.equity)
        .put(40, sg.position);
  } else {
    m.payload.clear();
    fmt::format_to(std::back_inserter(m.payload), R"({{"symbol":"{}","t":{},"action":"{}","reason":"{}","confidence":{},"value":{},"price":{},"shard":"{}"}})",
                   name, sg.event_time_ms, infra::to_string(sg.action), infra::to_string(sg.reason),
                   num(sg.confidence), num(sg.value), num(sg.price), m.shard);
  }
  publish("signal", name, m.payload, keyed ? "s." + key : std::string());
  if (static_cast<double>(sg.position) == m.position[sg.symbol]) return;
  m.position[sg.symbol] = sg.position;
  if (m.opt.binary) {
    natsbin::Writer(m.payload, natsbin::Kind::portfolio, m.shard_index, m.shard_count, static_cast<std::uint8_t>(sg.position), 0)
        .put(8, sg.event_time_ms)
        .put(16, sg.equity)
        .put(24, sg.price);
  } else {
    m.payload.clear();
    fmt::format_to(std::back_inserter(m.payload), R"({{"symbol":"{}","t":{},"position":{},"equity":{},"price":{},"shard":"{}"}})", name,
                   sg.event_time_ms, static_cast<int>(sg.position), num(sg.equity), num(sg.price), m.shard);
  }
  publish("portfolio", name, m.payload, keyed ? "p." + key : std::string());
}

void NatsSink::on_bar(const UiBar& b) {
  Impl& m = *impl_;
  if (b.symbol >= m.names.size()) return;
  const std::string& name = m.names[b.symbol];
  if (m.opt.binary) {
    natsbin::Writer(m.payload, natsbin::Kind::bar, m.shard_index, m.shard_count, 0, 0)
        .put(8, b.bar.open_time_ms)
        .put(16, b.bar.open)
        .put(24, b.bar.high)
        .put(32, b.bar.low)
        .put(40, b.bar.close)
        .put(48, b.bar.volume)
        .put(56, b.sma_20)
        .put(64, b.bb_upper)
        .put(72, b.bb_lower);
  } else {
    m.payload.clear();
    fmt::format_to(std::back_inserter(m.payload),
        R"({{"symbol":"{}","t":{},"o":{},"h":{},"l":{},"c":{},"v":{},"sma20":{},"bb_upper":{},"bb_lower":{},"shard":"{}"}})",
        name, b.bar.open_time_ms, num(b.bar.open), num(b.bar.high), num(b.bar.low), num(b.bar.close), num(b.bar.volume),
        num(b.sma_20), num(b.bb_upper), num(b.bb_lower), m.shard);
  }
  publish("bar", name, m.payload, m.js != nullptr ? fmt::format("b.{}.{}", name, b.bar.open_time_ms) : std::string());
}

void NatsSink::on_trade(const UiTrade& t) {
  Impl& m = *impl_;
  if (!m.opt.trades || t.symbol >= m.names.size()) return;
  const std::string& name = m.names[t.symbol];
  if (m.opt.binary) {
    natsbin::Writer(m.payload, natsbin::Kind::trade, m.shard_index, m.shard_count, t.buyer_maker, t.aggregate)
        .put(8, t.time_ms)
        .put(16, t.id)
        .put(24, t.price)
        .put(32, t.qty);
  } else {
    m.payload.clear();
    fmt::format_to(std::back_inserter(m.payload), R"({{"symbol":"{}","t":{},"id":{},"agg":{},"p":{},"q":{},"m":{},"shard":"{}"}})", name,
                   t.time_ms, t.id, t.aggregate, num(t.price), num(t.qty), t.buyer_maker, m.shard);
  }
  publish("trade", name, m.payload,
          m.js != nullptr ? fmt::format("{}.{}.{}", t.aggregate ? "a" : "t", name, t.id) : std::string());
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
  publish("stats", label, stats, m.js != nullptr ? fmt::format("stats.{}.{}.{}", label, m.run_ns, m.stats_seq++) : std::string());
}

void NatsSink::poll() {
  if (impl_->conn != nullptr) impl_->poll();
}

void NatsSink::flush(int idle_ms, int max_ms, const std::atomic<bool>* cancel) {
  Impl& m = *impl_;
  if (m.conn == nullptr) return;
  const auto start = std::chrono::steady_clock::now();
  auto last_progress = start;
  std::uint64_t before = m.waiting();
  const auto cancelled = [cancel] { return cancel != nullptr && cancel->load(); };
  while (!cancelled()) {
    m.poll();
    const std::uint64_t now_waiting = m.waiting();
    if (now_waiting == 0) break;
    const auto now = std::chrono::steady_clock::now();
    if (now_waiting < before) last_progress = now, before = now_waiting;
    if (now - last_progress >= std::chrono::milliseconds(idle_ms) || now - start >= std::chrono::milliseconds(max_ms)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (m.connected.load() && !cancelled()) (void)natsConnection_FlushTimeout(m.conn, std::max<int>(100, idle_ms / 4));
  m.unsent += m.waiting();
}

NatsCounters NatsSink::counters() const {
  const Impl& m = *impl_;
  NatsCounters c;
  c.published = m.published;
  c.failed = m.failed;
  c.bytes = m.bytes;
  c.disconnects = m.disconnects.load();
  c.reconnects = m.reconnects.load();
  c.acked = m.acked.load();
  c.duplicates = m.duplicates.load();
  c.ack_errors = m.ack_errors.load();
  c.spilled = m.spilled;
  c.unsent = m.unsent;
  c.connected = m.connected.load();
  return c;
}

std::string NatsSink::warning() const { return impl_->warning; }

namespace natsbin {

std::string to_json(std::string_view d, std::string_view symbol) {
  if (d.size() < 8 || static_cast<std::uint8_t>(d[0]) != kVersion) return {};
  const auto kind = static_cast<std::uint8_t>(d[1]);
  if (kind < 1 || kind > 4 || d.size() != kSize[kind]) return {};
  auto get = [&d]<class T>(std::size_t at, T v) {
    std::memcpy(&v, d.data() + at, sizeof v);
    return v;
  };
  const auto si = get(2, std::uint16_t{}), sn = get(4, std::uint16_t{});
  const std::string shard = sn == 0 ? "all" : fmt::format("{}/{}", si, sn);
  const auto a = static_cast<std::uint8_t>(d[6]), b = static_cast<std::uint8_t>(d[7]);
  const auto t = get(8, std::int64_t{});
  switch (static_cast<Kind>(kind)) {
    case Kind::signal:
      if (a > 2 || b > 4) return {};
      return fmt::format(R"({{"symbol":"{}","t":{},"action":"{}","reason":"{}","confidence":{},"value":{},"price":{},"equity":{},"position":{},"shard":"{}"}})",
                         symbol, t, infra::to_string(static_cast<infra::SignalAction>(a)),
                         infra::to_string(static_cast<infra::SignalReason>(b)), num(get(16, float{})), num(get(20, float{})),
                         num(get(24, double{})), num(get(32, double{})), static_cast<int>(get(40, std::int8_t{})), shard);
    case Kind::bar:
      return fmt::format(
          R"({{"symbol":"{}","t":{},"o":{},"h":{},"l":{},"c":{},"v":{},"sma20":{},"bb_upper":{},"bb_lower":{},"shard":"{}"}})",
          symbol, t, num(get(16, double{})), num(get(24, double{})), num(get(32, double{})), num(get(40, double{})),
          num(get(48, double{})), num(get(56, double{})), num(get(64, double{})), num(get(72, double{})), shard);
    case Kind::portfolio:
      return fmt::format(R"({{"symbol":"{}","t":{},"position":{},"equity":{},"price":{},"shard":"{}"}})", symbol, t,
                         static_cast<int>(static_cast<std::int8_t>(a)), num(get(16, double{})), num(get(24, double{})), shard);
    case Kind::trade:
      return fmt::format(R"({{"symbol":"{}","t":{},"id":{},"agg":{},"p":{},"q":{},"m":{},"shard":"{}"}})", symbol, t,
                         get(16, std::int64_t{}), b, num(get(24, double{})), num(get(32, double{})), a, shard);
  }
  return {};
}

}  // namespace natsbin

int nats_tail(const std::string& url, const std::string& subject, std::uint64_t count, double seconds, bool replay,
              const std::atomic<bool>& stop) {
  natsConnection* conn = nullptr;
  natsSubscription* sub = nullptr;
  jsCtx* js = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = natsConnection_ConnectTo(&conn, url.c_str());
  if (s == NATS_OK && replay) {
    // An ordered consumer from the first message the stream that holds the subject kept.
    s = natsConnection_JetStream(&js, conn, nullptr);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverAll;
    if (s == NATS_OK) s = js_SubscribeSync(&sub, js, subject.c_str(), nullptr, &so, &jerr);
  } else if (s == NATS_OK) {
    s = natsConnection_SubscribeSync(&sub, conn, subject.c_str());
  }
  if (s == NATS_OK) s = natsSubscription_SetPendingLimits(sub, -1, -1);
  if (s == NATS_OK) s = natsConnection_Flush(conn);  // the subscription is registered before we report ready
  if (s != NATS_OK) {
    const char* last = nats_GetLastError(nullptr);
    std::fprintf(stderr, "tickpath tail: %s %s: %s%s%s\n", url.c_str(), subject.c_str(), natsStatus_GetText(s),
                 replay ? ": " : "", replay ? (s == NATS_NO_RESPONDERS ? "the server has no JetStream" : last != nullptr ? last : "") : "");
    natsSubscription_Destroy(sub);
    jsCtx_Destroy(js);
    natsConnection_Destroy(conn);
    return 1;
  }
  std::fprintf(stderr, "tickpath tail: %s %s: %s\n", url.c_str(), subject.c_str(), replay ? "replaying the stream" : "subscribed");
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
    const std::string_view subj = natsMsg_GetSubject(msg);
    const std::string_view data(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
    const std::string decoded =
        !data.empty() && data.front() != '{' ? natsbin::to_json(data, subj.substr(subj.rfind('.') + 1)) : std::string();
    if (!decoded.empty()) {
      std::fprintf(stdout, "%.*s %s\n", static_cast<int>(subj.size()), subj.data(), decoded.c_str());
    } else {
      std::fprintf(stdout, "%.*s %.*s\n", static_cast<int>(subj.size()), subj.data(), static_cast<int>(data.size()), data.data());
    }
    std::fflush(stdout);
    natsMsg_Destroy(msg);
  }
  natsSubscription_Destroy(sub);
  jsCtx_Destroy(js);
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
