// Training pieces against independent references: the actor-critic's
// backward pass against central finite differences of its own loss, its
// forward pass against the serving Policy, the environment against
// run_backtest and a direct recomputation of its rewards.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "support/test_data.hpp"
#include "tickpath/strategy/actor_critic.hpp"
#include "tickpath/strategy/backtest.hpp"
#include "tickpath/strategy/kline_csv.hpp"
#include "tickpath/strategy/policy.hpp"
#include "tickpath/strategy/trading_env.hpp"

using namespace tickpath::strategy;

namespace {

struct RandomBatch {
  std::vector<double> obs, old_logp, adv, ret;
  std::vector<std::uint8_t> act;
  PpoMinibatch<double> mb() const {
    return {obs.data(), act.data(), old_logp.data(), adv.data(), ret.data(), act.size()};
  }
};

// Old log-probabilities spread around the current ones, so some ratios fall
// outside the clip range on either side and some inside.
RandomBatch random_batch(const ActorCritic<double>& net, std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0.0, 1.0);
  RandomBatch b;
  b.obs.resize(n * net.n_obs());
  for (auto& x : b.obs) x = g(rng);
  b.act.resize(n);
  for (auto& a : b.act) a = static_cast<std::uint8_t>(rng() % net.n_actions());
  b.adv.resize(n);
  b.ret.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    b.adv[i] = g(rng);
    b.ret[i] = g(rng);
  }
  typename ActorCritic<double>::Workspace ws;
  b.old_logp.resize(n);
  net.evaluate(b.obs.data(), n, b.act.data(), b.old_logp.data(), nullptr, ws);
  for (auto& lp : b.old_logp) lp += 0.3 * g(rng);
  return b;
}

}  // namespace

TEST(ActorCritic_Backward, EveryParameterAgreesWithCentralFiniteDifferences) {
  // Larger weights than SB3's init so every unit is off the linear part of tanh.
  PolicyModel m = PolicyModel::init_orthogonal(11, 13, 16, 12, 3);
  for (auto* l : {&m.pi1, &m.pi2, &m.vf1, &m.vf2, &m.action, &m.value}) {
    std::mt19937 rng(static_cast<unsigned>(l->w.size()));
    std::uniform_real_distribution<float> u(-0.3f, 0.3f);
    for (auto& b : l->b) b = u(rng);
    for (auto& w : l->w) w *= 3.0f;
  }
  ActorCritic<double> net(m);
  const RandomBatch b = random_batch(net, 24, 5);
  PpoCoefficients c;
  c.ent_coef = 0.05;  // SB3's default is 0; on here so its gradient is checked too
  typename ActorCritic<double>::Workspace ws;
  std::vector<double> grad(net.size());
  const PpoLossTerms t = net.loss_and_grad(b.mb(), c, grad.data(), ws);
  EXPECT_GT(t.clip_fraction, 0.1);
  EXPECT_LT(t.clip_fraction, 0.9);
  EXPECT_GT(t.entropy, 0.0);

  const double h = 1e-6;
  double worst = 0;
  for (std::size_t i = 0; i < net.size(); ++i) {
    const double keep = net.params()[i];
    net.params()[i] = keep + h;
    const double up = net.loss(b.mb(), c, ws).loss;
    net.params()[i] = keep - h;
    const double down = net.loss(b.mb(), c, ws).loss;
    net.params()[i] = keep;
    const double fd = (up - down) / (2 * h);
    const double err = std::abs(fd - grad[i]) / std::max(1e-3, std::abs(fd) + std::abs(grad[i]));
    worst = std::max(worst, err);
    EXPECT_LT(err, 1e-5) << "parameter " << i << ": analytic " << grad[i] << ", finite difference " << fd;
  }
  RecordProperty("worst_relative_error", std::to_string(worst));
}

TEST(ActorCritic_Gemm, RegisterBlockedProductEqualsTheTripleLoopForEveryShapeAndLayout) {
  // Shapes around the tile edges (4 rows; 16-float and 8-double vectors,
  // blocks of 4 of them) and the network's own; A plain and transposed;
  // C overwritten and accumulated. Reference: the textbook triple loop in
  // long double.
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  const std::size_t sizes[] = {1, 3, 4, 5, 7, 8, 13, 16, 17, 31, 64, 65, 67};
  int cases = 0;
  for (std::size_t M : sizes)
    for (std::size_t N : sizes)
      for (std::size_t K : {1UL, 13UL, 64UL}) {
        if ((M * N * K) % 3 != 0 && M != 64) continue;  // a third of the grid, all of the network's rows
        for (int layout = 0; layout < 4; ++layout) {
          const bool a_trans = (layout & 1) != 0, accumulate = (layout & 2) != 0;
          std::vector<float> A(M * K), B(K * N), C(M * N), C0(M * N);
          for (auto& v : A) v = static_cast<float>(u(rng));
          for (auto& v : B) v = static_cast<float>(u(rng));
          for (auto& v : C0) v = static_cast<float>(u(rng));
          C = C0;
          const std::size_t a_rs = a_trans ? 1 : K, a_cs = a_trans ? M : 1;
          train_gemm(M, N, K, A.data(), a_rs, a_cs, B.data(), N, C.data(), N, accumulate);
          std::vector<double> Cd(C0.begin(), C0.end()), Ad(A.begin(), A.end()), Bd(B.begin(), B.end());
          std::vector<double> Cdd = Cd;
          train_gemm(M, N, K, Ad.data(), a_rs, a_cs, Bd.data(), N, Cdd.data(), N, accumulate);
          for (std::size_t m = 0; m < M; ++m)
            for (std::size_t j = 0; j < N; ++j) {
              long double ref = accumulate ? C0[m * N + j] : 0.0L;
              for (std::size_t k = 0; k < K; ++k)
                ref += static_cast<long double>(A[m * a_rs + k * a_cs]) * B[k * N + j];
              ASSERT_NEAR(C[m * N + j], static_cast<double>(ref), 2e-6 * static_cast<double>(K + 1))
                  << "float M=" << M << " N=" << N << " K=" << K << " layout " << layout << " at " << m << "," << j;
              ASSERT_NEAR(Cdd[m * N + j], static_cast<double>(ref), 1e-13 * static_cast<double>(K + 1))
                  << "double M=" << M << " N=" << N << " K=" << K << " layout " << layout;
            }
          ++cases;
        }
      }
  EXPECT_GT(cases, 400);
}

TEST(ActorCritic_Tanh, TrainingTanhWithin3e7OfStdTanhEverywhere) {
  double worst = 0, at = 0;
  auto check = [&](float x) {
    const double e = std::abs(double(tanh_train(x)) - std::tanh(double(x)));
    if (e > worst) worst = e, at = x;
  };
  for (int i = -2'000'000; i <= 2'000'000; ++i) check(static_cast<float>(i) * 6e-6f);  // [-12, 12]
  for (float x = 1e-30f; x < 1e3f; x *= 1.001f) check(x), check(-x);                // every scale
  EXPECT_LT(worst, 3e-7) << "at x = " << at;
  EXPECT_EQ(tanh_train(0.0f), 0.0f);
  EXPECT_EQ(tanh_train(1e30f), 1.0f);
  EXPECT_EQ(tanh_train(-1e30f), -1.0f);
}

TEST(ActorCritic_Forward, MatchesTheServingPolicyAndTheModelRoundTrips) {
  const PolicyModel m = PolicyModel::init_orthogonal(21);
  std::string err;
  auto policy = Policy::create(m, PolicyBackend::scalar, err);
  ASSERT_TRUE(policy) << err;
  ActorCritic<double> net(m);
  std::mt19937_64 rng(3);
  std::normal_distribution<double> g(0.0, 2.0);
  typename ActorCritic<double>::Workspace ws;
  for (int k = 0; k < 50; ++k) {
    std::array<float, 13> obs{};
    std::array<double, 13> x{};
    for (int i = 0; i < 13; ++i) x[i] = obs[i] = static_cast<float>(g(rng));
    PolicyOutput po;
    ASSERT_TRUE(policy->forward(obs.data(), po));
    net.forward(x.data(), 1, ws);
    EXPECT_NEAR(ws.value[0], po.value, 1e-5);
    for (int a = 0; a < 3; ++a) EXPECT_NEAR(std::exp(ws.logp[a]), po.probs[a], 1e-5);
  }
  PolicyModel back = m;
  for (auto& w : back.pi2.w) w = 0;
  net.to_model(back);
  EXPECT_EQ(back.pi2.w, m.pi2.w);
  EXPECT_EQ(back.value.b, m.value.b);
}

TEST(TradingEnv_RealKlines, FollowingAPolicyEndsWhereTheBacktestOfThatPolicyEnds) {
  const auto l = load_kline_csv(tickpath::test::data_file("klines/camfeghali_BTCUSDT_1m_2025-08-01_2025-08-11_spot.csv"));
  ASSERT_TRUE(l.error.empty()) << l.error;
  std::string err;
  auto policy = Policy::create(PolicyModel::init_orthogonal(3), PolicyBackend::scalar, err);
  ASSERT_TRUE(policy) << err;
  EnvConfig cfg;
  cfg.episode_bars = 3000;
  cfg.warmup_bars = 200;
  TradingEnv env(l.bars, 0, l.bars.size(), cfg, 1);
  const std::size_t start = 5000;
  Observation obs;
  env.reset_at(start, obs);
  std::size_t steps = 0, trades = 0;
  for (bool done = false; !done; ++steps) {
    PolicyOutput po;
    ASSERT_TRUE(policy->forward(obs.data(), po));
    const EnvStep s = env.step(po.action, obs);
    done = s.done;
  }
  trades = env.portfolio().metrics().fills;
  EXPECT_EQ(steps, cfg.episode_bars);
  EXPECT_GT(trades, 2U);

  // The same bars through run_backtest: indicators from the same first bar,
  // trading from the episode's start to its last bar.
  std::vector<Bar> slice(l.bars.begin() + static_cast<long>(start - cfg.warmup_bars),
                         l.bars.begin() + static_cast<long>(start + cfg.episode_bars + 1));
  BacktestConfig bc;
  bc.from_ms = l.bars[start].open_time_ms;
  const auto r = run_backtest(slice, policy.get(), bc);
  ASSERT_EQ(r.strategies[0].name, "policy");
  EXPECT_NEAR(r.strategies[0].metrics.equity, env.portfolio().metrics().equity, 1e-9);
  EXPECT_EQ(r.strategies[0].metrics.fills, trades);
}

TEST(TradingEnv_Rewards, DifferentialSharpeAndPlainReturnFromTheirDefinitions) {
  const auto l = load_kline_csv(tickpath::test::data_file("klines/benicio1007_BTCUSDT_1m_2023-01-01_2023-01-28_spot_ohlcv.csv"));
  ASSERT_TRUE(l.error.empty()) << l.error;
  EnvConfig cfg;
  cfg.episode_bars = 1500;
  cfg.slippage_bps = 1.0;
  EnvConfig plain = cfg;
  plain.reward = RewardKind::plain_return;
  plain.reward_scale = 100.0;
  TradingEnv dsr_env(l.bars, 0, l.bars.size(), cfg, 9), ret_env(l.bars, 0, l.bars.size(), plain, 9);
  Observation o1, o2;
  const std::size_t start = 1000;
  dsr_env.reset_at(start, o1);
  ret_env.reset_at(start, o2);
  EXPECT_EQ(o1, o2);
  // Reference moments: A from 0, B from the warm-up's mean squared return.
  double a = 0, b = 0;
  for (std::size_t i = start - cfg.warmup_bars + 1; i <= start; ++i) {
    const double r = l.bars[i].close / l.bars[i - 1].close - 1.0;
    b += r * r;
  }
  b /= static_cast<double>(cfg.warmup_bars);
  const double floor = 0.01 * b;
  std::mt19937 rng(4);
  double prev_equity = 10'000.0;
  bool floored = false;
  for (int k = 0; k < 1500; ++k) {
    // random trading, then a long flat spell (SELL = flat) that lets B - A^2
    // decay under the floor, then trading again
    const auto act = k >= 300 && k < 1100 ? std::uint8_t{2} : static_cast<std::uint8_t>(rng() % 3);
    floored = floored || b - a * a < floor;
    const EnvStep s = dsr_env.step(act, o1);
    const EnvStep p = ret_env.step(act, o2);
    const double r = s.equity / prev_equity - 1.0;
    prev_equity = s.equity;
    EXPECT_NEAR(s.bar_return, r, 1e-15);
    EXPECT_NEAR(p.reward, 100.0 * r, 1e-12);
    const double want = (b * (r - a) - 0.5 * a * (r * r - b)) / std::pow(std::max(b - a * a, floor), 1.5);
    EXPECT_NEAR(s.reward, want, 1e-9 * std::max(1.0, std::abs(want)));
    a += cfg.dsr_eta * (r - a);
    b += cfg.dsr_eta * (r * r - b);
    EXPECT_LT(std::abs(s.reward), 50.0) << "step " << k;
    ASSERT_EQ(s.done, k == 1499);
  }
  EXPECT_TRUE(floored);
  // Fees and slippage were paid: a random walk of trades loses money on flat bars.
  EXPECT_GT(dsr_env.portfolio().metrics().fees, 0.0);
}
