// AVX2 + FMA forward pass. Compiled with -mavx2 -mfma; called only when the
// CPU says it has both.
#include <immintrin.h>

#include "policy_kernels.hpp"

namespace tickpath::strategy::kernels {

namespace {

// Same tanh as the AVX-512 kernel (see there), 8 lanes; 2^k by adding k to
// the exponent field.
inline __m256 tanh8(__m256 x) {
  const __m256 sign = _mm256_castsi256_ps(_mm256_set1_epi32(static_cast<int>(0x80000000U)));
  __m256 ax = _mm256_andnot_ps(sign, x);
  ax = _mm256_min_ps(ax, _mm256_set1_ps(9.0f));
  const __m256 y = _mm256_add_ps(ax, ax);
  const __m256 k = _mm256_round_ps(_mm256_mul_ps(y, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), y);
  r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.0f / 720.0f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i ki = _mm256_slli_epi32(_mm256_cvtps_epi32(k), 23);
  const __m256 e = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), ki));
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 t = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one)));
  return _mm256_or_ps(t, _mm256_and_ps(x, sign));
}

inline __m256 activate(__m256 v, bool relu) { return relu ? _mm256_max_ps(v, _mm256_setzero_ps()) : tanh8(v); }

// ya = act(A xa + ba), yb = act(B xb + bb), 32 outputs of each per pass:
// 8 independent accumulator chains.
void dual_dense(const PackedLayer& A, const float* xa, const PackedLayer& B, const float* xb, float* ya, float* yb,
                bool relu) {
  const std::uint32_t outp = A.outp, in = A.in;
  for (std::uint32_t o = 0; o < outp; o += 32) {
    __m256 a0 = _mm256_load_ps(A.b + o), a1 = _mm256_load_ps(A.b + o + 8), a2 = _mm256_load_ps(A.b + o + 16),
           a3 = _mm256_load_ps(A.b + o + 24);
    __m256 b0 = _mm256_load_ps(B.b + o), b1 = _mm256_load_ps(B.b + o + 8), b2 = _mm256_load_ps(B.b + o + 16),
           b3 = _mm256_load_ps(B.b + o + 24);
    const float* wa = A.w + o;
    const float* wb = B.w + o;
    for (std::uint32_t i = 0; i < in; ++i, wa += outp, wb += outp) {
      const __m256 va = _mm256_broadcast_ss(xa + i);
      const __m256 vb = _mm256_broadcast_ss(xb + i);
      a0 = _mm256_fmadd_ps(_mm256_load_ps(wa), va, a0);
      b0 = _mm256_fmadd_ps(_mm256_load_ps(wb), vb, b0);
      a1 = _mm256_fmadd_ps(_mm256_load_ps(wa + 8), va, a1);
      b1 = _mm256_fmadd_ps(_mm256_load_ps(wb + 8), vb, b1);
      a2 = _mm256_fmadd_ps(_mm256_load_ps(wa + 16), va, a2);
      b2 = _mm256_fmadd_ps(_mm256_load_ps(wb + 16), vb, b2);
      a3 = _mm256_fmadd_ps(_mm256_load_ps(wa + 24), va, a3);
      b3 = _mm256_fmadd_ps(_mm256_load_ps(wb + 24), vb, b3);
    }
    _mm256_store_ps(ya + o, activate(a0, relu));
    _mm256_store_ps(ya + o + 8, activate(a1, relu));
    _mm256_store_ps(ya + o + 16, activate(a2, relu));
    _mm256_store_ps(ya + o + 24, activate(a3, relu));
    _mm256_store_ps(yb + o, activate(b0, relu));
    _mm256_store_ps(yb + o + 8, activate(b1, relu));
    _mm256_store_ps(yb + o + 16, activate(b2, relu));
    _mm256_store_ps(yb + o + 24, activate(b3, relu));
  }
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float dot(const float* w, const float* x, std::uint32_t np) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  for (std::uint32_t i = 0; i < np; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_load_ps(w + i), _mm256_load_ps(x + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_load_ps(w + i + 8), _mm256_load_ps(x + i + 8), s1);
  }
  return hsum(_mm256_add_ps(s0, s1));
}

}  // namespace

void forward_avx2(const PackedNet& net, const float* x, float* scratch, float* logits, float* value) {
  float* h_pi = scratch;
  float* h_vf = scratch + 256;
  float* l_pi = scratch + 512;
  float* l_vf = scratch + 768;
  const bool relu = net.relu != 0;
  dual_dense(net.pi1, x, net.vf1, x, h_pi, h_vf, relu);
  dual_dense(net.pi2, h_pi, net.vf2, h_vf, l_pi, l_vf, relu);
  for (std::uint32_t a = 0; a < net.n_actions; ++a) logits[a] = dot(net.action_w + a * net.h2p, l_pi, net.h2p) + net.action_b[a];
  *value = dot(net.value_w, l_vf, net.h2p) + net.value_b;
}

void tanh_avx2(const float* in, float* out, std::uint32_t n) {
  for (std::uint32_t i = 0; i < n; i += 8) _mm256_storeu_ps(out + i, tanh8(_mm256_loadu_ps(in + i)));
}

}  // namespace tickpath::strategy::kernels
