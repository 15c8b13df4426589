#include "tickpath/strategy/ppo.hpp"

#include "tickpath/infra/splitmix.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <thread>

namespace tickpath::strategy {

namespace {

using infra::splitmix64;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// VecNormalize's RunningMeanStd: mean 0, variance 1, count 1e-4 to start;
// batches merged with the parallel-variance formula.
struct RunningMeanStd {
  std::vector<double> mean, var;
  double count = 1e-4;
  explicit RunningMeanStd(std::size_t n) : mean(n, 0.0), var(n, 1.0) {}
  void update(const float* rows, std::size_t n_rows, std::size_t dim) {
    if (n_rows == 0) return;
    std::vector<double> bm(dim, 0.0), bv(dim, 0.0);
    for (std::size_t r = 0; r < n_rows; ++r)
      for (std::size_t i = 0; i < dim; ++i) bm[i] += rows[r * dim + i];
    for (auto& m : bm) m /= static_cast<double>(n_rows);
    for (std::size_t r = 0; r < n_rows; ++r)
      for (std::size_t i = 0; i < dim; ++i) {
        const double d = rows[r * dim + i] - bm[i];
        bv[i] += d * d;
      }
    for (auto& v : bv) v /= static_cast<double>(n_rows);
    const double bc = static_cast<double>(n_rows), tot = count + bc;
    for (std::size_t i = 0; i < dim; ++i) {
      const double delta = bm[i] - mean[i];
      const double m2 = var[i] * count + bv[i] * bc + delta * delta * count * bc / tot;
      mean[i] += delta * bc / tot;
      var[i] = m2 / tot;
    }
    count = tot;
  }
};

}  // namespace

struct PpoTrainer::Impl {
  ActorCritic<float> net;
  std::uint32_t n_obs, n_act;
  RunningMeanStd rms;
  // frozen for a rollout: 1 / sqrt(var + eps) and mean, as floats
  std::vector<float> norm_mean, norm_scale;
  std::vector<float> adam_m, adam_v;
  std::uint64_t adam_t = 0;
  std::mt19937_64 shuffle_rng;
  tbb::task_arena arena;

  struct EnvState {
    std::mt19937_64 rng;
    std::vector<float> raw, obs_norm, raw_rows;  // current raw obs; per step normalised and raw rows
    std::vector<std::uint8_t> actions, starts;
    std::vector<float> rewards, values, logp;
    bool start = true;      // the current observation begins an episode
    bool last_done = false;
    float last_value = 0;
    double episode_reward = 0;
    std::vector<double> finished;  // episode rewards finished in this rollout
    ActorCritic<float>::Workspace ws;
  };
  std::vector<EnvState> envs;

  // flattened buffer
  std::vector<float> obs, old_logp, adv, ret, values;
  std::vector<std::uint8_t> actions;
  // per-minibatch scratch
  std::vector<float> mb_obs, mb_logp, mb_adv, mb_ret;
  std::vector<std::uint8_t> mb_act;
  std::vector<std::vector<float>> chunk_grad;
  std::vector<PpoLossTerms> chunk_terms;
  std::vector<ActorCritic<float>::Workspace> chunk_ws;
  std::vector<float> grad;

  Impl(const PolicyModel& m, unsigned threads)
      : net(m), n_obs(m.n_obs), n_act(m.n_actions), rms(m.n_obs), arena(static_cast<int>(threads)) {}

  void freeze_normalisation(const PpoConfig& cfg) {
    norm_mean.assign(n_obs, 0.0f);
    norm_scale.assign(n_obs, 1.0f);
    if (!cfg.normalize_obs) return;
    for (std::uint32_t i = 0; i < n_obs; ++i) {
      norm_mean[i] = static_cast<float>(rms.mean[i]);
      norm_scale[i] = static_cast<float>(1.0 / std::sqrt(rms.var[i] + cfg.obs_epsilon));
    }
  }
  void normalise(const float* raw, float* out, const PpoConfig& cfg) const {
    for (std::uint32_t i = 0; i < n_obs; ++i) {
      const float x = (raw[i] - norm_mean[i]) * norm_scale[i];
      out[i] = cfg.normalize_obs ? std::clamp(x, -cfg.clip_obs, cfg.clip_obs) : x;
    }
  }
};

PpoTrainer::PpoTrainer(std::vector<std::unique_ptr<Environment>> envs, const PolicyModel& initial,
                       const PpoConfig& cfg)
    : envs_(std::move(envs)), cfg_(cfg) {
  if (envs_.empty()) throw std::invalid_argument("PPO needs at least one environment");
  for (const auto& e : envs_)
    if (e->n_obs() != initial.n_obs || e->n_actions() != initial.n_actions)
      throw std::invalid_argument("an environment's observation or action count differs from the model's");
  if (cfg_.n_steps == 0 || cfg_.batch_size == 0 || cfg_.n_epochs <= 0)
    throw std::invalid_argument("n_steps, batch_size and n_epochs must be positive");
  threads_ = cfg_.threads != 0 ? cfg_.threads : std::max(1U, std::thread::hardware_concurrency());
  impl_ = std::make_unique<Impl>(initial, threads_);
  Impl& im = *impl_;
  if (initial.has_normalisation) {  // fine-tuning: continue from the model's statistics
    for (std::uint32_t i = 0; i < im.n_obs; ++i) {
      im.rms.mean[i] = initial.obs_mean[i];
      im.rms.var[i] = initial.obs_var[i];
    }
  }
  im.adam_m.assign(im.net.size(), 0.0f);
  im.adam_v.assign(im.net.size(), 0.0f);
  std::uint64_t s = cfg_.seed;
  im.shuffle_rng.seed(splitmix64(s));
  im.envs.resize(envs_.size());
  for (std::size_t e = 0; e < envs_.size(); ++e) {
    auto& st = im.envs[e];
    st.rng.seed(splitmix64(s));
    st.raw.resize(im.n_obs);
    st.obs_norm.resize(cfg_.n_steps * im.n_obs);
    st.raw_rows.resize(cfg_.n_steps * im.n_obs);
    st.actions.resize(cfg_.n_steps);
    st.starts.resize(cfg_.n_steps);
    st.rewards.resize(cfg_.n_steps);
    st.values.resize(cfg_.n_steps);
    st.logp.resize(cfg_.n_steps);
    im.net.reserve(st.ws, 1);
    envs_[e]->reset(st.raw.data());
  }
  const std::size_t n = envs_.size() * cfg_.n_steps;
  im.obs.resize(n * im.n_obs);
  im.old_logp.resize(n);
  im.adv.resize(n);
  im.ret.resize(n);
  im.values.resize(n);
  im.actions.resize(n);
  im.mb_obs.resize(cfg_.batch_size * im.n_obs);
  im.mb_logp.resize(cfg_.batch_size);
  im.mb_adv.resize(cfg_.batch_size);
  im.mb_ret.resize(cfg_.batch_size);
  im.mb_act.resize(cfg_.batch_size);
  // Minibatch gradients in one chunk per thread, at least 16 rows each.
  const std::size_t chunks = std::max<std::size_t>(1, std::min<std::size_t>(threads_, cfg_.batch_size / 16));
  im.chunk_grad.assign(chunks, std::vector<float>(im.net.size()));
  im.chunk_ws.resize(chunks);
  im.chunk_terms.resize(chunks);
  for (auto& ws : im.chunk_ws) im.net.reserve(ws, cfg_.batch_size);
  im.grad.resize(im.net.size());
}

PpoTrainer::~PpoTrainer() = default;

PpoIterationStats PpoTrainer::iterate() {
  Impl& im = *impl_;
  const PpoConfig& c = cfg_;
  const std::uint32_t d = im.n_obs, na = im.n_act;
  PpoIterationStats st;
  const auto t0 = std::chrono::steady_clock::now();
  im.freeze_normalisation(c);

  // --- rollout: every environment n_steps, concurrently ---
  im.arena.execute([&] {
    tbb::parallel_for(tbb::blocked_range<std::size_t>(0, envs_.size(), 1), [&](const auto& range) {
      for (std::size_t e = range.begin(); e != range.end(); ++e) {
        Environment& env = *envs_[e];
        auto& s = im.envs[e];
        s.finished.clear();
        std::vector<float> norm(d);
        for (std::size_t t = 0; t < c.n_steps; ++t) {
          std::copy(s.raw.begin(), s.raw.end(), s.raw_rows.begin() + static_cast<long>(t * d));
          float* o = s.obs_norm.data() + t * d;
          im.normalise(s.raw.data(), o, c);
          im.net.forward(o, 1, s.ws);
          // sample from the policy's distribution
          const double u = std::uniform_real_distribution<double>(0.0, 1.0)(s.rng);
          double acc = 0;
          std::uint8_t a = static_cast<std::uint8_t>(na - 1);
          for (std::uint32_t k = 0; k < na; ++k) {
            acc += std::exp(static_cast<double>(s.ws.logp[k]));
            if (u < acc) {
              a = static_cast<std::uint8_t>(k);
              break;
            }
          }
          s.actions[t] = a;
          s.logp[t] = s.ws.logp[a];
          s.values[t] = s.ws.value[0];
          s.starts[t] = s.start ? 1 : 0;
          const Environment::Step r = env.step(a, s.raw.data());
          double reward = r.reward;
          s.episode_reward += r.reward;
          if (r.done && r.truncated) {  // bootstrap from the state the time limit stopped in
            im.normalise(s.raw.data(), norm.data(), c);
            im.net.forward(norm.data(), 1, s.ws);
            reward += c.gamma * static_cast<double>(s.ws.value[0]);
          }
          s.rewards[t] = static_cast<float>(reward);
          if (r.done) {
            s.finished.push_back(s.episode_reward);
            s.episode_reward = 0;
            env.reset(s.raw.data());
          }
          s.start = r.done;
          s.last_done = r.done;
        }
        im.normalise(s.raw.data(), norm.data(), c);
        im.net.forward(norm.data(), 1, s.ws);
        s.last_value = s.ws.value[0];
      }
    });
  });

  // --- GAE per environment, flattened environment-major as SB3 does ---
  double ep_sum = 0;
  for (std::size_t e = 0; e < envs_.size(); ++e) {
    auto& s = im.envs[e];
    const std::size_t base = e * c.n_steps;
    float last_gae = 0;
    for (std::size_t t = c.n_steps; t-- > 0;) {
      const float next_non_terminal = t + 1 == c.n_steps ? (s.last_done ? 0.0f : 1.0f) : (s.starts[t + 1] ? 0.0f : 1.0f);
      const float next_value = t + 1 == c.n_steps ? s.last_value : s.values[t + 1];
      const float delta = s.rewards[t] + static_cast<float>(c.gamma) * next_value * next_non_terminal - s.values[t];
      last_gae = delta + static_cast<float>(c.gamma * c.gae_lambda) * next_non_terminal * last_gae;
      im.adv[base + t] = last_gae;
      im.ret[base + t] = last_gae + s.values[t];
    }
    std::copy(s.obs_norm.begin(), s.obs_norm.end(), im.obs.begin() + static_cast<long>(base * d));
    std::copy(s.actions.begin(), s.actions.end(), im.actions.begin() + static_cast<long>(base));
    std::copy(s.logp.begin(), s.logp.end(), im.old_logp.begin() + static_cast<long>(base));
    std::copy(s.values.begin(), s.values.end(), im.values.begin() + static_cast<long>(base));
    for (double r : s.finished) ep_sum += r;
    st.episodes += s.finished.size();
  }
  st.mean_episode_reward = st.episodes > 0 ? ep_sum / static_cast<double>(st.episodes) : std::nan("");
  // The statistics learn this rollout's raw observations, in a fixed order.
  if (c.normalize_obs)
    for (auto& s : im.envs) im.rms.update(s.raw_rows.data(), c.n_steps, d);
  {  // explained variance of the value predictions
    const std::size_t n = im.ret.size();
    double mr = 0, md = 0;
    for (std::size_t i = 0; i < n; ++i) {
      mr += im.ret[i];
      md += im.ret[i] - im.values[i];
    }
    mr /= static_cast<double>(n);
    md /= static_cast<double>(n);
    double vr = 0, vd = 0;
    for (std::size_t i = 0; i < n; ++i) {
      vr += (im.ret[i] - mr) * (im.ret[i] - mr);
      const double dd = im.ret[i] - im.values[i] - md;
      vd += dd * dd;
    }
    st.explained_variance = vr > 0 ? 1.0 - vd / vr : std::nan("");
  }
  st.rollout_seconds = seconds_since(t0);

  // --- n_epochs of shuffled minibatches ---
  const auto t1 = std::chrono::steady_clock::now();
  const std::size_t n = im.ret.size();
  std::vector<std::size_t> idx(n);
  const std::size_t chunks = im.chunk_grad.size();
  for (int epoch = 0; epoch < c.n_epochs; ++epoch) {
    std::iota(idx.begin(), idx.end(), std::size_t{0});
    std::shuffle(idx.begin(), idx.end(), im.shuffle_rng);
    for (std::size_t start = 0; start < n; start += c.batch_size) {
      const std::size_t m = std::min(c.batch_size, n - start);
      for (std::size_t r = 0; r < m; ++r) {
        const std::size_t i = idx[start + r];
        std::copy_n(im.obs.begin() + static_cast<long>(i * d), d, im.mb_obs.begin() + static_cast<long>(r * d));
        im.mb_act[r] = im.actions[i];
        im.mb_logp[r] = im.old_logp[i];
        im.mb_adv[r] = im.adv[i];
        im.mb_ret[r] = im.ret[i];
      }
      if (c.normalize_advantage && m > 1) {  // torch's std: n - 1 in the denominator
        double mean = 0, var = 0;
        for (std::size_t r = 0; r < m; ++r) mean += im.mb_adv[r];
        mean /= static_cast<double>(m);
        for (std::size_t r = 0; r < m; ++r) var += (im.mb_adv[r] - mean) * (im.mb_adv[r] - mean);
        const double sd = std::sqrt(var / static_cast<double>(m - 1));
        for (std::size_t r = 0; r < m; ++r) im.mb_adv[r] = static_cast<float>((im.mb_adv[r] - mean) / (sd + 1e-8));
      }
      // gradient: fixed row chunks, summed in chunk order
      const std::size_t k = std::min(chunks, std::max<std::size_t>(1, m / 16));
      auto& terms = im.chunk_terms;
      auto run_chunk = [&](std::size_t j) {
        const std::size_t r0 = m * j / k, r1 = m * (j + 1) / k;
        PpoMinibatch<float> mb{im.mb_obs.data() + r0 * d, im.mb_act.data() + r0, im.mb_logp.data() + r0,
                               im.mb_adv.data() + r0,     im.mb_ret.data() + r0, r1 - r0,
                               m};
        terms[j] = im.net.loss_and_grad(mb, c.coef, im.chunk_grad[j].data(), im.chunk_ws[j]);
      };
      if (k == 1) {
        run_chunk(0);
      } else {
        im.arena.execute([&] {
          tbb::parallel_for(tbb::blocked_range<std::size_t>(0, k, 1), [&](const auto& range) {
            for (std::size_t j = range.begin(); j != range.end(); ++j) run_chunk(j);
          });
        });
      }
      std::copy(im.chunk_grad[0].begin(), im.chunk_grad[0].end(), im.grad.begin());
      for (std::size_t j = 1; j < k; ++j)
        for (std::size_t p = 0; p < im.grad.size(); ++p) im.grad[p] += im.chunk_grad[j][p];
      for (std::size_t j = 0; j < k; ++j) {
        const PpoLossTerms& t = terms[j];
        st.policy_loss += t.policy_loss;
        st.value_loss += t.value_loss;
        st.entropy += t.entropy;
        st.approx_kl += t.approx_kl;
        st.clip_fraction += t.clip_fraction;
      }
      // torch's clip_grad_norm_ over every parameter, then Adam
      // (eight partial sums, so the loop vectorises in a fixed order)
      double part[8] = {};
      const std::size_t np = im.grad.size();
      std::size_t q8 = 0;
      for (; q8 + 8 <= np; q8 += 8)
        for (std::size_t l = 0; l < 8; ++l) part[l] += static_cast<double>(im.grad[q8 + l]) * im.grad[q8 + l];
      for (; q8 < np; ++q8) part[0] += static_cast<double>(im.grad[q8]) * im.grad[q8];
      double norm2 = 0;
      for (double v : part) norm2 += v;
      const double clip = c.max_grad_norm / (std::sqrt(norm2) + 1e-6);
      const float scale = clip < 1.0 ? static_cast<float>(clip) : 1.0f;
      ++im.adam_t;
      const double bc1 = 1.0 - std::pow(c.adam_beta1, static_cast<double>(im.adam_t));
      const double bc2 = 1.0 - std::pow(c.adam_beta2, static_cast<double>(im.adam_t));
      const float step = static_cast<float>(c.learning_rate / bc1);
      const float inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
      const float b1 = static_cast<float>(c.adam_beta1), b2 = static_cast<float>(c.adam_beta2);
      const float eps = static_cast<float>(c.adam_eps);
      float* p = im.net.params().data();
      for (std::size_t q = 0; q < im.grad.size(); ++q) {
        const float g = im.grad[q] * scale;
        im.adam_m[q] = b1 * im.adam_m[q] + (1.0f - b1) * g;
        im.adam_v[q] = b2 * im.adam_v[q] + (1.0f - b2) * g * g;
        p[q] -= step * im.adam_m[q] / (std::sqrt(im.adam_v[q]) * inv_sqrt_bc2 + eps);
      }
      ++st.updates;
    }
  }
  if (st.updates > 0) {
    const double u = static_cast<double>(st.updates);
    st.policy_loss /= u;
    st.value_loss /= u;
    st.entropy /= u;
    st.approx_kl /= u;
    st.clip_fraction /= u;
  }
  st.update_seconds = seconds_since(t1);
  return st;
}

PolicyModel PpoTrainer::model() const {
  const Impl& im = *impl_;
  PolicyModel m;
  m.n_obs = im.n_obs;
  m.h1 = im.net.h1();
  m.h2 = im.net.h2();
  m.n_actions = im.n_act;
  m.shape();
  im.net.to_model(m);
  if (cfg_.normalize_obs) {
    m.has_normalisation = true;
    m.clip_obs = cfg_.clip_obs;
    m.epsilon = cfg_.obs_epsilon;
    m.obs_mean.assign(im.n_obs, 0.0f);
    m.obs_var.assign(im.n_obs, 1.0f);
    for (std::uint32_t i = 0; i < im.n_obs; ++i) {
      m.obs_mean[i] = static_cast<float>(im.rms.mean[i]);
      m.obs_var[i] = static_cast<float>(im.rms.var[i]);
    }
  }
  return m;
}

}  // namespace tickpath::strategy
