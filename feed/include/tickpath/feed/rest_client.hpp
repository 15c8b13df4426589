// A blocking HTTP/1.1 GET over the same transports as the stream (TLS
// verified the same way), for the io thread: Binance's REST depth snapshot
// when a book must be (re)synced, and kline history. Never on a hot thread.
#pragma once

#include <string>

#include "tickpath/feed/transport.hpp"

namespace tickpath::feed {

struct HttpResponse {
  int status = 0;
  std::string body;
};

// GET `url` (http:// or https://). False with `error` set to one line on a
// transport, TLS or protocol failure; a non-2xx status is not an error here.
bool http_get(const std::string& url, const TransportOptions& opts, HttpResponse& out, std::string& error,
              int timeout_ms = 10'000);

}  // namespace tickpath::feed
