// AVX2 + FMA forward pass. Compiled with -mavx2 -mfma; called only when the
// CPU says it has both.
#include <immintrin.h>

#include "policy_kernels.hpp"
#include "policy_pass.hpp"

namespace tickpath::strategy::kernels {

namespace {

// The AVX-512 kernel's exp and tanh (see there), 8 lanes; 2^k by an
// integer add into the exponent field (AVX2 has no vscalefps: k is the low
// bits of t, shifted there), and the reciprocal is a divide (AVX2's
// estimate has 12 bits, one Newton step is not enough for the error bound).
inline __m256 exp_reduced(__m256 t, __m256 r, const float (&c)[5]) {
  const __m256 r2 = _mm256_mul_ps(r, r);
  const __m256 p01 = _mm256_fmadd_ps(r, _mm256_set1_ps(c[0]), _mm256_set1_ps(1.0f));
  const __m256 p23 = _mm256_fmadd_ps(r, _mm256_set1_ps(c[2]), _mm256_set1_ps(c[1]));
  const __m256 p45 = _mm256_fmadd_ps(r, _mm256_set1_ps(c[4]), _mm256_set1_ps(c[3]));
  const __m256 r4 = _mm256_mul_ps(r2, r2);
  const __m256 p = _mm256_fmadd_ps(p45, r4, _mm256_fmadd_ps(p23, r2, p01));
  return _mm256_castsi256_ps(
      _mm256_add_epi32(_mm256_castps_si256(p), _mm256_slli_epi32(_mm256_castps_si256(t), 23)));
}

constexpr float kExpMagic = 12582912.0f;  // 1.5 * 2^23

inline __m256 tanh8(__m256 x) {
  const __m256 sign = _mm256_castsi256_ps(_mm256_set1_epi32(static_cast<int>(0x80000000U)));
  __m256 ax = _mm256_andnot_ps(sign, x);
  ax = _mm256_min_ps(ax, _mm256_set1_ps(9.0f));
  const __m256 t = _mm256_fmadd_ps(ax, _mm256_set1_ps(2.0f * 1.44269504088896341f), _mm256_set1_ps(kExpMagic));
  const __m256 k = _mm256_sub_ps(t, _mm256_set1_ps(kExpMagic));
  const __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.5f * 0.693147180559945309f), ax);
  const __m256 h = _mm256_fmadd_ps(exp_reduced(t, r, kExpPolyHalf), _mm256_set1_ps(0.5f), _mm256_set1_ps(0.5f));
  const __m256 th = _mm256_sub_ps(_mm256_set1_ps(1.0f), _mm256_div_ps(_mm256_set1_ps(1.0f), h));
  return _mm256_or_ps(th, _mm256_and_ps(x, sign));
}

// e^v for the softmax (v <= 0): 0 below -86.
inline __m256 exp8(__m256 v) {
  const __m256 floor = _mm256_set1_ps(-86.0f);
  const __m256 live = _mm256_cmp_ps(v, floor, _CMP_GE_OQ);
  v = _mm256_max_ps(v, floor);
  const __m256 t = _mm256_fmadd_ps(v, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(kExpMagic));
  const __m256 k = _mm256_sub_ps(t, _mm256_set1_ps(kExpMagic));
  __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), v);
  r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);
  return _mm256_and_ps(live, exp_reduced(t, r, kExpPoly));
}

inline __m256 activate(__m256 v, bool relu) { return relu ? _mm256_max_ps(v, _mm256_setzero_ps()) : tanh8(v); }

// Dual: ya = act(A xa + ba) and yb = act(B xb + bb), interleaved, one
// input a step. Single (the actor alone): ya = act(A xa + ba), two inputs a
// step, even ones into the a chains and odd ones into the b chains, summed
// at the end. Either way 32 outputs have 8 independent accumulator chains,
// which keeps both FMA ports busy.
template <bool Dual>
void dense(const PackedLayer& A, const float* xa, const PackedLayer& B, const float* xb, float* ya, float* yb,
           bool relu) {
  const std::uint32_t outp = A.outp, in = A.in;
  const std::uint32_t step = Dual ? 1 : 2, stop = Dual ? in : in & ~1U;
  const float* xs = Dual ? xb : xa + 1;
  for (std::uint32_t o = 0; o < outp; o += 32) {
    __m256 a0 = _mm256_load_ps(A.b + o), a1 = _mm256_load_ps(A.b + o + 8), a2 = _mm256_load_ps(A.b + o + 16),
           a3 = _mm256_load_ps(A.b + o + 24);
    __m256 b0 = _mm256_setzero_ps(), b1 = b0, b2 = b0, b3 = b0;
    if constexpr (Dual) {
      b0 = _mm256_load_ps(B.b + o), b1 = _mm256_load_ps(B.b + o + 8), b2 = _mm256_load_ps(B.b + o + 16),
      b3 = _mm256_load_ps(B.b + o + 24);
    }
    const float* wa = A.w + o;
    const float* wb = Dual ? B.w + o : A.w + outp + o;
    for (std::uint32_t i = 0; i < stop; i += step, wa += step * outp, wb += step * outp) {
      const __m256 va = _mm256_broadcast_ss(xa + i);
      const __m256 vb = _mm256_broadcast_ss(xs + i);
      a0 = _mm256_fmadd_ps(_mm256_load_ps(wa), va, a0);
      b0 = _mm256_fmadd_ps(_mm256_load_ps(wb), vb, b0);
      a1 = _mm256_fmadd_ps(_mm256_load_ps(wa + 8), va, a1);
      b1 = _mm256_fmadd_ps(_mm256_load_ps(wb + 8), vb, b1);
      a2 = _mm256_fmadd_ps(_mm256_load_ps(wa + 16), va, a2);
      b2 = _mm256_fmadd_ps(_mm256_load_ps(wb + 16), vb, b2);
      a3 = _mm256_fmadd_ps(_mm256_load_ps(wa + 24), va, a3);
      b3 = _mm256_fmadd_ps(_mm256_load_ps(wb + 24), vb, b3);
    }
    if constexpr (!Dual) {
      if ((in & 1U) != 0) {  // the last, odd input; wa is at its row
        const __m256 va = _mm256_broadcast_ss(xa + in - 1);
        a0 = _mm256_fmadd_ps(_mm256_load_ps(wa), va, a0);
        a1 = _mm256_fmadd_ps(_mm256_load_ps(wa + 8), va, a1);
        a2 = _mm256_fmadd_ps(_mm256_load_ps(wa + 16), va, a2);
        a3 = _mm256_fmadd_ps(_mm256_load_ps(wa + 24), va, a3);
      }
      a0 = _mm256_add_ps(a0, b0), a1 = _mm256_add_ps(a1, b1), a2 = _mm256_add_ps(a2, b2), a3 = _mm256_add_ps(a3, b3);
    }
    _mm256_store_ps(ya + o, activate(a0, relu));
    _mm256_store_ps(ya + o + 8, activate(a1, relu));
    _mm256_store_ps(ya + o + 16, activate(a2, relu));
    _mm256_store_ps(ya + o + 24, activate(a3, relu));
    if constexpr (Dual) {
      _mm256_store_ps(yb + o, activate(b0, relu));
      _mm256_store_ps(yb + o + 8, activate(b1, relu));
      _mm256_store_ps(yb + o + 16, activate(b2, relu));
      _mm256_store_ps(yb + o + 24, activate(b3, relu));
    }
  }
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// w . x over np (a multiple of 8), left in 8 lanes.
inline __m256 dot_lanes(const float* w, const float* x, std::uint32_t np) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  std::uint32_t i = 0;
  for (; i + 16 <= np; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_load_ps(w + i), _mm256_load_ps(x + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_load_ps(w + i + 8), _mm256_load_ps(x + i + 8), s1);
  }
  for (; i < np; i += 8) s0 = _mm256_fmadd_ps(_mm256_load_ps(w + i), _mm256_load_ps(x + i), s0);
  return _mm256_add_ps(s0, s1);
}

// The AVX-512 kernel's heads4, 8 lanes.
inline __m128 heads4(const PackedNet& net, const float* l_pi, const float* l_vf) {
  __m256 s[4];
  for (std::uint32_t a = 0; a < 3; ++a)
    s[a] = a < net.n_actions ? dot_lanes(net.action_w + a * net.h2p, l_pi, net.h2p) : _mm256_setzero_ps();
  s[3] = net.critic != 0 ? dot_lanes(net.value_w, l_vf, net.h2p) : _mm256_setzero_ps();
  const __m256 t01 = _mm256_add_ps(_mm256_unpacklo_ps(s[0], s[1]), _mm256_unpackhi_ps(s[0], s[1]));
  const __m256 t23 = _mm256_add_ps(_mm256_unpacklo_ps(s[2], s[3]), _mm256_unpackhi_ps(s[2], s[3]));
  const __m256 u = _mm256_add_ps(_mm256_shuffle_ps(t01, t23, _MM_SHUFFLE(1, 0, 1, 0)),
                                 _mm256_shuffle_ps(t01, t23, _MM_SHUFFLE(3, 2, 3, 2)));
  return _mm_add_ps(_mm256_castps256_ps128(u), _mm256_extractf128_ps(u, 1));
}

inline float dot(const float* w, const float* x, std::uint32_t np) { return hsum(dot_lanes(w, x, np)); }

}  // namespace

bool forward_avx2(const PackedNet& net, const float* raw, float* x, float* scratch, float* probs, float* value,
                  std::uint32_t* action) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  // VecNormalize and clip, 8 observations at a time; r - r is NaN exactly
  // when r is NaN or infinite, which ends the pass.
  const __m256 clip = _mm256_set1_ps(net.clip);
  const __m256 nclip = _mm256_sub_ps(_mm256_setzero_ps(), clip);
  for (std::uint32_t i = 0; i < net.n_obs; i += 8) {
    const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(net.n_obs - i)), lane);
    const __m256 r = _mm256_maskload_ps(raw + i, m);
    if (_mm256_movemask_ps(_mm256_cmp_ps(_mm256_sub_ps(r, r), _mm256_setzero_ps(), _CMP_NEQ_UQ)) != 0) return false;
    const __m256 z = _mm256_mul_ps(_mm256_sub_ps(r, _mm256_load_ps(net.mean + i)), _mm256_load_ps(net.inv_std + i));
    _mm256_store_ps(x + i, _mm256_min_ps(_mm256_max_ps(z, nclip), clip));
  }
  const Hidden h = hidden_layers(net, x, scratch, &dense<true>, &dense<false>);
  if (net.n_actions <= 3) {  // the trading layout
    const auto exp4 = [](__m128 v) { return _mm256_castps256_ps128(exp8(_mm256_zextps128_ps256(v))); };
    heads_softmax4(net, heads4(net, h.l_pi, h.l_vf), exp4, probs, value, action);
    return true;
  }
  // Wider action spaces: the heads one by one, then the softmax over at most
  // 8 logits in one register.
  alignas(32) float logits[8];
  for (std::uint32_t a = 0; a < net.n_actions; ++a)
    logits[a] = dot(net.action_w + a * net.h2p, h.l_pi, net.h2p) + net.action_b[a];
  if (net.critic != 0) *value = dot(net.value_w, h.l_vf, net.h2p) + net.value_b;
  const __m256i am = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(net.n_actions)), lane);
  const __m256 l = _mm256_blendv_ps(_mm256_set1_ps(-3.4e38f), _mm256_maskload_ps(logits, am), _mm256_castsi256_ps(am));
  __m256 mx = _mm256_max_ps(l, _mm256_permute2f128_ps(l, l, 1));
  mx = _mm256_max_ps(mx, _mm256_permute_ps(mx, 0x4E));
  mx = _mm256_max_ps(mx, _mm256_permute_ps(mx, 0xB1));  // the maximum in every lane
  const int first = _mm256_movemask_ps(_mm256_and_ps(_mm256_cmp_ps(l, mx, _CMP_EQ_OQ), _mm256_castsi256_ps(am)));
  *action = first != 0 ? static_cast<std::uint32_t>(__builtin_ctz(static_cast<unsigned>(first))) : 0;  // 0: a NaN logit
  const __m256 e = _mm256_and_ps(exp8(_mm256_sub_ps(l, mx)), _mm256_castsi256_ps(am));
  const float inv = 1.0f / hsum(e);
  _mm256_maskstore_ps(probs, am, _mm256_mul_ps(e, _mm256_set1_ps(inv)));
  return true;
}

void tanh_avx2(const float* in, float* out, std::uint32_t n) {
  for (std::uint32_t i = 0; i < n; i += 8) _mm256_storeu_ps(out + i, tanh8(_mm256_loadu_ps(in + i)));
}

void exp_avx2(const float* in, float* out, std::uint32_t n) {
  for (std::uint32_t i = 0; i < n; i += 8) _mm256_storeu_ps(out + i, exp8(_mm256_loadu_ps(in + i)));
}

}  // namespace tickpath::strategy::kernels
