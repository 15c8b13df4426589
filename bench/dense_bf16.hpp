// See dense_bf16.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

namespace tickpath::bench {

template <class T>
struct Aligned {  // 64-byte aligned allocation, for the vector loads
  using value_type = T;
  Aligned() = default;
  template <class U>
  Aligned(const Aligned<U>&) {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{64})); }
  void deallocate(T* p, std::size_t) { ::operator delete(p, std::align_val_t{64}); }
  bool operator==(const Aligned&) const { return true; }
};

bool dense_bf16_supported();

// Two 64-output layers for each of two networks (a: policy, b: value):
// h = W1 x + b1 (n_in inputs), y = W2 h + b2; weights input-major [in][64].
struct DenseLayers {
  std::uint32_t n_in = 13;
  std::vector<float, Aligned<float>> w1a, w1b, w2a, w2b, b1a, b1b, b2a, b2b;
  std::vector<std::uint16_t, Aligned<std::uint16_t>> q1a, q1b, q2a, q2b;  // bf16 pairs
  void pack_bf16();                             // from the fp32 weights
  void fp32(const float* x, float* out) const;  // out: 128 floats (a, then b)
  void bf16(const float* x, float* out) const;
};

}  // namespace tickpath::bench
