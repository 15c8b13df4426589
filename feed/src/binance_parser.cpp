#include "tickpath/feed/binance_parser.hpp"

#include <simdjson.h>

#include <cstring>
#include <utility>

static_assert(tickpath::feed::kPadding == simdjson::SIMDJSON_PADDING, "kPadding must match simdjson's padding");

namespace tickpath::feed {

namespace od = simdjson::ondemand;
using simdjson::error_code;

const char* to_string(RejectReason r) noexcept {
  switch (r) {
    case RejectReason::none: return "none";
    case RejectReason::empty_frame: return "empty_frame";
    case RejectReason::frame_too_large: return "frame_too_large";
    case RejectReason::malformed_json: return "malformed_json";
    case RejectReason::not_an_object: return "not_an_object";
    case RejectReason::unknown_event: return "unknown_event";
    case RejectReason::missing_field: return "missing_field";
    case RejectReason::wrong_type: return "wrong_type";
    case RejectReason::bad_decimal: return "bad_decimal";
    case RejectReason::decimal_out_of_range: return "decimal_out_of_range";
    case RejectReason::too_many_levels: return "too_many_levels";
    case RejectReason::bad_interval: return "bad_interval";
    case RejectReason::symbol_mismatch: return "symbol_mismatch";
    case RejectReason::no_symbol: return "no_symbol";
    case RejectReason::unknown_symbol: return "unknown_symbol";
    case RejectReason::duplicate: return "duplicate";
    case RejectReason::count_: break;
  }
  return "?";
}

const char* to_string(MessageType t) noexcept {
  switch (t) {
    case MessageType::none: return "none";
    case MessageType::trade: return "trade";
    case MessageType::agg_trade: return "aggTrade";
    case MessageType::kline: return "kline";
    case MessageType::book_ticker: return "bookTicker";
    case MessageType::depth_update: return "depthUpdate";
    case MessageType::depth: return "depth";
  }
  return "?";
}

std::string_view stream_symbol(std::string_view stream) noexcept {
  const auto at = stream.find('@');
  return at == std::string_view::npos ? std::string_view{} : stream.substr(0, at);
}

std::uint32_t kline_interval_seconds(std::string_view iv) noexcept {
  if (iv.size() < 2 || iv.size() > 3) return 0;
  std::uint32_t n = 0;
  for (std::size_t i = 0; i + 1 < iv.size(); ++i) {
    if (iv[i] < '0' || iv[i] > '9') return 0;
    n = n * 10 + static_cast<std::uint32_t>(iv[i] - '0');
  }
  if (n == 0) return 0;
  switch (iv.back()) {
    case 's': return n;
    case 'm': return n * 60;
    case 'h': return n * 3600;
    case 'd': return n * 86400;
    case 'w': return n * 604800;
    case 'M': return n * 2592000;
    default: return 0;
  }
}

namespace {

// Keys arrive as raw pointers just past the opening quote.
inline bool key_is(const char* raw, const char* lit, std::size_t n) noexcept {
  return std::memcmp(raw, lit, n) == 0 && raw[n] == '"';
}

inline RejectReason map_error(error_code e) noexcept {
  switch (e) {
    case simdjson::INCORRECT_TYPE:
    case simdjson::NUMBER_ERROR:
    case simdjson::NUMBER_OUT_OF_RANGE:
      return RejectReason::wrong_type;
    default:
      return RejectReason::malformed_json;
  }
}

// The text of a JSON string value without its quotes. Binance's strings
// (symbols, decimals, event names) carry no escapes; one that does, or that
// is implausibly long, is not a value we accept (`bad` says which reason).
inline RejectReason read_text(od::value& v, std::string_view& out, std::size_t max_len = 64,
                              RejectReason bad = RejectReason::wrong_type) noexcept {
  od::raw_json_string raw;
  if (auto e = v.get_raw_json_string().get(raw)) return map_error(e);
  const char* b = raw.raw();
  const char* p = b;
  const char* limit = b + max_len;
  while (*p != '"') {
    if (*p == '\\' || p == limit) return bad;
    ++p;
  }
  out = std::string_view(b, static_cast<std::size_t>(p - b));
  return RejectReason::none;
}

inline RejectReason read_decimal(od::value& v, Decimal& d) noexcept {
  std::string_view s;
  if (auto r = read_text(v, s, 48, RejectReason::bad_decimal); r != RejectReason::none) return r;
  switch (parse_decimal(s.data(), s.data() + s.size(), d)) {
    case DecimalStatus::ok: return RejectReason::none;
    case DecimalStatus::bad_syntax: return RejectReason::bad_decimal;
    case DecimalStatus::out_of_range: return RejectReason::decimal_out_of_range;
  }
  return RejectReason::bad_decimal;
}

inline RejectReason read_int(od::value& v, std::int64_t& out) noexcept {
  if (auto e = v.get_int64().get(out)) return map_error(e);
  return RejectReason::none;
}

inline RejectReason read_bool(od::value& v, bool& out) noexcept {
  if (auto e = v.get_bool().get(out)) return map_error(e);
  return RejectReason::none;
}

inline RejectReason read_levels(od::value& v, Level* out, std::uint32_t max, LevelSpan& span) noexcept {
  od::array arr;
  if (auto e = v.get_array().get(arr)) return map_error(e);
  std::uint32_t n = 0;
  for (auto el : arr) {
    od::value lv;
    if (auto e = std::move(el).get(lv)) return map_error(e);
    if (n == max) return RejectReason::too_many_levels;
    od::array pair;
    if (auto e = lv.get_array().get(pair)) return map_error(e);
    unsigned i = 0;
    for (auto x : pair) {
      od::value xv;
      if (auto e = std::move(x).get(xv)) return map_error(e);
      if (i >= 2) return RejectReason::wrong_type;
      if (auto r = read_decimal(xv, i == 0 ? out[n].price : out[n].qty); r != RejectReason::none) return r;
      ++i;
    }
    if (i != 2) return RejectReason::wrong_type;
    ++n;
  }
  span.data = out;
  span.size = n;
  return RejectReason::none;
}

struct KeyName {
  std::uint32_t bit;
  const char* name;
};
constexpr KeyName kFieldNames[] = {
    {Message::f_e, "e"},       {Message::f_E, "E"},        {Message::f_s, "s"},        {Message::f_t, "t"},
    {Message::f_p, "p"},       {Message::f_q, "q"},        {Message::f_T, "T"},        {Message::f_m, "m"},
    {Message::f_M, "M"},       {Message::f_a_id, "a"},     {Message::f_b_id, "b"},     {Message::f_f, "f"},
    {Message::f_l, "l"},       {Message::f_k, "k"},        {Message::f_u, "u"},        {Message::f_U, "U"},
    {Message::f_b_dec, "b"},   {Message::f_B, "B"},        {Message::f_a_dec, "a"},    {Message::f_A, "A"},
    {Message::f_b_levels, "b"}, {Message::f_a_levels, "a"}, {Message::f_lastUpdateId, "lastUpdateId"},
    {Message::f_bids, "bids"}, {Message::f_asks, "asks"},
};
constexpr KeyName kKlineNames[] = {
    {Message::k_t, "k.t"}, {Message::k_T, "k.T"}, {Message::k_s, "k.s"}, {Message::k_i, "k.i"},
    {Message::k_f, "k.f"}, {Message::k_L, "k.L"}, {Message::k_o, "k.o"}, {Message::k_c, "k.c"},
    {Message::k_h, "k.h"}, {Message::k_l, "k.l"}, {Message::k_v, "k.v"}, {Message::k_n, "k.n"},
    {Message::k_x, "k.x"}, {Message::k_q, "k.q"}, {Message::k_V, "k.V"}, {Message::k_Q, "k.Q"},
};

const char* first_missing(std::uint32_t have, std::uint32_t need, const KeyName* names, std::size_t n) noexcept {
  const std::uint32_t missing = need & ~have;
  for (std::size_t i = 0; i < n; ++i)
    if (missing & names[i].bit) return names[i].name;
  return nullptr;
}

bool iequal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 32);
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 32);
    if (x != y) return false;
  }
  return true;
}

}  // namespace

struct BinanceParser::Impl {
  od::parser parser{kMaxFrameBytes};
  std::array<Level, kMaxLevels> bids{};
  std::array<Level, kMaxLevels> asks{};
  bool allocated = false;

  Impl() { allocated = parser.allocate(kMaxFrameBytes) == simdjson::SUCCESS; }

#define TP_TRY(expr)                                  \
  do {                                                \
    if (RejectReason r_ = (expr); r_ != RejectReason::none) { \
      m.bad_field = key;                              \
      return r_;                                      \
    }                                                 \
  } while (0)

  RejectReason kline_object(od::value& v, Message& m) noexcept {
    const char* key = "k";
    od::object obj;
    if (auto e = v.get_object().get(obj)) {
      m.bad_field = key;
      return map_error(e);
    }
    auto& k = m.k;
    for (auto fr : obj) {
      od::field fld;
      if (auto e = std::move(fr).get(fld)) return map_error(e);
      const char* raw = fld.key().raw();
      if (raw[1] != '"') continue;
      od::value& x = fld.value();
      switch (raw[0]) {
        case 't': key = "k.t"; TP_TRY(read_int(x, k.t)); m.kpresent |= Message::k_t; break;
        case 'T': key = "k.T"; TP_TRY(read_int(x, k.T)); m.kpresent |= Message::k_T; break;
        case 's': key = "k.s"; TP_TRY(read_text(x, k.s)); m.kpresent |= Message::k_s; break;
        case 'i': key = "k.i"; TP_TRY(read_text(x, k.i, 8)); m.kpresent |= Message::k_i; break;
        case 'f': key = "k.f"; TP_TRY(read_int(x, k.f)); m.kpresent |= Message::k_f; break;
        case 'L': key = "k.L"; TP_TRY(read_int(x, k.L)); m.kpresent |= Message::k_L; break;
        case 'o': key = "k.o"; TP_TRY(read_decimal(x, k.o)); m.kpresent |= Message::k_o; break;
        case 'c': key = "k.c"; TP_TRY(read_decimal(x, k.c)); m.kpresent |= Message::k_c; break;
        case 'h': key = "k.h"; TP_TRY(read_decimal(x, k.h)); m.kpresent |= Message::k_h; break;
        case 'l': key = "k.l"; TP_TRY(read_decimal(x, k.l)); m.kpresent |= Message::k_l; break;
        case 'v': key = "k.v"; TP_TRY(read_decimal(x, k.v)); m.kpresent |= Message::k_v; break;
        case 'n': key = "k.n"; TP_TRY(read_int(x, k.n)); m.kpresent |= Message::k_n; break;
        case 'x': key = "k.x"; TP_TRY(read_bool(x, k.x)); m.kpresent |= Message::k_x; break;
        case 'q': key = "k.q"; TP_TRY(read_decimal(x, k.q)); m.kpresent |= Message::k_q; break;
        case 'V': key = "k.V"; TP_TRY(read_decimal(x, k.V)); m.kpresent |= Message::k_V; break;
        case 'Q': key = "k.Q"; TP_TRY(read_decimal(x, k.Q)); m.kpresent |= Message::k_Q; break;
        case 'B': key = "k.B"; TP_TRY(read_decimal(x, k.B)); m.kpresent |= Message::k_B; break;
        default: break;
      }
    }
    m.present |= Message::f_k;
    return RejectReason::none;
  }

  RejectReason payload_field(const char* raw, od::value& v, Message& m) noexcept {
    const char* key = nullptr;
    if (raw[1] == '"') {
      switch (raw[0]) {
        case 'e': key = "e"; TP_TRY(read_text(v, m.event_name, 32)); m.present |= Message::f_e; return RejectReason::none;
        case 'E': key = "E"; TP_TRY(read_int(v, m.E)); m.present |= Message::f_E; return RejectReason::none;
        case 's': key = "s"; TP_TRY(read_text(v, m.symbol, 32)); m.present |= Message::f_s; return RejectReason::none;
        case 't': key = "t"; TP_TRY(read_int(v, m.t)); m.present |= Message::f_t; return RejectReason::none;
        case 'p': key = "p"; TP_TRY(read_decimal(v, m.p)); m.present |= Message::f_p; return RejectReason::none;
        case 'q': key = "q"; TP_TRY(read_decimal(v, m.q)); m.present |= Message::f_q; return RejectReason::none;
        case 'T': key = "T"; TP_TRY(read_int(v, m.T)); m.present |= Message::f_T; return RejectReason::none;
        case 'm': key = "m"; TP_TRY(read_bool(v, m.m)); m.present |= Message::f_m; return RejectReason::none;
        case 'M': key = "M"; TP_TRY(read_bool(v, m.M)); m.present |= Message::f_M; return RejectReason::none;
        case 'f': key = "f"; TP_TRY(read_int(v, m.f)); m.present |= Message::f_f; return RejectReason::none;
        case 'l': key = "l"; TP_TRY(read_int(v, m.l)); m.present |= Message::f_l; return RejectReason::none;
        case 'u': key = "u"; TP_TRY(read_int(v, m.u)); m.present |= Message::f_u; return RejectReason::none;
        case 'U': key = "U"; TP_TRY(read_int(v, m.U)); m.present |= Message::f_U; return RejectReason::none;
        case 'B': key = "B"; TP_TRY(read_decimal(v, m.B)); m.present |= Message::f_B; return RejectReason::none;
        case 'A': key = "A"; TP_TRY(read_decimal(v, m.A)); m.present |= Message::f_A; return RejectReason::none;
        case 'k': return kline_object(v, m);
        case 'b':
        case 'a': {
          // "b"/"a" mean different things by event: legacy order ids (trade),
          // the aggregate id (aggTrade), best prices (bookTicker), levels (depthUpdate).
          const bool bid = raw[0] == 'b';
          key = bid ? "b" : "a";
          od::json_type jt;
          if (auto e = v.type().get(jt)) {
            m.bad_field = key;
            return map_error(e);
          }
          switch (jt) {
            case od::json_type::number:
              TP_TRY(read_int(v, bid ? m.b_id : m.a_id));
              m.present |= bid ? Message::f_b_id : Message::f_a_id;
              return RejectReason::none;
            case od::json_type::string:
              TP_TRY(read_decimal(v, bid ? m.b : m.a));
              m.present |= bid ? Message::f_b_dec : Message::f_a_dec;
              return RejectReason::none;
            case od::json_type::array:
              TP_TRY(read_levels(v, bid ? bids.data() : asks.data(), kMaxLevels, bid ? m.bids : m.asks));
              m.present |= bid ? Message::f_b_levels : Message::f_a_levels;
              return RejectReason::none;
            default:
              m.bad_field = key;
              return RejectReason::wrong_type;
          }
        }
        default: return RejectReason::none;  // a field we do not use
      }
    }
    if (key_is(raw, "lastUpdateId", 12)) {
      key = "lastUpdateId";
      TP_TRY(read_int(v, m.last_update_id));
      m.present |= Message::f_lastUpdateId;
    } else if (key_is(raw, "bids", 4)) {
      key = "bids";
      TP_TRY(read_levels(v, bids.data(), kMaxLevels, m.bids));
      m.present |= Message::f_bids;
    } else if (key_is(raw, "asks", 4)) {
      key = "asks";
      TP_TRY(read_levels(v, asks.data(), kMaxLevels, m.asks));
      m.present |= Message::f_asks;
    }
    return RejectReason::none;
  }
#undef TP_TRY

  RejectReason classify(Message& m) noexcept {
    using M = Message;
    std::uint32_t need = 0;
    if (m.present & M::f_e) {
      const std::string_view e = m.event_name;
      if (e == "trade") {
        m.type = MessageType::trade;
        need = M::f_e | M::f_E | M::f_s | M::f_t | M::f_p | M::f_q | M::f_T | M::f_m;
      } else if (e == "aggTrade") {
        m.type = MessageType::agg_trade;
        need = M::f_e | M::f_E | M::f_s | M::f_a_id | M::f_p | M::f_q | M::f_f | M::f_l | M::f_T | M::f_m;
      } else if (e == "kline") {
        m.type = MessageType::kline;
        need = M::f_e | M::f_E | M::f_s | M::f_k;
      } else if (e == "depthUpdate") {
        m.type = MessageType::depth_update;
        need = M::f_e | M::f_E | M::f_s | M::f_U | M::f_u | M::f_b_levels | M::f_a_levels;
      } else {
        m.bad_field = "e";
        return RejectReason::unknown_event;
      }
    } else if (m.present & (M::f_lastUpdateId | M::f_bids | M::f_asks)) {
      m.type = MessageType::depth;
      need = M::f_lastUpdateId | M::f_bids | M::f_asks;
    } else if (m.present & (M::f_u | M::f_b_dec | M::f_a_dec | M::f_B | M::f_A)) {
      m.type = MessageType::book_ticker;
      need = M::f_u | M::f_s | M::f_b_dec | M::f_B | M::f_a_dec | M::f_A;
    } else {
      return RejectReason::unknown_event;
    }
    if (const char* miss = first_missing(m.present, need, kFieldNames, std::size(kFieldNames))) {
      m.bad_field = miss;
      return RejectReason::missing_field;
    }
    if (m.type == MessageType::kline) {
      constexpr std::uint32_t kneed = M::k_t | M::k_T | M::k_s | M::k_i | M::k_f | M::k_L | M::k_o | M::k_c |
                                      M::k_h | M::k_l | M::k_v | M::k_n | M::k_x | M::k_q | M::k_V | M::k_Q;
      if (const char* miss = first_missing(m.kpresent, kneed, kKlineNames, std::size(kKlineNames))) {
        m.bad_field = miss;
        return RejectReason::missing_field;
      }
      m.k.interval_s = kline_interval_seconds(m.k.i);
      if (m.k.interval_s == 0) {
        m.bad_field = "k.i";
        return RejectReason::bad_interval;
      }
    }
    // The symbol: "s" when sent, else the stream name's prefix. When both are
    // there they must agree.
    const std::string_view from_stream = stream_symbol(m.stream);
    if (m.present & M::f_s) {
      if (!from_stream.empty() && !iequal(from_stream, m.symbol)) {
        m.bad_field = "s";
        return RejectReason::symbol_mismatch;
      }
    } else {
      m.symbol = from_stream;
    }
    return RejectReason::none;
  }
};

BinanceParser::BinanceParser() : impl_(std::make_unique<Impl>()) {}
BinanceParser::~BinanceParser() = default;

RejectReason BinanceParser::parse(const char* data, std::size_t len, Message& m) noexcept {
  m.type = MessageType::none;
  m.present = 0;
  m.kpresent = 0;
  m.stream = {};
  m.symbol = {};
  m.event_name = {};
  m.bad_field = nullptr;
  m.bids = {};
  m.asks = {};
  m.sim_seq = 0;
  m.sim_tx_ns = 0;
  if (len == 0) return RejectReason::empty_frame;
  if (len > kMaxFrameBytes) return RejectReason::frame_too_large;
  if (!impl_->allocated) return RejectReason::frame_too_large;

  od::document doc;
  if (auto e = impl_->parser.iterate(data, len, len + kPadding).get(doc)) {
    return e == simdjson::CAPACITY ? RejectReason::frame_too_large : RejectReason::malformed_json;
  }
  od::object root;
  if (auto e = doc.get_object().get(root)) {
    return e == simdjson::INCORRECT_TYPE ? RejectReason::not_an_object : RejectReason::malformed_json;
  }
  for (auto fr : root) {
    od::field fld;
    if (std::move(fr).get(fld)) return RejectReason::malformed_json;
    const char* raw = fld.key().raw();
    od::value& v = fld.value();
    if (raw[0] == 's' && key_is(raw, "stream", 6)) {
      if (RejectReason r = read_text(v, m.stream, 96); r != RejectReason::none) {
        m.bad_field = "stream";
        return r;
      }
      m.present |= Message::f_stream;
    } else if (raw[0] == 's' && raw[1] == 'q' && raw[2] == '"') {
      if (RejectReason r = read_int(v, m.sim_seq); r != RejectReason::none) {
        m.bad_field = "sq";
        return r;
      }
    } else if (raw[0] == 't' && raw[1] == 'x' && raw[2] == '"') {
      if (RejectReason r = read_int(v, m.sim_tx_ns); r != RejectReason::none) {
        m.bad_field = "tx";
        return r;
      }
    } else if (raw[0] == 'd' && key_is(raw, "data", 4)) {
      od::object data_obj;
      if (auto e = v.get_object().get(data_obj)) {
        m.bad_field = "data";
        return map_error(e);
      }
      for (auto dfr : data_obj) {
        od::field dfld;
        if (std::move(dfr).get(dfld)) return RejectReason::malformed_json;
        if (RejectReason r = impl_->payload_field(dfld.key().raw(), dfld.value(), m); r != RejectReason::none) return r;
      }
    } else if (RejectReason r = impl_->payload_field(raw, v, m); r != RejectReason::none) {
      return r;
    }
  }
  // Anything left after the object (a second document, garbage) is not one frame.
  if (!doc.current_location().error()) return RejectReason::malformed_json;
  return impl_->classify(m);
}

}  // namespace tickpath::feed
