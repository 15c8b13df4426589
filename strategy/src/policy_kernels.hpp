// The hand-vectorized forward pass's contract with its callers. Kernels live
// in their own translation units, compiled for their instruction set, and
// include nothing but this header, policy_pass.hpp (internal linkage only)
// and <immintrin.h>: no inline library code compiled for AVX-512 can leak
// into code that runs on older CPUs.
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
  // 1: the value network (the critic) too; 0: the actor alone, the vf
  // layers and value head are not read and the value is not written.
  std::uint32_t critic;
  // VecNormalize, frozen: x = clamp((raw - mean) * inv_std, -clip, clip);
  // mean 0, inv_std 1 and clip 3.4e38 for a model without statistics.
  // Both padded with zeros to a multiple of 16.
  const float* mean;
  const float* inv_std;
  float clip;
  std::uint32_t n_obs;
};

// The whole pass, in one call. raw: n_obs observations (not padded). When
// one of them is NaN or infinite, returns false and writes none of probs,
// value and action (x may hold part of the observation). Otherwise writes
// the n_actions action probabilities (softmax of the logits), the value
// (only with the critic), the index of the largest logit (the first, on a
// tie) and returns true. x: the normalised observation, padded to a multiple
// of 16 floats; scratch: 4 x kMaxHidden floats; both 64-byte aligned.
using ForwardFn = bool (*)(const PackedNet& net, const float* raw, float* x, float* scratch, float* probs,
                           float* value, std::uint32_t* action);

bool forward_avx2(const PackedNet& net, const float* raw, float* x, float* scratch, float* probs, float* value,
                  std::uint32_t* action);
bool forward_avx512(const PackedNet& net, const float* raw, float* x, float* scratch, float* probs, float* value,
                    std::uint32_t* action);

// The vector tanh and exp of each ISA over n floats (n a multiple of 16),
// for tests. exp is the softmax's: for x <= 0; below -86, where float
// would go denormal, it returns 0.
void tanh_avx2(const float* in, float* out, std::uint32_t n);
void tanh_avx512(const float* in, float* out, std::uint32_t n);
void exp_avx2(const float* in, float* out, std::uint32_t n);
void exp_avx512(const float* in, float* out, std::uint32_t n);

}  // namespace tickpath::strategy::kernels
