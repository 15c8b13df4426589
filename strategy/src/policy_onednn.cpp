#include "tickpath/strategy/policy_onednn.hpp"

#include <oneapi/dnnl/dnnl.hpp>

#include <cmath>
#include <exception>
#include <vector>

namespace tickpath::strategy {

namespace {
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;
}  // namespace

struct OnednnPolicy::Impl {
  PolicyModel model;
  std::size_t batch = 0;
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{eng};
  std::vector<float> x, h_pi, h_vf, l_pi, l_vf, logits, value, inv_std;

  struct Layer {
    dnnl::matmul prim;
    dnnl::memory src, w, b, dst;
  };
  Layer pi1, pi2, vf1, vf2, act, val;

  // dst[batch x out] = act(src[batch x in] * W^T + b), W in torch's [out][in] layout ("ba").
  Layer make(const DenseLayer& l, float* src, float* dst, bool activate) {
    const auto M = static_cast<dnnl::memory::dim>(batch);
    const auto K = static_cast<dnnl::memory::dim>(l.in);
    const auto N = static_cast<dnnl::memory::dim>(l.out);
    const dnnl::memory::desc src_md({M, K}, dt::f32, tag::ab);
    const dnnl::memory::desc w_md({K, N}, dt::f32, tag::ba);
    const dnnl::memory::desc b_md({1, N}, dt::f32, tag::ab);
    const dnnl::memory::desc dst_md({M, N}, dt::f32, tag::ab);
    dnnl::primitive_attr attr;
    if (activate) {
      dnnl::post_ops po;
      po.append_eltwise(1.0f,
                        model.activation == Activation::relu ? dnnl::algorithm::eltwise_relu
                                                             : dnnl::algorithm::eltwise_tanh,
                        0.0f, 0.0f);
      attr.set_post_ops(po);
    }
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src_md, w_md, b_md, dst_md), attr, eng);
    Layer layer;
    layer.prim = dnnl::matmul(pd);
    layer.src = dnnl::memory(src_md, eng, src);
    layer.w = dnnl::memory(w_md, eng, const_cast<float*>(l.w.data()));
    layer.b = dnnl::memory(b_md, eng, const_cast<float*>(l.b.data()));
    layer.dst = dnnl::memory(dst_md, eng, dst);
    return layer;
  }
  void run(Layer& l) {
    l.prim.execute(stream, {{DNNL_ARG_SRC, l.src}, {DNNL_ARG_WEIGHTS, l.w}, {DNNL_ARG_BIAS, l.b}, {DNNL_ARG_DST, l.dst}});
  }
};

OnednnPolicy::OnednnPolicy() : impl_(std::make_unique<Impl>()) {}
OnednnPolicy::~OnednnPolicy() = default;
std::size_t OnednnPolicy::batch() const noexcept { return impl_->batch; }

std::unique_ptr<OnednnPolicy> OnednnPolicy::create(const PolicyModel& model, std::size_t batch, std::string& error) {
  if (batch == 0) {
    error = "oneDNN policy batch must be at least 1";
    return nullptr;
  }
  try {
    std::unique_ptr<OnednnPolicy> p(new OnednnPolicy());
    Impl& m = *p->impl_;
    m.model = model;
    m.batch = batch;
    m.x.assign(batch * model.n_obs, 0.0f);
    m.h_pi.assign(batch * model.h1, 0.0f);
    m.h_vf.assign(batch * model.h1, 0.0f);
    m.l_pi.assign(batch * model.h2, 0.0f);
    m.l_vf.assign(batch * model.h2, 0.0f);
    m.logits.assign(batch * model.n_actions, 0.0f);
    m.value.assign(batch, 0.0f);
    m.inv_std.assign(model.n_obs, 1.0f);
    for (std::uint32_t i = 0; i < model.n_obs && model.has_normalisation; ++i)
      m.inv_std[i] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(model.obs_var[i]) + model.epsilon));
    // The layers point at m.model's weights: they live as long as *p.
    m.pi1 = m.make(m.model.pi1, m.x.data(), m.h_pi.data(), true);
    m.vf1 = m.make(m.model.vf1, m.x.data(), m.h_vf.data(), true);
    m.pi2 = m.make(m.model.pi2, m.h_pi.data(), m.l_pi.data(), true);
    m.vf2 = m.make(m.model.vf2, m.h_vf.data(), m.l_vf.data(), true);
    m.act = m.make(m.model.action, m.l_pi.data(), m.logits.data(), false);
    m.val = m.make(m.model.value, m.l_vf.data(), m.value.data(), false);
    return p;
  } catch (const std::exception& e) {
    error = std::string("oneDNN: ") + e.what();
    return nullptr;
  }
}

std::size_t OnednnPolicy::forward(const float* raw, std::size_t rows, PolicyOutput* out) {
  Impl& m = *impl_;
  const std::uint32_t n = m.model.n_obs, na = m.model.n_actions;
  std::size_t bad = 0;
  for (std::size_t done = 0; done < rows; done += m.batch) {
    const std::size_t k = std::min(m.batch, rows - done);
    std::vector<bool> finite(k, true);
    for (std::size_t r = 0; r < m.batch; ++r) {
      for (std::uint32_t i = 0; i < n; ++i) {
        float z = 0.0f;
        if (r < k) {
          const float v = raw[(done + r) * n + i];
          if (!std::isfinite(v)) finite[r] = false;
          z = m.model.has_normalisation ? (v - m.model.obs_mean[i]) * m.inv_std[i] : v;
          if (m.model.has_normalisation) z = std::fmin(std::fmax(z, -m.model.clip_obs), m.model.clip_obs);
          if (!finite[r]) z = 0.0f;
        }
        m.x[r * n + i] = z;
      }
    }
    m.run(m.pi1), m.run(m.vf1), m.run(m.pi2), m.run(m.vf2), m.run(m.act), m.run(m.val);
    m.stream.wait();
    for (std::size_t r = 0; r < k; ++r) {
      PolicyOutput& o = out[done + r];
      if (!finite[r]) {
        o = PolicyOutput{};
        ++bad;
        continue;
      }
      o.action = softmax_argmax(&m.logits[r * na], na, o.probs.data());
      o.confidence = o.probs[o.action];
      o.value = m.value[r];
    }
  }
  return bad;
}

}  // namespace tickpath::strategy
