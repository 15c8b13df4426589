#include "ui_server.hpp"

#include <fmt/format.h>

#include <utility>  // (Boost 1.74's asio uses std::exchange without it)

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <array>
#include <filesystem>
#include <fstream>
#include <map>
#include <bit>
#include <charconv>
#include <cmath>
#include <optional>

namespace tickpath::engine {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

constexpr std::size_t kMaxOpen = 64;               // connections at once; more are closed at accept (counted)
constexpr std::size_t kMaxRequestBytes = 16 << 10;  // header and body
constexpr auto kDeadline = std::chrono::seconds(30);  // per read and per write
constexpr int kWsSendBuffer = 64 << 10;             // SO_SNDBUF of a WebSocket client (the kernel doubles it)

class WsSession;

// What the sessions share with the server; they may outlive it by a poll.
struct StaticFile {
  std::string content_type, body;
};

struct Shared {
  std::vector<UiRoute> routes;
  std::map<std::string, StaticFile, std::less<>> files;  // "/index.html", "/assets/..."; "/" is index.html
  UiStream stream;
  UiCounters c;
  std::size_t open = 0;
  std::vector<std::weak_ptr<WsSession>> ws;
};

// A WebSocket client of the update stream: a snapshot once accepted, then
// whatever broadcast() hands it; at most one message in flight.
class WsSession : public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(tcp::socket s, std::shared_ptr<Shared> sh) : ws_(std::move(s)), sh_(std::move(sh)) { ++sh_->open; }
  ~WsSession() { --sh_->open; }
  void run(http::request<http::string_body> req) {
    // A bounded kernel buffer per client: a reader that stops shows up as a
    // write still in flight within a few updates, and holds little memory.
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().set_option(asio::socket_base::send_buffer_size(kWsSendBuffer), ignored);
    websocket::stream_base::timeout t = websocket::stream_base::timeout::suggested(beast::role_type::server);
    t.keep_alive_pings = true;  // a peer that stops answering is closed after the idle timeout
    ws_.set_option(t);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& r) { r.set(http::field::server, "tickpath"); }));
    ws_.async_accept(req, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      ++self->sh_->c.ws_clients;
      self->sh_->ws.push_back(self);
      self->send(self->sh_->stream.snapshot(self->cursor_));
      self->read();
    });
  }
  // False: a message is still being written (the caller counts it).
  bool offer() {
    if (writing_ || closed_) return false;
    send(sh_->stream.delta(cursor_));
    return true;
  }
  [[nodiscard]] bool closed() const noexcept { return closed_; }

 private:
  void send(std::string msg) {
    out_ = std::move(msg);
    writing_ = true;
    ws_.text(true);
    ws_.async_write(asio::buffer(out_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->writing_ = false;
      if (ec) {
        self->closed_ = true;
        return;
      }
      ++self->sh_->c.ws_messages;
    });
  }
  // The client sends nothing we use; reading keeps control frames (ping,
  // close) flowing and notices a closed peer.
  void read() {
    ws_.async_read(in_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) {
        self->closed_ = true;
        return;
      }
      self->in_.consume(self->in_.size());
      self->read();
    });
  }
  websocket::stream<beast::tcp_stream> ws_;
  std::shared_ptr<Shared> sh_;
  beast::flat_buffer in_;
  std::string out_;
  UiCursor cursor_;
  bool writing_ = false, closed_ = false;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket s, std::shared_ptr<Shared> sh) : stream_(std::move(s)), sh_(std::move(sh)) { ++sh_->open; }
  ~Session() { --sh_->open; }
  void read() {
    parser_.emplace();
    parser_->header_limit(kMaxRequestBytes);
    parser_->body_limit(kMaxRequestBytes);
    stream_.expires_after(kDeadline);
    http::async_read(stream_, buf_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_read(ec);
    });
  }

 private:
  void on_read(beast::error_code ec) {
    if (ec == beast::error::timeout) {
      ++sh_->c.timeouts;
      return;
    }
    if (ec == http::error::end_of_stream) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      return;
    }
    if (ec) {
      if (ec != asio::error::operation_aborted && ec != asio::error::connection_reset) {
        ++sh_->c.bad_requests;
        respond(http::status::bad_request, "text/plain", "bad request\n", false);
      }
      return;
    }
    ++sh_->c.requests;
    const auto& req = parser_->get();
    std::string_view target(req.target().data(), req.target().size());
    target = target.substr(0, target.find('?'));
    if (websocket::is_upgrade(req) && sh_->stream.snapshot && target == sh_->stream.path) {
      stream_.expires_never();
      std::make_shared<WsSession>(stream_.release_socket(), sh_)->run(parser_->release());
      return;
    }
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      respond(http::status::method_not_allowed, "text/plain", "read-only: GET or HEAD\n", req.keep_alive());
      return;
    }
    for (const auto& r : sh_->routes) {
      if (r.path != target) continue;
      std::string body = r.body();
      if (req.method() == http::verb::head) body.clear();
      respond(http::status::ok, r.content_type, std::move(body), req.keep_alive());
      return;
    }
    const std::string_view file = target == "/" ? std::string_view("/index.html") : target;
    if (const auto it = sh_->files.find(file); it != sh_->files.end()) {
      respond(http::status::ok, it->second.content_type, req.method() == http::verb::head ? std::string() : it->second.body,
              req.keep_alive());
      return;
    }
    ++sh_->c.not_found;
    std::string list = "{\"error\":\"not found\",\"endpoints\":[";
    for (std::size_t i = 0; i < sh_->routes.size(); ++i) list += fmt::format("{}\"{}\"", i ? "," : "", sh_->routes[i].path);
    list += "]}\n";
    respond(http::status::not_found, "application/json", std::move(list), req.keep_alive());
  }

  void respond(http::status st, std::string_view type, std::string body, bool keep_alive) {
    res_ = {};
    res_.result(st);
    res_.version(11);
    res_.set(http::field::server, "tickpath");
    res_.set(http::field::content_type, beast::string_view(type.data(), type.size()));
    res_.set(http::field::cache_control, "no-store");
    res_.keep_alive(keep_alive);
    res_.body() = std::move(body);
    res_.prepare_payload();
    stream_.expires_after(kDeadline);
    http::async_write(stream_, res_, [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
      if (ec == beast::error::timeout) ++self->sh_->c.timeouts;
      if (ec || !keep_alive) {
        beast::error_code ignored;
        self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
        return;
      }
      self->read();
    });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buf_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  std::shared_ptr<Shared> sh_;
};

}  // namespace

struct UiServer::Impl {
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::shared_ptr<Shared> sh = std::make_shared<Shared>();
  std::uint16_t port = 0;

  void accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        ++sh->c.connections;
        if (sh->open >= kMaxOpen) {
          ++sh->c.refused;
          beast::error_code ignored;
          s.close(ignored);
        } else {
          s.set_option(tcp::no_delay(true), ec);
          std::make_shared<Session>(std::move(s), sh)->read();
        }
      }
      accept();
    });
  }
};

UiServer::UiServer() : impl_(std::make_unique<Impl>()) {}

UiServer::~UiServer() { stop(); }

bool UiServer::start(const std::string& address, std::uint16_t port, std::vector<UiRoute> routes, std::string& error) {
  Impl& m = *impl_;
  beast::error_code ec;
  const auto addr = asio::ip::make_address(address, ec);
  if (ec) return error = fmt::format("--ui: '{}' is not an IP address", address), false;
  const tcp::endpoint ep(addr, port);
  m.acceptor.open(ep.protocol(), ec);
  if (!ec) m.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) m.acceptor.bind(ep, ec);
  if (!ec) m.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return error = fmt::format("--ui: cannot listen on {}:{}: {}", address, port, ec.message()), false;
  m.acceptor.non_blocking(true, ec);
  m.port = m.acceptor.local_endpoint(ec).port();
  m.sh->routes = std::move(routes);
  m.accept();
  return true;
}

std::uint16_t UiServer::port() const noexcept { return impl_->port; }

void UiServer::set_stream(UiStream stream) { impl_->sh->stream = std::move(stream); }

bool UiServer::set_static_root(const std::string& dir, std::string& error) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_regular_file(fs::path(dir) / "index.html", ec))
    return error = fmt::format("the dashboard page is not built ({}/index.html is missing; tools/demo.sh builds it)", dir),
           false;
  std::size_t total = 0;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    const std::string rel = "/" + fs::relative(it->path(), dir, ec).generic_string();
    const std::string ext = it->path().extension().string();
    const char* type = ext == ".html" ? "text/html; charset=utf-8"
                       : ext == ".js" ? "text/javascript; charset=utf-8"
                       : ext == ".css" ? "text/css; charset=utf-8"
                       : ext == ".svg" ? "image/svg+xml"
                       : ext == ".png" ? "image/png"
                       : ext == ".json" ? "application/json"
                       : ext == ".woff2" ? "font/woff2"
                                         : "application/octet-stream";
    std::ifstream in(it->path(), std::ios::binary);
    std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    total += body.size();
    if (total > (32U << 20)) return error = fmt::format("the dashboard directory {} holds more than 32 MiB", dir), false;
    impl_->sh->files[rel] = {type, std::move(body)};
  }
  if (ec) return error = fmt::format("cannot read the dashboard directory {}: {}", dir, ec.message()), false;
  return true;
}

void UiServer::broadcast() {
  Shared& sh = *impl_->sh;
  std::erase_if(sh.ws, [](const std::weak_ptr<WsSession>& w) {
    const auto s = w.lock();
    return !s || s->closed();
  });
  for (const auto& w : sh.ws)
    if (const auto s = w.lock(); s && !s->offer()) ++sh.c.ws_coalesced;
}

std::size_t UiServer::ws_clients_open() const noexcept { return impl_->sh->ws.size(); }

void UiServer::poll() {
  Impl& m = *impl_;
  if (m.io.stopped()) m.io.restart();
  m.io.poll();
}

void UiServer::stop() {
  Impl& m = *impl_;
  beast::error_code ec;
  if (m.acceptor.is_open()) m.acceptor.close(ec);
  m.io.stop();
}

UiCounters UiServer::counters() const noexcept { return impl_->sh->c; }

std::string json_escape(std::string_view in) {
  std::string o;
  for (const char ch : in) {
    if (ch == '"' || ch == '\\') o += '\\', o += ch;
    else if (static_cast<unsigned char>(ch) < 0x20) o += fmt::format("\\u{:04x}", static_cast<unsigned>(ch));
    else o += ch;
  }
  return o;
}

namespace {
// Whole nanoseconds as exact decimal seconds: 63 -> "0.000000063".
std::string ns_as_seconds(std::uint64_t ns) {
  std::string s = fmt::format("{}.{:09}", ns / 1'000'000'000, ns % 1'000'000'000);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

// Counts per power-of-two octave: out[k] = samples in [2^(k-1), 2^k - 1] ns
// (k = 0: the value 0), from the histogram's 64 sub-buckets per octave.
std::array<std::uint64_t, infra::LatencyHistogram::kMaxBits + 1> octaves(const infra::HistogramSnapshot& s) {
  std::array<std::uint64_t, infra::LatencyHistogram::kMaxBits + 1> o{};
  for (std::size_t b = 0; b < infra::LatencyHistogram::kBuckets; ++b) {
    const std::uint64_t n = s.bucket(b);
    if (n == 0) continue;
    const std::uint64_t hi = infra::LatencyHistogram::bucket_high(b);
    o[static_cast<std::size_t>(std::bit_width(hi))] += n;
  }
  return o;
}
}  // namespace

std::string json_number(double v) { return std::isfinite(v) ? fmt::format("{}", v) : "null"; }

std::string health_json(const StatsView& v) {
  return fmt::format("{{\"status\":\"{}\",\"feed\":\"{}\",\"uptime_s\":{}}}\n", v.running() ? "ok" : "finished",
                     json_escape(v.feed), json_number(v.uptime_s()));
}

std::string stats_json(const StatsView& v) {
  std::string o = fmt::format("{{\"feed\":\"{}\",\"uptime_s\":{},\"counters\":{{", json_escape(v.feed), json_number(v.uptime_s()));
  // Unlabelled counters as "name":value; labelled ones grouped as "name":{"value":n,...}.
  bool first = true;
  for (std::size_t i = 0; i < v.counters.size();) {
    const auto& c = v.counters[i];
    o += fmt::format("{}\"{}\":", first ? "" : ",", c.name);
    first = false;
    if (c.label.empty()) {
      o += fmt::format("{}", c.get());
      ++i;
      continue;
    }
    o += '{';
    std::size_t j = i;
    for (; j < v.counters.size() && v.counters[j].name == c.name; ++j)
      o += fmt::format("{}\"{}\":{}", j == i ? "" : ",", json_escape(v.counters[j].value), v.counters[j].get());
    o += '}';
    i = j;
  }
  o += "},\"stages\":[";
  for (std::size_t i = 0; i < v.stages.size(); ++i) {
    const auto snap = v.stages[i].h->snapshot();
    const auto p = snap.summary();
    o += fmt::format("{}{{\"stage\":\"{}\",\"count\":{},\"p50_ns\":{},\"p90_ns\":{},\"p99_ns\":{},\"p999_ns\":{},"
                     "\"max_ns\":{},\"mean_ns\":{},\"overflow\":{},\"buckets\":[",
                     i ? "," : "", json_escape(v.stages[i].name), p.count, json_number(p.p50_ns), json_number(p.p90_ns), json_number(p.p99_ns),
                     json_number(p.p999_ns), json_number(p.max_ns), json_number(p.mean_ns), p.overflow);
    const auto oc = octaves(snap);
    bool firstb = true;
    for (std::size_t k = 0; k < oc.size(); ++k) {
      if (oc[k] == 0) continue;
      o += fmt::format("{}[{},{}]", firstb ? "" : ",", k == 0 ? 0 : (1ULL << k) - 1, oc[k]);  // [upper bound ns, count]
      firstb = false;
    }
    o += "]}";
  }
  o += "]}\n";
  return o;
}

std::string metrics_text(const StatsView& v) {
  std::string o;
  for (std::size_t i = 0; i < v.counters.size();) {
    const auto& c = v.counters[i];
    o += fmt::format("# HELP tickpath_{} {}\n# TYPE tickpath_{} counter\n", c.name, c.help, c.name);
    std::size_t j = i;
    for (; j < v.counters.size() && v.counters[j].name == c.name; ++j) {
      const auto& s = v.counters[j];
      if (s.label.empty()) o += fmt::format("tickpath_{} {}\n", s.name, s.get());
      else o += fmt::format("tickpath_{}{{{}=\"{}\"}} {}\n", s.name, s.label, json_escape(s.value), s.get());
    }
    i = j;
  }
  o += "# HELP tickpath_stage_latency_seconds Per-stage latency, TSC-stamped on the hot threads.\n"
       "# TYPE tickpath_stage_latency_seconds histogram\n";
  for (const auto& st : v.stages) {
    const auto snap = st.h->snapshot();
    const auto p = snap.summary();
    const auto oc = octaves(snap);
    std::uint64_t cum = 0;
    for (std::size_t k = 6; k < oc.size(); ++k) {  // le = 63 ns, 127 ns, ... 2^36 - 1 ns
      if (k == 6)
        for (std::size_t j = 0; j < 6; ++j) cum += oc[j];
      cum += oc[k];
      o += fmt::format("tickpath_stage_latency_seconds_bucket{{stage=\"{}\",le=\"{}\"}} {}\n", st.name,
                       ns_as_seconds((1ULL << k) - 1), cum);
    }
    o += fmt::format("tickpath_stage_latency_seconds_bucket{{stage=\"{}\",le=\"+Inf\"}} {}\n", st.name, p.count);
    o += fmt::format("tickpath_stage_latency_seconds_sum{{stage=\"{}\"}} {}\n", st.name,
                     p.mean_ns * static_cast<double>(p.count) * 1e-9);
    o += fmt::format("tickpath_stage_latency_seconds_count{{stage=\"{}\"}} {}\n", st.name, p.count);
  }
  return o;
}

bool parse_listen_address(const std::string& spec, std::string& address, std::uint16_t& port, std::string& error) {
  const auto colon = spec.rfind(':');
  address = colon == std::string::npos ? "127.0.0.1" : spec.substr(0, colon);
  if (address.size() > 2 && address.front() == '[' && address.back() == ']') address = address.substr(1, address.size() - 2);
  const std::string p = colon == std::string::npos ? spec : spec.substr(colon + 1);
  unsigned v = 0;
  const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
  if (p.empty() || ec != std::errc{} || end != p.data() + p.size() || v > 65535)
    return error = fmt::format("--ui takes [ADDRESS:]PORT, e.g. 8080 or 127.0.0.1:8080, not '{}'", spec), false;
  if (address.empty()) address = "127.0.0.1";
  port = static_cast<std::uint16_t>(v);
  return true;
}

}  // namespace tickpath::engine
