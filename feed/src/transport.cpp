#include "tickpath/feed/transport.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <charconv>
#include <csignal>
#include <chrono>
#include <cstring>

namespace tickpath::feed {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

int ms_left(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

bool poll_fd(int fd, short events, int timeout_ms) noexcept {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, timeout_ms) > 0;
}

std::string openssl_error(const char* what) {
  std::string s = what;
  const unsigned long e = ERR_get_error();
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    s += ": ";
    s += buf;
  }
  ERR_clear_error();
  return s;
}

class TcpTransport : public Transport {
 public:
  explicit TcpTransport(std::unique_ptr<asio::io_context> io) : io_(std::move(io)), socket_(*io_) {}
  ~TcpTransport() override { TcpTransport::close(); }

  tcp::socket& socket() noexcept { return socket_; }
  int fd() noexcept { return socket_.native_handle(); }
  int native_handle() const noexcept override { return const_cast<tcp::socket&>(socket_).native_handle(); }

  IoResult read_some(char* dst, std::size_t cap) noexcept override {
    boost::system::error_code ec;
    const std::size_t n = socket_.read_some(asio::buffer(dst, cap), ec);
    if (!ec) return {IoStatus::ok, n};
    if (ec == asio::error::would_block || ec == asio::error::try_again) return {IoStatus::would_block, 0};
    if (ec == asio::error::eof) return fail(IoStatus::closed, "connection closed by the peer");
    return fail(IoStatus::error, "receive failed");
  }

  IoResult write_all(const char* data, std::size_t len, int timeout_ms) noexcept override {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    std::size_t done = 0;
    while (done < len) {
      boost::system::error_code ec;
      done += socket_.write_some(asio::buffer(data + done, len - done), ec);
      if (!ec) continue;
      if (ec != asio::error::would_block && ec != asio::error::try_again) return fail(IoStatus::error, "send failed");
      if (!poll_fd(fd(), POLLOUT, ms_left(deadline))) return fail(IoStatus::error, "send timed out");
    }
    return {IoStatus::ok, done};
  }

  bool wait_readable(int timeout_ms) noexcept override { return poll_fd(fd(), POLLIN, timeout_ms); }

  void close() noexcept override {
    boost::system::error_code ec;
    if (socket_.is_open()) {
      socket_.shutdown(tcp::socket::shutdown_both, ec);
      socket_.close(ec);
    }
  }
  const char* kind() const noexcept override { return "tcp"; }
  const char* last_error() const noexcept override { return error_; }

 protected:
  IoResult fail(IoStatus s, const char* why) noexcept {
    error_ = why;
    return {s, 0};
  }
  const char* error_ = "";

 private:
  std::unique_ptr<asio::io_context> io_;
  tcp::socket socket_;
};

class TlsTransport final : public TcpTransport {
 public:
  using TcpTransport::TcpTransport;
  ~TlsTransport() override {
    TlsTransport::close();
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  }

  // Set-up: context, verification and handshake on the connected socket.
  bool start(const std::string& host, const TransportOptions& opts, std::string& error) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (ctx_ == nullptr) return error = openssl_error("cannot create a TLS context"), false;
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx_, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (opts.verify_peer) {
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
      const int ok = opts.ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx_)
                                          : SSL_CTX_load_verify_locations(ctx_, opts.ca_file.c_str(), nullptr);
      if (ok != 1)
        return error = openssl_error(opts.ca_file.empty() ? "cannot load the system certificate store"
                                                          : "cannot load the CA file"),
               false;
    } else {
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
    }
    ssl_ = SSL_new(ctx_);
    if (ssl_ == nullptr) return error = openssl_error("cannot create a TLS session"), false;
    SSL_set_fd(ssl_, fd());
    boost::system::error_code ec;
    (void)asio::ip::make_address(host, ec);
    if (ec)  // SNI for names, not addresses (SSL_set_tlsext_host_name without its C cast)
      SSL_ctrl(ssl_, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(host.c_str()));
    if (opts.verify_peer) {
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
      const int set = ec ? X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size())
                         : X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
      if (set != 1) return error = openssl_error("cannot set the host name to verify"), false;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(opts.connect_timeout_ms);
    while (true) {
      const int r = SSL_connect(ssl_);
      if (r == 1) break;
      const int e = SSL_get_error(ssl_, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        if (!poll_fd(fd(), e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, ms_left(deadline))) {
          error = "TLS handshake with " + host + " timed out";
          return false;
        }
        continue;
      }
      const long v = SSL_get_verify_result(ssl_);
      if (v != X509_V_OK) {
        error = std::string("TLS certificate of ") + host + " rejected: " + X509_verify_cert_error_string(v);
        ERR_clear_error();
      } else {
        error = openssl_error(("TLS handshake with " + host + " failed").c_str());
      }
      return false;
    }
    return true;
  }

  IoResult read_some(char* dst, std::size_t cap) noexcept override {
    std::size_t n = 0;
    const int r = SSL_read_ex(ssl_, dst, cap, &n);
    if (r == 1) return {IoStatus::ok, n};
    switch (SSL_get_error(ssl_, r)) {
      case SSL_ERROR_WANT_READ:
      case SSL_ERROR_WANT_WRITE: return {IoStatus::would_block, 0};
      case SSL_ERROR_ZERO_RETURN: return fail(IoStatus::closed, "TLS connection closed by the peer");
      case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        return fail(IoStatus::closed, "connection closed by the peer");
      default: ERR_clear_error(); return fail(IoStatus::error, "TLS receive failed");
    }
  }

  IoResult write_all(const char* data, std::size_t len, int timeout_ms) noexcept override {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    std::size_t done = 0;
    while (done < len) {
      std::size_t n = 0;
      const int r = SSL_write_ex(ssl_, data + done, len - done, &n);
      if (r == 1) {
        done += n;
        continue;
      }
      const int e = SSL_get_error(ssl_, r);
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        ERR_clear_error();
        return fail(IoStatus::error, "TLS send failed");
      }
      if (!poll_fd(fd(), e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, ms_left(deadline)))
        return fail(IoStatus::error, "TLS send timed out");
    }
    return {IoStatus::ok, done};
  }

  bool wait_readable(int timeout_ms) noexcept override {
    return SSL_pending(ssl_) > 0 || TcpTransport::wait_readable(timeout_ms);
  }
  bool buffered() const noexcept override { return SSL_pending(ssl_) > 0; }

  void close() noexcept override {
    if (ssl_ != nullptr && !closed_) {
      closed_ = true;
      (void)SSL_shutdown(ssl_);  // best effort close_notify; the socket is non-blocking
      ERR_clear_error();
    }
    TcpTransport::close();
  }
  const char* kind() const noexcept override { return "tls"; }

 private:
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool closed_ = false;
};

}  // namespace

void ignore_sigpipe() noexcept {
  static const bool once = [] {
    std::signal(SIGPIPE, SIG_IGN);
    return true;
  }();
  (void)once;
}

std::unique_ptr<Transport> connect_transport(const std::string& host, std::uint16_t port, const TransportOptions& opts,
                                             std::string& error) {
  ignore_sigpipe();
  auto io = std::make_unique<asio::io_context>(1);
  asio::io_context& ioc = *io;
  std::unique_ptr<TcpTransport> t =
      opts.tls ? std::make_unique<TlsTransport>(std::move(io)) : std::make_unique<TcpTransport>(std::move(io));
  boost::system::error_code ec;
  tcp::resolver resolver(ioc);
  const auto endpoints = resolver.resolve(host, std::to_string(port), ec);
  if (ec) {
    error = "cannot resolve " + host + ": " + ec.message();
    return nullptr;
  }
  bool done = false;
  asio::async_connect(t->socket(), endpoints, [&](const boost::system::error_code& e, const tcp::endpoint&) {
    ec = e;
    done = true;
  });
  ioc.run_for(std::chrono::milliseconds(opts.connect_timeout_ms));
  if (!done) {
    error = "connecting to " + host + ":" + std::to_string(port) + " timed out";
    return nullptr;
  }
  if (ec) {
    error = "cannot connect to " + host + ":" + std::to_string(port) + ": " + ec.message();
    return nullptr;
  }
  t->socket().set_option(tcp::no_delay(true), ec);
  if (opts.recv_buffer_bytes > 0) t->socket().set_option(asio::socket_base::receive_buffer_size(opts.recv_buffer_bytes), ec);
#ifdef SO_BUSY_POLL
  if (opts.busy_poll_socket) {
    const int us = 50;
    (void)::setsockopt(t->fd(), SOL_SOCKET, SO_BUSY_POLL, &us, sizeof us);
  }
#endif
  t->socket().non_blocking(true, ec);
  if (ec) {
    error = "cannot make the socket non-blocking: " + ec.message();
    return nullptr;
  }
  if (opts.tls && !static_cast<TlsTransport*>(t.get())->start(host, opts, error)) return nullptr;
  return t;
}

bool parse_url(std::string_view url, Url& out, std::string& error) {
  out = Url{};
  std::string_view rest;
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return error = "not a URL: '" + std::string(url) + "'", false;
  const std::string_view scheme = url.substr(0, scheme_end);
  if (scheme == "ws") out.websocket = true, out.port = 80;
  else if (scheme == "wss") out.websocket = out.tls = true, out.port = 443;
  else if (scheme == "http") out.port = 80;
  else if (scheme == "https") out.tls = true, out.port = 443;
  else return error = "unsupported URL scheme '" + std::string(scheme) + "' (ws, wss, http, https)", false;
  rest = url.substr(scheme_end + 3);
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  out.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  const auto colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']') == std::string_view::npos) {
    unsigned port = 0;
    const auto ps = authority.substr(colon + 1);
    const auto [p, ec] = std::from_chars(ps.data(), ps.data() + ps.size(), port);
    if (ec != std::errc{} || p != ps.data() + ps.size() || port == 0 || port > 65535)
      return error = "bad port in '" + std::string(url) + "'", false;
    out.port = static_cast<std::uint16_t>(port);
    authority = authority.substr(0, colon);
  }
  if (authority.empty()) return error = "no host in '" + std::string(url) + "'", false;
  out.host = std::string(authority);
  return true;
}

RxMemory::RxMemory(std::size_t bytes, bool huge_pages) {
  constexpr std::size_t kHuge = 2U << 20;
  void* p = MAP_FAILED;
  if (huge_pages) {
    mapped_ = (bytes + kHuge - 1) / kHuge * kHuge;
    p = ::mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) note_ = "no huge pages available (vm.nr_hugepages); using 4 KB pages";
    else huge_ = true;
  }
  if (p == MAP_FAILED) {
    mapped_ = (bytes + 4095) / 4096 * 4096;
    p = ::mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
  }
  data_ = static_cast<char*>(p);
  size_ = bytes;
}

RxMemory::~RxMemory() {
  if (data_ != nullptr) ::munmap(data_, mapped_);
}

RxMemory::RxMemory(RxMemory&& o) noexcept
    : data_(o.data_), size_(o.size_), mapped_(o.mapped_), huge_(o.huge_), note_(std::move(o.note_)) {
  o.data_ = nullptr;
}

RxMemory& RxMemory::operator=(RxMemory&& o) noexcept {
  if (this != &o) {
    if (data_ != nullptr) ::munmap(data_, mapped_);
    data_ = o.data_, size_ = o.size_, mapped_ = o.mapped_, huge_ = o.huge_, note_ = std::move(o.note_);
    o.data_ = nullptr;
  }
  return *this;
}

}  // namespace tickpath::feed
