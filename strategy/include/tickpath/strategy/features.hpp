// FeatureBuilder: the 13-feature observation the policy reads, built from
// the same bar and indicator state live, in replay and in backtests. Updated
// once per closed bar; observe() evaluates the forming bar (its close and
// volume so far) without changing anything, so the policy can run on every
// trade. O(1), no allocation.
//
//  #  feature                          formula (c = close, v = bar volume)
//  0  log return, 1 bar                ln(c_t / c_{t-1})
//  1  log return, 5 bars               ln(c_t / c_{t-5})
//  2  log return, 15 bars              ln(c_t / c_{t-15})
//  3  realised volatility              population std of the last 20 one-bar log returns
//  4  relative volume                  v_t / SMA20(v) (1 when the SMA is 0)
//  5  RSI(14) / 100
//  6  MACD line / c_t                  MACD(12,26,9) as TA-Lib
//  7  MACD signal / c_t
//  8  MACD histogram / c_t
//  9  Bollinger %b                     (c - lower) / (upper - lower), BBANDS(20,2,2); 0.5 when the band is flat
// 10  Bollinger bandwidth              (upper - lower) / middle
// 11  position                         -1 short, 0 flat, 1 long
// 12  unrealised PnL                   as a fraction of the position's entry value
// Features 0-10 are NaN until their lookback is filled (MACD's is the
// longest: 34 bars); the policy does not run on NaN.
#pragma once

#include <array>

#include "tickpath/strategy/bar_builder.hpp"
#include "tickpath/strategy/indicator_set.hpp"
#include "tickpath/strategy/indicators.hpp"

namespace tickpath::strategy {

inline constexpr std::size_t kFeatures = 13;
// Bars before every feature is out of its lookback (MACD's signal: bar 34).
inline constexpr int kObservationWarmupBars = 35;
using Observation = std::array<float, kFeatures>;

class FeatureBuilder {
 public:
  FeatureBuilder() noexcept : closes_(16), vol_sma_(20), ret_var_(20) {}

  // After each closed bar (with the IndicatorSet's values for it).
  void on_bar(const Bar& bar) noexcept {
    if (closes_.size() > 0) ret_var_.update(std::log(bar.close / closes_.at(closes_.size() - 1)));
    closes_.push(bar.close);
    vol_sma_.update(bar.volume);
  }

  // The observation if a bar with this close and volume closed now, with the
  // indicators' values for it (IndicatorSet::peek for a forming bar,
  // last_closed() right after on_bar).
  void observe(double close, double volume, const IndicatorValues& ind, double position, double unrealised,
               bool just_closed, Observation& out) const noexcept {
    // For a bar that just closed, its close is already the newest in the window.
    const int n = closes_.size() - (just_closed ? 1 : 0);
    auto back = [&](int k) { return n - k >= 0 ? closes_.at(n - k) : kNaN; };  // k bars before this one
    out[0] = static_cast<float>(std::log(close / back(1)));
    out[1] = static_cast<float>(std::log(close / back(5)));
    out[2] = static_cast<float>(std::log(close / back(15)));
    const double var = just_closed ? ret_var_.variance() : ret_var_.peek_variance(std::log(close / back(1)));
    out[3] = static_cast<float>(std::sqrt(var));
    const double vsma = just_closed ? vol_sma_.value() : vol_sma_.peek(volume);
    out[4] = static_cast<float>(std::isnan(vsma) ? kNaN : vsma > 0 ? volume / vsma : 1.0);
    out[5] = static_cast<float>(ind.rsi_14 / 100.0);
    out[6] = static_cast<float>(ind.macd.macd / close);
    out[7] = static_cast<float>(ind.macd.signal / close);
    out[8] = static_cast<float>(ind.macd.hist / close);
    const double width = ind.bb.upper - ind.bb.lower;
    out[9] = static_cast<float>(width > 0 ? (close - ind.bb.lower) / width : std::isnan(width) ? kNaN : 0.5);
    out[10] = static_cast<float>(width / ind.bb.middle);
    out[11] = static_cast<float>(position);
    out[12] = static_cast<float>(unrealised);
  }

  [[nodiscard]] int bars() const noexcept { return closes_.size(); }

 private:
  Window closes_;            // the last 16 closes (15-bar return)
  Sma vol_sma_;
  RollingVariance ret_var_;  // one-bar log returns
};

}  // namespace tickpath::strategy
