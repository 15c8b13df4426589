#include "tickpath/strategy/policy.hpp"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

#include "policy_kernels.hpp"
#include "tickpath/strategy/features.hpp"

namespace tickpath::strategy {

namespace {
constexpr std::uint32_t kPadOut = 64;  // output padding of packed layers (one AVX-512 block of four vectors)
std::uint32_t round_up(std::uint32_t v, std::uint32_t m) { return (v + m - 1) / m * m; }

struct AlignedFloats {
  float* p = nullptr;
  explicit AlignedFloats(std::size_t n) : p(static_cast<float*>(::operator new[](n * sizeof(float), std::align_val_t{64}))) {
    std::memset(p, 0, n * sizeof(float));
  }
  ~AlignedFloats() { ::operator delete[](p, std::align_val_t{64}); }
  AlignedFloats(const AlignedFloats&) = delete;
  AlignedFloats& operator=(const AlignedFloats&) = delete;
};
}  // namespace

const char* to_string(PolicyBackend b) noexcept {
  switch (b) {
    case PolicyBackend::scalar: return "scalar";
    case PolicyBackend::avx2: return "avx2";
    case PolicyBackend::avx512: return "avx512";
  }
  return "?";
}

bool cpu_supports(PolicyBackend b) noexcept {
  switch (b) {
    case PolicyBackend::scalar: return true;
#if defined(__x86_64__)
    case PolicyBackend::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case PolicyBackend::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    default: return false;
#endif
  }
  return false;
}

PolicyBackend best_policy_backend() noexcept {
  if (cpu_supports(PolicyBackend::avx512)) return PolicyBackend::avx512;
  if (cpu_supports(PolicyBackend::avx2)) return PolicyBackend::avx2;
  return PolicyBackend::scalar;
}

bool parse_policy_backend(const std::string& name, PolicyBackend& out) noexcept {
  if (name == "auto") out = best_policy_backend();
  else if (name == "scalar") out = PolicyBackend::scalar;
  else if (name == "avx2") out = PolicyBackend::avx2;
  else if (name == "avx512") out = PolicyBackend::avx512;
  else return false;
  return true;
}

std::unique_ptr<Policy> load_policy(const std::string& path, const std::string& backend_name, bool trading_layout,
                                    std::string& error, bool critic) {
  PolicyModel model;
  if (!load_policy_model(path, model, error)) return nullptr;
  if (trading_layout && (model.n_obs != kFeatures || model.n_actions != 3)) {
    error = path + ": the model reads " + std::to_string(model.n_obs) + " observations and has " +
            std::to_string(model.n_actions) + " actions; a trading policy reads " + std::to_string(kFeatures) +
            " and has 3 (HOLD, BUY, SELL)";
    return nullptr;
  }
  PolicyBackend backend;
  if (!parse_policy_backend(backend_name, backend)) {
    error = "policy back-end must be auto, scalar, avx2 or avx512, not '" + backend_name + "'";
    return nullptr;
  }
  return Policy::create(model, backend, error, critic);
}

std::uint8_t softmax_argmax(const float* logits, std::uint32_t n, float* probs) noexcept {
  std::uint32_t best = 0;
  for (std::uint32_t i = 1; i < n; ++i)
    if (logits[i] > logits[best]) best = i;
  const float m = logits[best];
  float sum = 0.0f;
  for (std::uint32_t i = 0; i < n; ++i) sum += probs[i] = std::exp(logits[i] - m);
  const float inv = 1.0f / sum;
  for (std::uint32_t i = 0; i < n; ++i) probs[i] *= inv;
  return static_cast<std::uint8_t>(best);
}

// Packed weights and scratch for the vector kernels, all 64-byte aligned.
struct Policy::Packed {
  AlignedFloats storage;
  std::uint32_t lines = 0;  // 64-byte lines in storage
  kernels::PackedNet net{};
  kernels::ForwardFn fn = nullptr;
  float* x = nullptr;        // normalised observation, padded
  float* scratch = nullptr;  // 4 x kMaxHidden
  explicit Packed(std::size_t floats) : storage(floats) {}
};

std::unique_ptr<Policy> Policy::create(const PolicyModel& model, PolicyBackend backend, std::string& error,
                                       bool critic) {
  if (!cpu_supports(backend)) {
    error = std::string("this CPU cannot run the ") + to_string(backend) + " policy back-end (best here: " +
            to_string(best_policy_backend()) + ")";
    return nullptr;
  }
  return std::unique_ptr<Policy>(new Policy(model, backend, critic));
}

Policy::Policy(const PolicyModel& model, PolicyBackend backend, bool critic)
    : model_(model), backend_(backend), critic_(critic) {
  const std::uint32_t obs_p = round_up(model_.n_obs, 16);
  const std::uint32_t h1p = round_up(model_.h1, kPadOut);
  const std::uint32_t h2p = round_up(model_.h2, kPadOut);
  // Every block is rounded up to 16 floats so each starts 64-byte aligned.
  const auto r16 = [](std::size_t n) { return (n + 15) / 16 * 16; };
  const std::size_t l1 = r16(std::size_t{model_.n_obs} * h1p) + r16(h1p);
  const std::size_t l2 = r16(std::size_t{model_.h1} * h2p) + r16(h2p);
  // Without the critic the value network is not packed: the actor's
  // weights alone are what the pass reads and the idle prefetch sweeps.
  const std::size_t nets = critic_ ? 2 : 1;
  const std::size_t total = nets * (l1 + l2) + r16(std::size_t{model_.n_actions} * h2p) + r16(kMaxActions) +
                            (critic_ ? r16(h2p) : 0) + r16(obs_p) + r16(4 * kMaxHidden) + 2 * r16(obs_p);
  packed_ = std::make_unique<Packed>(total);
  packed_->lines = static_cast<std::uint32_t>((total * sizeof(float) + 63) / 64);
  float* p = packed_->storage.p;
  float* const end = p + total;
  auto take = [&p, end, r16](std::size_t n) {
    float* r = p;
    p += r16(n);
    if (p > end) std::abort();  // the size computation above and the layout below disagree: a bug, not input
    return r;
  };
  auto pack = [&](const DenseLayer& l, std::uint32_t outp) {
    kernels::PackedLayer pl{};
    float* w = take(std::size_t{l.in} * outp);
    float* b = take(outp);
    for (std::uint32_t o = 0; o < l.out; ++o) {
      for (std::uint32_t i = 0; i < l.in; ++i) w[std::size_t{i} * outp + o] = l.w[std::size_t{o} * l.in + i];
      b[o] = l.b[o];
    }
    pl.w = w;
    pl.b = b;
    pl.in = l.in;
    pl.outp = outp;
    return pl;
  };
  auto& net = packed_->net;
  net.pi1 = pack(model_.pi1, h1p);
  if (critic_) net.vf1 = pack(model_.vf1, h1p);
  net.pi2 = pack(model_.pi2, h2p);
  if (critic_) net.vf2 = pack(model_.vf2, h2p);
  float* aw = take(std::size_t{model_.n_actions} * h2p);
  float* ab = take(kMaxActions);
  for (std::uint32_t a = 0; a < model_.n_actions; ++a) {
    for (std::uint32_t i = 0; i < model_.h2; ++i) aw[std::size_t{a} * h2p + i] = model_.action.w[std::size_t{a} * model_.h2 + i];
    ab[a] = model_.action.b[a];
  }
  float* vw = nullptr;
  if (critic_) {
    vw = take(h2p);
    for (std::uint32_t i = 0; i < model_.h2; ++i) vw[i] = model_.value.w[i];
  }
  net.action_w = aw;
  net.action_b = ab;
  net.value_w = vw;
  net.value_b = model_.value.b[0];
  net.n_actions = model_.n_actions;
  net.h2p = h2p;
  net.relu = model_.activation == Activation::relu ? 1 : 0;
  net.critic = critic_ ? 1 : 0;
  packed_->x = take(obs_p);
  packed_->scratch = take(4 * kMaxHidden);
  float* mean = take(obs_p);
  float* inv_std = take(obs_p);
  for (std::uint32_t i = 0; i < model_.n_obs; ++i) {
    mean[i] = model_.has_normalisation ? model_.obs_mean[i] : 0.0f;
    inv_std[i] = model_.has_normalisation
                     ? static_cast<float>(1.0 / std::sqrt(static_cast<double>(model_.obs_var[i]) + model_.epsilon))
                     : 1.0f;
  }
  net.mean = mean;
  net.inv_std = inv_std;
  net.clip = model_.has_normalisation ? model_.clip_obs : 3.4e38f;
  net.n_obs = model_.n_obs;
  if (backend_ == PolicyBackend::avx2) packed_->fn = &kernels::forward_avx2;
  if (backend_ == PolicyBackend::avx512) packed_->fn = &kernels::forward_avx512;
}

Policy::~Policy() = default;

std::uint32_t Policy::prefetch_lines() const noexcept {
  return backend_ == PolicyBackend::scalar ? 0 : packed_->lines;
}

std::uint32_t Policy::prefetch(std::uint32_t cursor, std::uint32_t lines) const noexcept {
  if (backend_ == PolicyBackend::scalar) return 0;
  const char* base = reinterpret_cast<const char*>(packed_->storage.p);
  const std::uint32_t total = packed_->lines;
  for (std::uint32_t i = 0; i < lines; ++i) {
    if (cursor >= total) cursor = 0;
    __builtin_prefetch(base + std::size_t{cursor} * 64, 0, 3);
    ++cursor;
  }
  return cursor;
}

void Policy::forward_scalar(const double* x, double* logits, double& value) const noexcept {
  double h_pi[kMaxHidden], h_vf[kMaxHidden], l_pi[kMaxHidden], l_vf[kMaxHidden];
  const bool relu = model_.activation == Activation::relu;
  auto act = [relu](double v) { return relu ? (v > 0 ? v : 0.0) : std::tanh(v); };
  auto dense = [&](const DenseLayer& l, const double* in, double* out) {
    for (std::uint32_t o = 0; o < l.out; ++o) {
      double s = l.b[o];
      for (std::uint32_t i = 0; i < l.in; ++i) s += static_cast<double>(l.w[std::size_t{o} * l.in + i]) * in[i];
      out[o] = act(s);
    }
  };
  dense(model_.pi1, x, h_pi);
  dense(model_.pi2, h_pi, l_pi);
  for (std::uint32_t a = 0; a < model_.n_actions; ++a) {
    double s = model_.action.b[a];
    for (std::uint32_t i = 0; i < model_.h2; ++i) s += static_cast<double>(model_.action.w[std::size_t{a} * model_.h2 + i]) * l_pi[i];
    logits[a] = s;
  }
  if (!critic_) return;  // value: left alone
  dense(model_.vf1, x, h_vf);
  dense(model_.vf2, h_vf, l_vf);
  double v = model_.value.b[0];
  for (std::uint32_t i = 0; i < model_.h2; ++i) v += static_cast<double>(model_.value.w[i]) * l_vf[i];
  value = v;
}

bool Policy::forward(const float* raw, PolicyOutput& out) noexcept {
  const auto hold = [&]() noexcept {  // a NaN or infinite input: HOLD, no probabilities, no confidence
    ++non_finite_;
    out = PolicyOutput{};
    return false;
  };
  // Without the critic there is no value estimate: NaN, whichever back-end.
  const float no_value = std::numeric_limits<float>::quiet_NaN();
  if (backend_ != PolicyBackend::scalar) {
    // The vector kernels do the whole pass: input check, normalisation,
    // both networks (or the actor alone), the heads and the softmax.
    std::uint32_t action = 0;
    if (!packed_->fn(packed_->net, raw, packed_->x, packed_->scratch, out.probs.data(), &out.value, &action))
      return hold();
    if (!critic_) out.value = no_value;
    out.action = static_cast<std::uint8_t>(action);
    out.confidence = out.probs[action];
    return true;
  }
  const std::uint32_t n = model_.n_obs;
  for (std::uint32_t i = 0; i < n; ++i)
    if (!std::isfinite(raw[i])) return hold();
  // VecNormalize in double: (x - mean) / sqrt(var + eps), clipped.
  double x[kMaxObs], dl[kMaxActions], v = 0;
  for (std::uint32_t i = 0; i < n; ++i) {
    double z = raw[i];
    if (model_.has_normalisation) {
      z = (z - model_.obs_mean[i]) / std::sqrt(static_cast<double>(model_.obs_var[i]) + model_.epsilon);
      z = std::fmin(std::fmax(z, -static_cast<double>(model_.clip_obs)), static_cast<double>(model_.clip_obs));
    }
    x[i] = z;
  }
  forward_scalar(x, dl, v);
  float logits[kMaxActions];
  for (std::uint32_t a = 0; a < model_.n_actions; ++a) logits[a] = static_cast<float>(dl[a]);
  out.value = critic_ ? static_cast<float>(v) : no_value;
  out.action = softmax_argmax(logits, model_.n_actions, out.probs.data());
  out.confidence = out.probs[out.action];
  return true;
}

}  // namespace tickpath::strategy
