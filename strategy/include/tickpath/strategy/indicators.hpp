// Incremental indicator kernels: one O(1) update per closed bar, plus a
// const peek(x) that evaluates the forming bar as if it closed at x without
// changing any state. Each follows TA-Lib's algorithm step for step (same
// seeding, same lookback, same order of floating-point operations), so the
// values equal TA-Lib's batch output; where we deliberately differ it says so.
// No kernel allocates; buffers are fixed at kMaxPeriod.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>

namespace tickpath::strategy {

inline constexpr int kMaxPeriod = 256;
inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// TA-Lib's TA_IS_ZERO.
[[nodiscard]] inline bool ta_is_zero(double v) noexcept { return -0.00000001 < v && v < 0.00000001; }

// Fixed ring of the last `n` values.
class Window {
 public:
  explicit Window(int n) noexcept : n_(n < 1 ? 1 : n > kMaxPeriod ? kMaxPeriod : n) {}
  void push(double x) noexcept {
    buf_[static_cast<std::size_t>(head_)] = x;
    head_ = head_ + 1 == n_ ? 0 : head_ + 1;
    if (count_ < n_) ++count_;
  }
  [[nodiscard]] bool full() const noexcept { return count_ == n_; }
  [[nodiscard]] int size() const noexcept { return count_; }
  [[nodiscard]] int period() const noexcept { return n_; }
  // i = 0 is the oldest value held.
  [[nodiscard]] double at(int i) const noexcept {
    const int start = count_ < n_ ? 0 : head_;
    const int j = start + i;
    return buf_[static_cast<std::size_t>(j >= n_ ? j - n_ : j)];
  }
  [[nodiscard]] double oldest() const noexcept { return at(0); }

 private:
  std::array<double, kMaxPeriod> buf_{};
  int n_;
  int head_ = 0;
  int count_ = 0;
};

// SMA(n), TA-Lib's running sum: total += x; out = total / n; total -= oldest.
class Sma {
 public:
  explicit Sma(int n) noexcept : win_(n) {}
  double update(double x) noexcept {
    const double total = partial_ + x;
    win_.push(x);
    if (!win_.full()) {
      partial_ = total;
      return value_ = kNaN;
    }
    value_ = total / win_.period();
    partial_ = total - win_.oldest();
    return value_;
  }
  [[nodiscard]] double peek(double x) const noexcept {
    return win_.size() + 1 >= win_.period() ? (partial_ + x) / win_.period() : kNaN;
  }
  [[nodiscard]] double value() const noexcept { return value_; }
  [[nodiscard]] bool ready() const noexcept { return win_.full(); }
  [[nodiscard]] int lookback() const noexcept { return win_.period() - 1; }

 private:
  Window win_;
  double partial_ = 0.0;  // sum of the newest n-1 values, in TA-Lib's order
  double value_ = kNaN;
};

// EMA(n), k = 2/(n+1), seeded with the SMA of the first n values (TA-Lib's
// default compatibility); then ema = (x - ema) * k + ema.
class Ema {
 public:
  explicit Ema(int n) noexcept : n_(n < 1 ? 1 : n), k_(2.0 / static_cast<double>(n_ + 1)) {}
  double update(double x) noexcept {
    if (count_ < n_) {
      sum_ += x;
      if (++count_ < n_) return kNaN;
      return ema_ = sum_ / n_;
    }
    ++count_;
    return ema_ = ((x - ema_) * k_) + ema_;
  }
  [[nodiscard]] double peek(double x) const noexcept {
    if (count_ >= n_) return ((x - ema_) * k_) + ema_;
    return count_ + 1 == n_ ? (sum_ + x) / n_ : kNaN;
  }
  // Starts the average from a given seed (MACD seeds its EMAs itself).
  void seed(double value) noexcept {
    ema_ = value;
    count_ = n_;
  }
  [[nodiscard]] double value() const noexcept { return count_ >= n_ ? ema_ : kNaN; }
  [[nodiscard]] bool ready() const noexcept { return count_ >= n_; }
  [[nodiscard]] double k() const noexcept { return k_; }

 private:
  int n_;
  double k_;
  int count_ = 0;
  double sum_ = 0.0;
  double ema_ = kNaN;
};

// RSI(n), Wilder's smoothing as TA-Lib does it: the first average gain and
// loss are simple means of the first n changes, then
// avg = (avg * (n-1) + change) / n; 0 when gain + loss is ~0.
class RsiWilder {
 public:
  explicit RsiWilder(int n) noexcept : n_(n < 1 ? 1 : n) {}
  double update(double x) noexcept {
    value_ = step(x, gain_, loss_, count_);
    prev_ = x;
    ++count_;
    return value_;
  }
  [[nodiscard]] double peek(double x) const noexcept {
    double g = gain_, l = loss_;
    return step(x, g, l, count_);
  }
  [[nodiscard]] double value() const noexcept { return value_; }
  [[nodiscard]] int lookback() const noexcept { return n_; }

 private:
  // count = values seen before x.
  double step(double x, double& gain, double& loss, int count) const noexcept {
    if (count == 0) return kNaN;
    const double change = x - prev_;
    if (count <= n_) {
      if (change < 0) loss -= change;
      else gain += change;
      if (count < n_) return kNaN;
      loss /= n_;
      gain /= n_;
    } else {
      loss *= (n_ - 1);
      gain *= (n_ - 1);
      if (change < 0) loss -= change;
      else gain += change;
      loss /= n_;
      gain /= n_;
    }
    const double total = gain + loss;
    return ta_is_zero(total) ? 0.0 : 100.0 * (gain / total);
  }
  int n_;
  int count_ = 0;
  double prev_ = 0.0, gain_ = 0.0, loss_ = 0.0;
  double value_ = kNaN;
};

struct MacdValue {
  double macd = kNaN, signal = kNaN, hist = kNaN;
};

// MACD(fast, slow, signal) exactly as TA_MACD computes it: both EMAs start
// at the slow lookback, the fast one seeded with the mean of the `fast`
// closes that end where the slow seed ends (not the first `fast`); the
// signal EMA is seeded with the mean of the first `signal` MACD values.
// First output on bar slow + signal - 2 (33 for 12/26/9).
class Macd {
 public:
  Macd(int fast = 12, int slow = 26, int signal = 9) noexcept
      : fast_n_(fast < slow ? fast : slow), slow_n_(fast < slow ? slow : fast), recent_(fast_n_),
        fast_(fast_n_), slow_(slow_n_), signal_(signal) {}

  MacdValue update(double x) noexcept {
    recent_.push(x);
    if (!slow_.ready()) {
      slow_.update(x);
      if (!slow_.ready()) return value_ = {};
      double sum = 0.0;  // TA-Lib sums the fast seed oldest first
      for (int i = 0; i < recent_.size(); ++i) sum += recent_.at(i);
      fast_.seed(sum / fast_n_);
    } else {
      slow_.update(x);
      fast_.update(x);
    }
    const double macd = fast_.value() - slow_.value();
    const double sig = signal_.update(macd);
    value_ = signal_.ready() ? MacdValue{macd, sig, macd - sig} : MacdValue{};
    return value_;
  }
  [[nodiscard]] MacdValue peek(double x) const noexcept {
    if (!slow_.ready()) return {};
    const double macd = fast_.peek(x) - slow_.peek(x);
    const double sig = signal_.peek(macd);
    if (std::isnan(sig)) return {};
    return {macd, sig, macd - sig};
  }
  [[nodiscard]] MacdValue value() const noexcept { return value_; }
  [[nodiscard]] int lookback() const noexcept { return slow_n_ - 1 + signal_lookback(); }

 private:
  [[nodiscard]] int signal_lookback() const noexcept { return 8; }
  int fast_n_, slow_n_;
  Window recent_;
  Ema fast_, slow_, signal_;
  MacdValue value_{};
};

// Population variance of the last n values from running sums of (x - K),
// with K re-centred and the sums recomputed exactly every n updates. This is
// where we differ from TA-Lib on purpose: TA-Lib's sum of x^2 minus mean^2
// loses about 1e-6 relative on BTC-sized prices; this stays within 1e-12 of
// a two-pass computation. (TA-Lib also returns 0 for any variance below
// 1e-8; we return the true value, which matters only for prices below ~0.01.)
class RollingVariance {
 public:
  explicit RollingVariance(int n) noexcept : win_(n) {}
  void update(double x) noexcept {
    if (win_.full()) {
      const double old = win_.oldest() - k_;
      s1_ -= old;
      s2_ -= old * old;
    }
    win_.push(x);
    const double d = x - k_;
    s1_ += d;
    s2_ += d * d;
    if (++since_resync_ >= win_.period()) resync();
  }
  [[nodiscard]] bool ready() const noexcept { return win_.full(); }
  [[nodiscard]] double variance() const noexcept { return ready() ? var_of(s1_, s2_) : kNaN; }
  [[nodiscard]] double stddev() const noexcept { return ready() ? std::sqrt(variance()) : kNaN; }
  // The variance if x were pushed now.
  [[nodiscard]] double peek_variance(double x) const noexcept {
    if (win_.size() + 1 < win_.period()) return kNaN;
    double s1 = s1_, s2 = s2_;
    if (win_.full()) {
      const double old = win_.oldest() - k_;
      s1 -= old;
      s2 -= old * old;
    }
    const double d = x - k_;
    return var_of(s1 + d, s2 + d * d);
  }

 private:
  [[nodiscard]] double var_of(double s1, double s2) const noexcept {
    const double n = win_.period();
    const double m = s1 / n;
    const double v = s2 / n - m * m;
    return v > 0.0 ? v : 0.0;
  }
  void resync() noexcept {
    since_resync_ = 0;
    const int n = win_.size();
    double mean = 0.0;
    for (int i = 0; i < n; ++i) mean += win_.at(i);
    k_ = mean / n;
    s1_ = s2_ = 0.0;
    for (int i = 0; i < n; ++i) {
      const double d = win_.at(i) - k_;
      s1_ += d;
      s2_ += d * d;
    }
  }
  Window win_;
  double k_ = 0.0, s1_ = 0.0, s2_ = 0.0;
  int since_resync_ = 0;
};

struct BandsValue {
  double upper = kNaN, middle = kNaN, lower = kNaN, stddev = kNaN;
};

// BBANDS(n, up, down, SMA): middle = SMA(n) (TA-Lib's running sum), bands at
// +/- k population standard deviations.
class BollingerBands {
 public:
  explicit BollingerBands(int n = 20, double k_up = 2.0, double k_down = 2.0) noexcept
      : sma_(n), var_(n), up_(k_up), down_(k_down) {}
  BandsValue update(double x) noexcept {
    const double mid = sma_.update(x);
    var_.update(x);
    value_ = make(mid, var_.variance());
    return value_;
  }
  [[nodiscard]] BandsValue peek(double x) const noexcept { return make(sma_.peek(x), var_.peek_variance(x)); }
  [[nodiscard]] BandsValue value() const noexcept { return value_; }

 private:
  [[nodiscard]] BandsValue make(double mid, double var) const noexcept {
    if (std::isnan(mid) || std::isnan(var)) return {};
    const double sd = std::sqrt(var);
    return {mid + sd * up_, mid, mid - sd * down_, sd};
  }
  Sma sma_;
  RollingVariance var_;
  double up_, down_;
  BandsValue value_{};
};

// Rolling z-score of a series against its own last n values (before x is
// added), with an anomaly flag past |z| > threshold.
class ZScore {
 public:
  explicit ZScore(int n = 20, double threshold = 3.0) noexcept : sma_(n), var_(n), threshold_(threshold) {}
  // Returns z of x against the window before it; NaN until the window fills.
  double update(double x) noexcept {
    const double mean = sma_.value();
    const double var = var_.variance();
    z_ = (std::isnan(mean) || !(var > 0.0)) ? kNaN : (x - mean) / std::sqrt(var);
    sma_.update(x);
    var_.update(x);
    return z_;
  }
  [[nodiscard]] double value() const noexcept { return z_; }
  [[nodiscard]] bool anomaly() const noexcept { return !std::isnan(z_) && std::fabs(z_) > threshold_; }

 private:
  Sma sma_;
  RollingVariance var_;
  double threshold_;
  double z_ = kNaN;
};

// Means of trade prices over trailing 5-minute, 15-minute and 1-hour windows
// of event time, kept in one ring of one-second buckets: O(1) per trade,
// amortised, and fixed memory. Resolution is one second.
class TimeWindowMeans {
 public:
  static constexpr int kSeconds = 3600;
  static constexpr std::array<int, 3> kWindows{300, 900, 3600};

  void add(std::int64_t time_ms, double price) noexcept {
    const std::int64_t sec = time_ms / 1000;
    if (sec < cur_) {  // a trade older than the newest second: put it where it belongs if still held
      if (cur_ - sec >= kSeconds) return;
      auto& b = buckets_[slot(sec)];
      b.sum += price;
      b.count += 1;
      for (std::size_t w = 0; w < kWindows.size(); ++w)
        if (cur_ - sec < kWindows[w]) sum_[w] += price, count_[w] += 1;
      return;
    }
    advance(sec);
    auto& b = buckets_[slot(sec)];
    b.sum += price;
    b.count += 1;
    for (std::size_t w = 0; w < kWindows.size(); ++w) sum_[w] += price, count_[w] += 1;
  }
  // Mean over window w (0: 5 min, 1: 15 min, 2: 1 h); NaN when empty.
  [[nodiscard]] double mean(std::size_t w) const noexcept {
    return count_[w] > 0 ? sum_[w] / static_cast<double>(count_[w]) : kNaN;
  }

 private:
  struct Bucket {
    double sum = 0.0;
    std::int64_t count = 0;
  };
  static std::size_t slot(std::int64_t sec) noexcept { return static_cast<std::size_t>(sec % kSeconds); }
  void advance(std::int64_t sec) noexcept {
    if (cur_ == std::numeric_limits<std::int64_t>::min() || sec - cur_ >= kSeconds) {
      buckets_.fill({});
      sum_.fill(0.0);
      count_.fill(0);
      cur_ = sec;
      return;
    }
    while (cur_ < sec) {
      ++cur_;
      for (std::size_t w = 0; w < kWindows.size(); ++w) {
        const auto& leaving = buckets_[slot(cur_ - kWindows[w])];
        sum_[w] -= leaving.sum;
        count_[w] -= leaving.count;
      }
      buckets_[slot(cur_)] = {};
    }
    for (std::size_t w = 0; w < kWindows.size(); ++w)
      if (count_[w] == 0) sum_[w] = 0.0;  // drop accumulated rounding when a window empties
  }
  std::array<Bucket, kSeconds> buckets_{};
  std::array<double, 3> sum_{};
  std::array<std::int64_t, 3> count_{};
  std::int64_t cur_ = std::numeric_limits<std::int64_t>::min();
};

// Session VWAP: sum(p*q)/sum(q) since 00:00 UTC of the trade's day.
class SessionVwap {
 public:
  void add(std::int64_t time_ms, double price, double qty) noexcept {
    const std::int64_t day = time_ms / 86'400'000;
    if (day != day_) {
      day_ = day;
      pq_ = q_ = 0.0;
    }
    pq_ += price * qty;
    q_ += qty;
  }
  [[nodiscard]] double value() const noexcept { return q_ > 0.0 ? pq_ / q_ : kNaN; }

 private:
  std::int64_t day_ = -1;
  double pq_ = 0.0, q_ = 0.0;
};

}  // namespace tickpath::strategy
