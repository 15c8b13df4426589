// PPO end to end: on an environment whose optimal policy is known it must
// find it; for a given seed and thread count it must repeat itself exactly;
// a time-limit end must be bootstrapped with the value of where it stopped.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include "tickpath/strategy/policy.hpp"
#include "tickpath/strategy/ppo.hpp"

using namespace tickpath::strategy;

namespace {

// A contextual bandit: observation 0 is +1 or -1 (observations 1-3 noise);
// BUY pays +1 when it is +1, SELL pays +1 when it is -1, the wrong one -1,
// HOLD 0. Every step ends its episode. Optimal: BUY on +1, SELL on -1.
class SignBandit final : public Environment {
 public:
  explicit SignBandit(std::uint64_t seed) : rng_(seed) {}
  std::uint32_t n_obs() const override { return 4; }
  std::uint32_t n_actions() const override { return 3; }
  void reset(float* obs) override { draw(obs); }
  Step step(std::uint8_t a, float* obs) override {
    double r = 0;
    if (a == 1) r = sign_ > 0 ? 1 : -1;
    if (a == 2) r = sign_ < 0 ? 1 : -1;
    draw(obs);
    return {r, true, false};
  }

 private:
  void draw(float* obs) {
    sign_ = (rng_() & 1) ? 1.0f : -1.0f;
    std::normal_distribution<float> g(0.0f, 1.0f);
    obs[0] = sign_ * 3.0f + 2.0f;  // off-centre and scaled, so normalisation has work to do
    for (int i = 1; i < 4; ++i) obs[i] = g(rng_);
  }
  std::mt19937_64 rng_;
  float sign_ = 1;
};

std::vector<std::unique_ptr<Environment>> bandits(int n, std::uint64_t seed) {
  std::vector<std::unique_ptr<Environment>> v;
  for (int i = 0; i < n; ++i) v.push_back(std::make_unique<SignBandit>(seed + static_cast<std::uint64_t>(i)));
  return v;
}

PpoConfig small_config(unsigned threads) {
  PpoConfig c;
  c.n_steps = 256;
  c.batch_size = 64;
  c.n_epochs = 4;
  c.learning_rate = 1e-3;
  c.threads = threads;
  c.seed = 7;
  return c;
}

}  // namespace

TEST(Ppo_KnownOptimum, LearnsTheSignBanditAndTheServingPolicyActsOnIt) {
  PpoTrainer t(bandits(4, 100), PolicyModel::init_orthogonal(5, 4, 32, 32, 3), small_config(2));
  PpoIterationStats s;
  for (int i = 0; i < 25; ++i) s = t.iterate();
  EXPECT_GT(s.mean_episode_reward, 0.9);  // sampled actions: near the optimum of 1
  // The exported model, through the engine's own policy and its frozen
  // normalisation, picks the optimal action greedily.
  const PolicyModel m = t.model();
  ASSERT_TRUE(m.has_normalisation);
  EXPECT_NEAR(m.obs_mean[0], 2.0f, 0.2f);
  std::string err;
  auto policy = Policy::create(m, PolicyBackend::scalar, err);
  ASSERT_TRUE(policy) << err;
  SignBandit env(999);
  std::array<float, 4> obs{};
  env.reset(obs.data());
  int right = 0;
  for (int k = 0; k < 1000; ++k) {
    PolicyOutput po;
    ASSERT_TRUE(policy->forward(obs.data(), po));
    const bool plus = obs[0] > 2.0f;
    right += (plus && po.action == 1) || (!plus && po.action == 2);
    env.step(po.action, obs.data());
  }
  EXPECT_GE(right, 990);
}

TEST(Ppo_Determinism, SameSeedAndThreadsGiveTheSameWeights) {
  auto run = [](unsigned threads) {
    PpoTrainer t(bandits(3, 1), PolicyModel::init_orthogonal(2, 4, 16, 16, 3), small_config(threads));
    t.iterate();
    t.iterate();
    return t.model();
  };
  const PolicyModel a = run(2), b = run(2), c = run(1);
  EXPECT_EQ(a.pi1.w, b.pi1.w);
  EXPECT_EQ(a.value.w, b.value.w);
  EXPECT_EQ(a.obs_mean, b.obs_mean);
  // One thread differs only by float summation order in the gradient.
  ASSERT_EQ(a.pi1.w.size(), c.pi1.w.size());
  double worst = 0;
  for (std::size_t i = 0; i < a.pi1.w.size(); ++i) worst = std::max(worst, std::abs(double(a.pi1.w[i]) - c.pi1.w[i]));
  EXPECT_LT(worst, 1e-3);
}

namespace {
// Constant reward 1 forever, cut by a time limit every 5 steps: with the
// cut bootstrapped, the value of every state tends to 1 / (1 - gamma) = 10;
// were the cut treated as terminal, it would fall from 4.1 at the first
// step to 1 at the last.
class ConstantReward final : public Environment {
 public:
  std::uint32_t n_obs() const override { return 2; }
  std::uint32_t n_actions() const override { return 2; }
  void reset(float* obs) override {
    t_ = 0;
    write(obs);
  }
  Step step(std::uint8_t, float* obs) override {
    ++t_;
    write(obs);
    return {1.0, t_ == 5, t_ == 5};
  }

 private:
  // The state a cut stops in looks like an episode's first: its value is
  // the same 1 / (1 - gamma) when bootstrapped.
  void write(float* obs) {
    obs[0] = static_cast<float>(t_ % 5) / 5.0f;
    obs[1] = 1.0f;
  }
  int t_ = 0;
};
}  // namespace

TEST(Ppo_TimeLimit, TruncatedEpisodesAreBootstrapped) {
  std::vector<std::unique_ptr<Environment>> v;
  v.push_back(std::make_unique<ConstantReward>());
  PpoConfig c = small_config(1);
  c.gamma = 0.9;  // value 10
  c.learning_rate = 3e-3;
  c.coef.vf_coef = 1.0;
  PpoTrainer t(std::move(v), PolicyModel::init_orthogonal(4, 2, 16, 16, 2), c);
  for (int i = 0; i < 60; ++i) t.iterate();
  std::string err;
  auto policy = Policy::create(t.model(), PolicyBackend::scalar, err);
  ASSERT_TRUE(policy) << err;
  for (int k = 0; k < 5; ++k) {
    const std::array<float, 2> obs{static_cast<float>(k) / 5.0f, 1.0f};
    PolicyOutput po;
    ASSERT_TRUE(policy->forward(obs.data(), po));
    EXPECT_NEAR(po.value, 10.0, 1.0) << "step " << k;
  }
}
