// The matrix products of training (a minibatch through dense layers and
// back), register-blocked: C[m][j] (+)= sum_k A(m, k) B[k][j].
//
// A is read one scalar at a time through two strides, so a transposed
// operand costs nothing; B and C are read by rows of SIMD vectors. A tile of
// kRows rows of C times kVecs vectors stays in registers for the whole k
// loop: per k, kVecs loads of B and kRows broadcasts of A feed
// kRows * kVecs fused multiply-adds, instead of a load and a store of C per
// multiply-add in a plain axpy loop. The summation order over k is fixed
// (sequential), so results are deterministic for a given build.
//
// Written with GCC vector extensions, so one source serves every -march:
// the vector is 64 bytes with AVX-512, 32 with AVX, 16 otherwise, and the
// tile shrinks with it to fit the register file. The translation unit that
// includes this is compiled with -ffp-contract=fast so that `c += a * b`
// becomes one FMA.
#pragma once

#include <cstddef>
#include <cstring>

namespace tickpath::strategy::detail {

#if defined(__AVX512F__)
inline constexpr std::size_t kGemmVecBytes = 64;
inline constexpr int kGemmVecs = 4;  // 4 x 4 zmm accumulators of 32
#elif defined(__AVX__)
inline constexpr std::size_t kGemmVecBytes = 32;
inline constexpr int kGemmVecs = 2;  // 4 x 2 ymm accumulators of 16
#else
inline constexpr std::size_t kGemmVecBytes = 16;
inline constexpr int kGemmVecs = 2;
#endif
inline constexpr int kGemmRows = 6;  // with kGemmVecs: 24 (AVX-512) or 12 accumulators, B's vectors and a broadcast fit the register file

template <typename T>
struct GemmVec {
  typedef T type __attribute__((vector_size(kGemmVecBytes)));
  static constexpr std::size_t lanes = kGemmVecBytes / sizeof(T);
};

template <typename T>
inline typename GemmVec<T>::type gemm_load(const T* p) noexcept {
  typename GemmVec<T>::type v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename T>
inline void gemm_store(T* p, typename GemmVec<T>::type v) noexcept {
  std::memcpy(p, &v, sizeof v);
}

// One tile: MR rows of C from row 0, NV vectors from column 0 (pointers
// already offset).
template <typename T, int MR, int NV>
inline void gemm_tile(std::size_t K, const T* A, std::size_t a_rs, std::size_t a_cs, const T* B, std::size_t ldb, T* C,
                      std::size_t ldc, bool accumulate, const T* bias) noexcept {
  using V = typename GemmVec<T>::type;
  constexpr std::size_t W = GemmVec<T>::lanes;
  V c[MR][NV];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v)
      c[r][v] = accumulate ? gemm_load(C + r * ldc + v * W) : bias != nullptr ? gemm_load(bias + v * W) : V{};
  for (std::size_t k = 0; k < K; ++k) {
    V b[NV];
    for (int v = 0; v < NV; ++v) b[v] = gemm_load(B + k * ldb + v * W);
    for (int r = 0; r < MR; ++r) {
      const T a = A[r * a_rs + k * a_cs];
      for (int v = 0; v < NV; ++v) c[r][v] += a * b[v];
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) gemm_store(C + r * ldc + v * W, c[r][v]);
}

// MR rows of C: full tiles, then single vectors, then scalar columns.
template <typename T, int MR>
inline void gemm_rows(std::size_t N, std::size_t K, const T* A, std::size_t a_rs, std::size_t a_cs, const T* B,
                      std::size_t ldb, T* C, std::size_t ldc, bool accumulate, const T* bias) noexcept {
  constexpr std::size_t W = GemmVec<T>::lanes;
  std::size_t j = 0;
  for (; j + kGemmVecs * W <= N; j += kGemmVecs * W)
    gemm_tile<T, MR, kGemmVecs>(K, A, a_rs, a_cs, B + j, ldb, C + j, ldc, accumulate, bias ? bias + j : nullptr);
  for (; j + W <= N; j += W)
    gemm_tile<T, MR, 1>(K, A, a_rs, a_cs, B + j, ldb, C + j, ldc, accumulate, bias ? bias + j : nullptr);
  for (; j < N; ++j)
    for (int r = 0; r < MR; ++r) {
      T s = accumulate ? C[r * ldc + j] : bias != nullptr ? bias[j] : T(0);
      for (std::size_t k = 0; k < K; ++k) s += A[r * a_rs + k * a_cs] * B[k * ldb + j];
      C[r * ldc + j] = s;
    }
}

// C[m][j] = (accumulate ? C[m][j] : bias ? bias[j] : 0) + sum_{k<K} A[m*a_rs + k*a_cs] * B[k*ldb + j]
// for m < M, j < N.
template <typename T>
void gemm_bcast(std::size_t M, std::size_t N, std::size_t K, const T* A, std::size_t a_rs, std::size_t a_cs,
                const T* B, std::size_t ldb, T* C, std::size_t ldc, bool accumulate,
                const T* bias = nullptr) noexcept {
  std::size_t m = 0;
  for (; m + kGemmRows <= M; m += kGemmRows)
    gemm_rows<T, kGemmRows>(N, K, A + m * a_rs, a_rs, a_cs, B, ldb, C + m * ldc, ldc, accumulate, bias);
  for (; m + 2 <= M; m += 2) gemm_rows<T, 2>(N, K, A + m * a_rs, a_rs, a_cs, B, ldb, C + m * ldc, ldc, accumulate, bias);
  for (; m < M; ++m) gemm_rows<T, 1>(N, K, A + m * a_rs, a_rs, a_cs, B, ldb, C + m * ldc, ldc, accumulate, bias);
}

}  // namespace tickpath::strategy::detail
