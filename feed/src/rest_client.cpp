#include "tickpath/feed/rest_client.hpp"

#include <fmt/format.h>

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>

namespace tickpath::feed {

namespace http = boost::beast::http;

bool http_get(const std::string& url, const TransportOptions& opts, HttpResponse& out, std::string& error,
              int timeout_ms) {
  Url u;
  if (!parse_url(url, u, error)) return false;
  if (u.websocket) return error = "http_get needs an http:// or https:// URL, not " + url, false;
  TransportOptions o = opts;
  o.tls = u.tls;
  auto t = connect_transport(u.host, u.port, o, error);
  if (!t) return false;
  const bool default_port = u.port == (u.tls ? 443 : 80);
  const std::string req = fmt::format(
      "GET {} HTTP/1.1\r\nHost: {}{}\r\nUser-Agent: tickpath/0.1\r\nAccept: application/json\r\nConnection: close\r\n\r\n",
      u.target, u.host, default_port ? std::string() : fmt::format(":{}", u.port));
  if (t->write_all(req.data(), req.size(), timeout_ms).status != IoStatus::ok)
    return error = std::string("GET ") + url + ": " + t->last_error(), false;

  http::response_parser<http::string_body> parser;
  parser.body_limit(64U << 20);
  parser.eager(true);
  std::string pending;
  char chunk[16384];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  boost::beast::error_code ec;
  while (!parser.is_done()) {
    const IoResult r = t->read_some(chunk, sizeof chunk);
    if (r.status == IoStatus::ok) {
      pending.append(chunk, r.bytes);
      while (!pending.empty() && !parser.is_done()) {
        const std::size_t used = parser.put(boost::asio::buffer(pending), ec);
        pending.erase(0, used);
        if (ec == http::error::need_more) {
          ec = {};
          break;
        }
        if (ec) return error = "GET " + url + ": bad HTTP response (" + ec.message() + ")", false;
        if (used == 0) break;
      }
      continue;
    }
    if (r.status == IoStatus::closed) {
      parser.put_eof(ec);
      if (ec || !parser.is_done()) return error = "GET " + url + ": connection closed before the response ended", false;
      break;
    }
    if (r.status == IoStatus::error) return error = "GET " + url + ": " + t->last_error(), false;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return error = "GET " + url + " timed out", false;
    (void)t->wait_readable(static_cast<int>(left.count()));
  }
  out.status = parser.get().result_int();
  out.body = std::move(parser.get().body());
  return true;
}

}  // namespace tickpath::feed
