// Policy: the PPO policy's forward pass on the hot path. Raw observation in
// (VecNormalize applied from the model's frozen statistics), action
// probabilities, the chosen action, its confidence and the value estimate
// out. Back-ends: a scalar reference in double precision, hand-vectorized
// AVX2+FMA and AVX-512 kernels (weights pre-packed at construction), picked
// by CPU at run time unless asked for by name.
//
// Contract: construction allocates and packs; forward() never allocates,
// locks or throws. An observation with a NaN or infinite value never reaches
// the network: forward() returns false, counts it, and the output is HOLD
// (action 0) with confidence 0. One Policy per thread (it owns scratch).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tickpath/strategy/policy_model.hpp"

namespace tickpath::strategy {

enum class PolicyBackend : std::uint8_t { scalar, avx2, avx512 };
const char* to_string(PolicyBackend b) noexcept;
// "scalar", "avx2", "avx512" or "auto" (the best this CPU runs); false if unknown.
bool parse_policy_backend(const std::string& name, PolicyBackend& out) noexcept;
bool cpu_supports(PolicyBackend b) noexcept;
PolicyBackend best_policy_backend() noexcept;

struct PolicyOutput {
  std::array<float, kMaxActions> probs{};
  float value = 0.0f;  // the critic's estimate; NaN when the policy runs without it
  std::uint8_t action = 0;  // 0 HOLD, 1 BUY, 2 SELL in the trading layout
  float confidence = 0.0f;  // probs[action]
};

class Policy {
 public:
  // Fails (returns nullptr, sets error) when the CPU lacks the back-end.
  // critic = false: the actor alone. The value network is neither packed
  // nor run (Stable-Baselines3's predict() does not run it either), the pass
  // does about half the work and PolicyOutput::value is NaN.
  static std::unique_ptr<Policy> create(const PolicyModel& model, PolicyBackend backend, std::string& error,
                                        bool critic = true);
  ~Policy();
  Policy(const Policy&) = delete;
  Policy& operator=(const Policy&) = delete;

  [[nodiscard]] bool forward(const float* raw_obs, PolicyOutput& out) noexcept;

  // For a thread that waits between passes: prefetches (for reading, into
  // L1) the next `lines` cache lines of what forward() reads, from line
  // `cursor` on, wrapping around; returns the next cursor. Called a few
  // lines at a time while idle, it keeps the weights in L1 when something
  // else on the core (another hardware thread, the host) would evict them
  // between passes. No load waits for its line. Scalar back-end: nothing.
  std::uint32_t prefetch(std::uint32_t cursor, std::uint32_t lines) const noexcept;
  // The cache lines one prefetch sweep covers (0 for the scalar back-end).
  [[nodiscard]] std::uint32_t prefetch_lines() const noexcept;

  [[nodiscard]] PolicyBackend backend() const noexcept { return backend_; }
  [[nodiscard]] bool critic() const noexcept { return critic_; }
  [[nodiscard]] std::uint32_t n_obs() const noexcept { return model_.n_obs; }
  [[nodiscard]] std::uint32_t n_actions() const noexcept { return model_.n_actions; }
  [[nodiscard]] std::uint64_t non_finite_inputs() const noexcept { return non_finite_; }
  [[nodiscard]] const PolicyModel& model() const noexcept { return model_; }

 private:
  Policy(const PolicyModel& model, PolicyBackend backend, bool critic);
  void forward_scalar(const double* x, double* logits, double& value) const noexcept;

  PolicyModel model_;
  PolicyBackend backend_;
  bool critic_;
  struct Packed;
  std::unique_ptr<Packed> packed_;
  std::uint64_t non_finite_ = 0;
};

// Set-up in one call: load the model file, check it (with `trading_layout`:
// 13 observations, 3 actions HOLD/BUY/SELL), pick the back-end by name.
// nullptr and one line in `error` on any failure.
std::unique_ptr<Policy> load_policy(const std::string& path, const std::string& backend, bool trading_layout,
                                    std::string& error, bool critic = true);

// Softmax of n logits into probs (max-subtracted, float); returns argmax.
std::uint8_t softmax_argmax(const float* logits, std::uint32_t n, float* probs) noexcept;

}  // namespace tickpath::strategy
