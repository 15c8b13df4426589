// The backtest as one self-contained HTML file: the equity curves of the
// policy and the baselines on one chart, and the candles with each
// strategy's trades marked, drawn by the page built from web/ (report entry,
// lightweight-charts). The page's script, its style and the data are all
// inlined, so the file opens from disk or a mail attachment with no server
// and makes no request.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "tickpath/strategy/backtest.hpp"

namespace tickpath::engine {

struct BacktestReportInput {
  std::string klines;  // the CSV's path, shown as the title
  std::string model;   // empty: baselines only
  std::string backend;
  double fee_bps = 0;
  bool allow_short = false;
  const std::vector<strategy::Bar>* bars = nullptr;  // the whole file
  const strategy::BacktestResult* result = nullptr;  // run with keep_equity and keep_trades
};

// Candles past this many are merged (k consecutive bars into one candle,
// equity sampled at each merged candle's last bar), so a year of minutes
// still opens in a browser; trades keep their exact price.
inline constexpr std::size_t kReportMaxCandles = 50'000;

// The data the page draws, as JSON (columnar arrays; times in epoch seconds).
std::string backtest_report_json(const BacktestReportInput& in, std::size_t max_candles = kReportMaxCandles);

// The HTML document: `web_root` (empty: the page built from web/) holds
// report/report.js and report/report.css. Empty with `error` set when they
// are missing.
std::string backtest_report_html(const BacktestReportInput& in, const std::string& web_root, std::string& error);

}  // namespace tickpath::engine
