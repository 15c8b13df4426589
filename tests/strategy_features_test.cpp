#include <gtest/gtest.h>

#include <cmath>

#include "support/alloc_counter.hpp"
#include "support/ta_reference.hpp"
#include "support/test_data.hpp"
#include "tickpath/strategy/features.hpp"
#include "tickpath/strategy/indicator_set.hpp"
#include "tickpath/strategy/kline_csv.hpp"

using namespace tickpath::strategy;
namespace ref = tickpath::ta_ref;

namespace {
std::vector<Bar> real_bars() {
  const auto l = load_kline_csv(tickpath::test::data_file("klines/camfeghali_BTCUSDT_1m_2025-08-01_2025-08-11_spot.csv"));
  EXPECT_TRUE(l.error.empty()) << l.error;
  return l.bars;
}
void expect_feature(float got, double want, const char* what, std::size_t bar) {
  if (std::isnan(want)) {
    EXPECT_TRUE(std::isnan(got)) << what << " bar " << bar;
    return;
  }
  EXPECT_NEAR(got, want, 2e-6 * std::max(1.0, std::fabs(want))) << what << " bar " << bar;  // float32 output
}
}  // namespace

TEST(Features_Closed, EachFeatureMatchesItsFormulaOnRealKlines) {
  const auto bars = real_bars();
  std::vector<double> c, v;
  for (const auto& b : bars) c.push_back(b.close), v.push_back(b.volume);
  const auto rsi = ref::rsi(c, 14);
  const auto macd = ref::macd(c, 12, 26, 9);
  const auto bb = ref::bbands(c, 20, 2.0, 2.0);
  const auto vsma = ref::sma(v, 20);
  std::vector<double> rets(c.size(), ref::NaN);
  for (std::size_t i = 1; i < c.size(); ++i) rets[i] = std::log(c[i] / c[i - 1]);
  IndicatorSet ind;
  FeatureBuilder fb;
  Observation o;
  for (std::size_t i = 0; i < 3000; ++i) {
    ind.on_bar(bars[i]);
    fb.on_bar(bars[i]);
    fb.observe(c[i], v[i], ind.last_closed(), 1.0, -0.25, true, o);
    expect_feature(o[0], i >= 1 ? std::log(c[i] / c[i - 1]) : ref::NaN, "ret1", i);
    expect_feature(o[1], i >= 5 ? std::log(c[i] / c[i - 5]) : ref::NaN, "ret5", i);
    expect_feature(o[2], i >= 15 ? std::log(c[i] / c[i - 15]) : ref::NaN, "ret15", i);
    double vol = ref::NaN;
    if (i >= 20) {
      double m = 0, ss = 0;
      for (std::size_t k = i - 19; k <= i; ++k) m += rets[k];
      m /= 20;
      for (std::size_t k = i - 19; k <= i; ++k) ss += (rets[k] - m) * (rets[k] - m);
      vol = std::sqrt(ss / 20);
    }
    expect_feature(o[3], vol, "realised_vol", i);
    expect_feature(o[4], std::isnan(vsma[i]) ? ref::NaN : v[i] / vsma[i], "rel_volume", i);
    expect_feature(o[5], rsi[i] / 100, "rsi", i);
    expect_feature(o[6], macd.macd[i] / c[i], "macd", i);
    expect_feature(o[7], macd.signal[i] / c[i], "macd_signal", i);
    expect_feature(o[8], macd.hist[i] / c[i], "macd_hist", i);
    const double w = bb.upper[i] - bb.lower[i];
    expect_feature(o[9], std::isnan(w) ? ref::NaN : (c[i] - bb.lower[i]) / w, "bb_pct_b", i);
    expect_feature(o[10], w / bb.middle[i], "bb_width", i);
    EXPECT_EQ(o[11], 1.0f);
    EXPECT_EQ(o[12], -0.25f);
    if (::testing::Test::HasFailure()) return;
  }
  for (std::size_t k = 0; k < kFeatures; ++k) EXPECT_FALSE(std::isnan(o[k])) << k;  // all ready long before bar 3000
}

TEST(Features_Forming, ObservingTheFormingBarEqualsClosingIt) {
  const auto bars = real_bars();
  IndicatorSet ind;
  FeatureBuilder fb;
  Observation forming, closed;
  IndicatorValues peek;
  tickpath::test::AllocationScope scope;
  for (std::size_t i = 0; i < 2000; ++i) {
    ind.peek(bars[i].open_time_ms, bars[i].close, peek);
    fb.observe(bars[i].close, bars[i].volume, peek, 0, 0, false, forming);
    ind.on_bar(bars[i]);
    fb.on_bar(bars[i]);
    fb.observe(bars[i].close, bars[i].volume, ind.last_closed(), 0, 0, true, closed);
    for (std::size_t k = 0; k < kFeatures; ++k) {
      if (std::isnan(closed[k])) {
        ASSERT_TRUE(std::isnan(forming[k])) << k << " bar " << i;
      } else {
        ASSERT_NEAR(forming[k], closed[k], 1e-6 * std::max(1.0f, std::fabs(closed[k]))) << k << " bar " << i;
      }
    }
  }
  EXPECT_EQ(scope.count(), 0U);
}
