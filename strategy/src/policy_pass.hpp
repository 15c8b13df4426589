// The parts of the forward pass that are the same for every vector kernel:
// the hidden layers' order (both networks, or the actor alone) and, for the
// trading layout (at most three actions), the last step: the four head
// outputs sit in one 128-bit register (the action logits from lane 0, the
// value in lane 3) and the softmax and argmax run there, with no trip
// through memory. Each kernel supplies its own dense layer, head reduction
// and exp.
//
// Everything here has internal linkage, so each kernel's translation unit
// compiles its own copy for its own instruction set: nothing built for
// AVX-512 can be picked by the linker for the AVX2 kernel.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "policy_kernels.hpp"

namespace tickpath::strategy::kernels {
namespace {

// e^r for |r| <= ln2/2 (the reduced argument of e^v = 2^k e^r):
// 1 + c1 r + ... + c5 r^5, the degree-5 polynomial with c0 = 1 that
// minimises the largest relative error on that interval (9.1e-8; fitted by
// Lawson's reweighted least squares on 20,001 points, then rounded to float:
// 9.5e-8). One degree lower than the Taylor polynomial of the same accuracy.
constexpr float kExpPoly[5] = {9.999997072e-01f, 4.999914951e-01f, 1.666763620e-01f, 4.189793165e-02f, 8.290315684e-03f};
// The same polynomial in r/2: c_j 2^j, exact in float (a power-of-two scaling).
constexpr float kExpPolyHalf[5] = {2 * kExpPoly[0], 4 * kExpPoly[1], 8 * kExpPoly[2], 16 * kExpPoly[3], 32 * kExpPoly[4]};

// One dense layer of each network (Dual), or of network A alone, with the
// activation: the kernel's loop.
using DenseFn = void (*)(const PackedLayer& A, const float* xa, const PackedLayer& B, const float* xb, float* ya,
                         float* yb, bool relu);

// Where the hidden layers' outputs live in the kernel's scratch.
struct Hidden {
  float* h_pi;
  float* h_vf;
  float* l_pi;
  float* l_vf;
};

// Both networks' two hidden layers, interleaved, or the actor's alone when
// the model runs without its critic (l_vf is then not written).
inline Hidden hidden_layers(const PackedNet& net, const float* x, float* scratch, DenseFn dual, DenseFn single) {
  const Hidden h{scratch, scratch + 256, scratch + 512, scratch + 768};  // 256: kMaxHidden
  const bool relu = net.relu != 0;
  if (net.critic != 0) {
    dual(net.pi1, x, net.vf1, x, h.h_pi, h.h_vf, relu);
    dual(net.pi2, h.h_pi, net.vf2, h.h_vf, h.l_pi, h.l_vf, relu);
  } else {
    single(net.pi1, x, net.pi1, x, h.h_pi, nullptr, relu);
    single(net.pi2, h.h_pi, net.pi2, h.h_pi, h.l_pi, nullptr, relu);
  }
  return h;
}

// Lanes below n (n <= 4) all ones, the others zero.
inline __m128 first_lanes(std::uint32_t n) {
  return _mm_castsi128_ps(_mm_cmpgt_epi32(_mm_set1_epi32(static_cast<int>(n)), _mm_setr_epi32(0, 1, 2, 3)));
}

// s: the four heads' sums without bias (actions from lane 0, the value in
// lane 3), for net.n_actions <= 3. Writes the value (only with the
// critic), the n_actions probabilities and the index of the largest logit
// (the first, on a tie; 0 when a logit is NaN). exp4: the kernel's exp for
// v <= 0, 0 below -86.
template <class Exp4>
inline void heads_softmax4(const PackedNet& net, __m128 s, Exp4 exp4, float* probs, float* value,
                           std::uint32_t* action) {
  const __m128 live = first_lanes(net.n_actions);
  const __m128 bias =
      _mm_blendv_ps(_mm_set1_ps(net.value_b), _mm_maskload_ps(net.action_b, _mm_castps_si128(live)), live);
  const __m128 l = _mm_add_ps(s, bias);
  if (net.critic != 0) *value = _mm_cvtss_f32(_mm_shuffle_ps(l, l, _MM_SHUFFLE(3, 3, 3, 3)));
  const __m128 lm = _mm_blendv_ps(_mm_set1_ps(-3.4e38f), l, live);
  __m128 mx = _mm_max_ps(lm, _mm_shuffle_ps(lm, lm, _MM_SHUFFLE(2, 3, 0, 1)));
  mx = _mm_max_ps(mx, _mm_shuffle_ps(mx, mx, _MM_SHUFFLE(1, 0, 3, 2)));  // the maximum in every lane
  const int first = _mm_movemask_ps(_mm_and_ps(_mm_cmpeq_ps(l, mx), live));
  *action = first != 0 ? static_cast<std::uint32_t>(__builtin_ctz(static_cast<unsigned>(first))) : 0;
  const __m128 e = _mm_and_ps(live, exp4(_mm_sub_ps(l, mx)));
  __m128 sum = _mm_add_ps(e, _mm_shuffle_ps(e, e, _MM_SHUFFLE(2, 3, 0, 1)));
  sum = _mm_add_ps(sum, _mm_shuffle_ps(sum, sum, _MM_SHUFFLE(1, 0, 3, 2)));
  _mm_maskstore_ps(probs, _mm_castps_si128(live), _mm_div_ps(e, sum));
}

}  // namespace
}  // namespace tickpath::strategy::kernels
