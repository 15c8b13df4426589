// IndicatorSet: the per-symbol bundle of indicator kernels the engine keeps
// on closed bars, with a non-mutating peek for the forming bar. Values are
// TA-Lib's (see indicators.hpp) and NaN inside each indicator's lookback.
#pragma once

#include "tickpath/strategy/bar_builder.hpp"
#include "tickpath/strategy/indicators.hpp"

namespace tickpath::strategy {

struct IndicatorValues {
  std::int64_t open_time_ms = 0;
  double close = kNaN;
  double sma_20 = kNaN, ema_12 = kNaN, ema_26 = kNaN, rsi_14 = kNaN;
  MacdValue macd{};
  BandsValue bb{};  // bb.stddev is STDDEV(20)
  double z_price = kNaN, z_volume = kNaN;
  bool price_anomaly = false, volume_anomaly = false;
};

class IndicatorSet {
 public:
  IndicatorSet() noexcept : sma20_(20), ema12_(12), ema26_(26), rsi14_(14), macd_(12, 26, 9), bb_(20, 2.0, 2.0) {}

  const IndicatorValues& on_bar(const Bar& bar) noexcept {
    IndicatorValues& v = closed_;
    v.open_time_ms = bar.open_time_ms;
    v.close = bar.close;
    v.sma_20 = sma20_.update(bar.close);
    v.ema_12 = ema12_.update(bar.close);
    v.ema_26 = ema26_.update(bar.close);
    v.rsi_14 = rsi14_.update(bar.close);
    v.macd = macd_.update(bar.close);
    v.bb = bb_.update(bar.close);
    v.z_price = zprice_.update(bar.close);
    v.z_volume = zvol_.update(bar.volume);
    v.price_anomaly = zprice_.anomaly();
    v.volume_anomaly = zvol_.anomaly();
    ++bars_;
    return v;
  }

  // The forming bar evaluated as if it closed at `price` now. Changes nothing.
  void peek(std::int64_t open_time_ms, double price, IndicatorValues& v) const noexcept {
    v.open_time_ms = open_time_ms;
    v.close = price;
    v.sma_20 = sma20_.peek(price);
    v.ema_12 = ema12_.peek(price);
    v.ema_26 = ema26_.peek(price);
    v.rsi_14 = rsi14_.peek(price);
    v.macd = macd_.peek(price);
    v.bb = bb_.peek(price);
    v.z_price = kNaN;
    v.z_volume = kNaN;
    v.price_anomaly = v.volume_anomaly = false;
  }

  [[nodiscard]] const IndicatorValues& last_closed() const noexcept { return closed_; }
  [[nodiscard]] std::uint64_t bars() const noexcept { return bars_; }

 private:
  Sma sma20_;
  Ema ema12_, ema26_;
  RsiWilder rsi14_;
  Macd macd_;
  BollingerBands bb_;
  ZScore zprice_{20, 3.0}, zvol_{20, 3.0};
  IndicatorValues closed_{};
  std::uint64_t bars_ = 0;
};

}  // namespace tickpath::strategy
