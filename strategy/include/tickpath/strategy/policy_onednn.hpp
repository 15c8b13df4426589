// OnednnPolicy: the same network evaluated with oneDNN matmul primitives
// (tanh or relu fused as a post-op), for batches - backtests over many
// observations at once - and as an independent cross-check of the
// hand-written kernels. Not for the hot path: oneDNN may allocate scratch
// inside execute(). Normalisation and softmax are ours, as in Policy.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "tickpath/strategy/policy.hpp"

namespace tickpath::strategy {

class OnednnPolicy {
 public:
  // Primitives are built for batches of exactly `batch` rows; forward() with
  // fewer rows pads with zeros. Set-up errors come back in `error`.
  static std::unique_ptr<OnednnPolicy> create(const PolicyModel& model, std::size_t batch, std::string& error);
  ~OnednnPolicy();
  OnednnPolicy(const OnednnPolicy&) = delete;
  OnednnPolicy& operator=(const OnednnPolicy&) = delete;

  // rows x n_obs raw observations (row-major) -> one output per row.
  // Returns how many rows had a non-finite value (those rows are HOLD).
  std::size_t forward(const float* raw_obs, std::size_t rows, PolicyOutput* out);

  [[nodiscard]] std::size_t batch() const noexcept;

 private:
  OnednnPolicy();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tickpath::strategy
