// Fuzz target: the model file loader (`--model`). Whatever the bytes, it
// returns a model or one error line. A model it accepts has every layer
// shaped as its header says, survives a round trip through the writer
// byte for byte, and runs through the serving policy (scalar back-end)
// without crashing: non-finite weights show up as non-finite outputs, which
// the policy reports, never as a crash.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tickpath/strategy/policy.hpp"
#include "tickpath/strategy/policy_model.hpp"

using namespace tickpath::strategy;

namespace {
bool shaped(const DenseLayer& l, std::uint32_t out, std::uint32_t in) {
  return l.out == out && l.in == in && l.w.size() == std::size_t{out} * in && l.b.size() == out;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  PolicyModel m;
  std::string error;
  if (!parse_policy_model(bytes, m, error)) {
    if (error.empty()) std::abort();  // a refusal always says why
    return 0;
  }
  if (!shaped(m.pi1, m.h1, m.n_obs) || !shaped(m.pi2, m.h2, m.h1) || !shaped(m.vf1, m.h1, m.n_obs) ||
      !shaped(m.vf2, m.h2, m.h1) || !shaped(m.action, m.n_actions, m.h2) || !shaped(m.value, 1, m.h2)) {
    std::fprintf(stderr, "accepted a model whose layers do not match its header\n");
    std::abort();
  }
  const std::string again = serialize_policy_model(m);
  PolicyModel m2;
  if (!parse_policy_model(again, m2, error) || serialize_policy_model(m2) != again) {
    std::fprintf(stderr, "accepted model does not survive a write and a read: %s\n", error.c_str());
    std::abort();
  }
  std::string perr;
  auto p = Policy::create(m, PolicyBackend::scalar, perr);
  if (p) {
    std::vector<float> obs(m.n_obs, 0.5f);
    PolicyOutput out;
    (void)p->forward(obs.data(), out);
  }
  return 0;
}
