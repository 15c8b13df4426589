// PaperPortfolio: one symbol's simulated account. Long / flat (short as an
// option), all-in sizing (a fraction of equity per position), fees in basis
// points of notional, slippage of a half-spread per fill. It marks to market
// once per bar and keeps what the metrics need in O(1) state: no allocation
// after construction except the optional equity curve the caller asks for.
#pragma once

#include <cmath>
#include <cstdint>

namespace tickpath::strategy {

struct PortfolioConfig {
  double initial_cash = 10'000.0;
  double fee_bps = 10.0;            // per fill, of notional
  double position_fraction = 1.0;   // share of equity a new position takes
  double max_position_notional = 0; // position limit in quote currency (0: none)
  bool allow_short = false;
  double bars_per_year = 525'600;   // 1-minute bars; annualises Sharpe and Sortino
};

enum class Target : std::int8_t { flat = 0, long_ = 1, short_ = -1 };

struct PortfolioMetrics {
  double equity = 0, total_return = 0, sharpe = 0, sortino = 0, max_drawdown = 0;
  double realised_pnl = 0, unrealised_pnl = 0, fees = 0, turnover = 0;
  std::uint64_t fills = 0, round_trips = 0, bars = 0;
};

class PaperPortfolio {
 public:
  explicit PaperPortfolio(PortfolioConfig cfg = {}) noexcept : cfg_(cfg), cash_(cfg.initial_cash) {
    peak_ = cfg.initial_cash;
    last_equity_ = cfg.initial_cash;
  }

  // Moves to `target` at `price`, paying half_spread of slippage (buys fill
  // higher, sells lower) and the fee. Short targets become flat unless
  // shorting is allowed. Returns true when anything traded.
  bool rebalance(Target target, double price, double half_spread = 0.0) noexcept {
    if (target == Target::short_ && !cfg_.allow_short) target = Target::flat;
    const int want = static_cast<int>(target);
    const int have = qty_ > 0 ? 1 : qty_ < 0 ? -1 : 0;
    if (want == have || !(price > 0)) return false;
    if (have != 0) close(price, half_spread);
    if (want != 0) open(want, price, half_spread);
    return true;
  }

  // Marks to market at a bar's close; one return sample per bar.
  void mark(double price) noexcept {
    mark_price_ = price;
    const double eq = equity(price);
    const double r = last_equity_ > 0 ? eq / last_equity_ - 1.0 : 0.0;
    last_equity_ = eq;
    ++bars_;
    sum_r_ += r;
    sum_r2_ += r * r;
    if (r < 0) sum_neg2_ += r * r;
    if (eq > peak_) peak_ = eq;
    const double dd = peak_ > 0 ? 1.0 - eq / peak_ : 0.0;
    if (dd > max_dd_) max_dd_ = dd;
  }

  [[nodiscard]] double equity(double price) const noexcept { return cash_ + qty_ * price; }
  [[nodiscard]] double position() const noexcept { return qty_ > 0 ? 1.0 : qty_ < 0 ? -1.0 : 0.0; }
  // Unrealised PnL of the open position as a fraction of its entry value.
  [[nodiscard]] double unrealised_fraction(double price) const noexcept {
    if (qty_ == 0 || entry_price_ <= 0) return 0.0;
    return (price - entry_price_) / entry_price_ * (qty_ > 0 ? 1.0 : -1.0);
  }

  [[nodiscard]] PortfolioMetrics metrics() const noexcept {
    PortfolioMetrics m;
    m.equity = equity(mark_price_);
    m.total_return = m.equity / cfg_.initial_cash - 1.0;
    m.bars = bars_;
    if (bars_ > 1) {
      const double n = static_cast<double>(bars_);
      const double mean = sum_r_ / n;
      const double var = std::max(0.0, sum_r2_ / n - mean * mean);
      const double down = std::sqrt(sum_neg2_ / n);
      const double ann = std::sqrt(cfg_.bars_per_year);
      m.sharpe = var > 0 ? mean / std::sqrt(var) * ann : 0.0;
      m.sortino = down > 0 ? mean / down * ann : 0.0;
    }
    m.max_drawdown = max_dd_;
    m.realised_pnl = realised_;
    m.unrealised_pnl = qty_ * (mark_price_ - entry_price_);
    m.fees = fees_;
    m.turnover = turnover_;
    m.fills = fills_;
    m.round_trips = round_trips_;
    return m;
  }

 private:
  void open(int dir, double price, double half_spread) noexcept {
    const double fill = price + dir * half_spread;
    const double fee_rate = cfg_.fee_bps * 1e-4;
    double budget = cash_ * cfg_.position_fraction;
    if (cfg_.max_position_notional > 0 && budget > cfg_.max_position_notional * (1.0 + fee_rate))
      budget = cfg_.max_position_notional * (1.0 + fee_rate);
    const double notional = budget / (1.0 + fee_rate);
    const double fee = notional * fee_rate;
    const double q = notional / fill;
    qty_ = dir * q;
    cash_ -= dir * notional + fee;  // a short receives the notional
    entry_price_ = fill;
    entry_cost_ = fee;
    fees_ += fee;
    turnover_ += notional;
    ++fills_;
  }
  void close(double price, double half_spread) noexcept {
    const double dir = qty_ > 0 ? 1.0 : -1.0;
    const double fill = price - dir * half_spread;
    const double notional = std::fabs(qty_) * fill;
    const double fee = notional * cfg_.fee_bps * 1e-4;
    cash_ += qty_ * fill - fee;
    realised_ += qty_ * (fill - entry_price_) - fee - entry_cost_;
    fees_ += fee;
    turnover_ += notional;
    ++fills_;
    ++round_trips_;
    qty_ = 0;
    entry_price_ = 0;
    entry_cost_ = 0;
  }

  PortfolioConfig cfg_;
  double cash_, qty_ = 0, entry_price_ = 0, entry_cost_ = 0;
  double mark_price_ = 0, last_equity_ = 0, peak_ = 0, max_dd_ = 0;
  double sum_r_ = 0, sum_r2_ = 0, sum_neg2_ = 0;
  double realised_ = 0, fees_ = 0, turnover_ = 0;
  std::uint64_t bars_ = 0, fills_ = 0, round_trips_ = 0;
};

}  // namespace tickpath::strategy
