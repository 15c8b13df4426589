#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "support/alloc_counter.hpp"
#include "support/ta_reference.hpp"
#include "support/test_data.hpp"
#include "tickpath/strategy/indicator_set.hpp"
#include "tickpath/strategy/indicators.hpp"
#include "tickpath/strategy/kline_csv.hpp"

using namespace tickpath::strategy;
namespace ref = tickpath::ta_ref;

namespace {

std::vector<double> closes_of(const char* rel) {
  const auto load = load_kline_csv(tickpath::test::data_file(rel));
  EXPECT_TRUE(load.error.empty()) << load.error;
  std::vector<double> c;
  for (const auto& b : load.bars) c.push_back(b.close);
  return c;
}

// Same lookback (NaN exactly where the reference is NaN) and values within
// `rel` relative error.
void expect_series(const std::vector<double>& got, const std::vector<double>& want, double rel, const char* what) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(std::isnan(got[i]), std::isnan(want[i])) << what << " lookback differs at bar " << i;
    if (std::isnan(want[i])) continue;
    const double tol = rel * std::max(1.0, std::fabs(want[i]));
    ASSERT_NEAR(got[i], want[i], tol) << what << " at bar " << i;
  }
}

template <typename Kernel, typename Get>
std::vector<double> run(const std::vector<double>& in, Kernel k, Get get) {
  std::vector<double> out;
  for (double x : in) out.push_back(get(k, x));
  return out;
}

const char* kFiles[] = {"klines/camfeghali_BTCUSDT_1m_2025-08-01_2025-08-11_spot.csv",
                        "klines/benicio1007_BTCUSDT_1m_2023-01-01_2023-01-28_spot_ohlcv.csv"};

}  // namespace

TEST(Indicators_Reference, HandCheckedSmallCases) {
  // SMA(3) of 1..5: -, -, 2, 3, 4. EMA(3), k = 0.5, seeded 2: 3, 4.
  const std::vector<double> x{1, 2, 3, 4, 5};
  const auto s = ref::sma(x, 3);
  EXPECT_TRUE(std::isnan(s[1]));
  EXPECT_EQ(s[2], 2.0);
  EXPECT_EQ(s[4], 4.0);
  const auto e = ref::ema(x, 3);
  EXPECT_EQ(e[2], 2.0);
  EXPECT_EQ(e[3], 3.0);
  EXPECT_EQ(e[4], 4.0);
  // RSI(2) of 1,2,1,2: changes +1,-1 -> gain .5 loss .5 -> 50; then +1: gain (0.5+1)/2=.75, loss .25 -> 75.
  const auto r = ref::rsi({1, 2, 1, 2}, 2);
  EXPECT_TRUE(std::isnan(r[1]));
  EXPECT_DOUBLE_EQ(r[2], 50.0);
  EXPECT_DOUBLE_EQ(r[3], 75.0);
  // Population stddev of 2,4,4,4,5,5,7,9 is 2.
  const auto sd = ref::stddev({2, 4, 4, 4, 5, 5, 7, 9}, 8);
  EXPECT_DOUBLE_EQ(sd[7], 2.0);
  // MACD lookback is 33 for 12/26/9.
  std::vector<double> ramp;
  for (int i = 0; i < 40; ++i) ramp.push_back(100 + i);
  const auto m = ref::macd(ramp, 12, 26, 9);
  EXPECT_TRUE(std::isnan(m.macd[32]));
  EXPECT_FALSE(std::isnan(m.macd[33]));
  EXPECT_NEAR(m.macd[39], 7.0, 0.05);  // a linear ramp: EMA lag difference -> (26-12)/2
}

TEST(Indicators_TaLib, SmaEmaRsiMacdEqualTaLibOnRealKlines) {
  for (const char* f : kFiles) {
    const auto c = closes_of(f);
    ASSERT_GT(c.size(), 10000U);
    expect_series(run(c, Sma(20), [](Sma& k, double v) { return k.update(v); }), ref::sma(c, 20), 1e-9, "sma20");
    expect_series(run(c, Ema(12), [](Ema& k, double v) { return k.update(v); }), ref::ema(c, 12), 1e-9, "ema12");
    expect_series(run(c, Ema(26), [](Ema& k, double v) { return k.update(v); }), ref::ema(c, 26), 1e-9, "ema26");
    expect_series(run(c, RsiWilder(14), [](RsiWilder& k, double v) { return k.update(v); }), ref::rsi(c, 14), 1e-9,
                  "rsi14");
    const auto m = ref::macd(c, 12, 26, 9);
    Macd k(12, 26, 9);
    std::vector<double> mm, ms, mh;
    for (double v : c) {
      const auto o = k.update(v);
      mm.push_back(o.macd), ms.push_back(o.signal), mh.push_back(o.hist);
    }
    expect_series(mm, m.macd, 1e-9, "macd");
    expect_series(ms, m.signal, 1e-9, "macd_signal");
    // The histogram is a small difference of two large values: compare to the line's scale.
    for (std::size_t i = 0; i < mh.size(); ++i) {
      ASSERT_EQ(std::isnan(mh[i]), std::isnan(m.hist[i])) << i;
      if (!std::isnan(mh[i])) {
        ASSERT_NEAR(mh[i], m.hist[i], 1e-9 * std::max(1.0, std::fabs(m.macd[i]))) << i;
      }
    }
  }
}

TEST(Indicators_TaLib, BollingerAndStddevWithinTaLibDriftAndExactAgainstTwoPass) {
  for (const char* f : kFiles) {
    const auto c = closes_of(f);
    const auto ta_bb = ref::bbands(c, 20, 2.0, 2.0);
    const auto ta_sd = ref::stddev(c, 20);
    const auto exact_sd = ref::stddev_two_pass(c, 20);
    BollingerBands bb(20, 2.0, 2.0);
    std::vector<double> up, mid, lo, sd;
    for (double v : c) {
      const auto o = bb.update(v);
      up.push_back(o.upper), mid.push_back(o.middle), lo.push_back(o.lower), sd.push_back(o.stddev);
    }
    expect_series(mid, ta_bb.middle, 1e-9, "bb_middle");
    expect_series(up, ta_bb.upper, 1e-9, "bb_upper");  // 1e-5 of the offset is far below 1e-9 of the price
    expect_series(lo, ta_bb.lower, 1e-9, "bb_lower");
    // Band offsets and STDDEV: TA-Lib's running sums drift ~1e-6; allow 1e-5 relative to the value.
    for (std::size_t i = 0; i < c.size(); ++i) {
      if (std::isnan(ta_sd[i])) {
        ASSERT_TRUE(std::isnan(sd[i])) << i;
        continue;
      }
      ASSERT_NEAR(sd[i], ta_sd[i], 1e-5 * std::max(ta_sd[i], 1e-3) + 1e-9) << "stddev vs TA-Lib at " << i;
      ASSERT_NEAR(sd[i], exact_sd[i], 1e-9 * std::max(exact_sd[i], 1.0)) << "stddev vs two-pass at " << i;
    }
  }
}

TEST(Indicators_Peek, EqualsUpdatingACopyAndChangesNothing) {
  const auto c = closes_of(kFiles[0]);
  IndicatorSet live;
  std::mt19937_64 rng(1);
  for (std::size_t i = 0; i < 3000; ++i) {
    const double probe = c[i] * (1.0 + (static_cast<double>(rng() % 2001) - 1000.0) * 1e-6);
    IndicatorValues peeked;
    live.peek(0, probe, peeked);
    IndicatorSet copy = live;
    Bar b;
    b.close = probe;
    const IndicatorValues& upd = copy.on_bar(b);
    const auto same = [](double a, double b2) { return (std::isnan(a) && std::isnan(b2)) || a == b2; };
    ASSERT_TRUE(same(peeked.sma_20, upd.sma_20)) << i;
    ASSERT_TRUE(same(peeked.ema_12, upd.ema_12)) << i;
    ASSERT_TRUE(same(peeked.ema_26, upd.ema_26)) << i;
    ASSERT_TRUE(same(peeked.rsi_14, upd.rsi_14)) << i;
    ASSERT_TRUE(same(peeked.macd.macd, upd.macd.macd)) << i;
    ASSERT_TRUE(same(peeked.macd.signal, upd.macd.signal)) << i;
    ASSERT_TRUE(same(peeked.bb.middle, upd.bb.middle)) << i;
    ASSERT_NEAR(std::isnan(peeked.bb.upper) ? 0 : peeked.bb.upper, std::isnan(upd.bb.upper) ? 0 : upd.bb.upper,
                1e-9 * c[i])
        << i;
    Bar real;
    real.close = c[i];
    live.on_bar(real);
  }
}

TEST(Indicators_HotPath, UpdatesAndPeeksNeverAllocate) {
  const auto c = closes_of(kFiles[0]);
  auto set = std::make_unique<IndicatorSet>();
  IndicatorValues v;
  tickpath::test::AllocationScope scope;
  for (double x : c) {
    Bar b;
    b.close = x;
    b.volume = 1.0;
    set->on_bar(b);
    set->peek(0, x * 1.0001, v);
  }
  EXPECT_EQ(scope.count(), 0U);
}

TEST(TimeWindowMeans_Reference, MatchBruteForceOverRandomTrades) {
  TimeWindowMeans w;
  SessionVwap vwap;
  std::vector<std::pair<std::int64_t, double>> trades;
  std::mt19937_64 rng(4);
  std::int64_t t = 1'700'000'000'000LL;
  double pq = 0, q = 0;
  std::int64_t day = -1;
  for (int i = 0; i < 50'000; ++i) {
    t += static_cast<std::int64_t>(rng() % (i % 1000 == 0 ? 400'000 : 800));  // occasional long silences
    const double p = 100.0 + static_cast<double>(rng() % 1000) * 0.01;
    const double qty = 0.1 + static_cast<double>(rng() % 100) * 0.01;
    w.add(t, p);
    vwap.add(t, p, qty);
    trades.emplace_back(t, p);
    if (t / 86'400'000 != day) day = t / 86'400'000, pq = q = 0;
    pq += p * qty;
    q += qty;
    if (i % 997 == 0) {
      const std::int64_t sec = t / 1000;
      for (std::size_t k = 0; k < 3; ++k) {
        const std::int64_t win = TimeWindowMeans::kWindows[k];
        double s = 0;
        int n = 0;
        for (auto it = trades.rbegin(); it != trades.rend() && it->first / 1000 > sec - win; ++it) s += it->second, ++n;
        ASSERT_NEAR(w.mean(k), s / n, 1e-9 * (s / n)) << "window " << win << " at trade " << i;
      }
      ASSERT_NEAR(vwap.value(), pq / q, 1e-9 * (pq / q));
    }
  }
}
