#include <gtest/gtest.h>

#include <map>

#include "tickpath/feed/binance_parser.hpp"
#include "tickpath/feed/feed_handler.hpp"
#include "tickpath/feed/synthetic.hpp"

using namespace tickpath::feed;

TEST(SyntheticMarket_Determinism, SameSeedSameBytesOtherSeedOtherBytes) {
  SyntheticConfig cfg;
  cfg.symbols = {"BTCUSDT", "ETHUSDT", "SOLUSDT"};
  std::string a, b, c;
  SyntheticMarket m1(cfg), m2(cfg);
  cfg.seed = 43;
  SyntheticMarket m3(cfg);
  for (int i = 0; i < 20000; ++i) {
    m1.next(a);
    m2.next(b);
    m3.next(c);
  }
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(SyntheticMarket_Frames, ParseCleanlyWithContiguousDepthAndClosingKlines) {
  SyntheticConfig cfg;
  cfg.symbols = {"BTCUSDT", "ETHUSDT", "DOGEUSDT"};
  cfg.bursty = true;
  SyntheticMarket market(cfg);
  FrameSet fs = market.render(200'000);
  tickpath::infra::SymbolTable symbols;
  FeedHandler h(symbols);
  Event ev;
  std::map<std::pair<int, std::int64_t>, std::int64_t> trades_per_minute;  // (symbol, minute) -> fills
  std::map<std::pair<int, std::int64_t>, std::int64_t> kline_n;
  std::int64_t last_time = 0;
  int closes = 0;
  for (std::size_t i = 0; i < fs.size(); ++i) {
    ASSERT_EQ(h.on_frame(fs.frame(i).data(), fs.frame(i).size(), {}, ev), RejectReason::none) << fs.frame(i);
    if (ev.exchange_time_ms) {
      EXPECT_GE(ev.exchange_time_ms, last_time) << "event time must not go backwards";
      last_time = ev.exchange_time_ms;
    }
    if (ev.type == EventType::trade || ev.type == EventType::agg_trade) {
      EXPECT_GT(ev.trade.price, 0);
      EXPECT_GT(ev.trade.qty, 0);
      const std::int64_t minute = (ev.trade.trade_time_ms + 1) / 60000;  // T = E - 1
      trades_per_minute[{ev.symbol, minute}] += ev.trade.last_id - ev.trade.first_id + 1;
    }
    if (ev.type == EventType::book_ticker) {
      EXPECT_LT(ev.book.bid, ev.book.ask);
    }
    if (ev.type == EventType::kline && (ev.flags & event_flag::kline_closed)) {
      ++closes;
      kline_n[{ev.symbol, ev.kline.open_time_ms / 60000}] = ev.kline.trades;
    }
  }
  EXPECT_EQ(h.counters().depth_gaps.load(), 0U);
  EXPECT_EQ(h.counters().rejects.load(), 0U);
  EXPECT_GT(closes, 3 * 10);
  // A closed kline counts exactly the fills of its minute.
  for (const auto& [key, n] : kline_n) EXPECT_EQ(n, trades_per_minute[key]) << key.second;
}

TEST(SyntheticMarket_Rng, NormalHasUnitMomentsAndUniformStaysInRange) {
  SyntheticMarket::Rng rng(9);
  double s = 0, s2 = 0;
  const int n = 400'000;
  for (int i = 0; i < n; ++i) {
    const double u = rng.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    const double z = rng.normal();
    s += z;
    s2 += z * z;
  }
  EXPECT_NEAR(s / n, 0.0, 0.01);
  EXPECT_NEAR(s2 / n, 1.0, 0.01);
}
