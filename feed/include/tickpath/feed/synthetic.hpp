// SyntheticMarket: a seeded, deterministic source of Binance Spot
// combined-stream frames for any number of symbols, for stress runs and
// demos without a network. Same seed and config, same bytes, on any host
// (its own RNG and normal sampler; nothing from <random>'s distributions).
//
// Model, per symbol: log-price follows a random walk whose volatility
// switches between a calm and a stressed regime (Markov, per second of event
// time) plus Poisson jumps; the spread is 1-3 ticks around the mid. Event
// time advances by exponential gaps at `rate_per_s`, or, when bursty, in
// bursts at `burst_factor` times that rate. Frames: trade, aggTrade,
// bookTicker, depth@100ms diffs with contiguous U/u, and kline_1m updates
// with an "x":true frame when each minute closes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tickpath/feed/frame_set.hpp"

namespace tickpath::feed {

struct SyntheticConfig {
  std::vector<std::string> symbols{"BTCUSDT", "ETHUSDT"};
  std::uint64_t seed = 42;
  double rate_per_s = 200.0;           // frames per second of event time, whole market
  bool bursty = false;
  double burst_factor = 20.0;
  double burst_share = 0.1;            // share of time spent bursting
  std::int64_t start_time_ms = 1'704'067'200'000;  // 2024-01-01T00:00:00Z
  double calm_vol_annual = 0.45;
  double stressed_vol_annual = 1.50;
  double regime_switch_per_hour = 2.0;
  double jumps_per_hour = 1.0;
  double jump_sigma = 0.01;
  // Mix of frame kinds (relative weights). Kline updates also come every 2 s
  // of event time per symbol, as Binance sends them.
  double w_trade = 4, w_agg_trade = 2, w_book_ticker = 3, w_depth = 1;
};

class SyntheticMarket {
 public:
  explicit SyntheticMarket(SyntheticConfig cfg);

  // Appends the next frame (no newline) to `out`.
  void next(std::string& out);
  // Renders `n` frames into a FrameSet.
  FrameSet render(std::size_t n);

  [[nodiscard]] std::int64_t now_ms() const noexcept { return now_us_ / 1000; }
  [[nodiscard]] const SyntheticConfig& config() const noexcept { return cfg_; }

  // Deterministic generator (xoshiro256**), exposed for tests.
  class Rng {
   public:
    explicit Rng(std::uint64_t seed) noexcept;
    std::uint64_t next() noexcept;
    double uniform() noexcept;  // [0, 1)
    double normal() noexcept;   // Box-Muller, no cached spare
    double exponential(double rate) noexcept;
   private:
    std::uint64_t s_[4];
  };

 private:
  struct Sym {
    std::string name, lower;
    double log_mid = 0;
    std::int64_t tick_e8 = 1;  // price tick x 1e8
    int qty_decimals = 5;
    bool stressed = false;
    std::int64_t trade_id = 1'000'000, agg_id = 500'000, update_id = 10'000'000;
    // forming kline
    std::int64_t k_open_ms = 0, k_first = -1, k_last = -1, k_n = 0;
    std::int64_t k_o = 0, k_h = 0, k_l = 0, k_c = 0;
    double k_v = 0, k_q = 0, k_V = 0, k_Q = 0;
    std::int64_t next_kline_ms = 0;
  };
  std::int64_t mid_e8(const Sym& s) const noexcept;
  std::int64_t round_tick(const Sym& s, double price) const noexcept;
  std::int64_t qty_e8(Sym& s);
  void advance_time();
  void evolve(Sym& s, double dt_s);
  void fill(Sym& s, std::int64_t price_e8, std::int64_t qty, bool buyer_maker, std::int64_t time_ms);
  void emit_trade(Sym& s, std::string& out);
  void emit_agg_trade(Sym& s, std::string& out);
  void emit_book_ticker(Sym& s, std::string& out);
  void emit_depth(Sym& s, std::string& out);
  void emit_kline(Sym& s, bool closed, std::int64_t event_ms, std::string& out);
  void roll_kline(Sym& s, std::int64_t open_ms);

  SyntheticConfig cfg_;
  Rng rng_;
  std::vector<Sym> syms_;
  std::int64_t now_us_ = 0;
  bool bursting_ = false;
  std::vector<std::string> pending_;  // frames due before the next random one (kline closes)
};

}  // namespace tickpath::feed
