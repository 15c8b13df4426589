// The strategy stage per trade, on real trades (the TRXUSDT trade stream in
// ../shared/data/binance/trades) over an indicator history of real 1-minute
// bars, beside what a TA-Lib user does on every tick: recompute each
// indicator over the recent closes with the forming price appended (the
// batch loops of TA-Lib's published algorithms, tests/support/ta_reference.hpp,
// whole arrays in and out as TA-Lib's Python wrapper hands them).
//
//  - BM_Peek: IndicatorSet::peek, the full set (SMA 20, EMA 12/26, RSI 14,
//    MACD 12/26/9, Bollinger 20/2/2) over the forming bar at the trade price.
//  - BM_MarketStateTrade: MarketState::on_event for a trade: the bar
//    builder, the peek, time-window means, session VWAP, anomaly flags;
//    bars close at minute boundaries of the real trade times.
//  - BM_TaLibStyleBatch: the same values by batch recompute over 100 closes.
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "support/ta_reference.hpp"
#include "tickpath/strategy/indicator_set.hpp"
#include "tickpath/strategy/kline_csv.hpp"
#include "tickpath/strategy/market_state.hpp"

namespace {

using namespace tickpath;

struct Trade {
  std::int64_t time_ms;
  double price, qty;
};

std::string data(const char* rel) { return std::string(TICKPATH_DATA_DIR) + "/" + rel; }

const std::vector<Trade>& trades() {
  static const std::vector<Trade> t = [] {
    std::vector<Trade> out;
    std::ifstream f(data("trades/daniellasota_TRXUSDT_trade-stream_2025-03-04_spot_flattened.csv"));
    std::string line;
    std::getline(f, line);  // header
    while (std::getline(f, line)) {
      std::vector<std::string> col;
      std::stringstream ss(line);
      for (std::string c; std::getline(ss, c, ',');) col.push_back(c);
      if (col.size() < 9) continue;
      out.push_back({std::stoll(col[4]) / 1000, std::stod(col[7]), std::stod(col[8])});  // us -> ms
    }
    if (out.empty()) {
      std::fprintf(stderr, "bench_indicators: no trades read\n");
      std::exit(1);
    }
    return out;
  }();
  return t;
}

// Real closed 1-minute bars, rescaled to the trades' price level, as history.
std::vector<strategy::Bar> history(std::size_t n) {
  auto load = strategy::load_kline_csv(data("klines/camfeghali_BTCUSDT_1m_2025-08-01_2025-08-11_spot.csv"));
  if (!load.error.empty()) {
    std::fprintf(stderr, "bench_indicators: %s\n", load.error.c_str());
    std::exit(1);
  }
  std::vector<strategy::Bar> bars(load.bars.end() - static_cast<std::ptrdiff_t>(n), load.bars.end());
  const double scale = trades().front().price / bars.back().close;
  for (auto& b : bars) {
    b.open *= scale;
    b.high *= scale;
    b.low *= scale;
    b.close *= scale;
  }
  return bars;
}

// Arg 1: each call stamped (percentiles, each carrying one stamp); arg 0:
// no stamps, so the benchmark's own time per iteration is the call alone.
template <typename Body>
void timed(benchmark::State& state, Body&& body) {
  const auto& tr = trades();
  std::size_t i = 0;
  if (state.range(0) == 0) {
    for (auto _ : state) {
      body(tr[i], i);
      if (++i == tr.size()) i = 0;
    }
    return;
  }
  infra::LatencyHistogram h;
  const auto& clk = bench::clock();
  for (auto _ : state) {
    const Trade& t = tr[i];
    const auto t0 = clk.now();
    body(t, i);
    h.record(clk.delta_ns(t0, clk.now()));
    if (++i == tr.size()) i = 0;
  }
  bench::report_percentiles(state, h);
}

void BM_Peek(benchmark::State& state) {
  strategy::IndicatorSet set;
  for (const auto& b : history(200)) set.on_bar(b);
  strategy::IndicatorValues v;
  timed(state, [&](const Trade& t, std::size_t) {
    set.peek(t.time_ms / 60'000 * 60'000, t.price, v);
    benchmark::DoNotOptimize(v);
  });
  state.SetLabel("IndicatorSet::peek, full set");
}

void BM_MarketStateTrade(benchmark::State& state) {
  strategy::MarketState market(1);
  infra::Event ev;
  ev.symbol = 0;
  // History: the trade path builds its own bars, so 200 minutes of one
  // trade each at the history's closes come first.
  std::int64_t t0 = trades().front().time_ms / 60'000 * 60'000 - 200 * 60'000;
  for (const auto& b : history(200)) {
    ev.type = infra::EventType::trade;
    ev.trade = infra::TradeData{};
    ev.trade.trade_time_ms = t0;
    ev.exchange_time_ms = t0;
    ev.trade.price = b.close;
    ev.trade.qty = 1.0;
    (void)market.on_event(ev);
    t0 += 60'000;
  }
  const auto& tr = trades();
  const std::int64_t lap_ms = (tr.back().time_ms - tr.front().time_ms) / 60'000 * 60'000 + 60'000;
  std::int64_t shift = 0;
  timed(state, [&](const Trade& t, std::size_t i) {
    if (i == 0 && ev.trade.trade_time_ms > 0) shift += lap_ms;  // a new lap: time keeps moving forward
    ev.trade.trade_time_ms = t.time_ms + shift;
    ev.exchange_time_ms = ev.trade.trade_time_ms;
    ev.trade.price = t.price;
    ev.trade.qty = t.qty;
    const auto u = market.on_event(ev);
    benchmark::DoNotOptimize(u);
  });
  state.SetLabel("MarketState::on_event(trade)");
}

void BM_TaLibStyleBatch(benchmark::State& state) {
  const auto bars = history(200);
  std::vector<double> closes;
  for (std::size_t i = bars.size() - 99; i < bars.size(); ++i) closes.push_back(bars[i].close);
  closes.push_back(0.0);  // the forming bar
  double sink = 0;
  timed(state, [&](const Trade& t, std::size_t) {
    closes.back() = t.price;
    const auto sma = ta_ref::sma(closes, 20);
    const auto ema12 = ta_ref::ema(closes, 12);
    const auto ema26 = ta_ref::ema(closes, 26);
    const auto rsi = ta_ref::rsi(closes, 14);
    const auto macd = ta_ref::macd(closes, 12, 26, 9);
    const auto bb = ta_ref::bbands(closes, 20, 2.0, 2.0);
    sink += sma.back() + ema12.back() + ema26.back() + rsi.back() + macd.hist.back() + bb.upper.back();
    benchmark::DoNotOptimize(sink);
  });
  state.SetLabel("TA-Lib-style batch recompute over 100 closes");
}

}  // namespace

BENCHMARK(BM_Peek)->Arg(0)->Arg(1);
BENCHMARK(BM_MarketStateTrade)->Arg(0)->Arg(1);
BENCHMARK(BM_TaLibStyleBatch)->Arg(0)->Arg(1);
TICKPATH_BENCHMARK_MAIN()
