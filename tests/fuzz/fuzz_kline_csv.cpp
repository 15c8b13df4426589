// Fuzz target: the kline CSV loader (`--klines` of backtest, train,
// indicators). Whatever the bytes, it returns bars or one error line; bars
// it returns are usable: finite prices and volumes, low <= open, close <=
// high, times strictly increasing.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "tickpath/strategy/kline_csv.hpp"

using namespace tickpath::strategy;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const KlineLoad l = parse_kline_csv(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.csv");
  if (!l.error.empty()) {
    if (!l.bars.empty()) std::abort();  // an error means no bars
    return 0;
  }
  for (std::size_t i = 0; i < l.bars.size(); ++i) {
    const Bar& b = l.bars[i];
    const bool finite = std::isfinite(b.open) && std::isfinite(b.high) && std::isfinite(b.low) &&
                        std::isfinite(b.close) && std::isfinite(b.volume);
    const bool ordered = b.low <= b.open && b.low <= b.close && b.open <= b.high && b.close <= b.high;
    const bool increasing = i == 0 || b.open_time_ms > l.bars[i - 1].open_time_ms;
    if (!finite || !ordered || !increasing) {
      std::fprintf(stderr, "bar %zu accepted but unusable: o %g h %g l %g c %g v %g t %lld\n", i, b.open, b.high, b.low,
                   b.close, b.volume, static_cast<long long>(b.open_time_ms));
      std::abort();
    }
  }
  return 0;
}
