// BinanceParser: one Binance Spot WebSocket frame (combined-stream wrapper
// {"stream":..,"data":..} or a raw payload) into a Message, with simdjson
// On-Demand and no copy of the frame: strings in the Message point into it.
//
// Threading contract: one parser per thread, reused for every frame. After
// construction parse() never allocates, never throws and never blocks; a
// frame it cannot accept comes back as a RejectReason, and the Message says
// which field (if any) was at fault.
//
// Input: `data[0, len)` must be readable up to data + len + kPadding (the
// bytes past the frame may be anything, e.g. the next frame of a file).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>

#include "tickpath/feed/decimal.hpp"
#include "tickpath/infra/event.hpp"

namespace tickpath::feed {

using infra::Event;
using infra::EventType;
namespace event_flag = infra::event_flag;

inline constexpr std::size_t kPadding = 64;  // == SIMDJSON_PADDING, checked in the .cpp

enum class RejectReason : std::uint8_t {
  none = 0,
  empty_frame,
  frame_too_large,
  malformed_json,
  not_an_object,
  unknown_event,
  missing_field,
  wrong_type,
  bad_decimal,
  decimal_out_of_range,
  too_many_levels,
  bad_interval,
  symbol_mismatch,
  no_symbol,       // engine: nothing in the frame names a symbol
  unknown_symbol,  // engine: symbol not in --symbols, or symbol table full
  duplicate,       // live: already seen on another connection (counted apart from rejects)
  negative_value,  // a price or quantity below zero, or a book level's price not above zero
  count_
};
inline constexpr std::size_t kRejectReasons = static_cast<std::size_t>(RejectReason::count_);
const char* to_string(RejectReason r) noexcept;

enum class MessageType : std::uint8_t { none, trade, agg_trade, kline, book_ticker, depth_update, depth };
const char* to_string(MessageType t) noexcept;  // Binance's spelling: "trade", "aggTrade", ...

struct Level {
  Decimal price;
  Decimal qty;
};

struct LevelSpan {
  const Level* data = nullptr;
  std::uint32_t size = 0;
};

// Every field the parser knows, with a bit in `present` for each.
struct Message {
  enum Field : std::uint32_t {
    f_e = 1U << 0, f_E = 1U << 1, f_s = 1U << 2, f_t = 1U << 3, f_p = 1U << 4, f_q = 1U << 5, f_T = 1U << 6,
    f_m = 1U << 7, f_M = 1U << 8, f_a_id = 1U << 9, f_b_id = 1U << 10, f_f = 1U << 11, f_l = 1U << 12,
    f_k = 1U << 13, f_u = 1U << 14, f_U = 1U << 15, f_b_dec = 1U << 16, f_B = 1U << 17, f_a_dec = 1U << 18,
    f_A = 1U << 19, f_b_levels = 1U << 20, f_a_levels = 1U << 21, f_lastUpdateId = 1U << 22,
    f_bids = 1U << 23, f_asks = 1U << 24, f_stream = 1U << 25,
  };
  enum KField : std::uint32_t {
    k_t = 1U << 0, k_T = 1U << 1, k_s = 1U << 2, k_i = 1U << 3, k_f = 1U << 4, k_L = 1U << 5, k_o = 1U << 6,
    k_c = 1U << 7, k_h = 1U << 8, k_l = 1U << 9, k_v = 1U << 10, k_n = 1U << 11, k_x = 1U << 12, k_q = 1U << 13,
    k_V = 1U << 14, k_Q = 1U << 15, k_B = 1U << 16,
  };

  MessageType type = MessageType::none;
  std::uint32_t present = 0;
  std::uint32_t kpresent = 0;
  std::string_view stream;  // "btcusdt@trade" for combined frames
  std::string_view symbol;  // "s", or the stream name's prefix (lower case) when there is no "s"
  std::string_view event_name;  // "e" as sent
  const char* bad_field = nullptr;  // for rejects: the key at fault, when one is
  // Wrapper keys tickpath-exsim adds ahead of Binance's: the frame's number on
  // its connection (1, 2, ...) and its send time (CLOCK_REALTIME ns); 0 when absent.
  std::int64_t sim_seq = 0, sim_tx_ns = 0;

  std::int64_t E = 0, T = 0;
  std::int64_t t = 0, a_id = 0, b_id = 0, f = 0, l = 0;  // trade/aggTrade ids (b_id/a_id: legacy order ids)
  bool m = false, M = false;
  Decimal p, q;
  // bookTicker
  std::int64_t u = 0;
  Decimal b, B, a, A;
  // depth
  std::int64_t U = 0, last_update_id = 0;
  LevelSpan bids, asks;
  // kline ("k")
  struct Kline {
    std::int64_t t = 0, T = 0, f = 0, L = 0, n = 0;
    std::string_view s, i;
    std::uint32_t interval_s = 0;
    bool x = false;
    Decimal o, c, h, l, v, q, V, Q, B;
  } k;
};

class BinanceParser {
 public:
  static constexpr std::size_t kMaxFrameBytes = 1U << 20;  // a 5000-level REST snapshot is ~330 KB
  static constexpr std::uint32_t kMaxLevels = 5000;        // per side, Binance's own maximum

  BinanceParser();
  ~BinanceParser();
  BinanceParser(const BinanceParser&) = delete;
  BinanceParser& operator=(const BinanceParser&) = delete;

  // Parses one frame into `out` (reset first). Level spans in `out` point into
  // this parser and stay valid until the next parse().
  [[nodiscard]] RejectReason parse(const char* data, std::size_t len, Message& out) noexcept;

  // Frames written the way Binance writes them (ASCII, no escapes) are read
  // in one forward pass; anything else, and every reject, goes through
  // simdjson On-Demand, which is the authority. Off: every frame through
  // simdjson (tests compare the two; the benchmark shows both).
  void set_fast_path(bool on) noexcept { fast_path_ = on; }
  // Within the single pass, frames laid out exactly as Binance sends its
  // trade, aggTrade, bookTicker and depthUpdate streams are matched byte for
  // byte first. Off: the general single pass takes them (for tests and the
  // benchmark).
  void set_exact_path(bool on) noexcept { exact_path_ = on; }
  [[nodiscard]] std::uint64_t fast_frames() const noexcept;     // accepted by the single pass
  [[nodiscard]] std::uint64_t exact_frames() const noexcept;    // of those, matched as Binance's exact layout
  [[nodiscard]] std::uint64_t checked_frames() const noexcept;  // parsed by simdjson

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool fast_path_ = true;
  bool exact_path_ = true;
};

// Symbol text of a stream name: "btcusdt@depth20@100ms" -> "btcusdt".
[[nodiscard]] std::string_view stream_symbol(std::string_view stream) noexcept;
// "1s" -> 1, "1m" -> 60, ..., "1w" -> 604800, "1M" -> 2592000 (30 days); 0 when unknown.
[[nodiscard]] std::uint32_t kline_interval_seconds(std::string_view interval) noexcept;

}  // namespace tickpath::feed
