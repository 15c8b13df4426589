#include "tickpath/strategy/actor_critic.hpp"

#include "train_gemm.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

namespace tickpath::strategy {

namespace {

// y = tanh(y), vectorised (tanh_train is written for it; this translation
// unit's -fno-trapping-math lets GCC if-convert it). Out of line so the
// profile shows the activations apart from the products.
template <typename T>
__attribute__((noinline)) void tanh_inplace(T* y, std::size_t n) {
  if constexpr (std::is_same_v<T, float>) {
#pragma omp simd
    for (std::size_t k = 0; k < n; ++k) y[k] = tanh_train(y[k]);
  } else {
    for (std::size_t k = 0; k < n; ++k) y[k] = std::tanh(y[k]);
  }
}

// y[r][o] = b[o] + sum_i w[o][i] x[r][i], then tanh when asked. A batch
// goes through the register-blocked product with the weights transposed
// into `scratch` (in * out elements; the copy is 1/rows of the product's
// work); a single row (rollouts) or a narrow head takes dot products.
template <typename T>
void dense_forward(const T* x, std::size_t rows, std::uint32_t in, const T* w, const T* b, std::uint32_t out, T* y,
                   bool tanh_out, T* scratch) {
  if (rows >= static_cast<std::size_t>(detail::kGemmRows) && out >= detail::GemmVec<T>::lanes) {
    for (std::uint32_t o = 0; o < out; ++o)
      for (std::uint32_t i = 0; i < in; ++i) scratch[std::size_t{i} * out + o] = w[std::size_t{o} * in + i];
    detail::gemm_bcast<T>(rows, out, in, x, in, 1, scratch, out, y, out, false, b);
  } else {
    for (std::size_t r = 0; r < rows; ++r) {
      const T* xr = x + r * in;
      T* yr = y + r * out;
      for (std::uint32_t o = 0; o < out; ++o) {
        const T* wo = w + static_cast<std::size_t>(o) * in;
        T acc = 0;
#pragma omp simd reduction(+ : acc)
        for (std::uint32_t i = 0; i < in; ++i) acc += wo[i] * xr[i];
        yr[o] = acc + b[o];
      }
    }
  }
  if (tanh_out) tanh_inplace(y, rows * out);
}

// Given dy [rows][out] of a layer y = w x + b: accumulates dw = dy^T x and
// db and, when dx is not null, writes dx = dy w [rows][in]. When a row of w
// is not a whole number of vectors (the 13 observations), dw^T = x^T dy is
// formed in `scratch` (in * out) and added transposed, so the product's
// wide side is the hidden layer's.
template <typename T>
void dense_backward(const T* x, std::size_t rows, std::uint32_t in, const T* w, std::uint32_t out, const T* dy,
                    T* dw, T* db, T* dx, T* scratch) {
  for (std::size_t r = 0; r < rows; ++r) {
    const T* dyr = dy + r * out;
#pragma omp simd
    for (std::uint32_t o = 0; o < out; ++o) db[o] += dyr[o];
  }
  if (in % detail::GemmVec<T>::lanes == 0) {
    detail::gemm_bcast<T>(out, in, rows, dy, 1, out, x, in, dw, in, true);
  } else {
    detail::gemm_bcast<T>(in, out, rows, x, 1, in, dy, out, scratch, out, false);
    for (std::uint32_t o = 0; o < out; ++o)
      for (std::uint32_t i = 0; i < in; ++i) dw[std::size_t{o} * in + i] += scratch[std::size_t{i} * out + o];
  }
  if (dx != nullptr) detail::gemm_bcast<T>(rows, in, out, dy, out, 1, w, in, dx, in, false);
}

// d (through tanh): d[i] *= 1 - a[i]^2
template <typename T>
void tanh_backward(const T* a, std::size_t n, T* d) {
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) d[i] *= T(1) - a[i] * a[i];
}

template <typename T>
void copy_layer(const DenseLayer& l, T* w, T* b) {
  std::copy(l.w.begin(), l.w.end(), w);
  std::copy(l.b.begin(), l.b.end(), b);
}

template <typename T>
void store_layer(const T* w, const T* b, DenseLayer& l) {
  for (std::size_t i = 0; i < l.w.size(); ++i) l.w[i] = static_cast<float>(w[i]);
  for (std::size_t i = 0; i < l.b.size(); ++i) l.b[i] = static_cast<float>(b[i]);
}

}  // namespace

template <typename T>
ActorCritic<T>::ActorCritic(const PolicyModel& m) : n_obs_(m.n_obs), h1_(m.h1), h2_(m.h2), n_act_(m.n_actions) {
  const std::size_t sizes[kTensors] = {
      std::size_t{h1_} * n_obs_, h1_, std::size_t{h2_} * h1_, h2_,  // policy net
      std::size_t{h1_} * n_obs_, h1_, std::size_t{h2_} * h1_, h2_,  // value net
      std::size_t{n_act_} * h2_, n_act_, h2_, 1};                     // heads
  off_[0] = 0;
  for (int t = 0; t < kTensors; ++t) off_[t + 1] = off_[t] + sizes[t];
  params_.assign(off_[kTensors], T(0));
  T* p = params_.data();
  copy_layer(m.pi1, p + off_[pi1_w], p + off_[pi1_b]);
  copy_layer(m.pi2, p + off_[pi2_w], p + off_[pi2_b]);
  copy_layer(m.vf1, p + off_[vf1_w], p + off_[vf1_b]);
  copy_layer(m.vf2, p + off_[vf2_w], p + off_[vf2_b]);
  copy_layer(m.action, p + off_[act_w], p + off_[act_b]);
  copy_layer(m.value, p + off_[val_w], p + off_[val_b]);
}

template <typename T>
void ActorCritic<T>::to_model(PolicyModel& m) const {
  const T* p = params_.data();
  store_layer(p + off_[pi1_w], p + off_[pi1_b], m.pi1);
  store_layer(p + off_[pi2_w], p + off_[pi2_b], m.pi2);
  store_layer(p + off_[vf1_w], p + off_[vf1_b], m.vf1);
  store_layer(p + off_[vf2_w], p + off_[vf2_b], m.vf2);
  store_layer(p + off_[act_w], p + off_[act_b], m.action);
  store_layer(p + off_[val_w], p + off_[val_b], m.value);
}

template <typename T>
void ActorCritic<T>::reserve(Workspace& ws, std::size_t rows) const {
  if (ws.rows >= rows) return;
  ws.a1.resize(rows * h1_);
  ws.a2.resize(rows * h2_);
  ws.c1.resize(rows * h1_);
  ws.c2.resize(rows * h2_);
  ws.logits.resize(rows * n_act_);
  ws.logp.resize(rows * n_act_);
  ws.value.resize(rows);
  ws.d2.resize(rows * std::max(h1_, h2_));
  ws.d1.resize(rows * std::max(h1_, h2_));
  ws.wt.resize(std::max({std::size_t{h1_} * n_obs_, std::size_t{h2_} * h1_, std::size_t{n_act_} * h2_}));
  ws.rows = rows;
}

template <typename T>
void ActorCritic<T>::forward(const T* obs, std::size_t n, Workspace& ws) const {
  reserve(ws, n);
  const T* p = params_.data();
  dense_forward(obs, n, n_obs_, p + off_[pi1_w], p + off_[pi1_b], h1_, ws.a1.data(), true, ws.wt.data());
  dense_forward(ws.a1.data(), n, h1_, p + off_[pi2_w], p + off_[pi2_b], h2_, ws.a2.data(), true, ws.wt.data());
  dense_forward(ws.a2.data(), n, h2_, p + off_[act_w], p + off_[act_b], n_act_, ws.logits.data(), false, ws.wt.data());
  dense_forward(obs, n, n_obs_, p + off_[vf1_w], p + off_[vf1_b], h1_, ws.c1.data(), true, ws.wt.data());
  dense_forward(ws.c1.data(), n, h1_, p + off_[vf2_w], p + off_[vf2_b], h2_, ws.c2.data(), true, ws.wt.data());
  dense_forward(ws.c2.data(), n, h2_, p + off_[val_w], p + off_[val_b], 1, ws.value.data(), false, ws.wt.data());
  // log-softmax per row
  for (std::size_t r = 0; r < n; ++r) {
    const T* z = ws.logits.data() + r * n_act_;
    T* lp = ws.logp.data() + r * n_act_;
    T mx = z[0];
    for (std::uint32_t k = 1; k < n_act_; ++k) mx = std::max(mx, z[k]);
    T s = 0;
    for (std::uint32_t k = 0; k < n_act_; ++k) s += std::exp(z[k] - mx);
    const T lse = mx + std::log(s);
    for (std::uint32_t k = 0; k < n_act_; ++k) lp[k] = z[k] - lse;
  }
}

template <typename T>
void ActorCritic<T>::evaluate(const T* obs, std::size_t n, const std::uint8_t* actions, T* logp, T* value,
                              Workspace& ws) const {
  forward(obs, n, ws);
  for (std::size_t r = 0; r < n; ++r) {
    if (logp != nullptr) logp[r] = ws.logp[r * n_act_ + actions[r]];
    if (value != nullptr) value[r] = ws.value[r];
  }
}

template <typename T>
PpoLossTerms ActorCritic<T>::loss_and_grad(const PpoMinibatch<T>& mb, const PpoCoefficients& c, T* grad,
                                           Workspace& ws) const {
  return loss_impl(mb, c, grad, ws);
}

template <typename T>
PpoLossTerms ActorCritic<T>::loss(const PpoMinibatch<T>& mb, const PpoCoefficients& c, Workspace& ws) const {
  return loss_impl(mb, c, nullptr, ws);
}

template <typename T>
PpoLossTerms ActorCritic<T>::loss_impl(const PpoMinibatch<T>& mb, const PpoCoefficients& c, T* grad,
                                       Workspace& ws) const {
  const std::size_t n = mb.n;
  PpoLossTerms out;
  if (n == 0) return out;
  forward(mb.obs, n, ws);
  const double inv_n = 1.0 / static_cast<double>(mb.mean_over != 0 ? mb.mean_over : n);
  const T lo = static_cast<T>(1.0 - c.clip_range), hi = static_cast<T>(1.0 + c.clip_range);
  // Per row: the loss terms, and (for the gradient) d loss / d logits written
  // over ws.logits and d loss / d value over ws.value.
  double pg = 0, vl = 0, ent = 0, kl = 0, clipped = 0;
  for (std::size_t r = 0; r < n; ++r) {
    T* z = ws.logits.data() + r * n_act_;
    const T* lp = ws.logp.data() + r * n_act_;
    const std::uint8_t a = mb.actions[r];
    const T log_ratio = lp[a] - mb.old_logp[r];
    const T ratio = std::exp(log_ratio);
    const T adv = mb.advantages[r];
    const T s1 = adv * ratio;
    const T s2 = adv * std::clamp(ratio, lo, hi);
    pg -= static_cast<double>(std::min(s1, s2));
    kl += static_cast<double>((ratio - T(1)) - log_ratio);
    clipped += std::abs(static_cast<double>(ratio) - 1.0) > c.clip_range ? 1.0 : 0.0;
    T h = 0;
    for (std::uint32_t k = 0; k < n_act_; ++k) h -= std::exp(lp[k]) * lp[k];
    ent += static_cast<double>(h);
    const T v = ws.value[r];
    const T err = v - mb.returns[r];
    vl += static_cast<double>(err * err);
    if (grad == nullptr) continue;
    // d(-min(s1, s2))/d ratio: the unclipped branch carries A, the clipped
    // one carries nothing outside [lo, hi]; on a tie (inside the range) both
    // carry A, split evenly, so A in all.
    const T d_ratio = s1 <= s2 ? -adv : T(0);
    const T d_logp = static_cast<T>(d_ratio * ratio * static_cast<T>(inv_n));
    const T ent_scale = static_cast<T>(c.ent_coef * inv_n);
    for (std::uint32_t k = 0; k < n_act_; ++k) {
      const T pk = std::exp(lp[k]);
      // d logp_a / d z_k = [k == a] - p_k;  d(-H)/d z_k = p_k (log p_k + H)
      z[k] = d_logp * ((k == a ? T(1) : T(0)) - pk) + ent_scale * pk * (lp[k] + h);
    }
    ws.value[r] = static_cast<T>(2.0 * c.vf_coef * inv_n) * err;
  }
  out.policy_loss = pg * inv_n;
  out.value_loss = vl * inv_n;
  out.entropy = ent * inv_n;
  out.approx_kl = kl * inv_n;
  out.clip_fraction = clipped * inv_n;
  out.loss = out.policy_loss - c.ent_coef * out.entropy + c.vf_coef * out.value_loss;
  if (grad == nullptr) return out;

  std::fill(grad, grad + params_.size(), T(0));
  const T* p = params_.data();
  T* d2 = ws.d2.data();
  T* d1 = ws.d1.data();
  // policy: heads -> a2 -> a1
  dense_backward(ws.a2.data(), n, h2_, p + off_[act_w], n_act_, ws.logits.data(), grad + off_[act_w],
                 grad + off_[act_b], d2, ws.wt.data());
  tanh_backward(ws.a2.data(), n * h2_, d2);
  dense_backward(ws.a1.data(), n, h1_, p + off_[pi2_w], h2_, d2, grad + off_[pi2_w], grad + off_[pi2_b], d1, ws.wt.data());
  tanh_backward(ws.a1.data(), n * h1_, d1);
  dense_backward(mb.obs, n, n_obs_, p + off_[pi1_w], h1_, d1, grad + off_[pi1_w], grad + off_[pi1_b],
                 static_cast<T*>(nullptr), ws.wt.data());
  // value: head -> c2 -> c1
  dense_backward(ws.c2.data(), n, h2_, p + off_[val_w], 1, ws.value.data(), grad + off_[val_w], grad + off_[val_b],
                 d2, ws.wt.data());
  tanh_backward(ws.c2.data(), n * h2_, d2);
  dense_backward(ws.c1.data(), n, h1_, p + off_[vf2_w], h2_, d2, grad + off_[vf2_w], grad + off_[vf2_b], d1, ws.wt.data());
  tanh_backward(ws.c1.data(), n * h1_, d1);
  dense_backward(mb.obs, n, n_obs_, p + off_[vf1_w], h1_, d1, grad + off_[vf1_w], grad + off_[vf1_b],
                 static_cast<T*>(nullptr), ws.wt.data());
  return out;
}

void train_gemm(std::size_t M, std::size_t N, std::size_t K, const float* A, std::size_t a_rs, std::size_t a_cs,
                const float* B, std::size_t ldb, float* C, std::size_t ldc, bool accumulate) noexcept {
  detail::gemm_bcast<float>(M, N, K, A, a_rs, a_cs, B, ldb, C, ldc, accumulate);
}
void train_gemm(std::size_t M, std::size_t N, std::size_t K, const double* A, std::size_t a_rs, std::size_t a_cs,
                const double* B, std::size_t ldb, double* C, std::size_t ldc, bool accumulate) noexcept {
  detail::gemm_bcast<double>(M, N, K, A, a_rs, a_cs, B, ldb, C, ldc, accumulate);
}

template class ActorCritic<float>;
template class ActorCritic<double>;

}  // namespace tickpath::strategy
