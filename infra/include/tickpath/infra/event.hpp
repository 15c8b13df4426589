// Event: what crosses the ring from the feed thread to the strategy thread,
// the vocabulary feed/ produces and strategy/ consumes without either
// knowing the other.
// Two cache lines, fixed size, trivially copyable; prices already converted.
// It carries the exchange's time and our own stage stamps, so a consumer
// can time every stage without looking anything up.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "tickpath/infra/symbol_table.hpp"

namespace tickpath::infra {

enum class EventType : std::uint8_t {
  none = 0,
  trade,
  agg_trade,
  kline,
  book_ticker,
  depth_update,    // diff depth (depthUpdate)
  depth_snapshot,  // partial depth (depth5/10/20) or a REST snapshot
};

constexpr const char* to_string(EventType t) noexcept {
  switch (t) {
    case EventType::none: return "none";
    case EventType::trade: return "trade";
    case EventType::agg_trade: return "aggTrade";
    case EventType::kline: return "kline";
    case EventType::book_ticker: return "bookTicker";
    case EventType::depth_update: return "depthUpdate";
    case EventType::depth_snapshot: return "depth";
  }
  return "?";
}

namespace event_flag {
inline constexpr std::uint8_t buyer_maker = 1U << 0;   // "m"
inline constexpr std::uint8_t best_match = 1U << 1;    // "M"
inline constexpr std::uint8_t kline_closed = 1U << 2;  // "x"
inline constexpr std::uint8_t seq_gap = 1U << 3;       // depth: U != previous u + 1 on this symbol
inline constexpr std::uint8_t book_synced = 1U << 4;   // depth: the local book is in sync after this event
// Set by the feed thread on events of a warm start (--warm-from): the
// strategy thread evolves its state with them but publishes and times nothing.
inline constexpr std::uint8_t warm_start = 1U << 5;
}  // namespace event_flag

// Each payload starts with what the strategy thread reads, so that for
// trades, book tickers and depth events it lies in the event's first cache
// line: the second line is then never pulled across cores on the hot path
// (checked below).
struct TradeData {  // trade and aggTrade
  std::int64_t trade_time_ms;
  double price;
  double qty;
  std::int64_t id;        // t (trade) or a (aggTrade)
  std::int64_t first_id;  // f (aggTrade); = id for trade
  std::int64_t last_id;   // l (aggTrade); = id for trade
  std::int64_t price_e8;
  std::int64_t qty_e8;
};

struct KlineData {
  std::int64_t open_time_ms;
  std::int64_t close_time_ms;
  std::uint32_t interval_s;
  std::uint32_t trades;
  double open, high, low, close, volume, quote_volume, taker_buy_volume, taker_buy_quote_volume;
};

struct BookTickerData {
  double bid, ask, bid_qty, ask_qty;
  std::int64_t update_id;
  std::int64_t bid_e8, ask_e8;
};

struct DepthData {
  // The local book's best bid and ask after this diff (flag book_synced),
  // NaN while the book awaits a snapshot, and the quantity resting on the
  // best kBookDepthLevels levels of each side (their imbalance is the
  // strategy's order-flow signal).
  double book_bid, book_ask;
  double top_bid_qty, top_ask_qty;
  std::int64_t first_update_id;  // U (diff) or lastUpdateId (snapshot)
  std::int64_t final_update_id;  // u (diff) or lastUpdateId (snapshot)
  std::uint32_t bid_levels;
  std::uint32_t ask_levels;
  // First level of each side as sent (for a snapshot: the top of book).
  double first_bid, first_bid_qty, first_ask, first_ask_qty;
};
inline constexpr unsigned kBookDepthLevels = 5;

struct alignas(64) Event {
  EventType type = EventType::none;
  std::uint8_t flags = 0;
  SymbolId symbol = kNoSymbol;
  // Reserved for the SpscRing that carries the event: it writes the event's
  // publication sequence here, in the first line, and the consumer waits on
  // it (one line crossing per event). Producers never write it.
  std::uint32_t ring_seq = 0;
  std::int64_t exchange_time_ms = 0;  // "E"; 0 where Binance sends none (bookTicker, partial depth)
  std::uint64_t rx_tick = 0;          // transport handed the bytes over
  std::uint64_t parsed_tick = 0;      // event built
  union {
    TradeData trade;
    KlineData kline;
    BookTickerData book;
    DepthData depth;
  };
  Event() noexcept : trade{} {}
};

static_assert(std::is_trivially_copyable_v<Event>);
static_assert(sizeof(Event) == 128, "Event is two cache lines");
static_assert(offsetof(Event, trade) + offsetof(TradeData, qty) + sizeof(double) <= 64 &&
                  offsetof(Event, book) + offsetof(BookTickerData, ask_qty) + sizeof(double) <= 64 &&
                  offsetof(Event, depth) + offsetof(DepthData, top_ask_qty) + sizeof(double) <= 64,
              "what the strategy reads of trades, book tickers and depth lies in the first cache line");

}  // namespace tickpath::infra
