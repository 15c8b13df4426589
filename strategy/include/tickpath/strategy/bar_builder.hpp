// BarBuilder: tumbling 1-minute (or any fixed interval) OHLCV bars from
// trades, by event time, with a watermark. A window closes once a trade
// arrives whose time is past the window's end plus the allowed lateness;
// trades for a window still open are added to it, trades for a window
// already closed are counted as late and left out of the bars. Minutes
// without trades close as flat bars at the previous close with zero volume,
// as Binance's klines do.
//
// Event time must be monotonic within the stream that feeds one builder
// (Binance guarantees it per stream, not across streams), so feed one
// builder from one stream of one symbol. No allocation; time is an argument.
#pragma once

#include <cstdint>

namespace tickpath::strategy {

struct Bar {
  std::int64_t open_time_ms = 0;
  double open = 0, high = 0, low = 0, close = 0, volume = 0, quote_volume = 0;
  std::uint32_t trades = 0;
};

class BarBuilder {
 public:
  // lateness_ms must be below the interval: at most two windows are open.
  explicit BarBuilder(std::int64_t interval_ms = 60'000, std::int64_t lateness_ms = 0) noexcept
      : interval_(interval_ms > 0 ? interval_ms : 60'000),
        lateness_(lateness_ms < 0 ? 0 : lateness_ms >= interval_ ? interval_ - 1 : lateness_ms) {}

  // Adds a trade; calls on_close(const Bar&) for each bar that closes
  // because of it, oldest first (flat bars for empty windows included).
  template <typename OnClose>
  void add_trade(std::int64_t time_ms, double price, double qty, OnClose&& on_close) noexcept {
    const std::int64_t start = window_of(time_ms);
    if (!open_) {
      begin(cur_, start, price);
      open_ = true;
    }
    // Advance the watermark: close what it has passed.
    if (time_ms > watermark_) watermark_ = time_ms;
    close_passed(on_close);
    if (start == cur_.open_time_ms) {
      add(cur_, price, qty);
    } else if (start > cur_.open_time_ms) {
      if (has_prev_) emit(prev_, on_close);
      if (start > cur_.open_time_ms + interval_) {
        // The current window is past the watermark too; windows between it
        // and this trade's had no trades and close flat.
        on_close(static_cast<const Bar&>(cur_));
        int flats = 0;
        for (std::int64_t t = cur_.open_time_ms + interval_; t < start; t += interval_) {
          if (++flats > kMaxFlatBars) {
            skipped_flat_ += static_cast<std::uint64_t>((start - t) / interval_);
            break;
          }
          Bar flat;
          begin(flat, t, cur_.close);
          on_close(static_cast<const Bar&>(flat));
        }
        begin(cur_, start, price);
        add(cur_, price, qty);
      } else {
        prev_ = cur_;
        has_prev_ = true;
        begin(cur_, start, price);
        add(cur_, price, qty);
        close_passed(on_close);
      }
    } else if (has_prev_ && start == prev_.open_time_ms) {
      add(prev_, price, qty);
    } else {
      ++late_;
    }
  }

  // The bar being formed (valid after the first trade).
  [[nodiscard]] const Bar& forming() const noexcept { return cur_; }
  [[nodiscard]] bool has_forming() const noexcept { return open_; }
  [[nodiscard]] std::uint64_t late_trades() const noexcept { return late_; }
  [[nodiscard]] std::uint64_t skipped_flat_bars() const noexcept { return skipped_flat_; }
  [[nodiscard]] std::int64_t interval_ms() const noexcept { return interval_; }

  static constexpr int kMaxFlatBars = 1440;  // a day of empty minutes at most per gap

 private:
  [[nodiscard]] std::int64_t window_of(std::int64_t t) const noexcept {
    const std::int64_t r = t % interval_;
    return t - (r < 0 ? r + interval_ : r);
  }
  static void begin(Bar& b, std::int64_t open_ms, double price) noexcept {
    b = Bar{};
    b.open_time_ms = open_ms;
    b.open = b.high = b.low = b.close = price;
  }
  static void add(Bar& b, double price, double qty) noexcept {
    if (b.trades == 0) b.open = b.high = b.low = price;
    if (price > b.high) b.high = price;
    if (price < b.low) b.low = price;
    b.close = price;
    b.volume += qty;
    b.quote_volume += price * qty;
    ++b.trades;
  }
  template <typename OnClose>
  void emit(Bar& b, OnClose& on_close) noexcept {
    on_close(static_cast<const Bar&>(b));
    has_prev_ = false;
  }
  template <typename OnClose>
  void close_passed(OnClose& on_close) noexcept {
    if (has_prev_ && watermark_ - lateness_ >= prev_.open_time_ms + interval_) emit(prev_, on_close);
  }

  std::int64_t interval_;
  std::int64_t lateness_;
  Bar cur_{};
  Bar prev_{};
  bool open_ = false;
  bool has_prev_ = false;
  std::int64_t watermark_ = INT64_MIN;
  std::uint64_t late_ = 0;
  std::uint64_t skipped_flat_ = 0;
};

}  // namespace tickpath::strategy
