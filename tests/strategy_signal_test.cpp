#include <gtest/gtest.h>

#include "support/alloc_counter.hpp"
#include "tickpath/strategy/signal_decider.hpp"

using namespace tickpath::strategy;
using tickpath::infra::SignalAction;
using tickpath::infra::SignalReason;

namespace {
PolicyOutput output(float hold, float buy, float sell) {
  PolicyOutput o;
  o.probs[0] = hold, o.probs[1] = buy, o.probs[2] = sell;
  o.action = static_cast<std::uint8_t>(buy > hold && buy >= sell ? 1 : sell > hold && sell > buy ? 2 : 0);
  o.confidence = o.probs[o.action];
  return o;
}
}  // namespace

TEST(SignalDecider_Argmax, MinConfidenceAndCooldownHoldWithAReason) {
  SignalOptions opt;
  opt.min_confidence = 0.5f;
  opt.cooldown_ms = 60'000;
  SignalDecider d(opt, 2);
  auto r = d.decide(output(0.2f, 0.45f, 0.35f), 3, 0, 1000);
  EXPECT_EQ(r.action, SignalAction::hold);
  EXPECT_EQ(r.reason, SignalReason::low_confidence);
  r = d.decide(output(0.1f, 0.8f, 0.1f), 3, 0, 2000);
  EXPECT_EQ(r.action, SignalAction::buy);
  EXPECT_FLOAT_EQ(r.confidence, 0.8f);
  r = d.decide(output(0.1f, 0.1f, 0.8f), 3, 0, 30'000);  // inside the cool-down of symbol 0
  EXPECT_EQ(r.action, SignalAction::hold);
  EXPECT_EQ(r.reason, SignalReason::cooldown);
  r = d.decide(output(0.1f, 0.1f, 0.8f), 3, 1, 30'000);  // symbol 1 has its own
  EXPECT_EQ(r.action, SignalAction::sell);
  r = d.decide(output(0.1f, 0.1f, 0.8f), 3, 0, 62'000);  // cool-down over
  EXPECT_EQ(r.action, SignalAction::sell);
  r = d.decide(output(0.7f, 0.2f, 0.1f), 3, 0, 62'001);
  EXPECT_EQ(r.action, SignalAction::hold);
  EXPECT_EQ(r.reason, SignalReason::policy);
}

TEST(SignalDecider_Sampling, FrequenciesFollowTheProbabilitiesAndTheSeed) {
  SignalOptions opt;
  opt.sample = true;
  opt.seed = 77;
  SignalDecider a(opt, 1), b(opt, 1);
  const auto o = output(0.2f, 0.5f, 0.3f);
  int counts[3] = {0, 0, 0};
  const int n = 200'000;
  tickpath::test::AllocationScope scope;
  for (int i = 0; i < n; ++i) {
    const auto x = a.decide(o, 3, 0, i);
    ASSERT_EQ(x.action, b.decide(o, 3, 0, i).action);  // same seed, same draws
    ++counts[static_cast<int>(x.action)];
  }
  EXPECT_EQ(scope.count(), 0U);
  // Binomial standard deviations are ~0.001 here; allow 5 of them.
  EXPECT_NEAR(counts[0] / double(n), 0.2, 0.005);
  EXPECT_NEAR(counts[1] / double(n), 0.5, 0.005);
  EXPECT_NEAR(counts[2] / double(n), 0.3, 0.005);
}
