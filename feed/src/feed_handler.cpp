#include "tickpath/feed/feed_handler.hpp"

#include <cstring>
#include <limits>

namespace tickpath::feed {

void fill_event(const Message& m, Event& ev) noexcept {
  ev.flags = 0;
  ev.exchange_time_ms = m.E;
  switch (m.type) {
    case MessageType::trade:
    case MessageType::agg_trade: {
      const bool agg = m.type == MessageType::agg_trade;
      ev.type = agg ? EventType::agg_trade : EventType::trade;
      auto& t = ev.trade;
      t.id = agg ? m.a_id : m.t;
      t.first_id = agg ? m.f : m.t;
      t.last_id = agg ? m.l : m.t;
      t.trade_time_ms = m.T;
      t.price = m.p.value;
      t.qty = m.q.value;
      t.price_e8 = m.p.e8;
      t.qty_e8 = m.q.e8;
      if (m.m) ev.flags |= event_flag::buyer_maker;
      if ((m.present & Message::f_M) && m.M) ev.flags |= event_flag::best_match;
      break;
    }
    case MessageType::kline: {
      ev.type = EventType::kline;
      auto& k = ev.kline;
      k.open_time_ms = m.k.t;
      k.close_time_ms = m.k.T;
      k.interval_s = m.k.interval_s;
      k.trades = m.k.n < 0 ? 0U : m.k.n > 0xFFFFFFFFLL ? 0xFFFFFFFFU : static_cast<std::uint32_t>(m.k.n);
      k.open = m.k.o.value;
      k.high = m.k.h.value;
      k.low = m.k.l.value;
      k.close = m.k.c.value;
      k.volume = m.k.v.value;
      k.quote_volume = m.k.q.value;
      k.taker_buy_volume = m.k.V.value;
      k.taker_buy_quote_volume = m.k.Q.value;
      if (m.k.x) ev.flags |= event_flag::kline_closed;
      break;
    }
    case MessageType::book_ticker: {
      ev.type = EventType::book_ticker;
      auto& b = ev.book;
      b.update_id = m.u;
      b.bid = m.b.value;
      b.bid_qty = m.B.value;
      b.ask = m.a.value;
      b.ask_qty = m.A.value;
      b.bid_e8 = m.b.e8;
      b.ask_e8 = m.a.e8;
      break;
    }
    case MessageType::depth_update:
    case MessageType::depth: {
      const bool diff = m.type == MessageType::depth_update;
      ev.type = diff ? EventType::depth_update : EventType::depth_snapshot;
      auto& d = ev.depth;
      d.first_update_id = diff ? m.U : m.last_update_id;
      d.final_update_id = diff ? m.u : m.last_update_id;
      d.bid_levels = m.bids.size;
      d.ask_levels = m.asks.size;
      d.first_bid = m.bids.size ? m.bids.data[0].price.value : 0.0;
      d.first_bid_qty = m.bids.size ? m.bids.data[0].qty.value : 0.0;
      d.first_ask = m.asks.size ? m.asks.data[0].price.value : 0.0;
      d.first_ask_qty = m.asks.size ? m.asks.data[0].qty.value : 0.0;
      d.book_bid = d.book_ask = std::numeric_limits<double>::quiet_NaN();
      d.top_bid_qty = d.top_ask_qty = 0.0;
      break;
    }
    case MessageType::none: ev.type = EventType::none; break;
  }
}

void FeedHandler::enable_books(const std::vector<bool>& symbols, std::uint32_t levels_per_side,
                               std::size_t diff_buffer_bytes) {
  books_.clear();
  books_.resize(symbols.size());
  held_.clear();
  held_.resize(symbols.size());
  for (std::size_t i = 0; i < symbols.size(); ++i) {
    if (!symbols[i]) continue;
    books_[i] = std::make_unique<BookSync>(levels_per_side);
    if (diff_buffer_bytes > 0) {
      held_[i].bytes = std::make_unique<char[]>(diff_buffer_bytes);
      held_[i].cap = diff_buffer_bytes;
    }
  }
}

void FeedHandler::hold_diff(infra::SymbolId id, const char* data, std::size_t len) noexcept {
  DiffBuffer& b = held_[id];
  const std::size_t need = sizeof(std::uint32_t) + len + kPadding;
  if (need > b.cap) return;
  if (b.used + need > b.cap) {  // keep the newest: the snapshot will be newer than the oldest anyway
    b.used = 0;
    bump(counters_.diff_buffer_overflows);
  }
  const auto n = static_cast<std::uint32_t>(len);
  std::memcpy(b.bytes.get() + b.used, &n, sizeof n);
  std::memcpy(b.bytes.get() + b.used + sizeof n, data, len);
  std::memset(b.bytes.get() + b.used + sizeof n + len, 0, kPadding);
  b.used += need;
  bump(counters_.diffs_buffered);
}

void FeedHandler::replay_held(infra::SymbolId id, BookSync& book) noexcept {
  DiffBuffer& b = held_[id];
  std::size_t off = 0;
  while (off < b.used) {
    std::uint32_t n = 0;
    std::memcpy(&n, b.bytes.get() + off, sizeof n);
    const char* f = b.bytes.get() + off + sizeof n;
    off += sizeof n + n + kPadding;
    if (parser_.parse(f, n, msg_) != RejectReason::none || msg_.type != MessageType::depth_update) continue;
    if (!book.on_diff(msg_.U, msg_.u, msg_.bids, msg_.asks)) bump(counters_.book_out_of_sync);
  }
  b.used = 0;
}

bool FeedHandler::duplicate(const Event& ev) noexcept {
  std::int64_t id = 0;
  switch (ev.type) {
    case EventType::trade:
    case EventType::agg_trade: id = ev.trade.id; break;
    case EventType::book_ticker: {  // restates the top of book; Binance may repeat an id: only an older one is stale
      std::int64_t& last = last_id_[ev.symbol][static_cast<std::size_t>(ev.type)];
      if (ev.book.update_id < last) return true;
      last = ev.book.update_id;
      return false;
    }
    case EventType::depth_update: id = ev.depth.final_update_id; break;
    case EventType::depth_snapshot:
      if (msg_.stream.empty()) return false;  // a REST snapshot: always taken
      id = ev.depth.final_update_id;
      break;
    case EventType::kline: {  // a kline update restates its bar: only an older one is stale
      std::int64_t& last = last_id_[ev.symbol][static_cast<std::size_t>(ev.type)];
      if (ev.exchange_time_ms < last) return true;
      last = ev.exchange_time_ms;
      return false;
    }
    default: return false;
  }
  std::int64_t& last = last_id_[ev.symbol][static_cast<std::size_t>(ev.type)];
  if (id <= last) return true;
  last = id;
  return false;
}

RejectReason FeedHandler::on_frame(const char* data, std::size_t len, std::string_view symbol_hint,
                                   Event& out) noexcept {
  bump(counters_.frames);
  if (const RejectReason r = parser_.parse(data, len, msg_); r != RejectReason::none) return reject(r);
  std::string_view sym = msg_.symbol;
  if (sym.empty()) sym = symbol_hint;
  if (sym.empty()) return reject(RejectReason::no_symbol);
  const infra::SymbolId id = symbols_.intern(sym);
  if (id == infra::kNoSymbol) return reject(RejectReason::unknown_symbol);

  fill_event(msg_, out);
  out.symbol = id;
  if (dedup_ && duplicate(out)) {
    bump(counters_.duplicates);
    return RejectReason::duplicate;
  }
  if (out.type == EventType::depth_update) {
    std::int64_t& last = last_u_[id];
    if (last >= 0 && out.depth.first_update_id != last + 1) {
      // An overlap (U <= last) with u > last is how Binance resumes after a
      // snapshot; anything else is a hole in the book.
      if (!(out.depth.first_update_id <= last && out.depth.final_update_id > last)) {
        out.flags |= event_flag::seq_gap;
        bump(counters_.depth_gaps);
      }
    }
    if (out.depth.final_update_id > last) last = out.depth.final_update_id;
  }
  if (id < books_.size() && books_[id] &&
      (out.type == EventType::depth_update || (out.type == EventType::depth_snapshot && msg_.stream.empty()))) {
    BookSync& book = *books_[id];
    if (out.type == EventType::depth_snapshot) {
      book.on_snapshot(msg_.last_update_id, msg_.bids, msg_.asks);
      bump(counters_.book_snapshots);
      if (held_[id].used != 0) replay_held(id, book);  // (reuses the parser: msg_ is the last held diff now)
    } else if (book.state() == BookState::awaiting_snapshot && held_[id].cap != 0) {
      hold_diff(id, data, len);
    } else if (!book.on_diff(msg_.U, msg_.u, msg_.bids, msg_.asks)) {
      bump(counters_.book_out_of_sync);
      if (held_[id].cap != 0) hold_diff(id, data, len);  // the first diff of the next sync attempt
    }
    if (book.state() == BookState::synced) {
      out.flags |= event_flag::book_synced;
      if (!book.bids().empty()) out.depth.book_bid = static_cast<double>(book.bids()[0].price_e8) / 1e8;
      if (!book.asks().empty()) out.depth.book_ask = static_cast<double>(book.asks()[0].price_e8) / 1e8;
      std::int64_t bq = 0, aq = 0;
      for (std::uint32_t i = 0; i < infra::kBookDepthLevels && i < book.bids().size(); ++i) bq += book.bids()[i].qty_e8;
      for (std::uint32_t i = 0; i < infra::kBookDepthLevels && i < book.asks().size(); ++i) aq += book.asks()[i].qty_e8;
      out.depth.top_bid_qty = static_cast<double>(bq) / 1e8;
      out.depth.top_ask_qty = static_cast<double>(aq) / 1e8;
    }
  }
  bump(counters_.events);
  bump(counters_.events_by_type[static_cast<std::size_t>(out.type)]);
  return RejectReason::none;
}

void FeedHandler::reset_counters() noexcept {
  for (auto* c : {&counters_.frames, &counters_.events, &counters_.rejects, &counters_.depth_gaps, &counters_.book_snapshots,
                  &counters_.book_out_of_sync, &counters_.duplicates, &counters_.diffs_buffered,
                  &counters_.diff_buffer_overflows})
    c->store(0, std::memory_order_relaxed);
  for (auto& c : counters_.reject_by_reason) c.store(0, std::memory_order_relaxed);
  for (auto& c : counters_.events_by_type) c.store(0, std::memory_order_relaxed);
}

}  // namespace tickpath::feed
