#include <gtest/gtest.h>

#include <map>
#include <random>

#include "support/alloc_counter.hpp"
#include "support/test_data.hpp"
#include "tickpath/feed/frame_set.hpp"
#include "tickpath/feed/feed_handler.hpp"
#include "tickpath/feed/order_book.hpp"

using namespace tickpath::feed;

namespace {
// Independent reference: std::map books and the sync rule written out plainly.
struct RefBook {
  std::map<std::int64_t, std::int64_t, std::greater<>> bids;
  std::map<std::int64_t, std::int64_t> asks;
  bool have_snapshot = false, synced = false;
  std::int64_t last = 0;
  int diffs_seen_before_sync = 0;
  template <typename M>
  static void apply(M& side, const LevelSpan& s) {
    for (std::uint32_t i = 0; i < s.size; ++i) {
      if (s.data[i].qty.e8 == 0) side.erase(s.data[i].price.e8);
      else side[s.data[i].price.e8] = s.data[i].qty.e8;
    }
  }
};

void expect_same(const BookSync& b, const RefBook& r, const std::string& where) {
  ASSERT_EQ(b.bids().size(), r.bids.size()) << where;
  ASSERT_EQ(b.asks().size(), r.asks.size()) << where;
  std::uint32_t i = 0;
  for (const auto& [p, q] : r.bids) {
    ASSERT_EQ(b.bids()[i].price_e8, p) << where;
    ASSERT_EQ(b.bids()[i].qty_e8, q) << where;
    ++i;
  }
  i = 0;
  for (const auto& [p, q] : r.asks) {
    ASSERT_EQ(b.asks()[i].price_e8, p) << where;
    ASSERT_EQ(b.asks()[i].qty_e8, q) << where;
    ++i;
  }
}
}  // namespace

TEST(OrderBook_RealRecording, SnapshotPlusDiffsSyncWhereExpectedAndMatchAStdMapBook) {
  FrameSet fs;
  std::string err;
  ASSERT_TRUE(fs.load_file(tickpath::test::data_file("ws/cryptofeed_2021-04-04_btcusdt-ethusdt-dotusdt_raw-recording.txt"), err)) << err;
  BinanceParser parser;
  Message m;
  std::map<std::string, BookSync> books;
  std::map<std::string, RefBook> refs;
  for (const char* s : {"BTCUSDT", "ETHUSDT", "DOTUSDT"}) books.try_emplace(s), refs.try_emplace(s);
  std::map<std::string, int> sync_at;  // which diff of the symbol synced the book (1-based)
  std::map<std::string, int> diff_no;
  for (std::size_t i = 0; i < fs.size(); ++i) {
    ASSERT_EQ(parser.parse(fs.frame(i).data(), fs.frame(i).size(), m), RejectReason::none);
    if (m.type == MessageType::depth) {
      const std::string sym(fs.frames()[i].symbol_hint);
      books.at(sym).on_snapshot(m.last_update_id, m.bids, m.asks);
      RefBook& r = refs.at(sym);
      r.bids.clear(), r.asks.clear();
      RefBook::apply(r.bids, m.bids);
      RefBook::apply(r.asks, m.asks);
      r.have_snapshot = true;
      r.last = m.last_update_id;
      continue;
    }
    if (m.type != MessageType::depth_update) continue;
    const std::string sym(m.symbol);
    const int n = ++diff_no[sym];
    BookSync& b = books.at(sym);
    RefBook& r = refs.at(sym);
    EXPECT_TRUE(b.on_diff(m.U, m.u, m.bids, m.asks)) << sym << " diff " << n;
    if (!r.have_snapshot || m.u <= r.last) continue;
    if (!r.synced) {
      ASSERT_LE(m.U, r.last + 1) << sym;
      r.synced = true;
      sync_at[sym] = n;
    } else {
      ASSERT_EQ(m.U, r.last + 1) << sym;
    }
    RefBook::apply(r.bids, m.bids);
    RefBook::apply(r.asks, m.asks);
    r.last = m.u;
    expect_same(b, r, sym + " diff " + std::to_string(n));
    if (::testing::Test::HasFatalFailure()) return;
    ASSERT_LT(b.bids()[0].price_e8, b.asks()[0].price_e8) << sym << " book crossed at diff " << n;
  }
  // Where the data's notes say each book syncs.
  EXPECT_EQ(sync_at["BTCUSDT"], 11);
  EXPECT_EQ(sync_at["ETHUSDT"], 14);
  EXPECT_EQ(sync_at["DOTUSDT"], 10);
  for (const auto& [sym, b] : books) {
    EXPECT_EQ(b.state(), BookState::synced) << sym;
    EXPECT_EQ(b.counters().gaps, 0U) << sym;
    EXPECT_EQ(b.counters().overflows, 0U) << sym;
    EXPECT_EQ(b.counters().diffs_before_snapshot + b.counters().diffs_stale + b.counters().diffs_applied,
              static_cast<std::uint64_t>(diff_no[sym]));
  }
}

TEST(OrderBook_Sync, GapsNeedANewSnapshotAndUpdatesNeverAllocate) {
  Level lv[2] = {{{100'00000000, 100.0}, {1'00000000, 1.0}}, {{99'00000000, 99.0}, {0, 0.0}}};
  const LevelSpan one{lv, 1}, none{};
  BookSync b(16);
  EXPECT_TRUE(b.on_diff(1, 5, one, none));  // before any snapshot: counted, ignored
  EXPECT_EQ(b.counters().diffs_before_snapshot, 1U);
  b.on_snapshot(10, one, none);
  EXPECT_TRUE(b.on_diff(5, 10, one, none));  // stale
  EXPECT_FALSE(b.on_diff(12, 13, one, none));  // 11 missing: the snapshot is too old
  EXPECT_EQ(b.state(), BookState::awaiting_snapshot);
  b.on_snapshot(20, one, none);
  EXPECT_TRUE(b.on_diff(19, 22, LevelSpan{lv + 1, 1}, none));  // removes a level that is not there: fine
  EXPECT_EQ(b.state(), BookState::synced);
  EXPECT_FALSE(b.on_diff(24, 25, one, none));  // 23 missing
  EXPECT_EQ(b.counters().gaps, 2U);

  // Random walk against std::map, and the capacity limit (the best 64 levels kept).
  OrderBookSide side(false, 64);
  std::map<std::int64_t, std::int64_t> ref;
  std::mt19937_64 rng(3);
  std::uint64_t refused = 0;
  using tickpath::test::count_allocations_on_this_thread;
  const auto before = tickpath::test::counted_allocations();
  count_allocations_on_this_thread(true);
  for (int i = 0; i < 200'000; ++i) {
    const std::int64_t p = static_cast<std::int64_t>(rng() % 200);
    const std::int64_t q = rng() % 3 == 0 ? 0 : static_cast<std::int64_t>(rng() % 1000 + 1);
    const bool ok = side.set(p, q);
    count_allocations_on_this_thread(false);  // the std::map reference allocates; the side must not
    if (!ok) {  // full: a better level pushes the deepest out, a deeper one is not taken
      ++refused;
      ASSERT_EQ(ref.size(), 64U);
      ASSERT_EQ(ref.count(p), 0U);
      if (p < ref.rbegin()->first) {
        ref.erase(std::prev(ref.end()));
        ref[p] = q;
      }
    } else if (q == 0) {
      ref.erase(p);
    } else {
      ref[p] = q;
    }
    count_allocations_on_this_thread(true);
    ASSERT_EQ(side.size(), ref.size());
  }
  count_allocations_on_this_thread(false);
  EXPECT_EQ(tickpath::test::counted_allocations() - before, 0U);
  std::uint32_t k = 0;
  for (const auto& [p, q] : ref) {
    ASSERT_EQ(side[k].price_e8, p);
    ASSERT_EQ(side[k].qty_e8, q);
    ++k;
  }
  EXPECT_GT(refused, 0U);
}

// The feed stage's books on the real recording, with diffs held while the
// snapshot is awaited (the live procedure): every synced depth event carries
// the top of book and the top-5 quantities of a std::map book that follows
// Binance's procedure written out plainly (buffer, snapshot, drop u <= L,
// apply the rest in order).
TEST(FeedHandler_Books, HeldDiffsAndTopOfBookMatchAPlainReferenceOnTheRealRecording) {
  FrameSet fs;
  std::string err;
  ASSERT_TRUE(fs.load_file(tickpath::test::data_file("ws/cryptofeed_2021-04-04_btcusdt-ethusdt-dotusdt_raw-recording.txt"), err)) << err;
  tickpath::infra::SymbolTable symbols;
  for (const char* s : {"BTCUSDT", "ETHUSDT", "DOTUSDT"}) (void)symbols.intern(s);
  symbols.freeze();
  FeedHandler h(symbols);
  h.enable_books({true, true, true}, 5000, 1U << 20);
  struct Ref {
    RefBook book;
    std::vector<std::string> held;  // raw diffs before the snapshot
  };
  std::map<std::string, Ref> refs;
  BinanceParser parser;
  Message m;
  auto apply_diff = [&](RefBook& r, const Message& d) {
    if (d.u <= r.last) return;
    RefBook::apply(r.bids, d.bids);
    RefBook::apply(r.asks, d.asks);
    r.last = d.u;
    r.synced = true;
  };
  Event ev;
  std::uint64_t checked = 0;
  for (std::size_t i = 0; i < fs.size(); ++i) {
    const auto f = fs.frame(i);
    ASSERT_EQ(h.on_frame(f.data(), f.size(), fs.frames()[i].symbol_hint, ev), RejectReason::none);
    ASSERT_EQ(parser.parse(f.data(), f.size(), m), RejectReason::none);
    const std::string sym(m.type == MessageType::depth ? fs.frames()[i].symbol_hint : m.symbol);
    Ref& ref = refs[sym];
    if (m.type == MessageType::depth) {
      RefBook& r = ref.book;
      r.bids.clear(), r.asks.clear();
      RefBook::apply(r.bids, m.bids);
      RefBook::apply(r.asks, m.asks);
      r.have_snapshot = true;
      r.last = m.last_update_id;
      for (std::string& raw : ref.held) {
        raw.append(kPadding, '\0');
        ASSERT_EQ(parser.parse(raw.data(), raw.size() - kPadding, m), RejectReason::none);
        apply_diff(r, m);
      }
      ref.held.clear();
    } else if (m.type == MessageType::depth_update) {
      if (!ref.book.have_snapshot) ref.held.emplace_back(f);
      else apply_diff(ref.book, m);
    } else {
      continue;
    }
    if ((ev.flags & event_flag::book_synced) == 0) continue;
    const RefBook& r = ref.book;
    ASSERT_FALSE(r.bids.empty());
    EXPECT_EQ(ev.depth.book_bid, static_cast<double>(r.bids.begin()->first) / 1e8) << sym << " frame " << i;
    EXPECT_EQ(ev.depth.book_ask, static_cast<double>(r.asks.begin()->first) / 1e8) << sym << " frame " << i;
    std::int64_t bq = 0, aq = 0;
    int k = 0;
    for (auto it = r.bids.begin(); it != r.bids.end() && k < 5; ++it, ++k) bq += it->second;
    k = 0;
    for (auto it = r.asks.begin(); it != r.asks.end() && k < 5; ++it, ++k) aq += it->second;
    EXPECT_EQ(ev.depth.top_bid_qty, static_cast<double>(bq) / 1e8) << sym << " frame " << i;
    EXPECT_EQ(ev.depth.top_ask_qty, static_cast<double>(aq) / 1e8) << sym << " frame " << i;
    ++checked;
  }
  EXPECT_GT(checked, 100U);
  EXPECT_GT(h.counters().diffs_buffered.load(), 0U);  // the recording's snapshots come after diffs
  EXPECT_EQ(h.counters().book_out_of_sync.load(), 0U);
  for (tickpath::infra::SymbolId id = 0; id < 3; ++id) {
    ASSERT_NE(h.book(id), nullptr);
    EXPECT_EQ(h.book(id)->state(), BookState::synced);
    expect_same(*h.book(id), refs[std::string(symbols.name(id))].book, "end");
  }
}
