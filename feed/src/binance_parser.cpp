#include "tickpath/feed/binance_parser.hpp"

#include <simdjson.h>

#include <array>
#include <cstring>
#include <immintrin.h>
#include <type_traits>
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
    case RejectReason::negative_value: return "negative_value";
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

inline RejectReason read_int(od::value& v, std::int64_t& out) noexcept {
  if (auto e = v.get_int64().get(out)) return map_error(e);
  return RejectReason::none;
}

inline RejectReason read_bool(od::value& v, bool& out) noexcept {
  if (auto e = v.get_bool().get(out)) return map_error(e);
  return RejectReason::none;
}

RejectReason read_od_decimal(od::value& v, Decimal& d) noexcept;

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
      if (auto r = read_od_decimal(xv, i == 0 ? out[n].price : out[n].qty); r != RejectReason::none) return r;
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

// Two readers of the same frame behind one field dispatch (Fields<R> below):
//  - OdReader: simdjson On-Demand, the authority for every frame.
//  - FastReader: one forward pass for frames written the way Binance writes
//    them (ASCII, no escapes, integers without fraction or exponent). It
//    accepts only well-formed JSON and then yields exactly what the
//    On-Demand path yields; at the first thing it is not sure of it gives
//    up, and the frame is parsed again by the authority, which also decides
//    every reject reason. On small frames simdjson's structural index costs
//    more than the whole single pass.

enum class Kind : std::uint8_t { number, string, array, object, other };

template <typename R>
RejectReason read_decimal(R& v, Decimal& d) noexcept;

struct OdReader {
  od::value& v;

  RejectReason text(std::string_view& out, std::size_t max_len = 64, RejectReason bad = RejectReason::wrong_type) noexcept {
    return read_text(v, out, max_len, bad);
  }
  RejectReason int64(std::int64_t& out) noexcept { return read_int(v, out); }
  RejectReason boolean(bool& out) noexcept { return read_bool(v, out); }
  RejectReason levels(Level* out, std::uint32_t max, LevelSpan& span) noexcept { return read_levels(v, out, max, span); }
  RejectReason kind(Kind& k) noexcept {
    od::json_type jt;
    if (auto e = v.type().get(jt)) return map_error(e);
    switch (jt) {
      case od::json_type::number: k = Kind::number; break;
      case od::json_type::string: k = Kind::string; break;
      case od::json_type::array: k = Kind::array; break;
      case od::json_type::object: k = Kind::object; break;
      default: k = Kind::other; break;
    }
    return RejectReason::none;
  }
  // on_field(raw_key, OdReader&) for each member; the key's raw text ends at its closing quote.
  template <typename F>
  RejectReason object(F&& on_field, RejectReason iteration_error) noexcept {
    od::object obj;
    if (auto e = v.get_object().get(obj)) return map_error(e);
    return members(obj, on_field, iteration_error);
  }
  template <typename F>
  static RejectReason members(od::object& obj, F& on_field, RejectReason iteration_error) noexcept {
    for (auto fr : obj) {
      od::field fld;
      if (auto e = std::move(fr).get(fld)) return iteration_error == RejectReason::none ? map_error(e) : iteration_error;
      OdReader x{fld.value()};
      if (RejectReason r = on_field(fld.key().raw(), x); r != RejectReason::none) return r;
    }
    return RejectReason::none;
  }
};

// The document's root object, opened by simdjson's get_object (which also
// checks that the document ends where the object does).
struct OdRoot {
  od::object obj;
  template <typename F>
  RejectReason object(F&& on_field, RejectReason iteration_error) noexcept {
    return OdReader::members(obj, on_field, iteration_error);
  }
};

// Scanning primitives shared by the two single-pass readers. `end` is the
// frame's end; the frame is padded (kPadding bytes), so a 16-byte load that
// starts before `end` may run past it.

#if defined(__SSE4_1__)
// kAlign[n]: shuffle moving n leading digits to the last n of 16 bytes, zero before.
constexpr auto kAlign = [] {
  std::array<std::array<std::int8_t, 16>, 17> t{};
  for (int n = 0; n <= 16; ++n)
    for (int j = 0; j < 16; ++j) t[n][j] = static_cast<std::int8_t>(j < 16 - n ? -128 : j - (16 - n));
  return t;
}();
#endif

// The run of ASCII digits at q (stopping at end) as a value: its length, or
// 0 when it is empty or longer than 19 digits or overflows uint64.
inline std::size_t unsigned_digits(const char* q, const char* end, std::uint64_t& v) noexcept {
#if defined(__SSE4_1__)
  {
    // Up to 15 digits in one step: find the run, right-align it with a byte
    // shuffle (zeros in front), then combine pairs, quads and octets with
    // multiply-adds.
    const __m128i d = _mm_sub_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q)), _mm_set1_epi8('0'));
    const __m128i is_digit = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d);
    // bytes past the frame's end count as non-digits
    const auto left = end - q;
    const unsigned past = left >= 16 ? 0U : (0xFFFFU << left) & 0xFFFFU;
    const unsigned other = (~static_cast<unsigned>(_mm_movemask_epi8(is_digit)) & 0xFFFFU) | past;
    if (other != 0) {
      const unsigned n = static_cast<unsigned>(__builtin_ctz(other));
      if (n == 0) return 0;
      const __m128i aligned = _mm_shuffle_epi8(d, _mm_loadu_si128(reinterpret_cast<const __m128i*>(kAlign[n].data())));
      const __m128i pairs = _mm_maddubs_epi16(aligned, _mm_set_epi8(1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10));
      const __m128i quads = _mm_madd_epi16(pairs, _mm_set_epi16(1, 100, 1, 100, 1, 100, 1, 100));
      const __m128i packed = _mm_packus_epi32(quads, quads);
      const __m128i octets = _mm_madd_epi16(packed, _mm_set_epi16(1, 10000, 1, 10000, 1, 10000, 1, 10000));
      v = static_cast<std::uint64_t>(static_cast<std::uint32_t>(_mm_cvtsi128_si32(octets))) * 100'000'000ULL +
          static_cast<std::uint32_t>(_mm_extract_epi32(octets, 1));
      return n;
    }
  }
#endif
  std::uint64_t x = 0;
  std::size_t n = 0;
  for (; q + n < end && static_cast<unsigned>(q[n] - '0') < 10U; ++n) {
    if (n == 19) return 0;
    if (__builtin_mul_overflow(x, 10U, &x) || __builtin_add_overflow(x, static_cast<unsigned>(q[n] - '0'), &x)) return 0;
  }
  v = x;
  return n;
}

// The quote closing a string whose text starts at b; nullptr when an escape,
// a control or non-ASCII byte, or the frame's end comes first. 16 bytes at a
// time.
inline const char* closing_quote(const char* b, const char* end) noexcept {
  const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
  for (const char* q = b; q < end; q += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
    // signed compare: bytes >= 0x80 are negative, so "< 0x20" catches them too
    const __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                                     _mm_cmplt_epi8(v, space));
    const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(hit));
    if (mask == 0) continue;
    const char* at = q + __builtin_ctz(mask);
    if (at >= end || *at != '"') return nullptr;
    return at;
  }
  return nullptr;
}

// An unsigned JSON integer as the general readers accept it: 1 to 19 digits,
// no leading zero, within int64. The caller checks what follows.
inline std::size_t plain_uint(const char* q, const char* end, std::uint64_t& v) noexcept {
  const auto n = unsigned_digits(q, end, v);
  if (n == 0 || (*q == '0' && n > 1) || v > static_cast<std::uint64_t>(INT64_MAX)) return 0;
  return n;
}

class FastReader {
 public:
  FastReader(const char* p, const char* end) noexcept : p_(p), end_(end) {}

  bool failed() const noexcept { return failed_; }
  // True when the whole input was one object followed by nothing but white space.
  bool at_end() noexcept {
    ws();
    return !failed_ && p_ == end_;
  }

  RejectReason text(std::string_view& out, std::size_t max_len = 64, RejectReason = RejectReason::wrong_type) noexcept {
    const char* b = string();
    if (!b || static_cast<std::size_t>(p_ - 1 - b) > max_len) return fail();
    out = std::string_view(b, static_cast<std::size_t>(p_ - 1 - b));
    return RejectReason::none;
  }
  [[gnu::noinline]] RejectReason int64(std::int64_t& out) noexcept {
    ws();
    const char* q = p_;
    const bool neg = q < end_ && *q == '-';
    q += neg;
    std::uint64_t v = 0;
    const auto n = plain_uint(q, end_, v);
    // then a delimiter: anything else is the authority's to judge
    if (n == 0 || !delimiter(q + n)) return fail();
    out = neg ? -static_cast<std::int64_t>(v) : static_cast<std::int64_t>(v);
    p_ = q + n;
    return RejectReason::none;
  }
  RejectReason boolean(bool& out) noexcept {
    ws();
    if (literal("true", 4)) out = true;
    else if (literal("false", 5)) out = false;
    else return fail();
    return RejectReason::none;
  }
  RejectReason levels(Level* out, std::uint32_t max, LevelSpan& span) noexcept {
    if (!take('[')) return fail();
    std::uint32_t n = 0;
    if (!take(']')) {
      do {
        if (n == max || !take('[')) return fail();
        if (read_decimal(*this, out[n].price) != RejectReason::none || !take(',') ||
            read_decimal(*this, out[n].qty) != RejectReason::none || !take(']'))
          return fail();
        ++n;
      } while (take(','));
      if (!take(']')) return fail();
    }
    span.data = out;
    span.size = n;
    return RejectReason::none;
  }
  RejectReason kind(Kind& k) noexcept {
    ws();
    if (p_ == end_) return fail();
    switch (*p_) {
      case '"': k = Kind::string; break;
      case '[': k = Kind::array; break;
      case '{': k = Kind::object; break;
      case '-': case '0': case '1': case '2': case '3': case '4':
      case '5': case '6': case '7': case '8': case '9': k = Kind::number; break;
      default: k = Kind::other; break;
    }
    return RejectReason::none;
  }
  template <typename F>
  RejectReason object(F&& on_field, RejectReason = RejectReason::none) noexcept {
    if (!take('{')) return fail();
    if (take('}')) return RejectReason::none;
    do {
      const char* key = string();
      if (!key || !take(':')) return fail();
      ws();
      const char* before = p_;
      if (RejectReason r = on_field(key, *this); r != RejectReason::none) return fail();
      if (p_ == before && !skip(0)) return fail();  // a member nobody read
    } while (take(','));
    if (!take('}')) return fail();
    return RejectReason::none;
  }

 private:
  RejectReason fail() noexcept {
    failed_ = true;
    return RejectReason::malformed_json;
  }
  void ws() noexcept {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  bool take(char c) noexcept {
    ws();
    if (p_ < end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  bool delimiter(const char* q) const noexcept {
    if (q == end_) return true;
    switch (*q) {
      case ',': case '}': case ']': case ' ': case '\n': case '\r': case '\t': return true;
      default: return false;
    }
  }
  bool literal(const char* lit, std::size_t n) noexcept {
    if (static_cast<std::size_t>(end_ - p_) < n || std::memcmp(p_, lit, n) != 0 || !delimiter(p_ + n)) return false;
    p_ += n;
    return true;
  }
  // A string's first character, with p_ past its closing quote; nullptr for
  // anything but a plain ASCII string without escapes or control characters.
  const char* string() noexcept {
    if (!take('"')) return nullptr;
    const char* b = p_;
    const char* q = closing_quote(b, end_);
    if (!q) return nullptr;
    p_ = q + 1;
    return b;
  }
  // Any well-formed value, nesting bounded; false for anything else.
  bool skip(int depth) noexcept {
    if (depth > 32) return false;
    ws();
    if (p_ == end_) return false;
    switch (*p_) {
      case '"': return string() != nullptr;
      case 't': return literal("true", 4);
      case 'f': return literal("false", 5);
      case 'n': return literal("null", 4);
      case '[':
        ++p_;
        if (take(']')) return true;
        do {
          if (!skip(depth + 1)) return false;
        } while (take(','));
        return take(']');
      case '{':
        ++p_;
        if (take('}')) return true;
        do {
          if (!string() || !take(':') || !skip(depth + 1)) return false;
        } while (take(','));
        return take('}');
      default: return number();
    }
  }
  // A JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  bool number() noexcept {
    const char* q = p_;
    auto digits = [&] {
      const char* s = q;
      while (q < end_ && static_cast<unsigned>(*q - '0') < 10U) ++q;
      return q - s;
    };
    if (q < end_ && *q == '-') ++q;
    const char* int_begin = q;
    const auto n = digits();
    if (n == 0 || (*int_begin == '0' && n > 1)) return false;
    if (q < end_ && *q == '.') {
      ++q;
      if (digits() == 0) return false;
    }
    if (q < end_ && (*q == 'e' || *q == 'E')) {
      ++q;
      if (q < end_ && (*q == '+' || *q == '-')) ++q;
      if (digits() == 0) return false;
    }
    if (!delimiter(q)) return false;
    p_ = q;
    return true;
  }

  const char* p_;
  const char* end_;
  bool failed_ = false;
};

// The frames of Binance's busiest streams (trade, aggTrade, bookTicker,
// depthUpdate) exactly as Binance writes them: compact, the combined
// stream's wrapper, its key order, optionally behind the simulator's
// "sq"/"tx". Matched literally, key text and value in one pass with no key
// dispatch; the first byte that differs (white space, another key order, an
// extra or missing key, a negative or escaped value) hands the frame to the
// general single pass, which yields the same for every frame this one takes
// (tests compare all three readers).
class ExactReader {
 public:
  ExactReader(const char* p, const char* end) noexcept : p_(p), end_(end) {}

  const char* pos() const noexcept { return p_; }
  bool at_end() const noexcept { return p_ == end_; }

  // The literal text `s` (without its terminating NUL) next.
  template <std::size_t N>
  bool lit(const char (&s)[N]) noexcept {
    constexpr std::size_t n = N - 1;
    if (static_cast<std::size_t>(end_ - p_) < n || std::memcmp(p_, s, n) != 0) return false;
    p_ += n;
    return true;
  }
  // A string's text after its opening quote (already matched), up to max_len
  // characters; p_ past the closing quote.
  bool text(std::string_view& out, std::size_t max_len) noexcept {
    const char* q = closing_quote(p_, end_);
    if (!q || static_cast<std::size_t>(q - p_) > max_len) return false;
    out = std::string_view(p_, static_cast<std::size_t>(q - p_));
    p_ = q + 1;
    return true;
  }
  bool uint(std::int64_t& out) noexcept {
    std::uint64_t v = 0;
    const auto n = plain_uint(p_, end_, v);
    if (n == 0) return false;
    out = static_cast<std::int64_t>(v);
    p_ += n;
    return true;
  }
  bool decimal(Decimal& d) noexcept {
    std::string_view s;
    return text(s, 48) && parse_decimal(s.data(), s.data() + s.size(), d) == DecimalStatus::ok;
  }
  bool boolean(bool& out) noexcept {
    if (lit("true")) out = true;
    else if (lit("false")) out = false;
    else return false;
    return true;
  }
  // [["p","q"],...] after its opening bracket (already matched), through its closing one.
  bool levels(Level* out, std::uint32_t max, LevelSpan& span) noexcept {
    std::uint32_t n = 0;
    if (!lit("]")) {
      do {
        if (n == max || !lit("[\"") || !decimal(out[n].price) || !lit(",\"") || !decimal(out[n].qty) || !lit("]"))
          return false;
        ++n;
      } while (lit(","));
      if (!lit("]")) return false;
    }
    span.data = out;
    span.size = n;
    return true;
  }

 private:
  const char* p_;
  const char* end_;
};

template <typename R>
RejectReason read_decimal(R& v, Decimal& d) noexcept {
  std::string_view s;
  if (auto r = v.text(s, 48, RejectReason::bad_decimal); r != RejectReason::none) return r;
  switch (parse_decimal(s.data(), s.data() + s.size(), d)) {
    case DecimalStatus::ok: return RejectReason::none;
    case DecimalStatus::bad_syntax: return RejectReason::bad_decimal;
    case DecimalStatus::out_of_range: return RejectReason::decimal_out_of_range;
  }
  return RejectReason::bad_decimal;
}

// Whether the stream name's symbol (its text before the first '@') is `s`,
// ignoring case, or the stream names none. The common case, "btcusdt@..."
// beside "BTCUSDT", is one pass over the symbol's length.
bool stream_agrees(std::string_view stream, std::string_view s) noexcept {
  const std::size_t n = s.size();
  if (stream.size() > n && stream[n] == '@') {
    std::size_t i = 0;
    for (; i < n; ++i) {
      char a = stream[i], b = s[i];
      if (a == '@') break;
      if (a >= 'a' && a <= 'z') a = static_cast<char>(a - 32);
      if (b >= 'a' && b <= 'z') b = static_cast<char>(b - 32);
      if (a != b) break;
    }
    if (i == n) return true;
  }
  const std::string_view named = stream_symbol(stream);
  return named.empty() || iequal(named, s);
}

}  // namespace

struct BinanceParser::Impl {
  od::parser parser{kMaxFrameBytes};
  std::array<Level, kMaxLevels> bids{};
  std::array<Level, kMaxLevels> asks{};
  bool allocated = false;
  std::uint64_t exact_n = 0, fast = 0, slow = 0;

  Impl() { allocated = parser.allocate(kMaxFrameBytes) == simdjson::SUCCESS; }

#define TP_TRY(expr)                                  \
  do {                                                \
    if (RejectReason r_ = (expr); r_ != RejectReason::none) { \
      m.bad_field = key;                              \
      return r_;                                      \
    }                                                 \
  } while (0)

  template <typename R>
  RejectReason kline_object(R& v, Message& m) noexcept {
    auto& k = m.k;
    const RejectReason r = v.object(
        [&](const char* raw, R& x) noexcept -> RejectReason {
          if (raw[1] != '"') return RejectReason::none;
          const char* key = "k";
          switch (raw[0]) {
            case 't': key = "k.t"; TP_TRY(x.int64(k.t)); m.kpresent |= Message::k_t; break;
            case 'T': key = "k.T"; TP_TRY(x.int64(k.T)); m.kpresent |= Message::k_T; break;
            case 's': key = "k.s"; TP_TRY(x.text(k.s)); m.kpresent |= Message::k_s; break;
            case 'i': key = "k.i"; TP_TRY(x.text(k.i, 8)); m.kpresent |= Message::k_i; break;
            case 'f': key = "k.f"; TP_TRY(x.int64(k.f)); m.kpresent |= Message::k_f; break;
            case 'L': key = "k.L"; TP_TRY(x.int64(k.L)); m.kpresent |= Message::k_L; break;
            case 'o': key = "k.o"; TP_TRY(read_decimal(x, k.o)); m.kpresent |= Message::k_o; break;
            case 'c': key = "k.c"; TP_TRY(read_decimal(x, k.c)); m.kpresent |= Message::k_c; break;
            case 'h': key = "k.h"; TP_TRY(read_decimal(x, k.h)); m.kpresent |= Message::k_h; break;
            case 'l': key = "k.l"; TP_TRY(read_decimal(x, k.l)); m.kpresent |= Message::k_l; break;
            case 'v': key = "k.v"; TP_TRY(read_decimal(x, k.v)); m.kpresent |= Message::k_v; break;
            case 'n': key = "k.n"; TP_TRY(x.int64(k.n)); m.kpresent |= Message::k_n; break;
            case 'x': key = "k.x"; TP_TRY(x.boolean(k.x)); m.kpresent |= Message::k_x; break;
            case 'q': key = "k.q"; TP_TRY(read_decimal(x, k.q)); m.kpresent |= Message::k_q; break;
            case 'V': key = "k.V"; TP_TRY(read_decimal(x, k.V)); m.kpresent |= Message::k_V; break;
            case 'Q': key = "k.Q"; TP_TRY(read_decimal(x, k.Q)); m.kpresent |= Message::k_Q; break;
            case 'B': key = "k.B"; TP_TRY(read_decimal(x, k.B)); m.kpresent |= Message::k_B; break;
            default: break;
          }
          return RejectReason::none;
        },
        RejectReason::none);
    if (r != RejectReason::none) {
      if (!m.bad_field) m.bad_field = "k";
      return r;
    }
    m.present |= Message::f_k;
    return RejectReason::none;
  }

  template <typename R>
  RejectReason payload_field(const char* raw, R& v, Message& m) noexcept {
    const char* key = nullptr;
    if (raw[1] == '"') {
      switch (raw[0]) {
        case 'e': key = "e"; TP_TRY(v.text(m.event_name, 32)); m.present |= Message::f_e; return RejectReason::none;
        case 'E': key = "E"; TP_TRY(v.int64(m.E)); m.present |= Message::f_E; return RejectReason::none;
        case 's': key = "s"; TP_TRY(v.text(m.symbol, 32)); m.present |= Message::f_s; return RejectReason::none;
        case 't': key = "t"; TP_TRY(v.int64(m.t)); m.present |= Message::f_t; return RejectReason::none;
        case 'p': key = "p"; TP_TRY(read_decimal(v, m.p)); m.present |= Message::f_p; return RejectReason::none;
        case 'q': key = "q"; TP_TRY(read_decimal(v, m.q)); m.present |= Message::f_q; return RejectReason::none;
        case 'T': key = "T"; TP_TRY(v.int64(m.T)); m.present |= Message::f_T; return RejectReason::none;
        case 'm': key = "m"; TP_TRY(v.boolean(m.m)); m.present |= Message::f_m; return RejectReason::none;
        case 'M': key = "M"; TP_TRY(v.boolean(m.M)); m.present |= Message::f_M; return RejectReason::none;
        case 'f': key = "f"; TP_TRY(v.int64(m.f)); m.present |= Message::f_f; return RejectReason::none;
        case 'l': key = "l"; TP_TRY(v.int64(m.l)); m.present |= Message::f_l; return RejectReason::none;
        case 'u': key = "u"; TP_TRY(v.int64(m.u)); m.present |= Message::f_u; return RejectReason::none;
        case 'U': key = "U"; TP_TRY(v.int64(m.U)); m.present |= Message::f_U; return RejectReason::none;
        case 'B': key = "B"; TP_TRY(read_decimal(v, m.B)); m.present |= Message::f_B; return RejectReason::none;
        case 'A': key = "A"; TP_TRY(read_decimal(v, m.A)); m.present |= Message::f_A; return RejectReason::none;
        case 'k': return kline_object(v, m);
        case 'b':
        case 'a': {
          // "b"/"a" mean different things by event: legacy order ids (trade),
          // the aggregate id (aggTrade), best prices (bookTicker), levels (depthUpdate).
          const bool bid = raw[0] == 'b';
          key = bid ? "b" : "a";
          Kind kind = Kind::other;
          TP_TRY(v.kind(kind));
          switch (kind) {
            case Kind::number:
              TP_TRY(v.int64(bid ? m.b_id : m.a_id));
              m.present |= bid ? Message::f_b_id : Message::f_a_id;
              return RejectReason::none;
            case Kind::string:
              TP_TRY(read_decimal(v, bid ? m.b : m.a));
              m.present |= bid ? Message::f_b_dec : Message::f_a_dec;
              return RejectReason::none;
            case Kind::array:
              TP_TRY(v.levels(bid ? bids.data() : asks.data(), kMaxLevels, bid ? m.bids : m.asks));
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
      TP_TRY(v.int64(m.last_update_id));
      m.present |= Message::f_lastUpdateId;
    } else if (key_is(raw, "bids", 4)) {
      key = "bids";
      TP_TRY(v.levels(bids.data(), kMaxLevels, m.bids));
      m.present |= Message::f_bids;
    } else if (key_is(raw, "asks", 4)) {
      key = "asks";
      TP_TRY(v.levels(asks.data(), kMaxLevels, m.asks));
      m.present |= Message::f_asks;
    }
    return RejectReason::none;
  }

  // Binance's exact layouts (ExactReader); false hands the frame on, with
  // `m` partly written (parse() resets it).
  bool exact(const char* data, std::size_t len, Message& m) noexcept {
    using M = Message;
    ExactReader x(data, data + len);
    if (!x.lit("{\"")) return false;
    if (x.lit("sq\":")) {
      if (!x.uint(m.sim_seq) || !x.lit(",\"tx\":") || !x.uint(m.sim_tx_ns) || !x.lit(",\"")) return false;
    }
    if (!x.lit("stream\":\"") || !x.text(m.stream, 96) || !x.lit(",\"data\":{\"")) return false;
    m.present |= M::f_stream;
    if (x.lit("e\":\"")) {
      const char* name = x.pos();
      if (x.lit("trade\",\"E\":")) {
        m.event_name = std::string_view(name, 5);
        if (!x.uint(m.E) || !x.lit(",\"s\":\"") || !x.text(m.symbol, 32) || !x.lit(",\"t\":") || !x.uint(m.t) ||
            !x.lit(",\"p\":\"") || !x.decimal(m.p) || !x.lit(",\"q\":\"") || !x.decimal(m.q) || !x.lit(",\"T\":") ||
            !x.uint(m.T) || !x.lit(",\"m\":") || !x.boolean(m.m))
          return false;
        m.present |= M::f_e | M::f_E | M::f_s | M::f_t | M::f_p | M::f_q | M::f_T | M::f_m;
      } else if (x.lit("aggTrade\",\"E\":")) {
        m.event_name = std::string_view(name, 8);
        if (!x.uint(m.E) || !x.lit(",\"s\":\"") || !x.text(m.symbol, 32) || !x.lit(",\"a\":") || !x.uint(m.a_id) ||
            !x.lit(",\"p\":\"") || !x.decimal(m.p) || !x.lit(",\"q\":\"") || !x.decimal(m.q) || !x.lit(",\"f\":") ||
            !x.uint(m.f) || !x.lit(",\"l\":") || !x.uint(m.l) || !x.lit(",\"T\":") || !x.uint(m.T) ||
            !x.lit(",\"m\":") || !x.boolean(m.m))
          return false;
        m.present |= M::f_e | M::f_E | M::f_s | M::f_a_id | M::f_p | M::f_q | M::f_f | M::f_l | M::f_T | M::f_m;
      } else if (x.lit("depthUpdate\",\"E\":")) {
        m.event_name = std::string_view(name, 11);
        if (!x.uint(m.E) || !x.lit(",\"s\":\"") || !x.text(m.symbol, 32) || !x.lit(",\"U\":") || !x.uint(m.U) ||
            !x.lit(",\"u\":") || !x.uint(m.u) || !x.lit(",\"b\":[") || !x.levels(bids.data(), kMaxLevels, m.bids) ||
            !x.lit(",\"a\":[") || !x.levels(asks.data(), kMaxLevels, m.asks))
          return false;
        m.present |= M::f_e | M::f_E | M::f_s | M::f_U | M::f_u | M::f_b_levels | M::f_a_levels;
      } else {
        return false;
      }
      // "M" (a field Binance documents as "ignore") ends trade and aggTrade frames when sent.
      if ((m.present & M::f_m) && x.lit(",\"M\":")) {
        if (!x.boolean(m.M)) return false;
        m.present |= M::f_M;
      }
    } else if (x.lit("u\":")) {
      if (!x.uint(m.u) || !x.lit(",\"s\":\"") || !x.text(m.symbol, 32) || !x.lit(",\"b\":\"") || !x.decimal(m.b) ||
          !x.lit(",\"B\":\"") || !x.decimal(m.B) || !x.lit(",\"a\":\"") || !x.decimal(m.a) || !x.lit(",\"A\":\"") ||
          !x.decimal(m.A))
        return false;
      m.present |= M::f_u | M::f_s | M::f_b_dec | M::f_B | M::f_a_dec | M::f_A;
    } else {
      return false;
    }
    return x.lit("}}") && x.at_end();
  }

  // The top level: the combined-stream wrapper's keys (and the simulator's
  // sq/tx), "data" holding the payload, or a raw payload's own keys.
  template <typename Doc>
  RejectReason root(Doc& doc, Message& m) noexcept {
    return doc.object(
        [&](const char* raw, auto& v) noexcept -> RejectReason {
          using R = std::remove_reference_t<decltype(v)>;
          const char* key = nullptr;
          if (raw[0] == 's' && key_is(raw, "stream", 6)) {
            key = "stream";
            TP_TRY(v.text(m.stream, 96));
            m.present |= Message::f_stream;
          } else if (raw[0] == 's' && raw[1] == 'q' && raw[2] == '"') {
            key = "sq";
            TP_TRY(v.int64(m.sim_seq));
          } else if (raw[0] == 't' && raw[1] == 'x' && raw[2] == '"') {
            key = "tx";
            TP_TRY(v.int64(m.sim_tx_ns));
          } else if (raw[0] == 'd' && key_is(raw, "data", 4)) {
            const RejectReason r = v.object([&](const char* k, R& x) noexcept { return payload_field(k, x, m); },
                                            RejectReason::malformed_json);
            if (r != RejectReason::none && !m.bad_field) m.bad_field = "data";
            return r;
          } else {
            return payload_field(raw, v, m);
          }
          return RejectReason::none;
        },
        RejectReason::malformed_json);
  }
#undef TP_TRY

  // Binance never sends a negative price or quantity, nor a book level at a
  // price of zero or below; a frame that does is refused whole (for depth,
  // the sequence gap it leaves then brings a fresh snapshot).
  static const char* negative_field(const Message& m) noexcept {
    using T = MessageType;
    const auto levels_bad = [](const LevelSpan& s) noexcept {
      for (std::uint32_t i = 0; i < s.size; ++i)
        if (s.data[i].price.e8 <= 0 || s.data[i].qty.e8 < 0) return true;
      return false;
    };
    switch (m.type) {
      case T::trade:
      case T::agg_trade:
        if (m.p.e8 < 0) return "p";
        if (m.q.e8 < 0) return "q";
        return nullptr;
      case T::book_ticker:
        if (m.b.e8 < 0) return "b";
        if (m.B.e8 < 0) return "B";
        if (m.a.e8 < 0) return "a";
        if (m.A.e8 < 0) return "A";
        return nullptr;
      case T::kline: {
        const Decimal* v[] = {&m.k.o, &m.k.c, &m.k.h, &m.k.l, &m.k.v, &m.k.q, &m.k.V, &m.k.Q};
        const char* names[] = {"k.o", "k.c", "k.h", "k.l", "k.v", "k.q", "k.V", "k.Q"};
        for (std::size_t i = 0; i < std::size(v); ++i)
          if (v[i]->e8 < 0) return names[i];
        return nullptr;
      }
      case T::depth_update:
        if (levels_bad(m.bids)) return "b";
        if (levels_bad(m.asks)) return "a";
        return nullptr;
      case T::depth:
        if (levels_bad(m.bids)) return "bids";
        if (levels_bad(m.asks)) return "asks";
        return nullptr;
      default: return nullptr;
    }
  }

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
    if (const char* bad = negative_field(m)) {
      m.bad_field = bad;
      return RejectReason::negative_value;
    }
    // The symbol: "s" when sent, else the stream name's prefix. When both are
    // there they must agree.
    if (m.present & M::f_s) {
      if (!stream_agrees(m.stream, m.symbol)) {
        m.bad_field = "s";
        return RejectReason::symbol_mismatch;
      }
    } else {
      m.symbol = stream_symbol(m.stream);
    }
    return RejectReason::none;
  }
};

BinanceParser::BinanceParser() : impl_(std::make_unique<Impl>()) {}
BinanceParser::~BinanceParser() = default;

namespace {
RejectReason read_od_decimal(od::value& v, Decimal& d) noexcept {
  OdReader r{v};
  return read_decimal(r, d);
}

void reset(Message& m) noexcept {
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
}
}  // namespace

RejectReason BinanceParser::parse(const char* data, std::size_t len, Message& m) noexcept {
  reset(m);
  if (len == 0) return RejectReason::empty_frame;
  if (len > kMaxFrameBytes) return RejectReason::frame_too_large;
  if (!impl_->allocated) return RejectReason::frame_too_large;

  if (fast_path_) {
    if (exact_path_) {
      if (impl_->exact(data, len, m)) {
        ++impl_->exact_n;
        ++impl_->fast;
        return impl_->classify(m);
      }
      reset(m);
    }
    FastReader fr(data, data + len);
    if (impl_->root(fr, m) == RejectReason::none && fr.at_end()) {
      ++impl_->fast;
      return impl_->classify(m);
    }
    reset(m);
  }
  ++impl_->slow;

  od::document doc;
  if (auto e = impl_->parser.iterate(data, len, len + kPadding).get(doc)) {
    return e == simdjson::CAPACITY ? RejectReason::frame_too_large : RejectReason::malformed_json;
  }
  OdRoot r;
  if (auto e = doc.get_object().get(r.obj)) {
    return e == simdjson::INCORRECT_TYPE ? RejectReason::not_an_object : RejectReason::malformed_json;
  }
  if (RejectReason rr = impl_->root(r, m); rr != RejectReason::none) return rr;
  // Anything left after the object (a second document, garbage) is not one frame.
  if (!doc.current_location().error()) return RejectReason::malformed_json;
  return impl_->classify(m);
}

std::uint64_t BinanceParser::fast_frames() const noexcept { return impl_->fast; }
std::uint64_t BinanceParser::exact_frames() const noexcept { return impl_->exact_n; }
std::uint64_t BinanceParser::checked_frames() const noexcept { return impl_->slow; }

}  // namespace tickpath::feed
