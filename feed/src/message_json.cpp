#include "tickpath/feed/message_json.hpp"

#include <fmt/format.h>

namespace tickpath::feed {

namespace {

void str(std::string& o, std::string_view s) {
  o += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      o += fmt::format("\\u{:04x}", static_cast<unsigned>(static_cast<unsigned char>(c)));
    } else {
      o += c;
    }
  }
  o += '"';
}

struct Obj {
  std::string& o;
  bool first = true;
  void key(std::string_view k) {
    if (!first) o += ',';
    first = false;
    str(o, k);
    o += ':';
  }
  void s(std::string_view k, std::string_view v) { key(k), str(o, v); }
  void i(std::string_view k, std::int64_t v) { key(k), o += fmt::format("{}", v); }
  void b(std::string_view k, bool v) { key(k), o += v ? "true" : "false"; }
  void d(std::string_view k, const Decimal& v) {
    key(k);
    char buf[32];
    o += '"';
    o.append(buf, format_e8(v.e8, buf));
    o += '"';
  }
  void levels(std::string_view k, const LevelSpan& span) {
    key(k);
    o += '[';
    char buf[32];
    for (std::uint32_t n = 0; n < span.size; ++n) {
      if (n) o += ',';
      o += "[\"";
      o.append(buf, format_e8(span.data[n].price.e8, buf));
      o += "\",\"";
      o.append(buf, format_e8(span.data[n].qty.e8, buf));
      o += "\"]";
    }
    o += ']';
  }
};

}  // namespace

void append_message_json(const Message& m, std::string_view symbol, std::string& out) {
  using M = Message;
  const auto has = [&](std::uint32_t f) { return (m.present & f) != 0; };
  out += '{';
  Obj j{out};
  j.s("type", to_string(m.type));
  if (has(M::f_stream)) j.s("stream", m.stream);
  if (!symbol.empty()) {
    std::string up(symbol);
    for (auto& c : up)
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
    j.s("symbol", up);
  }
  switch (m.type) {
    case MessageType::trade:
      j.s("e", m.event_name), j.i("E", m.E), j.s("s", m.symbol), j.i("t", m.t), j.d("p", m.p), j.d("q", m.q);
      if (has(M::f_b_id)) j.i("b", m.b_id);
      if (has(M::f_a_id)) j.i("a", m.a_id);
      j.i("T", m.T), j.b("m", m.m);
      if (has(M::f_M)) j.b("M", m.M);
      break;
    case MessageType::agg_trade:
      j.s("e", m.event_name), j.i("E", m.E), j.s("s", m.symbol), j.i("a", m.a_id), j.d("p", m.p), j.d("q", m.q);
      j.i("f", m.f), j.i("l", m.l), j.i("T", m.T), j.b("m", m.m);
      if (has(M::f_M)) j.b("M", m.M);
      break;
    case MessageType::kline: {
      j.s("e", m.event_name), j.i("E", m.E), j.s("s", m.symbol);
      j.key("k");
      out += '{';
      Obj k{out};
      const auto& x = m.k;
      k.i("t", x.t), k.i("T", x.T), k.s("s", x.s), k.s("i", x.i), k.i("f", x.f), k.i("L", x.L);
      k.d("o", x.o), k.d("c", x.c), k.d("h", x.h), k.d("l", x.l), k.d("v", x.v), k.i("n", x.n), k.b("x", x.x);
      k.d("q", x.q), k.d("V", x.V), k.d("Q", x.Q);
      if (m.kpresent & M::k_B) k.d("B", x.B);
      out += '}';
      break;
    }
    case MessageType::book_ticker:
      j.i("u", m.u), j.s("s", m.symbol), j.d("b", m.b), j.d("B", m.B), j.d("a", m.a), j.d("A", m.A);
      break;
    case MessageType::depth_update:
      j.s("e", m.event_name), j.i("E", m.E), j.s("s", m.symbol), j.i("U", m.U), j.i("u", m.u);
      j.levels("b", m.bids), j.levels("a", m.asks);
      break;
    case MessageType::depth:
      j.i("lastUpdateId", m.last_update_id), j.levels("bids", m.bids), j.levels("asks", m.asks);
      break;
    case MessageType::none: break;
  }
  out += '}';
}

void append_reject_json(RejectReason r, const Message& m, std::string& out) {
  out += '{';
  Obj j{out};
  j.s("type", "reject");
  j.s("reason", to_string(r));
  if (m.bad_field != nullptr) j.s("field", m.bad_field);
  if (m.present & Message::f_stream) j.s("stream", m.stream);
  out += '}';
}

}  // namespace tickpath::feed
