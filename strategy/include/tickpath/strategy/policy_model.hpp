// PolicyModel: the weights of a Stable-Baselines3 PPO MlpPolicy (separate
// policy and value networks, obs -> h1 -> h2 with one activation, an action
// head over the policy latent and a value head over the value latent), plus
// the VecNormalize statistics the model was trained with, and our own small
// binary file format for them. Set-up path only: loading allocates and every
// failure ends in one line that names the problem.
//
// File format, version 1, all little-endian:
//   offset 0   char[8]  magic "TPPOLICY"
//          8   u32      version (1)
//         12   u32      n_obs, h1, h2, n_actions   (each >= 1, within the maxima below)
//         28   u32      activation (0 = tanh, 1 = relu)
//         32   u32      flags (bit 0: normalisation statistics present)
//         36   f32      clip_obs, epsilon          (VecNormalize's, used when bit 0 is set)
//         44   f32      obs_mean[n_obs], obs_var[n_obs]        (only when bit 0 is set)
//              f32      policy net:  W1[h1][n_obs], b1[h1], W2[h2][h1], b2[h2]
//              f32      value net:   W1[h1][n_obs], b1[h1], W2[h2][h1], b2[h2]
//              f32      action head: W[n_actions][h2], b[n_actions]
//              f32      value head:  W[1][h2], b[1]
//   last 8     u64      FNV-1a 64 of every byte before it
// Matrices are row-major [out][in], as torch's nn.Linear stores weight.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tickpath::strategy {

inline constexpr std::uint32_t kMaxObs = 64;
inline constexpr std::uint32_t kMaxHidden = 256;
inline constexpr std::uint32_t kMaxActions = 8;

enum class Activation : std::uint32_t { tanh = 0, relu = 1 };

struct DenseLayer {
  std::uint32_t out = 0, in = 0;
  std::vector<float> w;  // [out][in]
  std::vector<float> b;  // [out]
};

struct PolicyModel {
  std::uint32_t n_obs = 13, h1 = 64, h2 = 64, n_actions = 3;
  Activation activation = Activation::tanh;
  bool has_normalisation = false;
  float clip_obs = 10.0f, epsilon = 1e-8f;
  std::vector<float> obs_mean, obs_var;
  DenseLayer pi1, pi2, vf1, vf2, action, value;

  // Shapes every layer to the sizes above (weights zero).
  void shape();
  // Stable-Baselines3's initialisation, seeded: orthogonal weights with gain
  // sqrt(2) in the hidden layers, 0.01 for the action head, 1 for the value
  // head; zero biases. Deterministic for a seed on any host.
  static PolicyModel init_orthogonal(std::uint64_t seed, std::uint32_t n_obs = 13, std::uint32_t h1 = 64,
                                     std::uint32_t h2 = 64, std::uint32_t n_actions = 3);
};

// The file's bytes for a model.
std::string serialize_policy_model(const PolicyModel& m);
// Parses bytes; on failure returns false and sets `error` to one line.
bool parse_policy_model(const std::string& bytes, PolicyModel& out, std::string& error);
bool load_policy_model(const std::string& path, PolicyModel& out, std::string& error);
bool save_policy_model(const std::string& path, const PolicyModel& m, std::string& error);

}  // namespace tickpath::strategy
