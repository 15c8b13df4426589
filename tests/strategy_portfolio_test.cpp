#include <gtest/gtest.h>

#include <cmath>

#include "support/test_data.hpp"
#include "tickpath/strategy/backtest.hpp"
#include "tickpath/strategy/kline_csv.hpp"
#include "tickpath/strategy/portfolio.hpp"

using namespace tickpath::strategy;

TEST(PaperPortfolio_Fills, LongRoundTripWithFeesByHand) {
  PaperPortfolio p;  // 10,000 cash, 10 bps
  ASSERT_TRUE(p.rebalance(Target::long_, 100.0));
  EXPECT_FALSE(p.rebalance(Target::long_, 105.0));  // already long
  EXPECT_EQ(p.position(), 1.0);
  EXPECT_NEAR(p.unrealised_fraction(110.0), 0.10, 1e-12);
  ASSERT_TRUE(p.rebalance(Target::flat, 110.0));
  p.mark(110.0);
  const auto m = p.metrics();
  // 10,000 / 1.001 buys 99.9001 units; they sell for 10,989.01 less 10.989 in fees.
  const double notional = 10'000.0 / 1.001;
  const double want = notional / 100.0 * 110.0 * (1.0 - 0.001);
  EXPECT_NEAR(m.equity, want, 1e-6);
  EXPECT_NEAR(m.fees, notional * 0.001 + notional * 1.1 * 0.001, 1e-6);
  EXPECT_NEAR(m.realised_pnl, want - 10'000.0, 1e-6);
  EXPECT_EQ(m.round_trips, 1U);
  EXPECT_EQ(m.fills, 2U);
  EXPECT_NEAR(m.turnover, notional * 2.1, 1e-6);
}

TEST(PaperPortfolio_Fills, ShortOnlyWhenAllowedAndSlippagePaid) {
  PaperPortfolio no_short;
  EXPECT_FALSE(no_short.rebalance(Target::short_, 100.0));  // becomes flat: nothing to do
  PortfolioConfig cfg;
  cfg.allow_short = true;
  PaperPortfolio p(cfg);
  ASSERT_TRUE(p.rebalance(Target::short_, 100.0));
  EXPECT_EQ(p.position(), -1.0);
  ASSERT_TRUE(p.rebalance(Target::flat, 90.0));
  p.mark(90.0);
  const double n = 10'000.0 / 1.001;
  EXPECT_NEAR(p.metrics().equity, 10'000.0 + n * 0.10 - n * 0.001 - n * 0.9 * 0.001, 1e-6);
  PortfolioConfig nofee;
  nofee.fee_bps = 0;
  PaperPortfolio s(nofee);
  s.rebalance(Target::long_, 100.0, 1.0);  // pays the half-spread: fills at 101
  s.rebalance(Target::flat, 101.0, 1.0);   // sells at 100
  s.mark(101.0);
  EXPECT_NEAR(s.metrics().equity, 10'000.0 / 101.0 * 100.0, 1e-9);
}

TEST(PaperPortfolio_Metrics, DrawdownSharpeSortinoFromTheirDefinitions) {
  PortfolioConfig cfg;
  cfg.fee_bps = 0;
  cfg.bars_per_year = 4;
  PaperPortfolio p(cfg);
  p.rebalance(Target::long_, 100.0);
  const double prices[] = {100, 120, 90, 130, 117};
  std::vector<double> rets;
  double prev = 10'000.0;
  for (double px : prices) {
    p.mark(px);
    rets.push_back(100.0 * px / prev - 1.0);
    prev = 100.0 * px;
  }
  const auto m = p.metrics();
  EXPECT_NEAR(m.max_drawdown, 0.25, 1e-12);  // 120 -> 90
  double mean = 0, var = 0, down = 0;
  for (double r : rets) mean += r;
  const double n = static_cast<double>(rets.size());
  mean /= n;
  for (double r : rets) var += (r - mean) * (r - mean), down += r < 0 ? r * r : 0;
  var /= n;
  down = std::sqrt(down / n);
  EXPECT_NEAR(m.sharpe, mean / std::sqrt(var) * 2.0, 1e-9);
  EXPECT_NEAR(m.sortino, mean / down * 2.0, 1e-9);
  EXPECT_NEAR(m.total_return, 0.17, 1e-12);
}

TEST(Backtest_RealKlines, BuyAndHoldMatchesTheMarketAndNothingLooksAhead) {
  const auto l = load_kline_csv(tickpath::test::data_file("klines/benicio1007_BTCUSDT_1m_2023-01-01_2023-01-28_spot_ohlcv.csv"));
  ASSERT_TRUE(l.error.empty()) << l.error;
  BacktestConfig cfg;
  cfg.keep_equity = true;
  const auto r = run_backtest(l.bars, nullptr, cfg);
  ASSERT_EQ(r.bars, l.bars.size());
  ASSERT_EQ(r.strategies.size(), 3U);
  EXPECT_EQ(r.strategies[0].name, "buy_and_hold");
  // Decided on bar 0's close, filled at bar 1's open, held to the end.
  const double want = 10'000.0 / 1.001 / l.bars[1].open * l.bars.back().close;
  EXPECT_NEAR(r.strategies[0].metrics.equity, want, 1e-6);
  EXPECT_NEAR(r.strategies[0].equity[0], 10'000.0, 1e-9);  // nothing held during bar 0
  for (const auto& s : r.strategies) {
    ASSERT_EQ(s.equity.size(), l.bars.size());
    EXPECT_GE(s.metrics.max_drawdown, 0.0);
    EXPECT_LE(s.metrics.max_drawdown, 1.0);
  }
  // A window: indicators warm from before it, trading only inside.
  cfg.from_ms = l.bars[20000].open_time_ms;
  cfg.to_ms = l.bars[30000].open_time_ms;
  const auto w = run_backtest(l.bars, nullptr, cfg);
  EXPECT_EQ(w.bars, 10000U);
  EXPECT_NEAR(w.strategies[0].metrics.equity, 10'000.0 / 1.001 / l.bars[20001].open * l.bars[29999].close, 1e-6);
}

TEST(Backtest_Policy, DecidesOnEveryBarAfterWarmupWithPositionInItsObservation) {
  const auto l = load_kline_csv(tickpath::test::data_file("klines/camfeghali_BTCUSDT_1m_2025-08-01_2025-08-11_spot.csv"));
  ASSERT_TRUE(l.error.empty()) << l.error;
  std::string err;
  auto policy = Policy::create(PolicyModel::init_orthogonal(3), PolicyBackend::scalar, err);
  ASSERT_TRUE(policy) << err;
  const auto r = run_backtest(l.bars, policy.get(), {});
  ASSERT_EQ(r.strategies.size(), 4U);
  EXPECT_EQ(r.strategies[0].name, "policy");
  EXPECT_EQ(r.policy_decisions + r.policy_warmup, l.bars.size());
  EXPECT_EQ(r.policy_warmup, 33U);  // MACD's signal line is the last feature to fill
  EXPECT_EQ(r.policy_non_finite, 0U);
}

TEST(Backtest_Trades, ReplayingTheKeptTradesRebuildsEveryEquityCurveAndFillCount) {
  const auto l = load_kline_csv(tickpath::test::data_file("klines/camfeghali_BTCUSDT_1m_2025-08-01_2025-08-11_spot.csv"));
  ASSERT_TRUE(l.error.empty()) << l.error;
  std::string err;
  auto policy = Policy::create(PolicyModel::init_orthogonal(3), PolicyBackend::scalar, err);
  ASSERT_TRUE(policy) << err;
  for (const bool allow_short : {false, true}) {
    BacktestConfig cfg;
    cfg.keep_equity = true;
    cfg.keep_trades = true;
    cfg.portfolio.allow_short = allow_short;
    cfg.from_ms = l.bars[1000].open_time_ms;
    const auto r = run_backtest(l.bars, policy.get(), cfg);
    ASSERT_EQ(r.strategies.size(), 4U);
    for (const auto& s : r.strategies) {
      SCOPED_TRACE(s.name + (allow_short ? " long/short" : " long/flat"));
      if (s.name != "buy_and_hold") {
        EXPECT_GT(s.trades.size(), 2U);
      }
      // An independent portfolio fed only the kept trades, bar by bar.
      PaperPortfolio p(cfg.portfolio);
      std::size_t next = 0;
      std::uint64_t fills = 0;
      for (std::size_t i = 0; i < r.open_time_ms.size(); ++i) {
        const Bar& b = l.bars[1000 + i];
        ASSERT_EQ(b.open_time_ms, r.open_time_ms[i]);
        for (; next < s.trades.size() && s.trades[next].time_ms == b.open_time_ms; ++next) {
          const auto& t = s.trades[next];
          EXPECT_EQ(t.price, b.open);
          EXPECT_EQ(static_cast<double>(t.from), p.position());
          EXPECT_NE(t.from, t.to);
          if (!allow_short) {
            EXPECT_GE(t.to, 0);
          }
          p.rebalance(static_cast<Target>(t.to), t.price);
          fills += (t.from != 0) + (t.to != 0);
        }
        p.mark(b.close);
        // Equal up to rounding: each build may fuse multiply-adds differently per call site.
        ASSERT_NEAR(p.equity(b.close), s.equity[i], 1e-12 * s.equity[i]) << "bar " << i;
      }
      EXPECT_EQ(next, s.trades.size());  // every trade fell on a bar of the window, in order
      EXPECT_EQ(fills, s.metrics.fills);
    }
  }
}

TEST(PaperPortfolio_Limits, PositionNotionalIsCapped) {
  PortfolioConfig cfg;
  cfg.max_position_notional = 2'500.0;
  PaperPortfolio p(cfg);
  p.rebalance(Target::long_, 50.0);
  p.mark(60.0);
  // 2,500 of notional (50 units) gains 500; the rest of the cash sits idle.
  EXPECT_NEAR(p.metrics().equity, 10'000.0 - 2.5 + 500.0, 1e-9);
  EXPECT_NEAR(p.metrics().turnover, 2'500.0, 1e-9);
}
