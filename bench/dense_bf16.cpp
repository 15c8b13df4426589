// The two hidden layers of the SB3 policy and value networks (13-64-64, both
// at once, no activation) in fp32 and in bf16, for bench_policy's
// bf16-or-fp32 rows. Compiled with -mavx512f -mavx512bf16; called only when
// the CPU has both.
//
// fp32: the engine kernel's scheme: weights input-major, each input
// broadcast and multiplied into 4 x 16 outputs per network, 8 FMA chains.
// bf16: weights as pairs of inputs per output (the layout VDPBF16PS reads:
// 16 outputs x 2 inputs in 64 bytes), the observation and hidden values
// rounded to bf16 pairs, fp32 accumulation; half the bytes and half the
// instructions of fp32.
#include <immintrin.h>

#include <bit>

#include "dense_bf16.hpp"

namespace tickpath::bench {

namespace {

inline __m512bh bh(__m512i v) { return std::bit_cast<__m512bh>(v); }

inline std::uint16_t to_bf16(float f) {  // round to nearest even
  std::uint32_t u;
  __builtin_memcpy(&u, &f, 4);
  return static_cast<std::uint16_t>((u + 0x7FFFU + ((u >> 16) & 1U)) >> 16);
}

// y[64] = W x + b, for A and B at once (n inputs, W input-major [n][64]).
void fp32_pair(const float* wa, const float* ba, const float* xa, const float* wb, const float* bb, const float* xb,
               std::uint32_t n, float* ya, float* yb) {
  __m512 a0 = _mm512_loadu_ps(ba), a1 = _mm512_loadu_ps(ba + 16), a2 = _mm512_loadu_ps(ba + 32), a3 = _mm512_loadu_ps(ba + 48);
  __m512 b0 = _mm512_loadu_ps(bb), b1 = _mm512_loadu_ps(bb + 16), b2 = _mm512_loadu_ps(bb + 32), b3 = _mm512_loadu_ps(bb + 48);
  for (std::uint32_t i = 0; i < n; ++i, wa += 64, wb += 64) {
    const __m512 va = _mm512_set1_ps(xa[i]), vb = _mm512_set1_ps(xb[i]);
    a0 = _mm512_fmadd_ps(_mm512_load_ps(wa), va, a0);
    b0 = _mm512_fmadd_ps(_mm512_load_ps(wb), vb, b0);
    a1 = _mm512_fmadd_ps(_mm512_load_ps(wa + 16), va, a1);
    b1 = _mm512_fmadd_ps(_mm512_load_ps(wb + 16), vb, b1);
    a2 = _mm512_fmadd_ps(_mm512_load_ps(wa + 32), va, a2);
    b2 = _mm512_fmadd_ps(_mm512_load_ps(wb + 32), vb, b2);
    a3 = _mm512_fmadd_ps(_mm512_load_ps(wa + 48), va, a3);
    b3 = _mm512_fmadd_ps(_mm512_load_ps(wb + 48), vb, b3);
  }
  _mm512_storeu_ps(ya, a0), _mm512_storeu_ps(ya + 16, a1), _mm512_storeu_ps(ya + 32, a2), _mm512_storeu_ps(ya + 48, a3);
  _mm512_storeu_ps(yb, b0), _mm512_storeu_ps(yb + 16, b1), _mm512_storeu_ps(yb + 32, b2), _mm512_storeu_ps(yb + 48, b3);
}

// The same with W as bf16 pairs [n/2][64][2] and x as bf16 pairs [n/2].
void bf16_pair(const std::uint16_t* wa, const float* ba, const std::uint32_t* xa, const std::uint16_t* wb,
               const float* bb, const std::uint32_t* xb, std::uint32_t pairs, float* ya, float* yb) {
  __m512 a0 = _mm512_loadu_ps(ba), a1 = _mm512_loadu_ps(ba + 16), a2 = _mm512_loadu_ps(ba + 32), a3 = _mm512_loadu_ps(ba + 48);
  __m512 b0 = _mm512_loadu_ps(bb), b1 = _mm512_loadu_ps(bb + 16), b2 = _mm512_loadu_ps(bb + 32), b3 = _mm512_loadu_ps(bb + 48);
  for (std::uint32_t i = 0; i < pairs; ++i, wa += 128, wb += 128) {
    const __m512bh va = bh(_mm512_set1_epi32(static_cast<int>(xa[i])));
    const __m512bh vb = bh(_mm512_set1_epi32(static_cast<int>(xb[i])));
    a0 = _mm512_dpbf16_ps(a0, bh(_mm512_load_si512(wa)), va);
    b0 = _mm512_dpbf16_ps(b0, bh(_mm512_load_si512(wb)), vb);
    a1 = _mm512_dpbf16_ps(a1, bh(_mm512_load_si512(wa + 32)), va);
    b1 = _mm512_dpbf16_ps(b1, bh(_mm512_load_si512(wb + 32)), vb);
    a2 = _mm512_dpbf16_ps(a2, bh(_mm512_load_si512(wa + 64)), va);
    b2 = _mm512_dpbf16_ps(b2, bh(_mm512_load_si512(wb + 64)), vb);
    a3 = _mm512_dpbf16_ps(a3, bh(_mm512_load_si512(wa + 96)), va);
    b3 = _mm512_dpbf16_ps(b3, bh(_mm512_load_si512(wb + 96)), vb);
  }
  _mm512_storeu_ps(ya, a0), _mm512_storeu_ps(ya + 16, a1), _mm512_storeu_ps(ya + 32, a2), _mm512_storeu_ps(ya + 48, a3);
  _mm512_storeu_ps(yb, b0), _mm512_storeu_ps(yb + 16, b1), _mm512_storeu_ps(yb + 32, b2), _mm512_storeu_ps(yb + 48, b3);
}

// x (n floats) as bf16 pairs, zero-padded, by VCVTNE2PS2BF16 (32 values
// per instruction, round to nearest even).
void pack_x(const float* x, std::uint32_t n, std::uint32_t* out) {
  for (std::uint32_t i = 0; i < n; i += 32) {
    const std::uint32_t left = n - i;
    const auto lo_mask = static_cast<__mmask16>(left >= 16 ? 0xFFFFU : (1U << left) - 1);
    const auto hi_mask = static_cast<__mmask16>(left >= 32 ? 0xFFFFU : left > 16 ? (1U << (left - 16)) - 1 : 0U);
    const __m512 lo = _mm512_maskz_loadu_ps(lo_mask, x + i);
    const __m512 hi = _mm512_maskz_loadu_ps(hi_mask, x + i + 16);
    _mm512_storeu_si512(out + i / 2, std::bit_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo)));
  }
}

}  // namespace

bool dense_bf16_supported() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
}

void DenseLayers::pack_bf16() {
  const auto pack = [](const auto& w, std::uint32_t n, auto& out) {
    const std::uint32_t pairs = (n + 1) / 2;
    out.assign(std::size_t{pairs} * 128, 0);
    for (std::uint32_t i = 0; i < n; ++i)
      for (std::uint32_t o = 0; o < 64; ++o) out[std::size_t{i / 2} * 128 + o * 2 + (i & 1)] = to_bf16(w[std::size_t{i} * 64 + o]);
  };
  pack(w1a, n_in, q1a), pack(w1b, n_in, q1b), pack(w2a, 64, q2a), pack(w2b, 64, q2b);
}

void DenseLayers::fp32(const float* x, float* out) const {
  alignas(64) float ha[64], hb[64];
  fp32_pair(w1a.data(), b1a.data(), x, w1b.data(), b1b.data(), x, n_in, ha, hb);
  fp32_pair(w2a.data(), b2a.data(), ha, w2b.data(), b2b.data(), hb, 64, out, out + 64);
}

void DenseLayers::bf16(const float* x, float* out) const {
  alignas(64) float ha[64], hb[64];
  alignas(64) std::uint32_t xp[16], pa[32], pb[32];
  pack_x(x, n_in, xp);
  bf16_pair(q1a.data(), b1a.data(), xp, q1b.data(), b1b.data(), xp, (n_in + 1) / 2, ha, hb);
  pack_x(ha, 64, pa);
  pack_x(hb, 64, pb);
  bf16_pair(q2a.data(), b2a.data(), pa, q2b.data(), b2b.data(), pb, 32, out, out + 64);
}

}  // namespace tickpath::bench
