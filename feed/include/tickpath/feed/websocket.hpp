// RFC 6455 client-side framing, transport-agnostic: the decoder reads
// server frames out of whatever buffer the transport filled and hands back
// views into it (an unfragmented text frame is never copied); fragmented
// messages are reassembled into a buffer sized once, at construction.
// Client frames are encoded masked, as the RFC requires of clients.
//
// Threading contract: one decoder per connection, used by the feed thread.
// decode() never allocates, never throws; a protocol violation is a
// WsEvent::error with a reason, after which the connection must be closed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace tickpath::feed {

enum class WsOpcode : std::uint8_t { continuation = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA };

enum class WsEventKind : std::uint8_t {
  need_more,  // the buffer ends inside a frame: read more, keep the unconsumed bytes
  message,    // a complete text or binary message (payload may point into the input or the reassembly buffer)
  ping,       // answer with a pong carrying the same payload
  pong,
  close,      // the server's close frame: code (1005 when none) and reason
  error,      // protocol violation: `reason` says which
};

struct WsEvent {
  WsEventKind kind = WsEventKind::need_more;
  WsOpcode opcode = WsOpcode::text;  // for messages: text or binary
  std::string_view payload;
  std::uint16_t close_code = 0;
  const char* reason = "";
  std::size_t consumed = 0;  // bytes of the input this event used up (whole frames only)
};

class WsDecoder {
 public:
  explicit WsDecoder(std::size_t max_message_bytes = 1U << 20);

  // Decodes the first complete frame of `data[0, len)`. Call again with the
  // rest (data + consumed) until need_more. Payload views stay valid until
  // the caller overwrites those input bytes, or (for reassembled messages)
  // until the next call.
  [[nodiscard]] WsEvent decode(const char* data, std::size_t len) noexcept;

  [[nodiscard]] std::size_t max_message_bytes() const noexcept { return max_; }

 private:
  std::size_t max_;
  std::unique_ptr<char[]> assembly_;
  std::size_t assembled_ = 0;
  bool in_fragment_ = false;
  WsOpcode fragment_opcode_ = WsOpcode::text;
};

// A masked client frame (FIN set) into `out`, which must hold
// payload.size() + 14 bytes; returns the frame's length.
std::size_t ws_encode_client_frame(WsOpcode op, std::string_view payload, std::uint32_t mask_key, char* out) noexcept;

// Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + GUID)).
std::string ws_accept_key(std::string_view client_key);

// Checks an HTTP/1.1 101 upgrade response against the key we sent; returns
// "" when it is a valid WebSocket handshake, else what is wrong (one line).
std::string ws_check_handshake_response(std::string_view response, std::string_view client_key);

}  // namespace tickpath::feed
