#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "support/test_data.hpp"
#include "tickpath/strategy/bar_builder.hpp"
#include "tickpath/strategy/kline_csv.hpp"

using namespace tickpath::strategy;

namespace {
struct Trade {
  std::int64_t t;
  double p, q;
};

std::vector<Trade> trx_trades() {
  const std::string text = tickpath::test::read_file(
      tickpath::test::data_file("trades/daniellasota_TRXUSDT_trade-stream_2025-03-04_spot_flattened.csv"));
  std::vector<Trade> out;
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> c;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) c.push_back(cell);
    // TransactionTime is in microseconds in this recording.
    out.push_back({std::stoll(c[4]) / 1000, std::stod(c[7]), std::stod(c[8])});
  }
  return out;
}
}  // namespace

TEST(BarBuilder_RealTrades, OneMinuteBarsEqualAGroupByMinute) {
  const auto trades = trx_trades();
  ASSERT_EQ(trades.size(), 10000U);
  std::map<std::int64_t, Bar> ref;
  for (const auto& t : trades) {
    const std::int64_t m = t.t / 60000 * 60000;
    auto [it, fresh] = ref.try_emplace(m);
    Bar& b = it->second;
    if (fresh) b.open_time_ms = m, b.open = b.high = b.low = t.p;
    b.high = std::max(b.high, t.p);
    b.low = std::min(b.low, t.p);
    b.close = t.p;
    b.volume += t.q;
    ++b.trades;
  }
  BarBuilder builder(60'000, 0);
  std::vector<Bar> got;
  for (const auto& t : trades) builder.add_trade(t.t, t.p, t.q, [&](const Bar& b) { got.push_back(b); });
  // Every minute but the last (still forming) has closed; the recording has no empty minutes.
  ASSERT_EQ(got.size(), ref.size() - 1);
  std::size_t i = 0;
  for (const auto& [m, b] : ref) {
    if (i == got.size()) break;
    EXPECT_EQ(got[i].open_time_ms, m);
    EXPECT_EQ(got[i].open, b.open);
    EXPECT_EQ(got[i].high, b.high);
    EXPECT_EQ(got[i].low, b.low);
    EXPECT_EQ(got[i].close, b.close);
    EXPECT_NEAR(got[i].volume, b.volume, 1e-9 * b.volume);
    EXPECT_EQ(got[i].trades, b.trades);
    ++i;
  }
  EXPECT_EQ(builder.late_trades(), 0U);
}

TEST(BarBuilder_Watermark, LateTradesWithinLatenessCountOthersAreCounted) {
  BarBuilder b(60'000, 2'000);  // 2 s of lateness
  std::vector<Bar> closed;
  auto on = [&](const Bar& x) { closed.push_back(x); };
  b.add_trade(10'000, 100, 1, on);
  b.add_trade(60'500, 101, 1, on);   // next minute; the first stays open (lateness)
  b.add_trade(59'000, 99, 1, on);    // late but within lateness: joins minute 0
  EXPECT_TRUE(closed.empty());
  b.add_trade(62'500, 102, 1, on);   // watermark passes 60 s + 2 s: minute 0 closes
  ASSERT_EQ(closed.size(), 1U);
  EXPECT_EQ(closed[0].trades, 2U);
  EXPECT_EQ(closed[0].close, 99);
  EXPECT_EQ(closed[0].low, 99);
  b.add_trade(30'000, 98, 1, on);    // minute 0 is closed: late, counted, not in any bar
  EXPECT_EQ(b.late_trades(), 1U);
  b.add_trade(250'000, 105, 1, on);  // minutes 2 and 3 had no trades: flat bars
  ASSERT_EQ(closed.size(), 4U);
  EXPECT_EQ(closed[1].open_time_ms, 60'000);
  EXPECT_EQ(closed[1].trades, 2U);
  EXPECT_EQ(closed[2].open_time_ms, 120'000);
  EXPECT_EQ(closed[2].volume, 0.0);
  EXPECT_EQ(closed[2].open, 102);
  EXPECT_EQ(closed[3].open_time_ms, 180'000);
}

TEST(KlineCsv_Formats, HeaderlessMsAndUsIsoAndErrors) {
  auto a = parse_kline_csv("1704067200000,1,2,0.5,1.5,10,1704067259999,0,0,0,0,0\n"
                           "1704067260000,1.5,2,1,1.8,11,1704067319999,0,0,0,0,0\n",
                           "ms");
  ASSERT_TRUE(a.error.empty()) << a.error;
  ASSERT_EQ(a.bars.size(), 2U);
  EXPECT_EQ(a.bars[1].open_time_ms, 1704067260000);
  EXPECT_EQ(a.bars[1].close, 1.8);
  auto b = parse_kline_csv("1704067200000000,1,2,0.5,1.5,10\n", "us");
  ASSERT_TRUE(b.error.empty()) << b.error;
  EXPECT_EQ(b.bars[0].open_time_ms, 1704067200000);
  auto c = parse_kline_csv("open_time,open,high,low,close,volume\n2025-08-01 00:01:00+00:00,1,2,0.5,1.5,3\n"
                           "2025-08-01T00:02:00Z,1,2,0.5,1.6,3\n2025-08-01 02:03:00+02:00,1,2,0.5,1.7,3\n",
                           "iso");
  ASSERT_TRUE(c.error.empty()) << c.error;
  EXPECT_EQ(c.bars[0].open_time_ms, 1754006460000);
  EXPECT_EQ(c.bars[1].open_time_ms, 1754006520000);
  EXPECT_EQ(c.bars[2].open_time_ms, 1754006580000);
  auto bad = parse_kline_csv("timestamp,open,high,low,close,volume\n2023-01-01 00:00:00,1,2,x,1,1\n", "f.csv");
  EXPECT_EQ(bad.error.rfind("f.csv:2: bad number", 0), 0U) << bad.error;
  auto back = parse_kline_csv("1000,1,1,1,1,1\n1000,1,1,1,1,1\n", "g.csv");
  EXPECT_NE(back.error.find("g.csv:2"), std::string::npos) << back.error;
  EXPECT_FALSE(load_kline_csv("/nonexistent/klines.csv").error.empty());
}

TEST(KlineCsv_RealFiles, BothLoadWithConsecutiveMinutes) {
  for (const char* rel : {"klines/camfeghali_BTCUSDT_1m_2025-08-01_2025-08-11_spot.csv",
                          "klines/benicio1007_BTCUSDT_1m_2023-01-01_2023-01-28_spot_ohlcv.csv"}) {
    const auto l = load_kline_csv(tickpath::test::data_file(rel));
    ASSERT_TRUE(l.error.empty()) << l.error;
    for (std::size_t i = 1; i < l.bars.size(); ++i)
      ASSERT_EQ(l.bars[i].open_time_ms - l.bars[i - 1].open_time_ms, 60'000) << rel << " bar " << i;
  }
  const auto cam = load_kline_csv(tickpath::test::data_file("klines/camfeghali_BTCUSDT_1m_2025-08-01_2025-08-11_spot.csv"));
  ASSERT_EQ(cam.bars.size(), 14401U);
  EXPECT_EQ(cam.bars[0].open_time_ms, 1754006400000);  // 2025-08-01T00:00:00Z
  EXPECT_EQ(cam.bars[0].open, 115764.07);
  EXPECT_EQ(cam.bars[0].close, 115729.0);
}
