// AVX-512 forward pass. Compiled with -mavx512f; called only when the CPU
// says it has AVX-512F.
// GCC 12 warns inside its own avx512fintrin.h (_mm512_undefined_ps in the
// unmasked max/reduce intrinsics): a false positive, silenced for this file.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include "policy_kernels.hpp"
#include "policy_pass.hpp"

namespace tickpath::strategy::kernels {

namespace {

// kExpPoly (policy_pass.hpp) by Estrin's scheme: three multiply-adds deep,
// seven instructions.
inline __m512 exp_poly(__m512 r, const float (&c)[5]) {
  const __m512 r2 = _mm512_mul_ps(r, r);
  const __m512 p01 = _mm512_fmadd_ps(r, _mm512_set1_ps(c[0]), _mm512_set1_ps(1.0f));
  const __m512 p23 = _mm512_fmadd_ps(r, _mm512_set1_ps(c[2]), _mm512_set1_ps(c[1]));
  const __m512 p45 = _mm512_fmadd_ps(r, _mm512_set1_ps(c[4]), _mm512_set1_ps(c[3]));
  const __m512 r4 = _mm512_mul_ps(r2, r2);
  return _mm512_fmadd_ps(p45, r4, _mm512_fmadd_ps(p23, r2, p01));
}

// k = round(v log2(e)) by the magic-number trick: t = v log2(e) + 1.5 * 2^23
// rounds to an integer in float, k = t - 1.5 * 2^23. No rounding
// instruction; 2^k is applied by vscalefps, one instruction.
constexpr float kExpMagic = 12582912.0f;  // 1.5 * 2^23

// tanh(x) = sign(x) * (1 - 2 / (e^{2|x|} + 1)), |x| clamped at 9 (where
// tanh is 1 - 3e-8). e^{2|x|} = 2^k e^{2r'} with r' = |x| - k ln2/2, so the
// reduction needs no doubling: the polynomial takes r' with its
// coefficients scaled (kExpPolyHalf). k <= 26 here, so ln2 in one float
// constant is close enough (k times its 1.9e-9 error is 2.5e-8 of the
// result at most). 2 / (e + 1) = 1 / h, h = (e + 1) / 2, by the 14-bit
// reciprocal estimate u and one Newton step folded into the last
// multiply-add: 1 - u (2 - h u). 18 instructions. Absolute error against
// std::tanh stays below 2.5e-7 (tested on a dense grid).
inline __m512 tanh16(__m512 x) {
  const __m512i sign = _mm512_set1_epi32(static_cast<int>(0x80000000U));
  __m512 ax = _mm512_castsi512_ps(_mm512_andnot_si512(sign, _mm512_castps_si512(x)));
  ax = _mm512_min_ps(ax, _mm512_set1_ps(9.0f));
  const __m512 t = _mm512_fmadd_ps(ax, _mm512_set1_ps(2.0f * 1.44269504088896341f), _mm512_set1_ps(kExpMagic));
  const __m512 k = _mm512_sub_ps(t, _mm512_set1_ps(kExpMagic));
  const __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.5f * 0.693147180559945309f), ax);
  const __m512 e = _mm512_scalef_ps(exp_poly(r, kExpPolyHalf), k);
  const __m512 h = _mm512_fmadd_ps(e, _mm512_set1_ps(0.5f), _mm512_set1_ps(0.5f));
  const __m512 u = _mm512_rcp14_ps(h);
  const __m512 th = _mm512_fnmadd_ps(u, _mm512_fnmadd_ps(h, u, _mm512_set1_ps(2.0f)), _mm512_set1_ps(1.0f));
  // th | (x & sign): one ternary-logic instruction
  return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_castps_si512(th), _mm512_castps_si512(x), sign, 0xF8));
}

// e^v for the softmax (v <= 0): 0 below -86.
// ln2 in two constants (k reaches -125 here); the high part has 9 bits, so
// k times it is exact.
inline __m512 exp16(__m512 v) {
  const __mmask16 live = _mm512_cmp_ps_mask(v, _mm512_set1_ps(-86.0f), _CMP_GE_OQ);
  v = _mm512_max_ps(v, _mm512_set1_ps(-86.0f));
  const __m512 t = _mm512_fmadd_ps(v, _mm512_set1_ps(1.44269504088896341f), _mm512_set1_ps(kExpMagic));
  const __m512 k = _mm512_sub_ps(t, _mm512_set1_ps(kExpMagic));
  __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), v);
  r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);
  return _mm512_maskz_scalef_ps(live, exp_poly(r, kExpPoly), k);
}

inline __m512 activate(__m512 v, bool relu) { return relu ? _mm512_max_ps(v, _mm512_setzero_ps()) : tanh16(v); }

// Dual: ya = act(A xa + ba) and yb = act(B xb + bb), interleaved, one
// input a step. Single (the actor alone): ya = act(A xa + ba), two inputs a
// step, even ones into the a chains and odd ones into the b chains, summed
// at the end. Either way 64 outputs have 8 independent accumulator chains,
// which keeps both FMA ports busy.
template <bool Dual>
void dense(const PackedLayer& A, const float* xa, const PackedLayer& B, const float* xb, float* ya, float* yb,
           bool relu) {
  const std::uint32_t outp = A.outp, in = A.in;
  const std::uint32_t step = Dual ? 1 : 2, stop = Dual ? in : in & ~1U;
  const float* xs = Dual ? xb : xa + 1;
  for (std::uint32_t o = 0; o < outp; o += 64) {
    __m512 a0 = _mm512_load_ps(A.b + o), a1 = _mm512_load_ps(A.b + o + 16), a2 = _mm512_load_ps(A.b + o + 32),
           a3 = _mm512_load_ps(A.b + o + 48);
    __m512 b0 = _mm512_setzero_ps(), b1 = b0, b2 = b0, b3 = b0;
    if constexpr (Dual) {
      b0 = _mm512_load_ps(B.b + o), b1 = _mm512_load_ps(B.b + o + 16), b2 = _mm512_load_ps(B.b + o + 32),
      b3 = _mm512_load_ps(B.b + o + 48);
    }
    const float* wa = A.w + o;
    const float* wb = Dual ? B.w + o : A.w + outp + o;
    for (std::uint32_t i = 0; i < stop; i += step, wa += step * outp, wb += step * outp) {
      const __m512 va = _mm512_set1_ps(xa[i]);
      const __m512 vb = _mm512_set1_ps(xs[i]);
      a0 = _mm512_fmadd_ps(_mm512_load_ps(wa), va, a0);
      b0 = _mm512_fmadd_ps(_mm512_load_ps(wb), vb, b0);
      a1 = _mm512_fmadd_ps(_mm512_load_ps(wa + 16), va, a1);
      b1 = _mm512_fmadd_ps(_mm512_load_ps(wb + 16), vb, b1);
      a2 = _mm512_fmadd_ps(_mm512_load_ps(wa + 32), va, a2);
      b2 = _mm512_fmadd_ps(_mm512_load_ps(wb + 32), vb, b2);
      a3 = _mm512_fmadd_ps(_mm512_load_ps(wa + 48), va, a3);
      b3 = _mm512_fmadd_ps(_mm512_load_ps(wb + 48), vb, b3);
    }
    if constexpr (!Dual) {
      if ((in & 1U) != 0) {  // the last, odd input; wa is at its row
        const __m512 va = _mm512_set1_ps(xa[in - 1]);
        a0 = _mm512_fmadd_ps(_mm512_load_ps(wa), va, a0);
        a1 = _mm512_fmadd_ps(_mm512_load_ps(wa + 16), va, a1);
        a2 = _mm512_fmadd_ps(_mm512_load_ps(wa + 32), va, a2);
        a3 = _mm512_fmadd_ps(_mm512_load_ps(wa + 48), va, a3);
      }
      a0 = _mm512_add_ps(a0, b0), a1 = _mm512_add_ps(a1, b1), a2 = _mm512_add_ps(a2, b2), a3 = _mm512_add_ps(a3, b3);
    }
    _mm512_store_ps(ya + o, activate(a0, relu));
    _mm512_store_ps(ya + o + 16, activate(a1, relu));
    _mm512_store_ps(ya + o + 32, activate(a2, relu));
    _mm512_store_ps(ya + o + 48, activate(a3, relu));
    if constexpr (Dual) {
      _mm512_store_ps(yb + o, activate(b0, relu));
      _mm512_store_ps(yb + o + 16, activate(b1, relu));
      _mm512_store_ps(yb + o + 32, activate(b2, relu));
      _mm512_store_ps(yb + o + 48, activate(b3, relu));
    }
  }
}

// w . x over np (a multiple of 16), left in 16 lanes.
inline __m512 dot_lanes(const float* w, const float* x, std::uint32_t np) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  std::uint32_t i = 0;
  for (; i + 32 <= np; i += 32) {
    s0 = _mm512_fmadd_ps(_mm512_load_ps(w + i), _mm512_load_ps(x + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_load_ps(w + i + 16), _mm512_load_ps(x + i + 16), s1);
  }
  for (; i < np; i += 16) s0 = _mm512_fmadd_ps(_mm512_load_ps(w + i), _mm512_load_ps(x + i), s0);
  return _mm512_add_ps(s0, s1);
}

// The action heads' sums (at most three, from lane 0) and the value head's
// (lane 3): four dot products reduced together in 13 instructions, where
// four separate reductions take 32 and leave the sums in memory for the
// softmax to load back.
inline __m128 heads4(const PackedNet& net, const float* l_pi, const float* l_vf) {
  __m512 s[4];
  for (std::uint32_t a = 0; a < 3; ++a)
    s[a] = a < net.n_actions ? dot_lanes(net.action_w + a * net.h2p, l_pi, net.h2p) : _mm512_setzero_ps();
  s[3] = net.critic != 0 ? dot_lanes(net.value_w, l_vf, net.h2p) : _mm512_setzero_ps();
  // Per 128-bit block: [s0 s1 s0 s1] pairs summed, then [s0 s1 s2 s3], then the blocks.
  const __m512 t01 = _mm512_add_ps(_mm512_unpacklo_ps(s[0], s[1]), _mm512_unpackhi_ps(s[0], s[1]));
  const __m512 t23 = _mm512_add_ps(_mm512_unpacklo_ps(s[2], s[3]), _mm512_unpackhi_ps(s[2], s[3]));
  __m512 u = _mm512_add_ps(_mm512_shuffle_ps(t01, t23, _MM_SHUFFLE(1, 0, 1, 0)),
                           _mm512_shuffle_ps(t01, t23, _MM_SHUFFLE(3, 2, 3, 2)));
  u = _mm512_add_ps(u, _mm512_shuffle_f32x4(u, u, _MM_SHUFFLE(1, 0, 3, 2)));
  u = _mm512_add_ps(u, _mm512_shuffle_f32x4(u, u, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm512_castps512_ps128(u);
}

inline float dot(const float* w, const float* x, std::uint32_t np) { return _mm512_reduce_add_ps(dot_lanes(w, x, np)); }

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
  const Hidden h = hidden_layers(net, x, scratch, &dense<true>, &dense<false>);
  if (net.n_actions <= 3) {  // the trading layout
    const auto exp4 = [](__m128 v) { return _mm512_castps512_ps128(exp16(_mm512_zextps128_ps512(v))); };
    heads_softmax4(net, heads4(net, h.l_pi, h.l_vf), exp4, probs, value, action);
    return true;
  }
  // Wider action spaces: the heads one by one, then the softmax over at most
  // 16 logits in one register.
  alignas(64) float logits[16];
  for (std::uint32_t a = 0; a < net.n_actions; ++a)
    logits[a] = dot(net.action_w + a * net.h2p, h.l_pi, net.h2p) + net.action_b[a];
  if (net.critic != 0) *value = dot(net.value_w, h.l_vf, net.h2p) + net.value_b;
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
