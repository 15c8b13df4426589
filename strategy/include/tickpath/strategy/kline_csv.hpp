// Kline CSV loading for `tickpath indicators` and, later, backtests and
// training. Accepts data.binance.vision files (no header, open_time in ms or
// us) and files with a header naming the columns (open_time / timestamp /
// time / date, open, high, low, close, volume) whose times are epoch numbers
// or ISO-8601 ("2025-08-01 00:00:00+00:00", "2023-01-01T00:00:00Z").
// Set-up path: allocates, reports the first bad line and stops.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tickpath/strategy/bar_builder.hpp"

namespace tickpath::strategy {

struct KlineLoad {
  std::vector<Bar> bars;
  std::string error;  // empty on success: "FILE:LINE: what is wrong"
};

KlineLoad load_kline_csv(const std::string& path);
KlineLoad parse_kline_csv(std::string_view text, const std::string& name);

// Epoch milliseconds from an epoch number in s/ms/us/ns (by magnitude) or
// an ISO-8601 date-time; false when it is neither.
bool parse_time_ms(std::string_view s, std::int64_t& out_ms) noexcept;

}  // namespace tickpath::strategy
