// SplitMix64: the seed expander every seeded component uses (synthetic
// market, orthogonal initialisation, PPO's generators), so one seed means
// the same stream everywhere.
#pragma once

#include <cstdint>

namespace tickpath::infra {

// Advances `state` and returns the next 64-bit value.
inline std::uint64_t splitmix64(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace tickpath::infra
