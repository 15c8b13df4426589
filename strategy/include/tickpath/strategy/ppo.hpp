// PPO as Stable-Baselines3 runs it (clipped surrogate, GAE, minibatch Adam
// epochs, advantage normalisation per minibatch, global gradient-norm clip,
// running observation normalisation as VecNormalize keeps it), training the
// serving network itself: model() is a PolicyModel the engine loads as is.
//
// Parallelism (Intel TBB): environments roll out concurrently, each with its
// own seeded generator; each minibatch's gradient is summed over fixed row
// chunks in a fixed order. The result is the same for a given seed and thread
// count (the chunking depends on the thread count, float sums on the
// chunking).
//
// One deliberate difference from VecNormalize: the observation statistics
// are updated once per rollout (with every raw observation of it, in
// environment-then-step order) rather than at every step, so environments
// can roll out independently; a rollout is normalised with the statistics
// as they stood when it began.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "tickpath/strategy/actor_critic.hpp"
#include "tickpath/strategy/policy_model.hpp"

namespace tickpath::strategy {

// What the trainer steps. `done` ends an episode; `truncated` says it ended
// by a time limit rather than a terminal state, so its last reward is
// bootstrapped with the value of the state it stopped in (as SB3 does).
class Environment {
 public:
  struct Step {
    double reward = 0;
    bool done = false;
    bool truncated = false;
  };
  virtual ~Environment() = default;
  [[nodiscard]] virtual std::uint32_t n_obs() const = 0;
  [[nodiscard]] virtual std::uint32_t n_actions() const = 0;
  virtual void reset(float* obs) = 0;
  virtual Step step(std::uint8_t action, float* obs) = 0;
};

struct PpoConfig {
  std::size_t n_steps = 2048;  // per environment and rollout
  std::size_t batch_size = 64;
  int n_epochs = 10;
  double gamma = 0.99, gae_lambda = 0.95;
  PpoCoefficients coef{};  // clip 0.2, entropy 0.0, value 0.5
  double learning_rate = 3e-4, adam_beta1 = 0.9, adam_beta2 = 0.999, adam_eps = 1e-5;
  double max_grad_norm = 0.5;
  bool normalize_advantage = true;
  bool normalize_obs = true;
  float clip_obs = 10.0f, obs_epsilon = 1e-8f;
  std::uint64_t seed = 1;
  unsigned threads = 1;  // 0: all the machine's
};

struct PpoIterationStats {
  std::uint64_t total_steps = 0, episodes = 0, updates = 0;
  double mean_episode_reward = 0;  // over episodes finished in this rollout (NaN if none)
  double policy_loss = 0, value_loss = 0, entropy = 0, approx_kl = 0, clip_fraction = 0;
  double explained_variance = 0;
  double rollout_seconds = 0, update_seconds = 0;
};

class PpoTrainer {
 public:
  // The network starts from `initial` (SB3's orthogonal initialisation from
  // PolicyModel::init_orthogonal, or a model to fine-tune).
  PpoTrainer(std::vector<std::unique_ptr<Environment>> envs, const PolicyModel& initial, const PpoConfig& cfg);
  ~PpoTrainer();

  // One rollout of n_steps per environment, then n_epochs of minibatch updates.
  PpoIterationStats iterate();

  // The serving model: trained weights and the observation statistics.
  [[nodiscard]] PolicyModel model() const;
  [[nodiscard]] std::size_t environments() const noexcept { return envs_.size(); }
  [[nodiscard]] unsigned threads() const noexcept { return threads_; }

 private:
  struct Impl;
  std::vector<std::unique_ptr<Environment>> envs_;
  PpoConfig cfg_;
  unsigned threads_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tickpath::strategy
