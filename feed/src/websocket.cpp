#include "tickpath/feed/websocket.hpp"

#include <openssl/evp.h>

#include <cctype>
#include <cstring>

namespace tickpath::feed {

WsDecoder::WsDecoder(std::size_t max_message_bytes)
    : max_(max_message_bytes), assembly_(std::make_unique<char[]>(max_message_bytes)) {}

WsEvent WsDecoder::decode(const char* data, std::size_t len) noexcept {
  WsEvent ev;
  const auto* p = reinterpret_cast<const unsigned char*>(data);
  const auto fail = [&ev](const char* why) {
    ev.kind = WsEventKind::error;
    ev.reason = why;
    return ev;
  };
  if (len < 2) return ev;
  const bool fin = (p[0] & 0x80) != 0;
  if ((p[0] & 0x70) != 0) return fail("reserved bits set (no extension was negotiated)");
  const auto op = static_cast<WsOpcode>(p[0] & 0x0F);
  const bool masked = (p[1] & 0x80) != 0;
  if (masked) return fail("server frame is masked (RFC 6455 5.1)");
  std::uint64_t plen = p[1] & 0x7F;
  std::size_t header = 2;
  if (plen == 126) {
    if (len < 4) return ev;
    plen = (std::uint64_t{p[2]} << 8) | p[3];
    header = 4;
  } else if (plen == 127) {
    if (len < 10) return ev;
    plen = 0;
    for (int i = 2; i < 10; ++i) plen = (plen << 8) | p[i];
    if (plen >> 63) return fail("payload length has its top bit set");
    header = 10;
  }
  const bool control = (p[0] & 0x08) != 0;
  if (control && (!fin || plen > 125)) return fail("control frame fragmented or longer than 125 bytes");
  if (plen > max_) return fail("message larger than the maximum message size");
  if (len - header < plen) return ev;  // need more
  const char* payload = data + header;
  const std::size_t n = static_cast<std::size_t>(plen);
  ev.consumed = header + n;

  switch (op) {
    case WsOpcode::ping:
      ev.kind = WsEventKind::ping;
      ev.payload = {payload, n};
      return ev;
    case WsOpcode::pong:
      ev.kind = WsEventKind::pong;
      ev.payload = {payload, n};
      return ev;
    case WsOpcode::close:
      if (n == 1) return fail("close frame with a 1-byte body");
      ev.kind = WsEventKind::close;
      ev.close_code = n >= 2 ? static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                                          static_cast<unsigned char>(payload[1]))
                             : 1005;
      ev.payload = n >= 2 ? std::string_view(payload + 2, n - 2) : std::string_view{};
      return ev;
    case WsOpcode::text:
    case WsOpcode::binary:
      if (in_fragment_) return fail("new data frame inside a fragmented message");
      if (fin) {  // the common case: a view into the caller's buffer, no copy
        ev.kind = WsEventKind::message;
        ev.opcode = op;
        ev.payload = {payload, n};
        return ev;
      }
      in_fragment_ = true;
      fragment_opcode_ = op;
      assembled_ = 0;
      [[fallthrough]];
    case WsOpcode::continuation: {
      if (!in_fragment_) return fail("continuation frame without a message to continue");
      if (op == WsOpcode::continuation || !fin) {
        if (assembled_ + n > max_) {
          in_fragment_ = false;
          return fail("message larger than the maximum message size");
        }
        std::memcpy(assembly_.get() + assembled_, payload, n);
        assembled_ += n;
      }
      if (!fin) {
        ev.kind = WsEventKind::need_more;  // frame consumed, message not complete
        return ev;
      }
      in_fragment_ = false;
      ev.kind = WsEventKind::message;
      ev.opcode = fragment_opcode_;
      ev.payload = {assembly_.get(), assembled_};
      return ev;
    }
  }
  return fail("unknown opcode");
}

std::size_t ws_encode_client_frame(WsOpcode op, std::string_view payload, std::uint32_t mask_key, char* out) noexcept {
  auto* o = reinterpret_cast<unsigned char*>(out);
  std::size_t h = 0;
  o[h++] = static_cast<unsigned char>(0x80 | static_cast<unsigned>(op));
  const std::size_t n = payload.size();
  if (n < 126) {
    o[h++] = static_cast<unsigned char>(0x80 | n);
  } else if (n <= 0xFFFF) {
    o[h++] = 0x80 | 126;
    o[h++] = static_cast<unsigned char>(n >> 8);
    o[h++] = static_cast<unsigned char>(n);
  } else {
    o[h++] = 0x80 | 127;
    for (int i = 7; i >= 0; --i) o[h++] = static_cast<unsigned char>(static_cast<std::uint64_t>(n) >> (8 * i));
  }
  const unsigned char mask[4] = {static_cast<unsigned char>(mask_key >> 24), static_cast<unsigned char>(mask_key >> 16),
                                 static_cast<unsigned char>(mask_key >> 8), static_cast<unsigned char>(mask_key)};
  std::memcpy(o + h, mask, 4);
  h += 4;
  for (std::size_t i = 0; i < n; ++i) o[h + i] = static_cast<unsigned char>(payload[i]) ^ mask[i & 3];
  return h + n;
}

std::string ws_accept_key(std::string_view client_key) {
  static constexpr char kGuid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  std::string in(client_key);
  in += kGuid;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int dlen = 0;
  EVP_Digest(in.data(), in.size(), digest, &dlen, EVP_sha1(), nullptr);
  unsigned char b64[64];
  const int n = EVP_EncodeBlock(b64, digest, static_cast<int>(dlen));
  return std::string(reinterpret_cast<char*>(b64), static_cast<std::size_t>(n));
}

namespace {
std::string lower(std::string_view s) {
  std::string o(s);
  for (auto& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return o;
}
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}
}  // namespace

std::string ws_check_handshake_response(std::string_view response, std::string_view client_key) {
  const auto eol = response.find("\r\n");
  if (eol == std::string_view::npos) return "handshake response has no status line";
  const std::string_view status = response.substr(0, eol);
  if (status.substr(0, 9) != "HTTP/1.1 " || status.substr(9, 3) != "101")
    return "handshake refused: " + std::string(status.substr(0, 120));
  bool upgrade = false, connection = false;
  std::string accept;
  std::size_t pos = eol + 2;
  while (pos < response.size()) {
    const auto end = response.find("\r\n", pos);
    const std::string_view line = response.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    if (line.empty()) break;
    const auto colon = line.find(':');
    if (colon != std::string_view::npos) {
      const std::string name = lower(trim(line.substr(0, colon)));
      const std::string_view value = trim(line.substr(colon + 1));
      if (name == "upgrade") upgrade = lower(value) == "websocket";
      else if (name == "connection") connection = lower(value).find("upgrade") != std::string::npos;
      else if (name == "sec-websocket-accept") accept = std::string(value);
    }
    if (end == std::string_view::npos) break;
    pos = end + 2;
  }
  if (!upgrade) return "handshake response lacks 'Upgrade: websocket'";
  if (!connection) return "handshake response lacks 'Connection: Upgrade'";
  if (accept.empty()) return "handshake response lacks Sec-WebSocket-Accept";
  if (accept != ws_accept_key(client_key)) return "Sec-WebSocket-Accept does not match the key sent";
  return "";
}

}  // namespace tickpath::feed
