#include "live_feed.hpp"

#include <fmt/format.h>
#include <poll.h>

#include <algorithm>
#include <cctype>
#include <thread>

#include "tickpath/feed/rest_client.hpp"

namespace tickpath::engine {

using SteadyClock = std::chrono::steady_clock;

const char* to_string(RetireReason r) noexcept {
  switch (r) {
    case RetireReason::failed: return "failed";
    case RetireReason::closed_by_server: return "closed by the server";
    case RetireReason::stale: return "stale";
    case RetireReason::rotated: return "rotated";
    case RetireReason::shutdown: return "shutdown";
  }
  return "?";
}

namespace {
std::string lower(std::string_view s) {
  std::string o(s);
  for (auto& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return o;
}
// Binance's request weight for GET /api/v3/depth by limit.
int depth_weight(int limit) { return limit <= 100 ? 5 : limit <= 500 ? 25 : limit <= 1000 ? 50 : 250; }
}  // namespace

LiveFeed::LiveFeed(const LiveOptions& opts, const infra::SymbolTable& symbols, const infra::TscClock& clock)
    : opts_(opts), symbols_(symbols), clock_(clock) {
  // Stream names: <symbol lower case>@<kind>, spread over connections.
  std::vector<std::string> streams;
  book_symbols_.assign(symbols.size(), false);
  const bool diff_depth = std::any_of(opts.streams.begin(), opts.streams.end(), [](const std::string& k) {
    return k == "depth" || k.rfind("depth@", 0) == 0;
  });
  for (std::size_t id = 0; id < symbols.size(); ++id) {
    const std::string sym = lower(symbols.name(static_cast<infra::SymbolId>(id)));
    for (const auto& k : opts.streams) streams.push_back(sym + "@" + k);
    book_symbols_[id] = diff_depth;
  }
  const std::size_t per = std::max<std::size_t>(1, opts.max_streams_per_connection);
  for (std::size_t i = 0; i < streams.size(); i += per) {
    std::string t = "/stream?streams=";
    for (std::size_t j = i; j < std::min(streams.size(), i + per); ++j) {
      if (j != i) t += '/';
      t += streams[j];
    }
    targets_.push_back(std::move(t));
  }
  slots_.resize(targets_.size());
  slot_open_.assign(targets_.size(), 0);
  slot_down_since_.assign(targets_.size(), 0);
  snapshot_requested_.assign(symbols.size(), false);
  stale_ticks_ = clock.ns_to_ticks(opts.stale_after_s * 1e9);
  rng_ ^= static_cast<std::uint64_t>(SteadyClock::now().time_since_epoch().count());
}

LiveFeed::~LiveFeed() {
  LiveConn* c = nullptr;
  while (handoff_.pop(c)) delete c;
  while (retired_.pop(c)) delete c;
  for (std::size_t i = 0; i < nconns_; ++i) delete conns_[i];
  SnapshotMsg* s = nullptr;
  while (snapshots_.pop(s)) delete s;
  while (snapshots_done_.pop(s)) delete s;
}

LiveConn* LiveFeed::open_connection(std::size_t slot, std::string& error) {
  feed::TransportOptions t;
  t.tls = ws_url_.tls;
  t.verify_peer = !opts_.insecure;
  t.ca_file = opts_.ca_file;
  auto tr = feed::connect_transport(ws_url_.host, ws_url_.port, t, error);
  if (!tr) return nullptr;
  feed::WsClientOptions w;
  w.max_message_bytes = opts_.max_message_bytes;
  w.huge_pages = opts_.huge_pages;
  auto ws = std::make_unique<feed::WsClient>(std::move(tr), w);
  std::string prefix = ws_url_.target == "/" ? "" : ws_url_.target;
  if (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (!ws->handshake(ws_url_.host, ws_url_.port, prefix + targets_[slot], error, &clock_)) return nullptr;
  if (opts_.huge_pages && !ws->huge_pages() && notes_.empty())
    notes_.push_back("huge pages asked for but not available (vm.nr_hugepages = 0?): receive buffers use 4 KB pages");
  auto* c = new LiveConn;
  c->ws = std::move(ws);
  c->slot = slot;
  c->id = next_id_++;
  c->opened_at = SteadyClock::now();
  return c;
}

bool LiveFeed::start(std::string& error) {
  if (!feed::parse_url(opts_.ws_url, ws_url_, error)) return false;
  if (!ws_url_.websocket) return error = "the stream URL must be ws:// or wss://, not " + opts_.ws_url, false;
  if (targets_.empty()) return error = "a live feed needs --symbols and at least one stream", false;
  start_time_ = SteadyClock::now();
  if (targets_.size() > kMaxConns / 2) return error = fmt::format("{} connections needed, more than {}", targets_.size(), kMaxConns / 2), false;
  for (std::size_t s = 0; s < targets_.size(); ++s) {
    LiveConn* c = open_connection(s, error);
    if (c == nullptr) return false;
    connect_times_.push_back(SteadyClock::now());
    slots_[s].conns = 1;
    slots_[s].current_opened = c->opened_at;
    slots_[s].ever_connected = true;
    records_.push_back({c->id, s, 0.0, -1.0, 0, 0, ""});
    (void)handoff_.push(c);
  }
  return true;
}

// ---- feed thread ----

void LiveFeed::adopt(LiveConn* c) noexcept {
  const std::uint64_t now = clock_.now();
  c->adopted_tick = c->last_msg_tick = now;
  // A second connection on a slot is a rotation: the old one keeps reading
  // until the new one has delivered for overlap_s (on_first_message sets
  // the end then), so a new connection that is slow to start streaming
  // cannot leave a hole between the two. If it never delivers, the old one
  // goes after overlap_s + stale_after_s, when the new one is stale anyway.
  for (std::size_t i = 0; i < nconns_; ++i) {
    LiveConn& o = *conns_[i];
    if (o.slot == c->slot && !o.rotating_out) {
      o.rotating_out = true;
      o.overlap_end_tick = now + clock_.ns_to_ticks(opts_.overlap_s * 1e9) + stale_ticks_;
    }
  }
  c->holding = c->hold_cap != 0 && slot_open_[c->slot] > 0;  // a rotation: hold until the old one is gone
  holding_ += c->holding;
  if (slot_down_since_[c->slot] != 0) {
    outage_ticks_.store(outage_ticks_.load(std::memory_order_relaxed) + (now - slot_down_since_[c->slot]),
                        std::memory_order_relaxed);
    slot_down_since_[c->slot] = 0;
  }
  ++slot_open_[c->slot];
  conns_[nconns_++] = c;
  open_.store(nconns_, std::memory_order_relaxed);
}

void LiveFeed::on_first_message(const LiveConn& c, std::uint64_t rx) noexcept {
  const std::uint64_t end = rx + clock_.ns_to_ticks(opts_.overlap_s * 1e9);
  for (std::size_t i = 0; i < nconns_; ++i) {
    LiveConn& o = *conns_[i];
    if (&o != &c && o.slot == c.slot && o.rotating_out && end < o.overlap_end_tick) o.overlap_end_tick = end;
  }
}

void LiveFeed::retire(std::size_t i, RetireReason why) noexcept {
  LiveConn* c = conns_[i];
  c->reason = why;
  conns_[i] = conns_[--nconns_];
  open_.store(nconns_, std::memory_order_relaxed);
  if (--slot_open_[c->slot] == 0 && why != RetireReason::shutdown) slot_down_since_[c->slot] = clock_.now();
  while (!retired_.push(c)) _mm_pause();  // 64 slots, drained every few ms by the io thread
}

bool LiveFeed::retire_due(const LiveConn& c, std::uint64_t now, RetireReason& why) const noexcept {
  if (c.rotating_out && now >= c.overlap_end_tick) return why = RetireReason::rotated, true;
  if (stale_ticks_ != 0 && now - c.last_msg_tick > stale_ticks_) return why = RetireReason::stale, true;
  return false;
}

bool LiveFeed::hold(LiveConn& c, const char* d, std::size_t len, std::uint64_t rx) noexcept {
  const auto n = static_cast<std::uint32_t>(len);
  const std::size_t need = sizeof n + sizeof rx + len + feed::kPadding;
  if (c.hold_used + need > c.hold_cap) return false;
  char* p = c.hold.get() + c.hold_used;
  std::memcpy(p, &n, sizeof n);
  std::memcpy(p + sizeof n, &rx, sizeof rx);
  std::memcpy(p + sizeof n + sizeof rx, d, len);
  std::memset(p + sizeof n + sizeof rx + len, 0, feed::kPadding);
  c.hold_used += need;
  ++held_frames_;
  return true;
}

void LiveFeed::end_overlap_now(const LiveConn& c) noexcept {
  ++hold_full_;
  for (std::size_t i = 0; i < nconns_; ++i)
    if (conns_[i] != &c && conns_[i]->slot == c.slot && conns_[i]->rotating_out) conns_[i]->overlap_end_tick = 0;
  overlap_cut_ = true;
}

void LiveFeed::feed_wait(int timeout_ms) noexcept {
  std::array<pollfd, kMaxConns> fds{};
  for (std::size_t i = 0; i < nconns_; ++i) {
    if (conns_[i]->ws->transport().buffered()) return;
    fds[i] = {conns_[i]->ws->transport().native_handle(), POLLIN, 0};
  }
  (void)::poll(fds.data(), nconns_, timeout_ms);
}

// ---- io thread ----

// Exponential back-off with jitter: the step doubles up to the maximum, and
// the wait is a random 50-100% of it, so many engines do not retry in step.
void LiveFeed::schedule_retry(Slot& s, std::chrono::steady_clock::time_point now) noexcept {
  s.backoff_s = s.backoff_s == 0 ? opts_.backoff_initial_s : std::min(opts_.backoff_max_s, s.backoff_s * 2);
  rng_ ^= rng_ << 13, rng_ ^= rng_ >> 7, rng_ ^= rng_ << 17;
  const double jitter = 0.5 + 0.5 * static_cast<double>(rng_ >> 11) * 0x1.0p-53;
  s.next_attempt = now + std::chrono::microseconds(static_cast<long>(s.backoff_s * jitter * 1e6));
}

void LiveFeed::io_tick() {
  const auto now = SteadyClock::now();
  LiveConn* c = nullptr;
  while (retired_.pop(c)) {
    Slot& s = slots_[c->slot];
    --s.conns;
    if (c->reason == RetireReason::rotated) s.rotating = false;
    for (auto& r : records_) {
      if (r.id != c->id) continue;
      r.closed_s = std::chrono::duration<double>(now - c->opened_at).count() + r.opened_s;
      r.messages = c->messages;
      r.sq_missing = c->sq.missing;
      r.end = to_string(c->reason);
      if (c->reason == RetireReason::failed || c->reason == RetireReason::closed_by_server) {
        r.end += ": ";
        r.end += c->ws->reason();
      }
    }
    pings_ += c->ws->counters().pings.load();
    pongs_ += c->ws->counters().pongs_sent.load();
    const double lived = std::chrono::duration<double>(now - c->opened_at).count();
    if (c->messages > 0 && lived >= 5) s.backoff_s = 0;  // it worked for a while: start over
    if (s.conns == 0 && c->reason != RetireReason::shutdown) {
      // A server's close handshake (e.g. Binance's 24 h limit) is retried at once the first time.
      const bool at_once = c->reason == RetireReason::closed_by_server && s.backoff_s == 0;
      schedule_retry(s, now);
      if (at_once) s.next_attempt = now;
    }
    delete c;
  }
  const auto since_start = [&](SteadyClock::time_point t) { return std::chrono::duration<double>(t - start_time_).count(); };
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    if (stopping_ || shutting_down_.load(std::memory_order_acquire)) break;
    const bool need_reconnect = s.conns == 0 && now >= s.next_attempt;
    const bool need_rotation = s.conns == 1 && !s.rotating && opts_.rotate_after_s > 0 &&
                               std::chrono::duration<double>(now - s.current_opened).count() >= opts_.rotate_after_s;
    if (!need_reconnect && !need_rotation) continue;
    while (!connect_times_.empty() && now - connect_times_.front() > std::chrono::minutes(5)) connect_times_.pop_front();
    if (static_cast<int>(connect_times_.size()) >= opts_.connects_per_5min) {
      ++rate_limited_;
      s.next_attempt = connect_times_.front() + std::chrono::minutes(5);
      continue;
    }
    connect_times_.push_back(now);
    std::string error;
    LiveConn* nc = open_connection(i, error);
    if (nc == nullptr) {
      ++connect_failures_;
      last_connect_error_ = error;
      if (need_reconnect) schedule_retry(s, SteadyClock::now());
      continue;
    }
    if (need_rotation) {
      ++rotations_;
      s.rotating = true;
      if (opts_.rotation_hold_bytes > 0) {  // pages are touched only as frames are held
        nc->hold = std::make_unique_for_overwrite<char[]>(opts_.rotation_hold_bytes);
        nc->hold_cap = opts_.rotation_hold_bytes;
      }
    } else {
      ++reconnects_;
    }
    ++s.conns;
    s.current_opened = nc->opened_at;
    records_.push_back({nc->id, i, since_start(nc->opened_at), -1.0, 0, 0, ""});
    (void)handoff_.push(nc);
  }

  // REST snapshots, within Binance's request weight per minute.
  infra::SymbolId id = 0;
  while (requests_.pop(id)) pending_requests_.push_back(id);
  SnapshotMsg* done = nullptr;
  while (snapshots_done_.pop(done)) delete done;
  if (now - weight_window_ >= std::chrono::minutes(1)) {
    weight_window_ = now;
    weight_used_ = 0;
  }
  while (!pending_requests_.empty()) {
    const int w = depth_weight(opts_.snapshot_limit);
    if (weight_used_ + w > opts_.rest_weight_per_min) break;
    weight_used_ += w;
    const infra::SymbolId sym = pending_requests_.front();
    pending_requests_.pop_front();
    feed::TransportOptions t;
    t.verify_peer = !opts_.insecure;
    t.ca_file = opts_.ca_file;
    feed::HttpResponse r;
    std::string error;
    const std::string url = fmt::format("{}/api/v3/depth?symbol={}&limit={}", opts_.rest_url, symbols_.name(sym),
                                        opts_.snapshot_limit);
    ++snapshot_fetches_;
    auto* msg = new SnapshotMsg;
    msg->symbol = sym;
    if (!feed::http_get(url, t, r, error) || r.status != 200) {
      ++snapshot_failures_;
      if (error.empty()) error = fmt::format("HTTP {}", r.status);
      last_connect_error_ = "snapshot " + url + ": " + error;
      // An empty body is rejected by the parser (counted); the feed thread
      // then clears the request and asks again on the next diff.
      msg->body.clear();
    } else {
      msg->body = std::move(r.body);
    }
    msg->body.append(feed::kPadding, '\0');
    if (!snapshots_.push(msg)) delete msg;
  }
}

void LiveFeed::finish(RunReport& rep) {
  // The feed thread has stopped and handed everything back.
  stopping_ = true;
  io_tick();
  rep.live = true;
  rep.connections = records_;
  for (auto& r : rep.connections)
    if (r.closed_s < 0) r.end = "open at the end";
  rep.reconnects = reconnects_;
  rep.rotations = rotations_;
  rep.rotation_held = held_frames_;
  rep.rotation_hold_full = hold_full_;
  rep.connect_failures = connect_failures_;
  rep.connect_rate_limited = rate_limited_;
  rep.outage_s = clock_.to_ns(outage_ticks()) * 1e-9;
  rep.snapshot_fetches = snapshot_fetches_;
  rep.snapshot_failures = snapshot_failures_;
  rep.last_connect_error = last_connect_error_;
  rep.pings = pings_;
  rep.pongs = pongs_;
  for (const auto& r : records_) {
    rep.sq_missing += r.sq_missing;
    rep.stale_reconnects += r.end == "stale";
  }
  for (const auto& n : notes_) rep.warnings.push_back(n);
}

}  // namespace tickpath::engine
