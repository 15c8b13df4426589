// ActorCritic: the serving network (PolicyModel's layout: separate policy
// and value networks obs -> h1 -> h2, an action head over the policy latent,
// a value head over the value latent) in a trainable form. All parameters
// live in one flat vector, so the optimiser and the gradient-norm clip see
// one array; the gradient has the same layout. Training only, never on the
// hot path: construction allocates, a Workspace is sized once per batch size
// and reused.
//
// The PPO objective of one minibatch, as Stable-Baselines3 computes it
// (B samples, r = exp(logp - logp_old), A the advantages, R the returns,
// H the entropy of the action distribution, eps the clip range):
//   policy_loss  = -mean( min(r A, clip(r, 1 - eps, 1 + eps) A) )
//   value_loss   =  mean( (R - v)^2 )
//   entropy_loss = -mean( H )
//   loss         = policy_loss + ent_coef * entropy_loss + vf_coef * value_loss
// loss_and_grad() returns the terms and writes d loss / d params; its
// backward pass is checked against central finite differences in the tests.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "tickpath/strategy/policy_model.hpp"

namespace tickpath::strategy {

// tanh for training in float, written so that a loop of it vectorises (no
// library call): exp(2|x|) from 2^n times a degree-6 polynomial of 2^f,
// then (e - 1) / (e + 1) with the sign put back. Absolute error below 3e-7
// over the whole float range (the tests sweep it against std::tanh); the
// backward pass uses the activation it produced, so they stay consistent.
inline float tanh_train(float x) noexcept {
  // No std::fmin or std::floor: without -ffast-math GCC keeps them as a
  // call and scalar code. A select (NaN -> 9, as fmin) and a truncation
  // (t >= 0, so it is the floor) vectorise where the translation unit has
  // -fno-trapping-math (actor_critic.cpp: it changes no value, only which
  // floating-point exception flags may be raised).
  const float a = std::fabs(x);
  const float ax = a <= 9.0f ? a : 9.0f;               // tanh(9) = 1 - 3e-8
  const float t = ax * 2.8853900817779268f;            // 2|x| log2(e)
  const std::int32_t ni = static_cast<std::int32_t>(t + 0.5f);  // round to nearest
  const float f = t - static_cast<float>(ni);          // [-0.5, 0.5]
  const float p =
      1.0f + f * (0.69314718f + f * (0.24022652f + f * (0.05550411f + f * (0.00961813f + f * (0.00133336f + f * 0.00015404f)))));
  const std::int32_t bits = (ni + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  const float e = p * scale;
  const float r = (e - 1.0f) / (e + 1.0f);
  return std::copysign(r, x);
}

// The matrix product training is made of, as ActorCritic runs it:
//   C[m][j] = (accumulate ? C[m][j] : 0) + sum_{k<K} A[m*a_rs + k*a_cs] * B[k*ldb + j]
// for m < M, j < N. A is addressed through two strides (a transposed
// operand is free), B and C by rows. Register-blocked (a tile of C stays in
// vector registers for the whole k loop), summation over k in order, fused
// multiply-adds. Exposed for the tests and the benchmarks.
void train_gemm(std::size_t M, std::size_t N, std::size_t K, const float* A, std::size_t a_rs, std::size_t a_cs,
                const float* B, std::size_t ldb, float* C, std::size_t ldc, bool accumulate) noexcept;
void train_gemm(std::size_t M, std::size_t N, std::size_t K, const double* A, std::size_t a_rs, std::size_t a_cs,
                const double* B, std::size_t ldb, double* C, std::size_t ldc, bool accumulate) noexcept;

struct PpoCoefficients {
  double clip_range = 0.2;
  double ent_coef = 0.0;
  double vf_coef = 0.5;
};

struct PpoLossTerms {
  double loss = 0, policy_loss = 0, value_loss = 0, entropy = 0;
  double approx_kl = 0;      // mean((r - 1) - log r), SB3's estimator
  double clip_fraction = 0;  // share of samples with |r - 1| > clip_range
};

// One minibatch, in arrays of `n` rows; observations already normalised.
template <typename T>
struct PpoMinibatch {
  const T* obs = nullptr;          // [n][n_obs]
  const std::uint8_t* actions = nullptr;
  const T* old_logp = nullptr;
  const T* advantages = nullptr;   // normalised by the caller when asked for
  const T* returns = nullptr;
  std::size_t n = 0;
  // The means' denominator: 0 for n; the whole minibatch's size when these
  // rows are one chunk of it (chunk losses and gradients then sum to the
  // minibatch's).
  std::size_t mean_over = 0;
};

template <typename T>
class ActorCritic {
 public:
  // Flat parameter block offsets, in this order.
  enum Tensor : int { pi1_w, pi1_b, pi2_w, pi2_b, vf1_w, vf1_b, vf2_w, vf2_b, act_w, act_b, val_w, val_b, kTensors };

  explicit ActorCritic(const PolicyModel& m);
  // The weights back in the serving model (normalisation fields untouched).
  void to_model(PolicyModel& m) const;

  [[nodiscard]] std::uint32_t n_obs() const noexcept { return n_obs_; }
  [[nodiscard]] std::uint32_t h1() const noexcept { return h1_; }
  [[nodiscard]] std::uint32_t h2() const noexcept { return h2_; }
  [[nodiscard]] std::uint32_t n_actions() const noexcept { return n_act_; }
  [[nodiscard]] std::size_t size() const noexcept { return params_.size(); }
  [[nodiscard]] std::vector<T>& params() noexcept { return params_; }
  [[nodiscard]] const std::vector<T>& params() const noexcept { return params_; }
  [[nodiscard]] std::size_t offset(Tensor t) const noexcept { return off_[t]; }

  // Per-batch scratch: activations kept for the backward pass, and room
  // for one layer's weights transposed.
  struct Workspace {
    std::vector<T> a1, a2, c1, c2, logits, logp, value, d2, d1, wt;
    std::size_t rows = 0;
  };
  void reserve(Workspace& ws, std::size_t rows) const;

  // Logits [n][n_actions] and values [n] of n normalised observations.
  void forward(const T* obs, std::size_t n, Workspace& ws) const;
  // Log-probabilities of the chosen actions and values for rollouts.
  void evaluate(const T* obs, std::size_t n, const std::uint8_t* actions, T* logp, T* value, Workspace& ws) const;

  // The PPO loss of `mb` and its gradient (overwritten, size() elements).
  PpoLossTerms loss_and_grad(const PpoMinibatch<T>& mb, const PpoCoefficients& c, T* grad, Workspace& ws) const;
  // The same loss without the gradient (for finite differences).
  PpoLossTerms loss(const PpoMinibatch<T>& mb, const PpoCoefficients& c, Workspace& ws) const;

 private:
  PpoLossTerms loss_impl(const PpoMinibatch<T>& mb, const PpoCoefficients& c, T* grad, Workspace& ws) const;

  std::uint32_t n_obs_, h1_, h2_, n_act_;
  std::size_t off_[kTensors + 1];
  std::vector<T> params_;
};

extern template class ActorCritic<float>;
extern template class ActorCritic<double>;

}  // namespace tickpath::strategy
