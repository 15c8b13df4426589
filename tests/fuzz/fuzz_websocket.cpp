// Fuzz target: the WebSocket client's decoder and handshake check, on bytes
// from the server. The first input byte picks how the stream is cut into
// reads (1 to 256 bytes, as a socket may deliver them) and the message size
// limit; the decoder must never report more bytes consumed than it was
// given, never hand out a payload outside its input or its reassembly
// buffer, and never exceed the limit. The same bytes are then checked as a
// handshake response against a fixed key.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tickpath/feed/websocket.hpp"

using namespace tickpath::feed;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t cut = 1 + data[0];
  const std::size_t limit = std::size_t{64} << (data[0] & 7);  // 64 B .. 8 KB
  ++data, --size;
  WsDecoder dec(limit);
  std::string pending;  // what a receive buffer holds: unconsumed bytes, then the next read
  std::size_t fed = 0;
  while (fed < size || !pending.empty()) {
    const std::size_t n = std::min(cut, size - fed);
    pending.append(reinterpret_cast<const char*>(data) + fed, n);
    fed += n;
    std::size_t off = 0;
    for (;;) {
      const WsEvent ev = dec.decode(pending.data() + off, pending.size() - off);
      if (ev.consumed > pending.size() - off) {
        std::fprintf(stderr, "decoder consumed %zu of %zu bytes\n", ev.consumed, pending.size() - off);
        std::abort();
      }
      if (ev.kind == WsEventKind::message && ev.payload.size() > limit) {
        std::fprintf(stderr, "message of %zu bytes past the %zu limit\n", ev.payload.size(), limit);
        std::abort();
      }
      if (ev.kind == WsEventKind::error) {  // the client closes the connection
        pending.clear();
        off = 0;
        fed = size;
        break;
      }
      if (ev.consumed == 0) break;  // the buffer ends inside a frame: read more
      // touch the payload: ASan reports it if it points at freed or foreign memory
      volatile char sink = 0;
      for (char c : ev.payload) sink = static_cast<char>(sink ^ c);
      off += ev.consumed;
    }
    pending.erase(0, off);
    if (fed >= size) break;
  }
  const std::string verdict =
      ws_check_handshake_response(std::string_view(reinterpret_cast<const char*>(data), size), "dGhlIHNhbXBsZSBub25jZQ==");
  (void)verdict;
  return 0;
}
