#include "tickpath/feed/synthetic.hpp"

#include "tickpath/infra/splitmix.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "tickpath/feed/decimal.hpp"

namespace tickpath::feed {

namespace {
constexpr double kSecondsPerYear = 365.0 * 24 * 3600;
constexpr std::int64_t kMinuteMs = 60'000;

using infra::splitmix64;
std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }

// Start prices for well-known symbols, so demo output looks familiar;
// anything else starts at 100.
double start_price(const std::string& s) {
  if (s.rfind("BTC", 0) == 0) return 42000.0;
  if (s.rfind("ETH", 0) == 0) return 2300.0;
  if (s.rfind("SOL", 0) == 0) return 100.0;
  if (s.rfind("BNB", 0) == 0) return 310.0;
  if (s.rfind("DOGE", 0) == 0) return 0.09;
  return 100.0;
}

void dec(std::string& out, std::int64_t e8) {
  char buf[32];
  out.append(buf, format_e8(e8, buf));
}
}  // namespace

SyntheticMarket::Rng::Rng(std::uint64_t seed) noexcept {
  for (auto& s : s_) s = splitmix64(seed);
}
std::uint64_t SyntheticMarket::Rng::next() noexcept {
  const std::uint64_t r = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return r;
}
double SyntheticMarket::Rng::uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
double SyntheticMarket::Rng::normal() noexcept {
  const double u1 = 1.0 - uniform();  // (0, 1]
  const double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}
double SyntheticMarket::Rng::exponential(double rate) noexcept { return -std::log(1.0 - uniform()) / rate; }

SyntheticMarket::SyntheticMarket(SyntheticConfig cfg) : cfg_(std::move(cfg)), rng_(cfg_.seed) {
  if (cfg_.symbols.empty()) throw std::invalid_argument("synthetic feed needs at least one symbol");
  if (!(cfg_.rate_per_s > 0)) throw std::invalid_argument("synthetic rate must be positive");
  now_us_ = cfg_.start_time_ms * 1000;
  for (const auto& name : cfg_.symbols) {
    Sym s;
    s.name = name;
    for (auto& c : s.name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    s.lower = s.name;
    for (auto& c : s.lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const double p0 = start_price(s.name);
    s.log_mid = std::log(p0);
    // Tick about 1e-6 of the price, a power of ten, at most 0.01 and at least 1e-8.
    const double tick = std::clamp(std::pow(10.0, std::floor(std::log10(p0 * 1e-6))), 1e-8, 0.01);
    s.tick_e8 = std::max<std::int64_t>(1, std::llround(tick * 1e8));
    s.qty_decimals = p0 > 1000 ? 5 : p0 > 10 ? 4 : 1;
    roll_kline(s, cfg_.start_time_ms - cfg_.start_time_ms % kMinuteMs);
    s.k_o = s.k_h = s.k_l = s.k_c = mid_e8(s);
    s.next_kline_ms = cfg_.start_time_ms + 2000;
    syms_.push_back(std::move(s));
  }
}

std::int64_t SyntheticMarket::round_tick(const Sym& s, double price) const noexcept {
  const auto ticks = std::max<std::int64_t>(1, std::llround(price * 1e8 / static_cast<double>(s.tick_e8)));
  return ticks * s.tick_e8;
}
std::int64_t SyntheticMarket::mid_e8(const Sym& s) const noexcept { return round_tick(s, std::exp(s.log_mid)); }

std::int64_t SyntheticMarket::qty_e8(Sym& s) {
  // Lognormal size, rounded to the symbol's quantity step.
  const double notional = 50.0 * std::exp(1.2 * rng_.normal());  // quote currency
  const double q = notional / std::exp(s.log_mid);
  const double step = std::pow(10.0, -s.qty_decimals);
  const double r = std::max(step, std::round(q / step) * step);
  return std::llround(r * 1e8);
}

void SyntheticMarket::advance_time() {
  const double share = std::clamp(cfg_.burst_share, 0.01, 0.99);
  if (cfg_.bursty) {
    // Two-state Markov: mean burst 0.5 s, calm period sized to give `share`.
    const double leave = bursting_ ? 2.0 : 2.0 * share / (1.0 - share);
    if (rng_.uniform() < std::min(1.0, leave * 0.001)) bursting_ = !bursting_;
  }
  const double rate = cfg_.rate_per_s * (cfg_.bursty && bursting_ ? cfg_.burst_factor : 1.0);
  const double dt_s = rng_.exponential(rate);
  now_us_ += std::max<std::int64_t>(1, std::llround(dt_s * 1e6));
}

void SyntheticMarket::evolve(Sym& s, double dt_s) {
  if (rng_.uniform() < cfg_.regime_switch_per_hour * dt_s / 3600.0) s.stressed = !s.stressed;
  const double vol = s.stressed ? cfg_.stressed_vol_annual : cfg_.calm_vol_annual;
  s.log_mid += vol * std::sqrt(dt_s / kSecondsPerYear) * rng_.normal();
  if (rng_.uniform() < cfg_.jumps_per_hour * dt_s / 3600.0) s.log_mid += cfg_.jump_sigma * rng_.normal();
}

void SyntheticMarket::roll_kline(Sym& s, std::int64_t open_ms) {
  s.k_open_ms = open_ms;
  s.k_first = s.k_last = -1;
  s.k_n = 0;
  s.k_o = s.k_h = s.k_l = s.k_c;
  s.k_v = s.k_q = s.k_V = s.k_Q = 0;
}

void SyntheticMarket::fill(Sym& s, std::int64_t price_e8, std::int64_t qty, bool buyer_maker, std::int64_t) {
  if (s.k_first < 0) s.k_first = s.trade_id;
  s.k_last = s.trade_id;
  ++s.k_n;
  if (s.k_n == 1) s.k_o = s.k_h = s.k_l = price_e8;
  s.k_h = std::max(s.k_h, price_e8);
  s.k_l = std::min(s.k_l, price_e8);
  s.k_c = price_e8;
  const double q = static_cast<double>(qty) / 1e8;
  const double quote = q * static_cast<double>(price_e8) / 1e8;
  s.k_v += q;
  s.k_q += quote;
  if (!buyer_maker) {
    s.k_V += q;
    s.k_Q += quote;
  }
}

void SyntheticMarket::emit_trade(Sym& s, std::string& out) {
  const bool buyer_maker = rng_.uniform() < 0.5;
  const std::int64_t mid = mid_e8(s);
  const std::int64_t px = buyer_maker ? mid - s.tick_e8 : mid + s.tick_e8;
  const std::int64_t q = qty_e8(s);
  const std::int64_t ms = now_ms();
  ++s.trade_id;
  fill(s, px, q, buyer_maker, ms);
  out += fmt::format(R"({{"stream":"{}@trade","data":{{"e":"trade","E":{},"s":"{}","t":{},"p":")", s.lower, ms, s.name,
                     s.trade_id);
  dec(out, px);
  out += R"(","q":")";
  dec(out, q);
  out += fmt::format(R"(","T":{},"m":{},"M":true}}}})", ms - 1, buyer_maker ? "true" : "false");
}

void SyntheticMarket::emit_agg_trade(Sym& s, std::string& out) {
  const bool buyer_maker = rng_.uniform() < 0.5;
  const std::int64_t mid = mid_e8(s);
  const std::int64_t px = buyer_maker ? mid - s.tick_e8 : mid + s.tick_e8;
  const int fills = 1 + static_cast<int>(rng_.uniform() * 3);
  std::int64_t q = 0;
  const std::int64_t first = s.trade_id + 1;
  const std::int64_t ms = now_ms();
  for (int i = 0; i < fills; ++i) {
    const std::int64_t qi = qty_e8(s);
    ++s.trade_id;
    fill(s, px, qi, buyer_maker, ms);
    q += qi;
  }
  ++s.agg_id;
  out += fmt::format(R"({{"stream":"{}@aggTrade","data":{{"e":"aggTrade","E":{},"s":"{}","a":{},"p":")", s.lower, ms,
                     s.name, s.agg_id);
  dec(out, px);
  out += R"(","q":")";
  dec(out, q);
  out += fmt::format(R"(","f":{},"l":{},"T":{},"m":{},"M":true}}}})", first, s.trade_id, ms - 1,
                     buyer_maker ? "true" : "false");
}

void SyntheticMarket::emit_book_ticker(Sym& s, std::string& out) {
  const std::int64_t mid = mid_e8(s);
  const std::int64_t half = s.tick_e8 * (1 + static_cast<std::int64_t>(rng_.uniform() * 2));
  out += fmt::format(R"({{"stream":"{}@bookTicker","data":{{"u":{},"s":"{}","b":")", s.lower, s.update_id, s.name);
  dec(out, mid - half);
  out += R"(","B":")";
  dec(out, qty_e8(s));
  out += R"(","a":")";
  dec(out, mid + half);
  out += R"(","A":")";
  dec(out, qty_e8(s));
  out += R"("}})";
}

void SyntheticMarket::emit_depth(Sym& s, std::string& out) {
  const std::int64_t first = s.update_id + 1;
  const int updates = 1 + static_cast<int>(rng_.uniform() * 8);
  s.update_id += updates;
  const std::int64_t mid = mid_e8(s);
  out += fmt::format(R"({{"stream":"{}@depth@100ms","data":{{"e":"depthUpdate","E":{},"s":"{}","U":{},"u":{},"b":[)",
                     s.lower, now_ms(), s.name, first, s.update_id);
  auto side = [&](int sign) {
    const int n = static_cast<int>(rng_.uniform() * 6);
    for (int i = 0; i < n; ++i) {
      if (i) out += ',';
      const std::int64_t px = mid + sign * s.tick_e8 * (1 + static_cast<std::int64_t>(rng_.uniform() * 50));
      out += "[\"";
      dec(out, px);
      out += "\",\"";
      dec(out, rng_.uniform() < 0.3 ? 0 : qty_e8(s));
      out += "\"]";
    }
  };
  side(-1);
  out += R"(],"a":[)";
  side(+1);
  out += "]}}";
}

void SyntheticMarket::emit_kline(Sym& s, bool closed, std::int64_t event_ms, std::string& out) {
  out += fmt::format(R"({{"stream":"{}@kline_1m","data":{{"e":"kline","E":{},"s":"{}","k":{{"t":{},"T":{},"s":"{}",)",
                     s.lower, event_ms, s.name, s.k_open_ms, s.k_open_ms + kMinuteMs - 1, s.name);
  out += fmt::format(R"("i":"1m","f":{},"L":{},"o":")", s.k_first, s.k_last);
  dec(out, s.k_o);
  out += R"(","c":")";
  dec(out, s.k_c);
  out += R"(","h":")";
  dec(out, s.k_h);
  out += R"(","l":")";
  dec(out, s.k_l);
  out += R"(","v":")";
  dec(out, std::llround(s.k_v * 1e8));
  out += fmt::format(R"(","n":{},"x":{},"q":")", s.k_n, closed ? "true" : "false");
  dec(out, std::llround(s.k_q * 1e8));
  out += R"(","V":")";
  dec(out, std::llround(s.k_V * 1e8));
  out += R"(","Q":")";
  dec(out, std::llround(s.k_Q * 1e8));
  out += R"(","B":"0"}}})";
}

void SyntheticMarket::next(std::string& out) {
  if (!pending_.empty()) {
    out += pending_.back();
    pending_.pop_back();
    return;
  }
  const std::int64_t before_us = now_us_;
  advance_time();
  const double dt_s = static_cast<double>(now_us_ - before_us) * 1e-6;
  for (auto& s : syms_) evolve(s, dt_s);
  const std::int64_t ms = now_ms();

  // Minute boundaries: close every symbol's kline (x:true) before anything
  // of the new minute, as Binance does.
  for (auto& s : syms_) {
    while (ms >= s.k_open_ms + kMinuteMs) {
      std::string f;
      emit_kline(s, true, s.k_open_ms + kMinuteMs, f);
      pending_.insert(pending_.begin(), std::move(f));
      roll_kline(s, s.k_open_ms + kMinuteMs);
    }
  }
  for (auto& s : syms_) {
    if (ms >= s.next_kline_ms) {
      std::string f;
      emit_kline(s, false, ms, f);
      pending_.insert(pending_.begin(), std::move(f));
      s.next_kline_ms = ms + 2000;
    }
  }
  if (!pending_.empty()) {
    // Closes first, then the regular frame of this instant.
    std::string f;
    Sym& s = syms_[static_cast<std::size_t>(rng_.uniform() * static_cast<double>(syms_.size()))];
    emit_trade(s, f);
    pending_.insert(pending_.begin(), std::move(f));
    out += pending_.back();
    pending_.pop_back();
    return;
  }
  Sym& s = syms_[static_cast<std::size_t>(rng_.uniform() * static_cast<double>(syms_.size()))];
  const double total = cfg_.w_trade + cfg_.w_agg_trade + cfg_.w_book_ticker + cfg_.w_depth;
  double x = rng_.uniform() * total;
  if ((x -= cfg_.w_trade) < 0) emit_trade(s, out);
  else if ((x -= cfg_.w_agg_trade) < 0) emit_agg_trade(s, out);
  else if ((x -= cfg_.w_book_ticker) < 0) emit_book_ticker(s, out);
  else emit_depth(s, out);
}

FrameSet SyntheticMarket::render(std::size_t n) {
  FrameSet fs;
  std::string f;
  for (std::size_t i = 0; i < n; ++i) {
    f.clear();
    next(f);
    fs.append(f);
  }
  fs.finish();
  return fs;
}

}  // namespace tickpath::feed
