// `tickpath train`: PPO over a kline CSV in the trading environment, writing
// the model the engine serves and a CSV log of every iteration.
#pragma once

#include <cstdint>
#include <string>

namespace tickpath::engine {

struct TrainOptions {
  std::string klines, from, to, out, log;  // log: default OUT with ".log.csv" appended
  std::uint64_t steps = 200'000;           // environment steps in all (rounded up to whole rollouts)
  std::uint64_t seed = 1;
  unsigned threads = 1;                    // 0: every core
  unsigned envs = 4;
  std::string reward = "dsr";              // dsr | return
  double fee_bps = 10, slippage_bps = 1;
  std::size_t episode_bars = 1440;
  std::size_t n_steps = 2048, batch_size = 64;
  int epochs = 10;
  double learning_rate = 3e-4, ent_coef = 0.0;
  bool allow_short = false;
  bool quiet = false;
};

// Returns the process exit status; set-up errors print one line.
int run_train(const TrainOptions& o);

}  // namespace tickpath::engine
