#include "exsim.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "tickpath/feed/binance_parser.hpp"
#include "tickpath/feed/frame_set.hpp"
#include "tickpath/feed/transport.hpp"
#include "tickpath/feed/udp.hpp"
#include "tickpath/feed/websocket.hpp"

namespace tickpath::exsim {

const char* to_string(Fault f) noexcept {
  switch (f) {
    case Fault::drop: return "drop";
    case Fault::stall: return "stall";
    case Fault::malformed: return "malformed";
    case Fault::skip_ids: return "skip_ids";
    case Fault::ping: return "ping";
    case Fault::close: return "close";
    case Fault::oversized: return "oversized";
  }
  return "?";
}

bool parse_fault(const std::string& name, Fault& out) noexcept {
  for (Fault f : {Fault::drop, Fault::stall, Fault::malformed, Fault::skip_ids, Fault::ping, Fault::close,
                  Fault::oversized}) {
    if (name == to_string(f)) {
      out = f;
      return true;
    }
  }
  return false;
}

namespace {

using Clock = std::chrono::steady_clock;

std::int64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string ssl_error(const char* what) {
  char buf[256] = {};
  const unsigned long e = ERR_get_error();
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return e != 0 ? fmt::format("{}: {}", what, buf) : std::string(what);
}

}  // namespace

bool make_certificate(const std::string& dir, std::string& cert_path, std::string& key_path, std::string& error) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (key == nullptr) return error = ssl_error("cannot generate a key"), false;
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), static_cast<long>(realtime_ns() & 0x7FFFFFFF));
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 7L * 24 * 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("tickpath-exsim"), -1, -1,
                             0);
  X509_set_issuer_name(x, name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
  for (const auto& [nid, value] : {std::pair{NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1"},
                                   std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                                   std::pair{NID_key_usage, "critical,digitalSignature,keyCertSign"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
    if (ext == nullptr) return error = ssl_error("cannot build a certificate extension"), false;
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  bool ok = X509_sign(x, key, EVP_sha256()) > 0;
  cert_path = dir + "/exsim-cert.pem";
  key_path = dir + "/exsim-key.pem";
  if (ok) {
    FILE* f = std::fopen(cert_path.c_str(), "w");
    ok = f != nullptr && PEM_write_X509(f, x) == 1;
    if (f != nullptr) std::fclose(f);
  }
  if (ok) {
    FILE* f = std::fopen(key_path.c_str(), "w");
    ok = f != nullptr && PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
    if (f != nullptr) std::fclose(f);
    std::filesystem::permissions(key_path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  }
  X509_free(x);
  EVP_PKEY_free(key);
  if (!ok) error = "cannot write the certificate to " + dir;
  return ok;
}

namespace {

std::string e8(std::int64_t v) {
  const bool neg = v < 0;
  const std::uint64_t a = neg ? static_cast<std::uint64_t>(-v) : static_cast<std::uint64_t>(v);
  return fmt::format("{}{}.{:08d}", neg ? "-" : "", a / 100'000'000, a % 100'000'000);
}

void append_server_frame(std::string& out, feed::WsOpcode op, std::string_view payload) {
  out += static_cast<char>(0x80 | static_cast<unsigned>(op));
  const std::size_t n = payload.size();
  if (n < 126) {
    out += static_cast<char>(n);
  } else if (n <= 0xFFFF) {
    out += static_cast<char>(126);
    out += static_cast<char>(n >> 8);
    out += static_cast<char>(n & 0xFF);
  } else {
    out += static_cast<char>(127);
    for (int i = 7; i >= 0; --i) out += static_cast<char>((static_cast<std::uint64_t>(n) >> (8 * i)) & 0xFF);
  }
  out += payload;
}

std::string query_param(std::string_view target, std::string_view key) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view kv = rest.substr(0, amp);
    const auto eq = kv.find('=');
    if (eq != std::string_view::npos && kv.substr(0, eq) == key) return std::string(kv.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return {};
}

struct Book {
  std::map<std::int64_t, std::int64_t, std::greater<>> bids;
  std::map<std::int64_t, std::int64_t> asks;
  std::int64_t last_update_id = 0;
  std::int64_t last_skipped_first = 0, last_skipped_final = 0;  // U and u of the last diff not sent
};

}  // namespace

struct ExchangeSimulator::Impl {
  enum class St : std::uint8_t { tls_handshake, http, ws, done };
  struct Client {
    int fd = -1;
    SSL* ssl = nullptr;
    St st = St::http;
    std::string in, out;
    std::size_t out_off = 0;
    std::unordered_set<std::string> streams;
    std::uint64_t seq = 0;
    std::size_t ws_index = 0;
    bool close_after_flush = false;
    std::vector<std::string> pings_outstanding;
    // SimConfig::lag_s: out[0] is byte out_base of the stream; `held` has
    // (time it may leave, stream offset) of frames not sent yet.
    std::uint64_t out_base = 0;
    std::deque<std::pair<std::chrono::steady_clock::time_point, std::uint64_t>> held;
    std::size_t replaces = SIZE_MAX;  // ws_index of the connection it rotates in for
  };

  SimConfig cfg;
  int listen_fd = -1;
  SSL_CTX* ctx = nullptr;
  std::atomic<bool> running{false};
  mutable std::mutex mu;  // guards everything below that a caller reads
  std::vector<std::pair<Fault, double>> commands;
  bool paused = false;
  SimStats st;
  std::unordered_map<std::string, Book> books;
  std::vector<std::unique_ptr<Client>> clients;
  // frame source
  std::unique_ptr<feed::SyntheticMarket> market;
  feed::FrameSet recording;
  std::size_t rec_pos = 0;
  feed::BinanceParser parser;
  feed::Message msg;
  std::string frame, wrapped;
  Clock::time_point started{}, stall_until{};
  bool generating = false;
  bool skip_next_diff = false;
  std::uint64_t ping_counter = 0;
  std::vector<Clock::time_point> next_fault;
  std::unique_ptr<feed::UdpSender> udp;
  std::uint64_t udp_seq = 0;
  std::vector<std::string> udp_batch;
  std::vector<std::string_view> udp_views;

  void flush_udp() {
    if (!udp || udp_batch.empty()) return;
    udp_views.assign(udp_batch.begin(), udp_batch.end());
    std::size_t done = 0;
    while (done < udp_views.size()) {  // a full socket buffer: wait for it, the stream must stay whole
      const std::size_t n = udp->send_batch(udp_views.data() + done, udp_views.size() - done);
      if (n == 0) {
        ++st.udp_send_failures;
        std::this_thread::yield();
      }
      done += n;
    }
    st.udp_sent += udp_views.size();
    udp_batch.clear();
  }

  void log(const std::string& s) const {
    if (cfg.log) std::fprintf(stderr, "exsim: %s\n", s.c_str());
  }

  // --- socket I/O, plain or TLS ---
  // >0 bytes, 0 would block, -1 closed or failed
  long rd(Client& c, char* buf, std::size_t cap) {
    if (c.ssl != nullptr) {
      std::size_t n = 0;
      if (SSL_read_ex(c.ssl, buf, cap, &n) == 1) return static_cast<long>(n);
      const int e = SSL_get_error(c.ssl, 0);
      ERR_clear_error();
      return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
    }
    const ssize_t n = ::recv(c.fd, buf, cap, 0);
    if (n > 0) return n;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    return -1;
  }
  long wr(Client& c, const char* buf, std::size_t len) {
    if (c.ssl != nullptr) {
      std::size_t n = 0;
      if (SSL_write_ex(c.ssl, buf, len, &n) == 1) return static_cast<long>(n);
      const int e = SSL_get_error(c.ssl, 0);
      ERR_clear_error();
      return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
    }
    const ssize_t n = ::send(c.fd, buf, len, MSG_NOSIGNAL);
    if (n >= 0) return n;
    return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
  }

  void close_client(Client& c, bool reset) {
    if (c.fd < 0) return;
    if (reset) {
      linger l{1, 0};  // RST: whatever is in flight is lost, as when a link dies
      ::setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    } else if (c.ssl != nullptr) {
      (void)SSL_shutdown(c.ssl);
      ERR_clear_error();
    }
    if (c.ssl != nullptr) SSL_free(c.ssl);
    c.ssl = nullptr;
    ::close(c.fd);
    c.fd = -1;
    if (c.st == St::ws && st.open_ws > 0) --st.open_ws;
    c.st = St::done;
  }

  void send_http(Client& c, int status, const char* reason, const std::string& body, const char* type) {
    c.out += fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", status,
                         reason, type, body.size());
    c.out += body;
    c.close_after_flush = true;
  }

  std::string depth_json(const std::string& symbol, std::size_t limit) {
    const auto it = books.find(symbol);
    if (it == books.end()) return {};
    const Book& b = it->second;
    std::string s = fmt::format(R"({{"lastUpdateId":{},"bids":[)", b.last_update_id);
    std::size_t i = 0;
    for (const auto& [p, q] : b.bids) {
      if (i == limit) break;
      s += fmt::format(R"({}["{}","{}"])", i++ ? "," : "", e8(p), e8(q));
    }
    s += R"(],"asks":[)";
    i = 0;
    for (const auto& [p, q] : b.asks) {
      if (i == limit) break;
      s += fmt::format(R"({}["{}","{}"])", i++ ? "," : "", e8(p), e8(q));
    }
    s += "]}";
    return s;
  }

  void on_http(Client& c) {
    const auto end = c.in.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (c.in.size() > 16384) send_http(c, 431, "Request Header Fields Too Large", "", "text/plain");
      return;
    }
    const std::string head = c.in.substr(0, end);
    c.in.erase(0, end + 4);
    const auto sp1 = head.find(' '), sp2 = head.find(' ', sp1 + 1);
    if (head.compare(0, 4, "GET ") != 0 || sp2 == std::string::npos) {
      send_http(c, 405, "Method Not Allowed", R"({"code":-1,"msg":"GET only"})", "application/json");
      return;
    }
    const std::string target = head.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string path = target.substr(0, target.find('?'));
    if (path == "/api/v3/depth") {
      ++st.rest_requests;
      const std::string sym = query_param(target, "symbol");
      const std::string lim = query_param(target, "limit");
      std::size_t limit = 100;
      if (!lim.empty()) limit = std::strtoul(lim.c_str(), nullptr, 10);
      std::string body = depth_json(sym, std::min<std::size_t>(limit == 0 ? 100 : limit, 5000));
      if (body.empty()) send_http(c, 400, "Bad Request", R"({"code":-1121,"msg":"Invalid symbol."})", "application/json");
      else send_http(c, 200, "OK", body, "application/json");
      log(fmt::format("REST depth {} limit {}", sym, limit));
      return;
    }
    if (path != "/stream" && path.rfind("/ws", 0) != 0) {
      send_http(c, 404, "Not Found", "", "text/plain");
      return;
    }
    std::string key;
    std::size_t pos = 0;
    while (pos < head.size()) {
      const auto eol = head.find("\r\n", pos);
      std::string line = head.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        std::string k = line.substr(0, colon);
        for (auto& ch : k) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        std::string v = line.substr(colon + 1);
        while (!v.empty() && v.front() == ' ') v.erase(0, 1);
        if (k == "sec-websocket-key") key = v;
      }
      if (eol == std::string::npos) break;
      pos = eol + 2;
    }
    if (key.empty()) {
      send_http(c, 400, "Bad Request", "WebSocket upgrade expected", "text/plain");
      return;
    }
    std::string streams = query_param(target, "streams");
    if (path.rfind("/ws/", 0) == 0) streams = path.substr(4);
    std::size_t s = 0;
    while (s <= streams.size() && !streams.empty()) {
      const auto slash = streams.find('/', s);
      c.streams.insert(streams.substr(s, slash == std::string::npos ? std::string::npos : slash - s));
      if (slash == std::string::npos) break;
      s = slash + 1;
    }
    if (c.streams.size() > 1024) {
      send_http(c, 400, "Bad Request", R"({"code":-1,"msg":"more than 1024 streams"})", "application/json");
      return;
    }
    c.out += "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
             feed::ws_accept_key(key) + "\r\n\r\n";
    c.st = St::ws;
    if (cfg.lag_s > 0)
      for (const auto& o : clients)
        if (o.get() != &c && o->fd >= 0 && o->st == St::ws && o->streams == c.streams) c.replaces = o->ws_index;
    c.ws_index = st.sent_per_connection.size();
    st.sent_per_connection.push_back(0);
    st.extra_per_connection.push_back(0);
    ++st.ws_connections;
    ++st.open_ws;
    if (!generating) {
      generating = true;
      started = Clock::now();
    }
    log(fmt::format("WebSocket client #{} with {} streams", c.ws_index, c.streams.size()));
  }

  // Client frames are masked (RFC 6455 5.3).
  void on_ws_input(Client& c) {
    while (c.in.size() >= 2) {
      const auto* p = reinterpret_cast<const unsigned char*>(c.in.data());
      const auto op = static_cast<feed::WsOpcode>(p[0] & 0x0F);
      if ((p[1] & 0x80) == 0) {  // unmasked client frame: protocol error
        close_client(c, false);
        return;
      }
      std::uint64_t len = p[1] & 0x7F;
      std::size_t h = 2;
      if (len == 126) {
        if (c.in.size() < 4) return;
        len = (std::uint64_t{p[2]} << 8) | p[3];
        h = 4;
      } else if (len == 127) {
        if (c.in.size() < 10) return;
        len = 0;
        for (int i = 2; i < 10; ++i) len = (len << 8) | p[i];
        h = 10;
      }
      if (len > (1U << 20)) {
        close_client(c, false);
        return;
      }
      if (c.in.size() < h + 4 + len) return;
      std::string payload(c.in.data() + h + 4, static_cast<std::size_t>(len));
      for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(payload[i] ^ c.in[h + (i & 3)]);
      c.in.erase(0, h + 4 + static_cast<std::size_t>(len));
      switch (op) {
        case feed::WsOpcode::pong:
          ++st.pongs_received;
          if (const auto it = std::find(c.pings_outstanding.begin(), c.pings_outstanding.end(), payload);
              it != c.pings_outstanding.end()) {
            ++st.pongs_matched;
            c.pings_outstanding.erase(it);
          }
          break;
        case feed::WsOpcode::ping: append_server_frame(c.out, feed::WsOpcode::pong, payload); break;
        case feed::WsOpcode::close:
          if (!c.close_after_flush) append_server_frame(c.out, feed::WsOpcode::close, payload.substr(0, 2));
          c.close_after_flush = true;
          break;
        default: break;  // SUBSCRIBE and the like: the stream set is fixed by the URL here
      }
    }
  }

  void apply_fault(Fault f, double arg) {
    ++st.faults;
    log(fmt::format("fault {} {}", to_string(f), arg));
    for (auto& cp : clients) {
      Client& c = *cp;
      if (c.st != St::ws) continue;
      switch (f) {
        case Fault::drop: close_client(c, true); break;  // (logged below)
        case Fault::malformed:
          append_server_frame(c.out, feed::WsOpcode::text, R"({"stream":"btcusdt@trade","data":{"e":"trade","E":17)");
          ++st.malformed_sent;
          ++st.extra_per_connection[c.ws_index];
          break;
        case Fault::ping:
          c.pings_outstanding.push_back(fmt::format("tp-{}", ++ping_counter));
          append_server_frame(c.out, feed::WsOpcode::ping, c.pings_outstanding.back());
          ++st.pings_sent;
          break;
        case Fault::close: {
          const std::string body = std::string("\x03\xe9", 2) + "server rotating the connection";
          append_server_frame(c.out, feed::WsOpcode::close, body);
          c.close_after_flush = true;
          break;
        }
        case Fault::oversized: {
          const std::size_t n = arg > 0 ? static_cast<std::size_t>(arg) : (2U << 20);
          std::string big = R"({"stream":"pad","data":")";
          big.append(n, 'x');
          big += "\"}";
          append_server_frame(c.out, feed::WsOpcode::text, big);
          ++st.extra_per_connection[c.ws_index];
          break;
        }
        default: break;
      }
    }
    if (f == Fault::stall) stall_until = Clock::now() + std::chrono::microseconds(static_cast<long>((arg > 0 ? arg : 2) * 1e6));
    if (f == Fault::skip_ids) skip_next_diff = true;
  }

  bool next_frame(std::string_view& out) {
    if (market) {
      frame.clear();
      market->next(frame);
      out = frame;
      return true;
    }
    for (std::size_t tries = 0; tries < recording.size(); ++tries) {
      const std::size_t i = rec_pos;
      rec_pos = (rec_pos + 1) % recording.size();
      if (!recording.frames()[i].symbol_hint.empty()) continue;  // a REST body, not a stream frame
      out = recording.frame(i);
      return true;
    }
    return false;
  }

  void generate_one() {
    std::string_view f;
    if (!next_frame(f)) return;
    ++st.generated;
    // Parse it as a client would, to keep the simulator's own book.
    bool send = true;
    std::string padded(f);
    padded.append(feed::kPadding, '\0');
    if (parser.parse(padded.data(), f.size(), msg) == feed::RejectReason::none &&
        msg.type == feed::MessageType::depth_update) {
      Book& b = books[std::string(msg.symbol)];
      for (std::uint32_t i = 0; i < msg.bids.size; ++i) {
        const auto& l = msg.bids.data[i];
        if (l.qty.e8 == 0) b.bids.erase(l.price.e8);
        else b.bids[l.price.e8] = l.qty.e8;
      }
      for (std::uint32_t i = 0; i < msg.asks.size; ++i) {
        const auto& l = msg.asks.data[i];
        if (l.qty.e8 == 0) b.asks.erase(l.price.e8);
        else b.asks[l.price.e8] = l.qty.e8;
      }
      b.last_update_id = msg.u;
      if (skip_next_diff) {
        skip_next_diff = false;
        send = false;
        ++st.skipped_diffs;
        b.last_skipped_first = msg.U;
        b.last_skipped_final = msg.u;
      }
    }
    if (!send) return;
    // The stream name, for the clients' subscriptions.
    std::string_view stream;
    const auto k = f.find(R"("stream":")");
    if (k != std::string_view::npos) {
      const auto e = f.find('"', k + 10);
      if (e != std::string_view::npos) stream = f.substr(k + 10, e - k - 10);
    }
    const std::int64_t tx = realtime_ns();
    bool taken = false;
    if (udp) {
      udp_batch.push_back(fmt::format(R"({{"sq":{},"tx":{},)", ++udp_seq, tx));
      udp_batch.back().append(f.substr(1));
      taken = true;
    }
    const auto lag_until = Clock::now() + std::chrono::microseconds(static_cast<long>(cfg.lag_s * 1e6));
    for (auto& cp : clients) {
      Client& c = *cp;
      if (c.st != St::ws || c.close_after_flush) continue;
      if (!stream.empty() && !c.streams.empty() && c.streams.count(std::string(stream)) == 0) continue;
      wrapped = fmt::format(R"({{"sq":{},"tx":{},)", ++c.seq, tx);
      wrapped.append(f.substr(1));
      if (cfg.lag_s > 0 && !replacing(c)) c.held.emplace_back(lag_until, c.out_base + c.out.size());
      append_server_frame(c.out, feed::WsOpcode::text, wrapped);
      ++st.sent;
      ++st.sent_per_connection[c.ws_index];
      taken = true;
    }
    if (!taken) ++st.generated_unsubscribed;
  }

  std::size_t max_backlog() const {
    std::size_t m = 0;
    for (const auto& c : clients)
      if (c->st == St::ws) m = std::max(m, c->out.size() - c->out_off);
    return m;
  }

  void generate(Clock::time_point now) {
    if (!generating || paused || now < stall_until) return;
    if (cfg.max_frames != 0 && st.generated >= cfg.max_frames) {
      st.done = true;
      return;
    }
    st.generating_s = std::chrono::duration<double>(now - started).count();
    std::uint64_t budget = 4096;
    if (cfg.rate_per_s > 0) {
      // `started` may be later than `now` (a client arrived in this pass): never a negative count.
      const double el = std::max(0.0, std::chrono::duration<double>(now - started).count());
      const auto due = static_cast<std::uint64_t>(el * cfg.rate_per_s);
      budget = due > st.generated ? std::min<std::uint64_t>(due - st.generated, 65536) : 0;
    } else if (max_backlog() > (1U << 20)) {
      budget = 0;  // as fast as the slowest client takes them
    }
    for (std::uint64_t i = 0; i < budget; ++i) {
      if (cfg.max_frames != 0 && st.generated >= cfg.max_frames) break;
      generate_one();
      if (udp_batch.size() >= 64) flush_udp();
    }
    flush_udp();
  }

  // True while the connection c rotates in for is still open.
  bool replacing(const Client& c) const {
    if (c.replaces == SIZE_MAX) return false;
    for (const auto& o : clients)
      if (o->ws_index == c.replaces && o->fd >= 0 && o->st == St::ws) return true;
    return false;
  }

  void flush(Client& c) {
    const auto now = Clock::now();
    while (!c.held.empty() && c.held.front().first <= now) c.held.pop_front();
    const std::size_t end = c.held.empty() ? c.out.size() : static_cast<std::size_t>(c.held.front().second - c.out_base);
    while (c.out_off < end) {
      const long n = wr(c, c.out.data() + c.out_off, end - c.out_off);
      if (n <= 0) {
        if (n < 0) {
          ++st.write_failures;
          log(fmt::format("client #{}: send failed, disconnected", c.ws_index));
          close_client(c, false);
        }
        break;
      }
      c.out_off += static_cast<std::size_t>(n);
    }
    if (c.fd < 0) return;
    if (c.out_off == c.out.size()) {
      c.out_base += c.out.size();
      c.out.clear();
      c.out_off = 0;
      if (c.close_after_flush) close_client(c, false);
    } else if (c.out_off > (1U << 20)) {
      c.out.erase(0, c.out_off);
      c.out_base += c.out_off;
      c.out_off = 0;
    }
    if (c.fd >= 0 && c.out.size() - c.out_off > cfg.max_backlog_bytes) {
      ++st.slow_client_drops;
      log(fmt::format("client #{} too slow ({} bytes behind): disconnected", c.ws_index, c.out.size() - c.out_off));
      close_client(c, true);
    }
  }

  void accept_clients() {
    while (true) {
      const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto c = std::make_unique<Client>();
      c->fd = fd;
      if (ctx != nullptr) {
        c->ssl = SSL_new(ctx);
        SSL_set_fd(c->ssl, fd);
        c->st = St::tls_handshake;
      }
      ++st.connections;
      clients.push_back(std::move(c));
    }
  }

  void service(Client& c) {
    if (c.st == St::tls_handshake) {
      const int r = SSL_accept(c.ssl);
      if (r == 1) {
        c.st = St::http;
      } else {
        const int e = SSL_get_error(c.ssl, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
          log(ssl_error("TLS handshake failed"));
          close_client(c, false);
        }
        ERR_clear_error();
        return;
      }
    }
    char buf[65536];
    while (c.fd >= 0) {
      const long n = rd(c, buf, sizeof buf);
      if (n == 0) break;
      if (n < 0) {
        close_client(c, false);
        return;
      }
      c.in.append(buf, static_cast<std::size_t>(n));
    }
    if (c.st == St::http) on_http(c);
    if (c.st == St::ws) on_ws_input(c);
  }

  void run() {
    std::vector<pollfd> fds;
    while (running.load(std::memory_order_relaxed)) {
      fds.clear();
      fds.push_back({listen_fd, POLLIN, 0});
      for (const auto& c : clients) {
        short ev = POLLIN;
        // (frames held back by lag_s are not ready: no POLLOUT for them, or the loop would spin)
        const std::size_t ready = c->held.empty() ? c->out.size() : static_cast<std::size_t>(c->held.front().second - c->out_base);
        if (c->out_off < ready || c->st == St::tls_handshake) ev |= POLLOUT;
        fds.push_back({c->fd, ev, 0});
      }
      int timeout = 1;
      (void)::poll(fds.data(), fds.size(), timeout);
      std::lock_guard<std::mutex> lock(mu);
      const auto now = Clock::now();
      if (fds[0].revents & POLLIN) accept_clients();
      for (std::size_t i = 1; i < fds.size() && i - 1 < clients.size(); ++i)
        if (fds[i].revents != 0) service(*clients[i - 1]);
      for (auto& [f, arg] : commands) apply_fault(f, arg);
      commands.clear();
      for (std::size_t i = 0; i < cfg.schedule.size(); ++i) {
        if (!generating || now < next_fault[i]) continue;
        if (next_fault[i] != Clock::time_point{}) apply_fault(cfg.schedule[i].fault, cfg.schedule[i].arg);
        next_fault[i] = now + std::chrono::microseconds(static_cast<long>(cfg.schedule[i].every_s * 1e6));
      }
      generate(now);
      if (now >= stall_until)
        for (auto& c : clients)
          if (c->fd >= 0) flush(*c);
      std::erase_if(clients, [](const std::unique_ptr<Client>& c) { return c->fd < 0; });
      std::uint64_t backlog = 0;
      for (const auto& c : clients) backlog += c->out.size() - c->out_off;
      st.backlog_bytes = backlog;
    }
    for (auto& c : clients) close_client(*c, false);
    clients.clear();
  }
};

ExchangeSimulator::ExchangeSimulator(SimConfig cfg) : cfg_(std::move(cfg)), impl_(std::make_unique<Impl>()) {}

ExchangeSimulator::~ExchangeSimulator() {
  stop();
  if (impl_->ctx != nullptr) SSL_CTX_free(impl_->ctx);
  if (impl_->listen_fd >= 0) ::close(impl_->listen_fd);
}

bool ExchangeSimulator::start(std::string& error) {
  Impl& m = *impl_;
  m.cfg = cfg_;
  feed::ignore_sigpipe();
  if (!cfg_.recording.empty()) {
    if (!m.recording.load_file(cfg_.recording, error)) return false;
    if (m.recording.size() == 0) return error = "no frames in " + cfg_.recording, false;
  } else {
    try {
      m.market = std::make_unique<feed::SyntheticMarket>(cfg_.market);
    } catch (const std::exception& e) {
      return error = e.what(), false;
    }
  }
  if (cfg_.tls) {
    std::string dir = cfg_.cert_dir;
    if (dir.empty()) {
      char tmpl[] = "/tmp/tickpath-exsim-XXXXXX";
      if (::mkdtemp(tmpl) == nullptr) return error = "cannot create a directory for the certificate", false;
      dir = tmpl;
    }
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    std::string cert, key;
    if (!make_certificate(dir, cert, key, error)) return false;
    m.ctx = SSL_CTX_new(TLS_server_method());
    // Send buffers grow between a WANT_WRITE and its retry: let OpenSSL accept a moved buffer and partial writes.
    if (m.ctx != nullptr) SSL_CTX_set_mode(m.ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
    if (m.ctx == nullptr || SSL_CTX_use_certificate_file(m.ctx, cert.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_use_PrivateKey_file(m.ctx, key.c_str(), SSL_FILETYPE_PEM) != 1)
      return error = ssl_error("cannot set up the TLS server"), false;
    ca_file_ = cert;
  }
  m.listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(m.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(cfg_.port);
  if (::inet_pton(AF_INET, cfg_.bind.c_str(), &addr.sin_addr) != 1) return error = "bad bind address " + cfg_.bind, false;
  if (::bind(m.listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(m.listen_fd, 128) != 0)
    return error = fmt::format("cannot listen on {}:{}: {}", cfg_.bind, cfg_.port, std::strerror(errno)), false;
  socklen_t len = sizeof addr;
  ::getsockname(m.listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  m.next_fault.assign(cfg_.schedule.size(), {});
  if (!cfg_.udp_group.empty()) {
    feed::UdpOptions uo;
    uo.group = cfg_.udp_group;
    uo.interface = cfg_.udp_interface;
    m.udp = std::make_unique<feed::UdpSender>();
    if (!m.udp->open(uo, cfg_.udp_port, error)) return false;
    m.generating = true;  // datagrams need no subscriber to start
    m.started = Clock::now();
  }
  m.running = true;
  thread_ = std::thread([&m] { m.run(); });
  return true;
}

void ExchangeSimulator::stop() {
  if (!thread_.joinable()) return;
  impl_->running = false;
  thread_.join();
}

std::string ExchangeSimulator::ws_base() const {
  return fmt::format("{}://127.0.0.1:{}", cfg_.tls ? "wss" : "ws", port_);
}
std::string ExchangeSimulator::rest_base() const {
  return fmt::format("{}://127.0.0.1:{}", cfg_.tls ? "https" : "http", port_);
}

void ExchangeSimulator::inject(Fault f, double arg) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->commands.emplace_back(f, arg);
}

void ExchangeSimulator::pause(bool paused) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->paused = paused;
}

SimStats ExchangeSimulator::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->st;
}

bool ExchangeSimulator::book(const std::string& symbol, SimBook& out) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const auto it = impl_->books.find(symbol);
  if (it == impl_->books.end()) return false;
  out.last_update_id = it->second.last_update_id;
  out.last_skipped_first = it->second.last_skipped_first;
  out.last_skipped_final = it->second.last_skipped_final;
  out.bids.assign(it->second.bids.begin(), it->second.bids.end());
  out.asks.assign(it->second.asks.begin(), it->second.asks.end());
  return true;
}

}  // namespace tickpath::exsim
