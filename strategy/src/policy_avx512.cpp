// AVX-512 forward pass. Compiled with -mavx512f; called only when the CPU
// says it has AVX-512F.
// GCC 12 warns inside its own avx512fintrin.h (_mm512_undefined_ps in the
// unmasked max/reduce intrinsics): a false positive, silenced for this file.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include "policy_kernels.hpp"

namespace tickpath::strategy::kernels {

namespace {

// e^v for v in [-86, 18] (the callers clamp): v = k ln2 + r, |r| <= ln2/2,
// k rounded by adding 1.5 * 2^23 (the integer lands in the low mantissa
// bits, which then also give 2^k by a shift into the exponent field); e^r by
// its degree-6 Taylor polynomial (relative error < 1.3e-7), evaluated by
// Estrin's scheme, so the dependent chain is three multiply-adds deep, not
// six. No rounding or scaling instruction: everything runs on both vector
// ports.
inline __m512 exp_core(__m512 v) {
  const __m512 magic = _mm512_set1_ps(12582912.0f);
  const __m512 t = _mm512_fmadd_ps(v, _mm512_set1_ps(1.44269504088896341f), magic);
  const __m512 k = _mm512_sub_ps(t, magic);
  __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), v);
  r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);
  const __m512 r2 = _mm512_mul_ps(r, r);
  const __m512 p01 = _mm512_add_ps(r, _mm512_set1_ps(1.0f));
  const __m512 p23 = _mm512_fmadd_ps(r, _mm512_set1_ps(1.0f / 6.0f), _mm512_set1_ps(0.5f));
  const __m512 p45 = _mm512_fmadd_ps(r, _mm512_set1_ps(1.0f / 120.0f), _mm512_set1_ps(1.0f / 24.0f));
  const __m512 r4 = _mm512_mul_ps(r2, r2);
  const __m512 p03 = _mm512_fmadd_ps(p23, r2, p01);
  const __m512 p46 = _mm512_fmadd_ps(_mm512_set1_ps(1.0f / 720.0f), r2, p45);
  const __m512 p = _mm512_fmadd_ps(p46, r4, p03);
  return _mm512_castsi512_ps(
      _mm512_add_epi32(_mm512_castps_si512(p), _mm512_slli_epi32(_mm512_castps_si512(t), 23)));
}

// tanh(x) = sign(x) * (1 - 2 / (e^{2|x|} + 1)), |x| clamped at 9 (where
// tanh is 1 - 3e-8). 2 / (e + 1) by the 14-bit reciprocal estimate and one
// Newton step (relative error ~2^-27, below float's own rounding) instead
// of a divide. Absolute error against std::tanh stays below 2.5e-7 (tested
// on a dense grid).
inline __m512 tanh16(__m512 x) {
  const __m512i sign = _mm512_set1_epi32(static_cast<int>(0x80000000U));
  __m512 ax = _mm512_castsi512_ps(_mm512_andnot_si512(sign, _mm512_castps_si512(x)));
  ax = _mm512_min_ps(ax, _mm512_set1_ps(9.0f));
  const __m512 e = exp_core(_mm512_add_ps(ax, ax));
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 d = _mm512_add_ps(e, one);
  __m512 inv = _mm512_rcp14_ps(d);
  inv = _mm512_mul_ps(inv, _mm512_fnmadd_ps(d, inv, _mm512_set1_ps(2.0f)));
  const __m512 t = _mm512_fnmadd_ps(_mm512_set1_ps(2.0f), inv, one);
  // t | (x & sign): one ternary-logic instruction
  return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_castps_si512(t), _mm512_castps_si512(x), sign, 0xF8));
}

// e^v for the softmax (v <= 0): 0 below -86.
inline __m512 exp16(__m512 v) {
  const __mmask16 live = _mm512_cmp_ps_mask(v, _mm512_set1_ps(-86.0f), _CMP_GE_OQ);
  return _mm512_maskz_mov_ps(live, exp_core(_mm512_max_ps(v, _mm512_set1_ps(-86.0f))));
}

inline __m512 activate(__m512 v, bool relu) { return relu ? _mm512_max_ps(v, _mm512_setzero_ps()) : tanh16(v); }

// ya = act(A xa + ba), yb = act(B xb + bb), interleaved: 8 independent
// accumulator chains per 64 outputs keep both FMA ports busy.
void dual_dense(const PackedLayer& A, const float* xa, const PackedLayer& B, const float* xb, float* ya, float* yb,
                bool relu) {
  const std::uint32_t outp = A.outp, in = A.in;
  for (std::uint32_t o = 0; o < outp; o += 64) {
    __m512 a0 = _mm512_load_ps(A.b + o), a1 = _mm512_load_ps(A.b + o + 16), a2 = _mm512_load_ps(A.b + o + 32),
           a3 = _mm512_load_ps(A.b + o + 48);
    __m512 b0 = _mm512_load_ps(B.b + o), b1 = _mm512_load_ps(B.b + o + 16), b2 = _mm512_load_ps(B.b + o + 32),
           b3 = _mm512_load_ps(B.b + o + 48);
    const float* wa = A.w + o;
    const float* wb = B.w + o;
    for (std::uint32_t i = 0; i < in; ++i, wa += outp, wb += outp) {
      const __m512 va = _mm512_set1_ps(xa[i]);
      const __m512 vb = _mm512_set1_ps(xb[i]);
      a0 = _mm512_fmadd_ps(_mm512_load_ps(wa), va, a0);
      b0 = _mm512_fmadd_ps(_mm512_load_ps(wb), vb, b0);
      a1 = _mm512_fmadd_ps(_mm512_load_ps(wa + 16), va, a1);
      b1 = _mm512_fmadd_ps(_mm512_load_ps(wb + 16), vb, b1);
      a2 = _mm512_fmadd_ps(_mm512_load_ps(wa + 32), va, a2);
      b2 = _mm512_fmadd_ps(_mm512_load_ps(wb + 32), vb, b2);
      a3 = _mm512_fmadd_ps(_mm512_load_ps(wa + 48), va, a3);
      b3 = _mm512_fmadd_ps(_mm512_load_ps(wb + 48), vb, b3);
    }
    _mm512_store_ps(ya + o, activate(a0, relu));
    _mm512_store_ps(ya + o + 16, activate(a1, relu));
    _mm512_store_ps(ya + o + 32, activate(a2, relu));
    _mm512_store_ps(ya + o + 48, activate(a3, relu));
    _mm512_store_ps(yb + o, activate(b0, relu));
    _mm512_store_ps(yb + o + 16, activate(b1, relu));
    _mm512_store_ps(yb + o + 32, activate(b2, relu));
    _mm512_store_ps(yb + o + 48, activate(b3, relu));
  }
}

inline float dot(const float* w, const float* x, std::uint32_t np) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  std::uint32_t i = 0;
  for (; i + 32 <= np; i += 32) {
    s0 = _mm512_fmadd_ps(_mm512_load_ps(w + i), _mm512_load_ps(x + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_load_ps(w + i + 16), _mm512_load_ps(x + i + 16), s1);
  }
  for (; i < np; i += 16) s0 = _mm512_fmadd_ps(_mm512_load_ps(w + i), _mm512_load_ps(x + i), s0);
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

}  // namespace

bool forward_avx512(const PackedNet& net, const float* raw, float* x, float* scratch, float* probs, float* value,
                    std::uint32_t* action) {
  // VecNormalize and clip, 16 observations at a time; r - r is NaN exactly
  // when r is NaN or infinite, which ends the pass. (AVX512F only: no
  // fpclass, which is AVX512DQ.)
  const __m512 clip = _mm512_set1_ps(net.clip);
  for (std::uint32_t i = 0; i < net.n_obs; i += 16) {
    const std::uint32_t left = net.n_obs - i;
    const __mmask16 m = left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1U << left) - 1);
    const __m512 r = _mm512_maskz_loadu_ps(m, raw + i);
    if (_mm512_mask_cmp_ps_mask(m, _mm512_sub_ps(r, r), _mm512_setzero_ps(), _CMP_NEQ_UQ) != 0) return false;
    const __m512 z = _mm512_mul_ps(_mm512_sub_ps(r, _mm512_load_ps(net.mean + i)), _mm512_load_ps(net.inv_std + i));
    _mm512_store_ps(x + i, _mm512_min_ps(_mm512_max_ps(z, _mm512_sub_ps(_mm512_setzero_ps(), clip)), clip));
  }
  float* h_pi = scratch;
  float* h_vf = scratch + 256;
  float* l_pi = scratch + 512;
  float* l_vf = scratch + 768;
  const bool relu = net.relu != 0;
  dual_dense(net.pi1, x, net.vf1, x, h_pi, h_vf, relu);
  dual_dense(net.pi2, h_pi, net.vf2, h_vf, l_pi, l_vf, relu);
  // Heads, then the softmax over at most 16 logits in one register.
  alignas(64) float logits[16];
  for (std::uint32_t a = 0; a < net.n_actions; ++a) logits[a] = dot(net.action_w + a * net.h2p, l_pi, net.h2p) + net.action_b[a];
  *value = dot(net.value_w, l_vf, net.h2p) + net.value_b;
  const __mmask16 am = static_cast<__mmask16>((1U << net.n_actions) - 1);
  const __m512 l = _mm512_mask_loadu_ps(_mm512_set1_ps(-3.4e38f), am, logits);
  const float mx = _mm512_reduce_max_ps(l);
  const auto first = static_cast<std::uint32_t>(_mm512_mask_cmp_ps_mask(am, l, _mm512_set1_ps(mx), _CMP_EQ_OQ));
  *action = first != 0 ? static_cast<std::uint32_t>(__builtin_ctz(first)) : 0;  // 0: a NaN logit (overflow)
  const __m512 e = _mm512_maskz_mov_ps(am, exp16(_mm512_sub_ps(l, _mm512_set1_ps(mx))));
  const float inv = 1.0f / _mm512_reduce_add_ps(e);
  _mm512_mask_storeu_ps(probs, am, _mm512_mul_ps(e, _mm512_set1_ps(inv)));
  return true;
}

void tanh_avx512(const float* in, float* out, std::uint32_t n) {
  for (std::uint32_t i = 0; i < n; i += 16) _mm512_storeu_ps(out + i, tanh16(_mm512_loadu_ps(in + i)));
}

void exp_avx512(const float* in, float* out, std::uint32_t n) {
  for (std::uint32_t i = 0; i < n; i += 16) _mm512_storeu_ps(out + i, exp16(_mm512_loadu_ps(in + i)));
}

}  // namespace tickpath::strategy::kernels
