// SignalDecider: turns the policy's output into the action a signal carries.
// Deterministic argmax by default; seeded sampling from the probabilities as
// an option; a minimum confidence below which BUY/SELL become HOLD; and a
// per-symbol cool-down (event time) after each BUY/SELL. Fixed memory,
// no allocation after construction; time is an argument.
#pragma once

#include <cstdint>
#include <memory>

#include "tickpath/infra/signal.hpp"
#include "tickpath/strategy/policy.hpp"

namespace tickpath::strategy {

struct SignalOptions {
  bool sample = false;
  std::uint64_t seed = 1;
  float min_confidence = 0.0f;
  std::int64_t cooldown_ms = 0;
};

struct Decision {
  infra::SignalAction action = infra::SignalAction::hold;
  infra::SignalReason reason = infra::SignalReason::policy;
  float confidence = 0.0f;  // probability of the action taken
};

class SignalDecider {
 public:
  SignalDecider(const SignalOptions& opt, std::size_t symbols)
      : opt_(opt), last_trade_ms_(std::make_unique<std::int64_t[]>(symbols)), symbols_(symbols), rng_(opt.seed) {
    for (std::size_t i = 0; i < symbols; ++i) last_trade_ms_[i] = INT64_MIN;
  }

  Decision decide(const PolicyOutput& out, std::uint32_t n_actions, std::size_t symbol, std::int64_t time_ms) noexcept {
    Decision d;
    std::uint32_t a = out.action;
    if (opt_.sample) {
      // Inverse CDF on one uniform draw (splitmix64: small and seedable).
      const double u = static_cast<double>(next() >> 11) * 0x1.0p-53;
      double c = 0;
      a = n_actions - 1;
      for (std::uint32_t i = 0; i < n_actions; ++i) {
        c += out.probs[i];
        if (u < c) {
          a = i;
          break;
        }
      }
    }
    d.action = static_cast<infra::SignalAction>(a > 2 ? 0 : a);
    d.confidence = out.probs[a];
    if (d.action == infra::SignalAction::hold) return d;
    if (d.confidence < opt_.min_confidence) {
      d.action = infra::SignalAction::hold;
      d.reason = infra::SignalReason::low_confidence;
      d.confidence = out.probs[0];
      return d;
    }
    if (symbol < symbols_ && opt_.cooldown_ms > 0) {
      std::int64_t& last = last_trade_ms_[symbol];
      if (last != INT64_MIN && time_ms - last < opt_.cooldown_ms) {
        d.action = infra::SignalAction::hold;
        d.reason = infra::SignalReason::cooldown;
        d.confidence = out.probs[0];
        return d;
      }
      last = time_ms;
    }
    return d;
  }

 private:
  std::uint64_t next() noexcept {
    std::uint64_t z = (rng_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  SignalOptions opt_;
  std::unique_ptr<std::int64_t[]> last_trade_ms_;
  std::size_t symbols_;
  std::uint64_t rng_;
};

}  // namespace tickpath::strategy
