// The hand-vectorized forward pass's contract with its callers. Kernels live
// in their own translation units, compiled for their instruction set, and
// include nothing but this header and <immintrin.h>: no inline library code
// compiled for AVX-512 can leak into code that runs on older CPUs.
#pragma once

#include <cstdint>

namespace tickpath::strategy::kernels {

// Pre-packed dense layer: w is [in][outp] (input-major, outputs padded to a
// multiple of 64 with zeros), b is [outp]. 64-byte aligned.
struct PackedLayer {
  const float* w;
  const float* b;
  std::uint32_t in, outp;
};

struct PackedNet {
  PackedLayer pi1, pi2, vf1, vf2;  // pi and vf layers have the same shapes
  const float* action_w;  // [n_actions][h2p], rows padded with zeros
  const float* action_b;  // [n_actions]
  const float* value_w;   // [h2p]
  float value_b;
  std::uint32_t n_actions, h2p;
  std::uint32_t relu;  // 0: tanh, 1: relu
};

// x: normalised observation, padded to a multiple of 16 floats. scratch: 4 x
// kMaxHidden floats, 64-byte aligned. Writes n_actions logits and the value.
using ForwardFn = void (*)(const PackedNet& net, const float* x, float* scratch, float* logits, float* value);

void forward_avx2(const PackedNet& net, const float* x, float* scratch, float* logits, float* value);
void forward_avx512(const PackedNet& net, const float* x, float* scratch, float* logits, float* value);

// The vector tanh of each ISA over n floats (n a multiple of 16), for tests.
void tanh_avx2(const float* in, float* out, std::uint32_t n);
void tanh_avx512(const float* in, float* out, std::uint32_t n);

}  // namespace tickpath::strategy::kernels
