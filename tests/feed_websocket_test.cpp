#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "support/alloc_counter.hpp"
#include "tickpath/feed/websocket.hpp"

using namespace tickpath::feed;

namespace {
std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int x : b) s += static_cast<char>(x);
  return s;
}
// A server (unmasked) frame, built independently of the encoder under test.
std::string server_frame(int first_byte, const std::string& payload) {
  std::string f(1, static_cast<char>(first_byte));
  const std::size_t n = payload.size();
  if (n < 126) {
    f += static_cast<char>(n);
  } else if (n < 65536) {
    f += static_cast<char>(126);
    f += static_cast<char>(n >> 8);
    f += static_cast<char>(n & 0xFF);
  } else {
    f += static_cast<char>(127);
    for (int i = 7; i >= 0; --i) f += static_cast<char>((static_cast<std::uint64_t>(n) >> (8 * i)) & 0xFF);
  }
  return f + payload;
}
}  // namespace

TEST(WsDecoder_Rfc6455Examples, Section57) {
  WsDecoder d;
  // A single-frame unmasked text message "Hello": decoded in place.
  const std::string hello = bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f});
  auto e = d.decode(hello.data(), hello.size());
  ASSERT_EQ(e.kind, WsEventKind::message);
  EXPECT_EQ(e.payload, "Hello");
  EXPECT_EQ(e.payload.data(), hello.data() + 2);  // no copy
  EXPECT_EQ(e.consumed, 7U);
  // A masked frame from a server is a protocol error for a client.
  const std::string masked = bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
  EXPECT_EQ(d.decode(masked.data(), masked.size()).kind, WsEventKind::error);
  // A fragmented unmasked text message: "Hel" then "lo".
  const std::string frag = bytes({0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f});
  e = d.decode(frag.data(), frag.size());
  EXPECT_EQ(e.kind, WsEventKind::need_more);
  EXPECT_EQ(e.consumed, 5U);
  e = d.decode(frag.data() + 5, frag.size() - 5);
  ASSERT_EQ(e.kind, WsEventKind::message);
  EXPECT_EQ(e.payload, "Hello");
  // Unmasked ping "Hello".
  const std::string ping = bytes({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f});
  e = d.decode(ping.data(), ping.size());
  EXPECT_EQ(e.kind, WsEventKind::ping);
  EXPECT_EQ(e.payload, "Hello");
  // 256 bytes binary (16-bit length) and 64 KiB binary (64-bit length).
  for (std::size_t n : {256UL, 65536UL}) {
    const std::string f = server_frame(0x82, std::string(n, 'x'));
    EXPECT_EQ(static_cast<unsigned char>(f[1]), n == 256 ? 126 : 127);
    e = d.decode(f.data(), f.size());
    ASSERT_EQ(e.kind, WsEventKind::message);
    EXPECT_EQ(e.opcode, WsOpcode::binary);
    EXPECT_EQ(e.payload.size(), n);
  }
}

TEST(WsDecoder_Stream, RandomSplitsDeliverEveryMessageInOrderWithoutAllocating) {
  // A stream of text, fragmented, ping and close frames, fed in random chunks
  // through a receive buffer the way a transport would.
  std::mt19937 rng(4);
  std::string stream;
  std::vector<std::string> want;
  for (int i = 0; i < 2000; ++i) {
    const std::string msg = "{\"e\":\"trade\",\"n\":" + std::to_string(i) + ",\"pad\":\"" + std::string(rng() % 300, 'p') + "\"}";
    if (i % 7 == 3) {  // fragmented in three, with a ping between the parts
      const std::size_t a = msg.size() / 3, b = 2 * msg.size() / 3;
      stream += server_frame(0x01, msg.substr(0, a));
      stream += server_frame(0x89, "hb");
      stream += server_frame(0x00, msg.substr(a, b - a));
      stream += server_frame(0x80, msg.substr(b));
    } else {
      stream += server_frame(0x81, msg);
    }
    want.push_back(msg);
  }
  stream += server_frame(0x88, bytes({0x03, 0xE8}) + "bye");
  WsDecoder d(4096);
  std::vector<char> buf(8192);
  std::size_t have = 0, fed = 0, got = 0, pings = 0;
  bool closed = false;
  tickpath::test::AllocationScope scope;
  while (!closed) {
    const std::size_t chunk = std::min<std::size_t>(1 + rng() % 700, stream.size() - fed);
    ASSERT_LE(have + chunk, buf.size());
    std::memcpy(buf.data() + have, stream.data() + fed, chunk);
    have += chunk;
    fed += chunk;
    std::size_t off = 0;
    while (true) {
      const WsEvent e = d.decode(buf.data() + off, have - off);
      ASSERT_NE(e.kind, WsEventKind::error) << e.reason;
      off += e.consumed;
      if (e.kind == WsEventKind::need_more) {
        if (e.consumed == 0) break;
        continue;
      }
      if (e.kind == WsEventKind::message) {
        ASSERT_LT(got, want.size());
        ASSERT_EQ(e.payload, want[got]) << got;
        ++got;
      } else if (e.kind == WsEventKind::ping) {
        EXPECT_EQ(e.payload, "hb");
        ++pings;
      } else if (e.kind == WsEventKind::close) {
        EXPECT_EQ(e.close_code, 1000);
        EXPECT_EQ(e.payload, "bye");
        closed = true;
        break;
      }
    }
    std::memmove(buf.data(), buf.data() + off, have - off);  // keep the partial frame
    have -= off;
    ASSERT_TRUE(closed || fed < stream.size());
  }
  EXPECT_EQ(scope.count(), 0U);
  EXPECT_EQ(got, want.size());
  EXPECT_EQ(pings, 2000U / 7 + (2000 % 7 > 3 ? 1 : 0));
}

TEST(WsDecoder_Errors, ProtocolViolationsAndOversizeHaveReasons) {
  WsDecoder d(1000);
  const std::string big = server_frame(0x81, std::string(1001, 'a'));
  auto e = d.decode(big.data(), big.size());
  EXPECT_EQ(e.kind, WsEventKind::error);
  EXPECT_NE(std::string(e.reason).find("maximum message size"), std::string::npos);
  const std::string cont = server_frame(0x80, "x");
  EXPECT_EQ(d.decode(cont.data(), cont.size()).kind, WsEventKind::error);
  const std::string rsv = server_frame(0xC1, "x");
  EXPECT_EQ(d.decode(rsv.data(), rsv.size()).kind, WsEventKind::error);
  const std::string long_ping = server_frame(0x89, std::string(126, 'p'));
  EXPECT_EQ(d.decode(long_ping.data(), long_ping.size()).kind, WsEventKind::error);
  const std::string bad_op = server_frame(0x83, "x");
  EXPECT_EQ(d.decode(bad_op.data(), bad_op.size()).kind, WsEventKind::error);
  // Fragments that add up past the maximum.
  const std::string f1 = server_frame(0x01, std::string(600, 'a')), f2 = server_frame(0x80, std::string(600, 'b'));
  EXPECT_EQ(d.decode(f1.data(), f1.size()).kind, WsEventKind::need_more);
  EXPECT_EQ(d.decode(f2.data(), f2.size()).kind, WsEventKind::error);
}

TEST(WsEncoder_Client, MaskedFramesRoundTripThroughAnIndependentUnmask) {
  char out[70000 + 14];
  for (std::size_t n : {0UL, 5UL, 125UL, 126UL, 65535UL, 65536UL, 70000UL}) {
    std::string payload(n, '\0');
    for (std::size_t i = 0; i < n; ++i) payload[i] = static_cast<char>(i * 31 + 7);
    const std::size_t len = ws_encode_client_frame(WsOpcode::text, payload, 0x37fa213d, out);
    const auto* u = reinterpret_cast<const unsigned char*>(out);
    EXPECT_EQ(u[0], 0x81);
    ASSERT_TRUE(u[1] & 0x80) << "client frames are masked";
    std::size_t h = 2, plen = u[1] & 0x7F;
    if (plen == 126) plen = (std::size_t{u[2]} << 8) | u[3], h = 4;
    else if (plen == 127) {
      plen = 0;
      for (int i = 2; i < 10; ++i) plen = (plen << 8) | u[i];
      h = 10;
    }
    ASSERT_EQ(plen, n);
    ASSERT_EQ(len, h + 4 + n);
    for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(static_cast<char>(u[h + 4 + i] ^ u[h + (i & 3)]), payload[i]);
  }
  // The RFC's masked "Hello" example, byte for byte.
  const std::size_t len = ws_encode_client_frame(WsOpcode::text, "Hello", 0x37fa213d, out);
  EXPECT_EQ(std::string(out, len), bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
}

TEST(WsHandshake, AcceptKeyAndResponseChecks) {
  // RFC 6455 section 1.3's example key (also checked with Python's hashlib).
  EXPECT_EQ(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  const std::string key = "dGhlIHNhbXBsZSBub25jZQ==";
  const std::string ok =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
  EXPECT_EQ(ws_check_handshake_response(ok, key), "");
  std::string bad = ok;
  bad.replace(bad.find("s3pP"), 4, "XXXX");
  EXPECT_NE(ws_check_handshake_response(bad, key).find("does not match"), std::string::npos);
  EXPECT_NE(ws_check_handshake_response("HTTP/1.1 403 Forbidden\r\n\r\n", key).find("refused"), std::string::npos);
  EXPECT_NE(ws_check_handshake_response("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n", key)
                .find("Upgrade: websocket"),
            std::string::npos);
}
