// `tickpath stress`: ramps the exchange simulator's rate against the live
// feed on loopback and reports, per step, whether every frame arrived and
// the engine kept up, with the per-stage histograms (wire included), then
// the highest rate sustained with zero loss.
#pragma once

#include <string>
#include <vector>

namespace tickpath::engine {

struct StressOptions {
  std::vector<double> rates{5'000, 10'000, 20'000, 50'000, 100'000, 200'000};
  double step_s = 3;
  bool tls = true;
  std::vector<std::string> symbols{"BTCUSDT", "ETHUSDT"};
  std::string model;  // optional policy: adds the policy and signal stages
  int feed_cpu = -1, strategy_cpu = -1;
  bool inline_strategy = false;  // one hot thread (PipelineConfig::inline_strategy)
  double max_drain_s = 1.0;  // after the last frame is sent, the engine must have it within this
  std::string report;        // JSON file
};

// Prints the table; returns the process exit status.
int run_stress(const StressOptions& opts);

}  // namespace tickpath::engine
