#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>

#include "../strategy/src/policy_kernels.hpp"
#include "support/alloc_counter.hpp"
#include "tickpath/strategy/policy.hpp"
#include "tickpath/strategy/policy_model.hpp"
#include "tickpath/strategy/policy_onednn.hpp"

using namespace tickpath::strategy;

namespace {

PolicyModel random_model(std::uint64_t seed, float scale, bool norm = false, Activation act = Activation::tanh,
                         std::uint32_t n_obs = 13, std::uint32_t h1 = 64, std::uint32_t h2 = 64, std::uint32_t na = 3) {
  PolicyModel m;
  m.n_obs = n_obs, m.h1 = h1, m.h2 = h2, m.n_actions = na;
  m.activation = act;
  m.has_normalisation = norm;
  m.shape();
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  for (DenseLayer* l : {&m.pi1, &m.pi2, &m.vf1, &m.vf2, &m.action, &m.value}) {
    for (auto& w : l->w) w = d(rng) / std::sqrt(static_cast<float>(l->in));
    for (auto& b : l->b) b = d(rng) * 0.1f;
  }
  if (norm) {
    for (auto& v : m.obs_mean) v = d(rng);
    for (auto& v : m.obs_var) v = std::fabs(d(rng)) + 0.01f;
    m.clip_obs = 5.0f;
  }
  return m;
}

std::string sci(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

std::vector<PolicyBackend> vector_backends() {
  std::vector<PolicyBackend> out;
  for (auto b : {PolicyBackend::avx2, PolicyBackend::avx512})
    if (cpu_supports(b)) out.push_back(b);
  return out;
}

}  // namespace

TEST(PolicyModel_File, RoundTripsBitForBit) {
  const auto m = random_model(1, 1.0f, true);
  const std::string bytes = serialize_policy_model(m);
  PolicyModel back;
  std::string err;
  ASSERT_TRUE(parse_policy_model(bytes, back, err)) << err;
  EXPECT_EQ(serialize_policy_model(back), bytes);
  EXPECT_EQ(back.pi2.w, m.pi2.w);
  EXPECT_EQ(back.obs_var, m.obs_var);
  const std::string path = ::testing::TempDir() + "model.tpp";
  ASSERT_TRUE(save_policy_model(path, m, err)) << err;
  ASSERT_TRUE(load_policy_model(path, back, err)) << err;
  EXPECT_EQ(serialize_policy_model(back), bytes);
}

TEST(PolicyModel_File, BadFilesFailWithOneLineNamingTheProblem) {
  const std::string good = serialize_policy_model(random_model(2, 1.0f));
  PolicyModel m;
  std::string err;
  for (std::size_t len = 0; len < good.size(); len += 97) {
    EXPECT_FALSE(parse_policy_model(good.substr(0, len), m, err)) << len;
    EXPECT_TRUE(err.find("truncated") != std::string::npos || err.find("magic") != std::string::npos) << err;
    EXPECT_EQ(err.find('\n'), std::string::npos);
  }
  std::string bad = good;
  bad[200] = static_cast<char>(bad[200] ^ 0x40);
  EXPECT_FALSE(parse_policy_model(bad, m, err));
  EXPECT_NE(err.find("checksum"), std::string::npos) << err;
  bad = good;
  bad[8] = 2;  // version
  EXPECT_FALSE(parse_policy_model(bad, m, err));
  EXPECT_NE(err.find("version 2"), std::string::npos) << err;
  bad = good;
  bad[16] = static_cast<char>(0xFF), bad[17] = static_cast<char>(0xFF);  // h1 = 65535+
  EXPECT_FALSE(parse_policy_model(bad, m, err));
  EXPECT_NE(err.find("maxima"), std::string::npos) << err;
  EXPECT_FALSE(parse_policy_model(good + "x", m, err));
  EXPECT_NE(err.find("past its end"), std::string::npos) << err;
  EXPECT_FALSE(load_policy_model("/nonexistent/model.tpp", m, err));
  EXPECT_NE(err.find("cannot open model"), std::string::npos) << err;
}

TEST(PolicyModel_Init, OrthogonalWithStableBaselinesGains) {
  const auto m = PolicyModel::init_orthogonal(7);
  auto gram_rows = [](const DenseLayer& l, std::uint32_t a, std::uint32_t b) {
    double s = 0;
    for (std::uint32_t i = 0; i < l.in; ++i) s += double(l.w[a * l.in + i]) * l.w[b * l.in + i];
    return s;
  };
  auto gram_cols = [](const DenseLayer& l, std::uint32_t a, std::uint32_t b) {
    double s = 0;
    for (std::uint32_t o = 0; o < l.out; ++o) s += double(l.w[o * l.in + a]) * l.w[o * l.in + b];
    return s;
  };
  // pi1 is 64x13: its 13 columns are orthogonal with norm sqrt(2).
  for (std::uint32_t a = 0; a < 13; ++a)
    for (std::uint32_t b = 0; b < 13; ++b) EXPECT_NEAR(gram_cols(m.pi1, a, b), a == b ? 2.0 : 0.0, 1e-5);
  for (std::uint32_t a = 0; a < 64; a += 7)
    for (std::uint32_t b = 0; b < 64; b += 5) EXPECT_NEAR(gram_rows(m.pi2, a, b), a == b ? 2.0 : 0.0, 1e-5);
  for (std::uint32_t a = 0; a < 3; ++a) EXPECT_NEAR(gram_rows(m.action, a, a), 1e-4, 1e-9);
  EXPECT_NEAR(gram_rows(m.value, 0, 0), 1.0, 1e-6);
  EXPECT_EQ(serialize_policy_model(PolicyModel::init_orthogonal(7)), serialize_policy_model(m));
  EXPECT_NE(serialize_policy_model(PolicyModel::init_orthogonal(8)), serialize_policy_model(m));
}

TEST(Policy_Scalar, HandComputedTinyNetwork) {
  PolicyModel m;
  m.n_obs = 2, m.h1 = 1, m.h2 = 1, m.n_actions = 2;
  m.shape();
  m.pi1.w = {0.5f, -1.0f}, m.pi1.b = {0.25f};
  m.pi2.w = {2.0f}, m.pi2.b = {0.0f};
  m.vf1.w = {1.0f, 1.0f}, m.vf1.b = {0.0f};
  m.vf2.w = {1.0f}, m.vf2.b = {0.5f};
  m.action.w = {1.0f, -1.0f}, m.action.b = {0.0f, 0.0f};
  m.value.w = {3.0f}, m.value.b = {-1.0f};
  std::string err;
  auto p = Policy::create(m, PolicyBackend::scalar, err);
  ASSERT_TRUE(p) << err;
  const float obs[2] = {1.0f, 0.5f};
  PolicyOutput out;
  ASSERT_TRUE(p->forward(obs, out));
  const double lpi = std::tanh(2.0 * std::tanh(0.5 * 1.0 - 0.5 + 0.25));
  const double lvf = std::tanh(std::tanh(1.5) + 0.5);
  const double p0 = 1.0 / (1.0 + std::exp(-2.0 * lpi));  // softmax of (lpi, -lpi)
  EXPECT_NEAR(out.probs[0], p0, 1e-6);
  EXPECT_NEAR(out.probs[1], 1.0 - p0, 1e-6);
  EXPECT_EQ(out.action, 0);
  EXPECT_NEAR(out.confidence, p0, 1e-6);
  EXPECT_NEAR(out.value, 3.0 * lvf - 1.0, 1e-6);
}

TEST(Policy_Kernels, FastTanhWithin1e6OfStdTanh) {
  std::vector<float> in, out(2'000'000 + 16);
  for (int i = 0; i < 2'000'000; ++i) in.push_back(-20.0f + 40.0f * static_cast<float>(i) / 2'000'000.0f);
  in.insert(in.end(), {0.0f, -0.0f, 1e-30f, -1e-30f, 8.99f, 9.01f, 100.0f, -100.0f, 3.4e38f, -3.4e38f, 1e-7f, 0.5f,
                       -0.5f, 0.25f, 2.0f, -2.0f});
  const auto n = static_cast<std::uint32_t>(in.size());
  for (auto [name, fn] : {std::pair{"avx2", &kernels::tanh_avx2}, std::pair{"avx512", &kernels::tanh_avx512}}) {
    if (!cpu_supports(std::string(name) == "avx2" ? PolicyBackend::avx2 : PolicyBackend::avx512)) continue;
    fn(in.data(), out.data(), n);
    double worst = 0;
    for (std::uint32_t i = 0; i < n; ++i) worst = std::max(worst, std::fabs(out[i] - std::tanh(double(in[i]))));
    EXPECT_LE(worst, 1e-6) << name;
    RecordProperty(std::string(name) + "_max_abs_error", sci(worst));
  }
}

TEST(Policy_Kernels, SoftmaxExpWithin4e7RelativeOfStdExpAndZeroBelowMinus86) {
  std::vector<float> in, out;
  for (int i = 0; i <= 2'000'000; ++i) in.push_back(-100.0f * static_cast<float>(i) / 2'000'000.0f);
  in.insert(in.end(), {-0.0f, -1e-30f, -1e-7f, -85.99f, -86.0f, -86.01f, -1e30f, -3.4e38f});
  while (in.size() % 16 != 0) in.push_back(-1.0f);
  out.resize(in.size());
  const auto n = static_cast<std::uint32_t>(in.size());
  for (auto [name, fn] : {std::pair{"avx2", &kernels::exp_avx2}, std::pair{"avx512", &kernels::exp_avx512}}) {
    if (!cpu_supports(std::string(name) == "avx2" ? PolicyBackend::avx2 : PolicyBackend::avx512)) continue;
    fn(in.data(), out.data(), n);
    double worst = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
      if (in[i] < -86.0f) {
        ASSERT_EQ(out[i], 0.0f) << name << " at " << in[i];
        continue;
      }
      const double ref = std::exp(double(in[i]));
      worst = std::max(worst, std::fabs(out[i] - ref) / ref);
    }
    EXPECT_LE(worst, 4e-7) << name;  // measured 2.4e-7: the polynomial (9.5e-8) and float rounding
    RecordProperty(std::string(name) + "_max_rel_error", sci(worst));
  }
}

TEST(Policy_Backends, ANonFiniteInputAnywhereInAWideObservationHolds) {
  // 40 observations: the kernels read them 8 or 16 at a time, with a masked tail.
  const auto m = random_model(21, 1.0f, true, Activation::tanh, 40, 32, 32, 5);
  for (const auto b : vector_backends()) {
    std::string err;
    auto p = Policy::create(m, b, err);
    ASSERT_TRUE(p) << err;
    std::vector<float> obs(40, 0.5f);
    PolicyOutput out;
    ASSERT_TRUE(p->forward(obs.data(), out));
    std::uint64_t expected = 0;
    for (std::size_t i = 0; i < obs.size(); ++i) {
      for (const float bad : {std::nanf(""), std::numeric_limits<float>::signaling_NaN(), INFINITY, -INFINITY}) {
        obs[i] = bad;
        EXPECT_FALSE(p->forward(obs.data(), out)) << to_string(b) << " position " << i << " value " << bad;
        EXPECT_EQ(out.action, 0);
        EXPECT_EQ(out.confidence, 0.0f);
        ++expected;
      }
      obs[i] = 3.4e38f;  // the largest finite values are inputs like any other (then clipped)
      EXPECT_TRUE(p->forward(obs.data(), out)) << to_string(b) << " position " << i;
      obs[i] = 0.5f;
    }
    EXPECT_EQ(p->non_finite_inputs(), expected);
  }
}

TEST(Policy_Backends, AgreeWithScalarReferenceIncludingSaturation) {
  const auto backends = vector_backends();
  if (backends.empty()) GTEST_SKIP() << "this CPU has neither AVX2+FMA nor AVX-512";
  std::mt19937_64 rng(3);
  std::normal_distribution<float> d(0.0f, 1.0f);
  struct Shape {
    std::uint32_t obs, h1, h2, na;
  };
  for (const Shape s : {Shape{13, 64, 64, 3}, Shape{7, 100, 33, 5}, Shape{64, 256, 256, 8}, Shape{1, 1, 1, 1}}) {
    for (const float scale : {0.5f, 1.0f, 8.0f}) {  // 8: most tanh units saturate
      for (const bool norm : {false, true}) {
        for (const Activation act : {Activation::tanh, Activation::relu}) {
          // Scale 8 is there to saturate tanh; relu does not saturate, and with weights that
          // large its activations grow ~8x a layer until float32 itself cannot hold 1e-5.
          if (act == Activation::relu && scale > 1.0f) continue;
          const auto m = random_model(rng(), scale, norm, act, s.obs, s.h1, s.h2, s.na);
          std::string err;
          auto ref = Policy::create(m, PolicyBackend::scalar, err);
          for (const auto b : backends) {
            auto p = Policy::create(m, b, err);
            ASSERT_TRUE(p) << err;
            for (int k = 0; k < 50; ++k) {
              std::vector<float> obs(s.obs);
              // Inputs the network sees are VecNormalize-clipped (|x| <= 10 by SB3's default):
              // the edge of that range with scale-8 weights saturates most tanh units. Models with
              // statistics get raw inputs far outside it, to exercise the clip.
              const float in_scale = norm ? 1000.0f : (k % 5 == 0 ? 10.0f : 3.0f);
              for (auto& v : obs) v = d(rng) * in_scale;
              PolicyOutput a, r;
              ASSERT_TRUE(p->forward(obs.data(), a));
              ASSERT_TRUE(ref->forward(obs.data(), r));
              // 1e-5 for the SB3 layout (13-64-64); float32 accumulation error grows with
              // fan-in, so wider nets get sqrt(h1*h2 / 64^2) times that.
              const float fan = std::max(1.0f, std::sqrt(static_cast<float>(s.h1 * s.h2) / 4096.0f));
              const float tol = 1e-5f * fan * std::max(1.0f, std::fabs(r.value));
              ASSERT_NEAR(a.value, r.value, tol) << to_string(b) << " shape " << s.obs << "/" << s.h1 << "/" << s.h2 << " scale " << scale << " norm " << norm << " relu " << (act == Activation::relu) << " k " << k;
              for (std::uint32_t i = 0; i < s.na; ++i) ASSERT_NEAR(a.probs[i], r.probs[i], 1e-5f * fan) << to_string(b);
              // The chosen action may differ only where two probabilities tie within tolerance.
              if (a.action != r.action) {
                ASSERT_NEAR(r.probs[a.action], r.probs[r.action], 2e-5f * fan);
              }
            }
          }
        }
      }
    }
  }
}

TEST(Policy_Backends, ActorAloneDecidesAsTheFullPassWithoutAValue) {
  // Odd input counts (13, 7, 33, 1) exercise the actor-only loop's last,
  // unpaired input; 5 and 8 actions the heads one by one.
  std::mt19937_64 rng(9);
  std::normal_distribution<float> d(0.0f, 1.0f);
  struct Shape {
    std::uint32_t obs, h1, h2, na;
  };
  std::vector<PolicyBackend> backends = vector_backends();
  backends.push_back(PolicyBackend::scalar);
  for (const Shape s : {Shape{13, 64, 64, 3}, Shape{7, 100, 33, 5}, Shape{64, 256, 256, 8}, Shape{1, 1, 1, 1},
                        Shape{40, 33, 64, 2}}) {
    for (const Activation act : {Activation::tanh, Activation::relu}) {
      const auto m = random_model(rng(), 1.0f, true, act, s.obs, s.h1, s.h2, s.na);
      std::string err;
      auto ref = Policy::create(m, PolicyBackend::scalar, err);
      ASSERT_TRUE(ref) << err;
      for (const auto b : backends) {
        auto full = Policy::create(m, b, err);
        auto actor = Policy::create(m, b, err, false);
        ASSERT_TRUE(full && actor) << err;
        EXPECT_TRUE(full->critic());
        EXPECT_FALSE(actor->critic());
        if (b != PolicyBackend::scalar) {
          // The value network is not packed: its two layers (outputs padded to
          // 64, blocks to 16 floats) and the value head are lines not to keep warm.
          const auto r16 = [](std::uint32_t n) { return (n + 15) / 16 * 16; };
          const std::uint32_t h1p = (s.h1 + 63) / 64 * 64, h2p = (s.h2 + 63) / 64 * 64;
          const std::uint32_t vf = r16(s.obs * h1p) + h1p + r16(s.h1 * h2p) + h2p + h2p;
          EXPECT_EQ(full->prefetch_lines() - actor->prefetch_lines(), vf * 4 / 64) << to_string(b);
        }
        const float fan = std::max(1.0f, std::sqrt(static_cast<float>(s.h1 * s.h2) / 4096.0f));
        std::vector<float> obs(s.obs);
        tickpath::test::AllocationScope scope;
        for (int k = 0; k < 30; ++k) {
          for (auto& v : obs) v = d(rng) * 1000.0f;
          PolicyOutput a, f, r;
          ASSERT_TRUE(actor->forward(obs.data(), a));
          ASSERT_TRUE(full->forward(obs.data(), f));
          ASSERT_TRUE(ref->forward(obs.data(), r));
          EXPECT_TRUE(std::isnan(a.value)) << to_string(b);
          EXPECT_TRUE(std::isfinite(f.value)) << to_string(b);
          for (std::uint32_t i = 0; i < s.na; ++i)
            ASSERT_NEAR(a.probs[i], r.probs[i], 1e-5f * fan) << to_string(b) << " shape " << s.obs << "/" << s.h1;
          if (b == PolicyBackend::scalar) {  // the same arithmetic as the full pass
            EXPECT_EQ(a.probs, f.probs);
            EXPECT_EQ(a.action, f.action);
          } else if (a.action != r.action) {  // the vector actor sums in another order: a near tie at most
            ASSERT_NEAR(r.probs[a.action], r.probs[r.action], 2e-5f * fan) << to_string(b);
          }
        }
        EXPECT_EQ(scope.count(), 0U) << to_string(b);
      }
    }
  }
}

TEST(Policy_HotPath, NonFiniteInputsHoldAndAreCountedAndNothingAllocates) {
  const auto m = PolicyModel::init_orthogonal(11);
  for (const auto b : {PolicyBackend::scalar, best_policy_backend()}) {
    std::string err;
    auto p = Policy::create(m, b, err);
    ASSERT_TRUE(p) << err;
    std::vector<float> obs(13, 0.1f);
    PolicyOutput out;
    tickpath::test::AllocationScope scope;
    for (int i = 0; i < 10000; ++i) {
      obs[static_cast<std::size_t>(i % 13)] = static_cast<float>(i) * 1e-3f;
      ASSERT_TRUE(p->forward(obs.data(), out));
    }
    obs[5] = std::nanf("");
    EXPECT_FALSE(p->forward(obs.data(), out));
    EXPECT_EQ(out.action, 0);
    EXPECT_EQ(out.confidence, 0.0f);
    obs[5] = INFINITY;
    EXPECT_FALSE(p->forward(obs.data(), out));
    EXPECT_EQ(scope.count(), 0U) << to_string(b);
    EXPECT_EQ(p->non_finite_inputs(), 2U);
  }
}

TEST(Policy_HotPath, IdlePrefetchSweepsEveryLineAndWraps) {
  const auto m = PolicyModel::init_orthogonal(5);
  for (const auto b : {PolicyBackend::scalar, best_policy_backend()}) {
    std::string err;
    auto p = Policy::create(m, b, err);
    ASSERT_TRUE(p) << err;
    const std::uint32_t total = p->prefetch_lines();
    if (b == PolicyBackend::scalar) {
      EXPECT_EQ(total, 0U);
      EXPECT_EQ(p->prefetch(7, 16), 0U);
      continue;
    }
    // The packed weights of both 13-64-64 networks and the heads: about 40 KB.
    EXPECT_GE(total, (2 * (13 * 64 + 64 * 64) + 4 * 64) * 4 / 64);
    EXPECT_LE(total, 1024U);
    std::vector<float> obs(13, 0.25f);
    PolicyOutput before, after;
    ASSERT_TRUE(p->forward(obs.data(), before));
    tickpath::test::AllocationScope scope;
    std::uint32_t c = 0, touched = 0;
    for (; touched < total; touched += 16) c = p->prefetch(c, 16);
    EXPECT_EQ(c, touched - total == 0 ? total : touched - total);  // wrapped to the start, or stopped at the end
    EXPECT_EQ(p->prefetch(total, 3), 3U);  // a cursor at the end starts over
    EXPECT_EQ(scope.count(), 0U);
    ASSERT_TRUE(p->forward(obs.data(), after));  // prefetching changes nothing the pass computes
    EXPECT_EQ(after.value, before.value);
    EXPECT_EQ(after.probs, before.probs);
  }
}

TEST(Policy_Normalisation, VecNormalizeThenClip) {
  auto m = random_model(5, 1.0f, true);
  m.clip_obs = 2.0f;
  PolicyModel plain = m;
  plain.has_normalisation = false;
  plain.obs_mean.clear(), plain.obs_var.clear();
  std::string err;
  auto with = Policy::create(m, PolicyBackend::scalar, err);
  auto without = Policy::create(plain, PolicyBackend::scalar, err);
  std::vector<float> raw(13), normed(13);
  for (int i = 0; i < 13; ++i) {
    raw[i] = static_cast<float>(i) - 6.0f;
    const double z = (raw[i] - m.obs_mean[i]) / std::sqrt(double(m.obs_var[i]) + m.epsilon);
    normed[i] = static_cast<float>(std::clamp(z, -2.0, 2.0));
  }
  PolicyOutput a, b;
  ASSERT_TRUE(with->forward(raw.data(), a));
  ASSERT_TRUE(without->forward(normed.data(), b));
  EXPECT_NEAR(a.value, b.value, 1e-6);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(a.probs[i], b.probs[i], 1e-6);
}

TEST(Policy_Backends, UnsupportedBackendIsASetupError) {
  PolicyBackend b;
  EXPECT_TRUE(parse_policy_backend("auto", b));
  EXPECT_EQ(b, best_policy_backend());
  EXPECT_FALSE(parse_policy_backend("gpu", b));
}

TEST(Policy_OneDnn, BatchesAgreeWithScalarReference) {
  std::mt19937_64 rng(21);
  std::normal_distribution<float> d(0.0f, 1.0f);
  for (const float scale : {1.0f, 8.0f}) {
    for (const bool norm : {false, true}) {
      const auto m = random_model(rng(), scale, norm);
      std::string err;
      auto ref = Policy::create(m, PolicyBackend::scalar, err);
      auto batched = OnednnPolicy::create(m, 64, err);
      ASSERT_TRUE(batched) << err;
      const std::size_t rows = 150;  // two full batches and a padded one
      std::vector<float> obs(rows * 13);
      for (auto& v : obs) v = d(rng) * (norm ? 100.0f : 3.0f);
      obs[77 * 13 + 4] = std::nanf("");
      std::vector<PolicyOutput> out(rows);
      EXPECT_EQ(batched->forward(obs.data(), rows, out.data()), 1U);
      for (std::size_t r = 0; r < rows; ++r) {
        PolicyOutput want;
        const bool ok = ref->forward(&obs[r * 13], want);
        EXPECT_EQ(ok, r != 77);
        if (!ok) {
          EXPECT_EQ(out[r].confidence, 0.0f);
          continue;
        }
        // oneDNN reduces in float32 in its own order: on weights large enough to saturate
        // (scale 8) it lands up to 1.5e-5 from the double reference; 1e-5 otherwise.
        const float tol = scale > 1.0f ? 2e-5f : 1e-5f;
        ASSERT_NEAR(out[r].value, want.value, tol * std::max(1.0f, std::fabs(want.value)))
            << r << " scale " << scale << " norm " << norm;
        for (int a = 0; a < 3; ++a) ASSERT_NEAR(out[r].probs[a], want.probs[a], tol) << r;
      }
    }
  }
}
