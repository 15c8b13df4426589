// Batch reference implementations written from TA-Lib's published
// algorithms (ta_SMA.c, ta_EMA.c, ta_RSI.c, ta_MACD.c, ta_STDDEV.c /
// ta_VAR.c, ta_BBANDS.c, default compatibility, unstable period 0): whole
// arrays in, whole arrays out, NaN inside the lookback. They share no code
// with the incremental kernels they check, and they are also the "batch
// recompute" anchor of the indicator benchmarks.
#pragma once

#include <cmath>
#include <limits>
#include <vector>

namespace tickpath::ta_ref {

inline constexpr double NaN = std::numeric_limits<double>::quiet_NaN();
inline bool is_zero(double v) { return -0.00000001 < v && v < 0.00000001; }
inline bool is_zero_or_neg(double v) { return v < 0.00000001; }

inline std::vector<double> sma(const std::vector<double>& in, int n) {
  std::vector<double> out(in.size(), NaN);
  const int lookback = n - 1;
  if (static_cast<int>(in.size()) <= lookback) return out;
  double total = 0;
  int i = 0;
  for (; i < lookback; ++i) total += in[static_cast<std::size_t>(i)];
  int trailing = 0;
  for (int today = lookback; today < static_cast<int>(in.size()); ++today) {
    total += in[static_cast<std::size_t>(today)];
    out[static_cast<std::size_t>(today)] = total / n;
    total -= in[static_cast<std::size_t>(trailing++)];
  }
  return out;
}

// TA_INT_EMA from startIdx with period n and factor k; writes out[startIdx..].
inline void int_ema(const std::vector<double>& in, int start, int n, double k, std::vector<double>& out) {
  out.assign(in.size(), NaN);
  const int lookback = n - 1;
  if (start < lookback) start = lookback;
  if (start >= static_cast<int>(in.size())) return;
  int today = start - lookback;
  double prev = 0;
  for (int i = 0; i < n; ++i) prev += in[static_cast<std::size_t>(today++)];
  prev /= n;
  while (today <= start) prev = ((in[static_cast<std::size_t>(today++)] - prev) * k) + prev;
  out[static_cast<std::size_t>(start)] = prev;
  while (today < static_cast<int>(in.size())) {
    prev = ((in[static_cast<std::size_t>(today)] - prev) * k) + prev;
    out[static_cast<std::size_t>(today++)] = prev;
  }
}

inline double per_to_k(int n) { return 2.0 / static_cast<double>(n + 1); }

inline std::vector<double> ema(const std::vector<double>& in, int n) {
  std::vector<double> out;
  int_ema(in, n - 1, n, per_to_k(n), out);
  return out;
}

inline std::vector<double> rsi(const std::vector<double>& in, int n) {
  std::vector<double> out(in.size(), NaN);
  const int lookback = n;
  if (static_cast<int>(in.size()) <= lookback) return out;
  int today = 0;
  double prev_value = in[static_cast<std::size_t>(today++)];
  double gain = 0, loss = 0;
  for (int i = n; i > 0; --i) {
    const double v = in[static_cast<std::size_t>(today++)];
    const double d = v - prev_value;
    prev_value = v;
    if (d < 0) loss -= d;
    else gain += d;
  }
  loss /= n;
  gain /= n;
  {
    const double t = gain + loss;
    out[static_cast<std::size_t>(today - 1)] = is_zero(t) ? 0.0 : 100.0 * (gain / t);
  }
  while (today < static_cast<int>(in.size())) {
    const double v = in[static_cast<std::size_t>(today)];
    const double d = v - prev_value;
    prev_value = v;
    loss *= (n - 1);
    gain *= (n - 1);
    if (d < 0) loss -= d;
    else gain += d;
    loss /= n;
    gain /= n;
    const double t = gain + loss;
    out[static_cast<std::size_t>(today++)] = is_zero(t) ? 0.0 : 100.0 * (gain / t);
  }
  return out;
}

struct MacdOut {
  std::vector<double> macd, signal, hist;
};

// TA_INT_MACD: both EMAs computed from startIdx - signal lookback, so the
// fast EMA's seed ends where the slow one's does.
inline MacdOut macd(const std::vector<double>& in, int fast, int slow, int signal) {
  if (slow < fast) std::swap(slow, fast);
  const int lookback_signal = signal - 1;
  const int lookback_total = lookback_signal + (slow - 1);
  MacdOut o;
  const std::size_t sz = in.size();
  o.macd.assign(sz, NaN);
  o.signal.assign(sz, NaN);
  o.hist.assign(sz, NaN);
  if (static_cast<int>(sz) <= lookback_total) return o;
  const int start = lookback_total;
  const int temp = start - lookback_signal;  // = slow - 1
  std::vector<double> fast_ema, slow_ema;
  int_ema(in, temp, fast, per_to_k(fast), fast_ema);
  int_ema(in, temp, slow, per_to_k(slow), slow_ema);
  std::vector<double> m(sz, NaN);
  for (std::size_t i = static_cast<std::size_t>(temp); i < sz; ++i) m[i] = fast_ema[i] - slow_ema[i];
  // Signal: EMA over the MACD series starting at temp.
  std::vector<double> mseries(m.begin() + temp, m.end());
  std::vector<double> sig;
  int_ema(mseries, lookback_signal, signal, per_to_k(signal), sig);
  for (std::size_t i = static_cast<std::size_t>(start); i < sz; ++i) {
    o.macd[i] = m[i];
    o.signal[i] = sig[i - static_cast<std::size_t>(temp)];
    o.hist[i] = o.macd[i] - o.signal[i];
  }
  return o;
}

// TA_STDDEV via TA_INT_VAR: running sums of x and x^2 (population).
inline std::vector<double> stddev(const std::vector<double>& in, int n, double nbdev = 1.0) {
  std::vector<double> out(in.size(), NaN);
  const int lookback = n - 1;
  if (static_cast<int>(in.size()) <= lookback) return out;
  double t1 = 0, t2 = 0;
  int i = 0;
  for (; i < lookback; ++i) {
    const double x = in[static_cast<std::size_t>(i)];
    t1 += x;
    t2 += x * x;
  }
  int trailing = 0;
  for (int today = lookback; today < static_cast<int>(in.size()); ++today) {
    double x = in[static_cast<std::size_t>(today)];
    t1 += x;
    t2 += x * x;
    const double m1 = t1 / n, m2 = t2 / n;
    x = in[static_cast<std::size_t>(trailing++)];
    t1 -= x;
    t2 -= x * x;
    const double var = m2 - m1 * m1;
    out[static_cast<std::size_t>(today)] = is_zero_or_neg(var) ? 0.0 : std::sqrt(var) * nbdev;
  }
  return out;
}

// Exact population standard deviation by two passes over each window: the
// reference for our numerically better rolling variance.
inline std::vector<double> stddev_two_pass(const std::vector<double>& in, int n) {
  std::vector<double> out(in.size(), NaN);
  for (std::size_t i = static_cast<std::size_t>(n - 1); i < in.size(); ++i) {
    long double mean = 0;
    for (std::size_t j = i + 1 - static_cast<std::size_t>(n); j <= i; ++j) mean += in[j];
    mean /= n;
    long double ss = 0;
    for (std::size_t j = i + 1 - static_cast<std::size_t>(n); j <= i; ++j) ss += (in[j] - mean) * (in[j] - mean);
    out[i] = static_cast<double>(std::sqrt(ss / n));
  }
  return out;
}

struct BandsOut {
  std::vector<double> upper, middle, lower;
};

// TA_BBANDS with an SMA middle band: stddev from the precomputed mean and a
// running sum of squares (TA_INT_stddev_using_precalc_ma).
inline BandsOut bbands(const std::vector<double>& in, int n, double up, double down) {
  BandsOut o;
  o.middle = sma(in, n);
  o.upper.assign(in.size(), NaN);
  o.lower.assign(in.size(), NaN);
  if (static_cast<int>(in.size()) < n) return o;
  double t2 = 0;
  for (int i = 0; i < n - 1; ++i) t2 += in[static_cast<std::size_t>(i)] * in[static_cast<std::size_t>(i)];
  int trailing = 0;
  for (int today = n - 1; today < static_cast<int>(in.size()); ++today) {
    const double x = in[static_cast<std::size_t>(today)];
    t2 += x * x;
    const double mean = o.middle[static_cast<std::size_t>(today)];
    const double var = t2 / n - mean * mean;
    const double sd = is_zero_or_neg(var) ? 0.0 : std::sqrt(var);
    const double xt = in[static_cast<std::size_t>(trailing++)];
    t2 -= xt * xt;
    o.upper[static_cast<std::size_t>(today)] = mean + sd * up;
    o.lower[static_cast<std::size_t>(today)] = mean - sd * down;
  }
  return o;
}

}  // namespace tickpath::ta_ref
