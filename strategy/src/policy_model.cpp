#include "tickpath/strategy/policy_model.hpp"

#include "tickpath/infra/splitmix.hpp"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

namespace tickpath::strategy {

namespace {

constexpr char kMagic[8] = {'T', 'P', 'P', 'O', 'L', 'I', 'C', 'Y'};
constexpr std::uint32_t kVersion = 1;

std::uint64_t fnv1a(const char* p, std::size_t n) noexcept {
  std::uint64_t h = 14695981039346656037ULL;
  for (std::size_t i = 0; i < n; ++i) h = (h ^ static_cast<unsigned char>(p[i])) * 1099511628211ULL;
  return h;
}

void shape_layer(DenseLayer& l, std::uint32_t out, std::uint32_t in) {
  l.out = out;
  l.in = in;
  l.w.assign(static_cast<std::size_t>(out) * in, 0.0f);
  l.b.assign(out, 0.0f);
}

// Little-endian writer and bounds-checked reader (x86 and ARM hosts are both
// little-endian; a big-endian host would need byte swaps here).
struct Writer {
  std::string out;
  template <typename T>
  void put(T v) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    out.append(b, sizeof(T));
  }
  void floats(const std::vector<float>& v) {
    for (float f : v) put(f);
  }
};
struct Reader {
  const std::string& in;
  std::size_t pos = 0;
  template <typename T>
  bool get(T& v) {
    if (pos + sizeof(T) > in.size()) return false;
    std::memcpy(&v, in.data() + pos, sizeof(T));
    pos += sizeof(T);
    return true;
  }
  bool floats(std::vector<float>& v) {
    for (auto& f : v)
      if (!get(f)) return false;
    return true;
  }
};

// Orthogonal rows (or columns, whichever is shorter) by Gram-Schmidt on a
// Gaussian matrix, as torch.nn.init.orthogonal_ does by QR.
struct Rng {
  std::uint64_t s;
  std::uint64_t next() noexcept { return infra::splitmix64(s); }
  double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double normal() noexcept {
    const double u1 = 1.0 - uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * uniform());
  }
};

void orthogonal(DenseLayer& l, double gain, Rng& rng) {
  const std::size_t rows = l.out, cols = l.in;
  const bool by_rows = rows <= cols;  // orthonormalise the shorter dimension
  const std::size_t n = by_rows ? rows : cols, len = by_rows ? cols : rows;
  std::vector<std::vector<double>> v(n, std::vector<double>(len));
  for (auto& vec : v)
    for (auto& x : vec) x = rng.normal();
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      double dot = 0;
      for (std::size_t k = 0; k < len; ++k) dot += v[i][k] * v[j][k];
      for (std::size_t k = 0; k < len; ++k) v[i][k] -= dot * v[j][k];
    }
    double norm = 0;
    for (double x : v[i]) norm += x * x;
    norm = std::sqrt(norm);
    for (auto& x : v[i]) x /= norm;
  }
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c)
      l.w[r * cols + c] = static_cast<float>(gain * (by_rows ? v[r][c] : v[c][r]));
}

}  // namespace

void PolicyModel::shape() {
  shape_layer(pi1, h1, n_obs);
  shape_layer(pi2, h2, h1);
  shape_layer(vf1, h1, n_obs);
  shape_layer(vf2, h2, h1);
  shape_layer(action, n_actions, h2);
  shape_layer(value, 1, h2);
  if (has_normalisation) {
    obs_mean.assign(n_obs, 0.0f);
    obs_var.assign(n_obs, 1.0f);
  } else {
    obs_mean.clear();
    obs_var.clear();
  }
}

PolicyModel PolicyModel::init_orthogonal(std::uint64_t seed, std::uint32_t n_obs, std::uint32_t h1, std::uint32_t h2,
                                         std::uint32_t n_actions) {
  PolicyModel m;
  m.n_obs = n_obs;
  m.h1 = h1;
  m.h2 = h2;
  m.n_actions = n_actions;
  m.shape();
  Rng rng{seed};
  const double g = std::sqrt(2.0);
  orthogonal(m.pi1, g, rng);
  orthogonal(m.pi2, g, rng);
  orthogonal(m.vf1, g, rng);
  orthogonal(m.vf2, g, rng);
  orthogonal(m.action, 0.01, rng);
  orthogonal(m.value, 1.0, rng);
  return m;
}

std::string serialize_policy_model(const PolicyModel& m) {
  Writer w;
  w.out.append(kMagic, sizeof(kMagic));
  w.put(kVersion);
  w.put(m.n_obs), w.put(m.h1), w.put(m.h2), w.put(m.n_actions);
  w.put(static_cast<std::uint32_t>(m.activation));
  w.put(static_cast<std::uint32_t>(m.has_normalisation ? 1 : 0));
  w.put(m.clip_obs), w.put(m.epsilon);
  if (m.has_normalisation) w.floats(m.obs_mean), w.floats(m.obs_var);
  for (const DenseLayer* l : {&m.pi1, &m.pi2, &m.vf1, &m.vf2, &m.action, &m.value}) w.floats(l->w), w.floats(l->b);
  w.put(fnv1a(w.out.data(), w.out.size()));
  return w.out;
}

bool parse_policy_model(const std::string& bytes, PolicyModel& m, std::string& error) {
  const auto fail = [&](const std::string& what) {
    error = what;
    return false;
  };
  if (bytes.size() < sizeof(kMagic) || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0)
    return fail("not a tickpath policy model (bad magic)");
  if (bytes.size() < 44 + 8) return fail("policy model truncated: " + std::to_string(bytes.size()) + " bytes");
  Reader r{bytes, sizeof(kMagic)};
  std::uint32_t version = 0, act = 0, flags = 0;
  r.get(version);
  if (version != kVersion)
    return fail("policy model version " + std::to_string(version) + " is not supported (this build reads version " +
                std::to_string(kVersion) + ")");
  r.get(m.n_obs), r.get(m.h1), r.get(m.h2), r.get(m.n_actions), r.get(act), r.get(flags), r.get(m.clip_obs),
      r.get(m.epsilon);
  const auto in_range = [](std::uint32_t v, std::uint32_t max) { return v >= 1 && v <= max; };
  if (!in_range(m.n_obs, kMaxObs) || !in_range(m.h1, kMaxHidden) || !in_range(m.h2, kMaxHidden) ||
      !in_range(m.n_actions, kMaxActions))
    return fail("policy model sizes " + std::to_string(m.n_obs) + "->" + std::to_string(m.h1) + "->" +
                std::to_string(m.h2) + "->" + std::to_string(m.n_actions) + " are outside this build's maxima (obs " +
                std::to_string(kMaxObs) + ", hidden " + std::to_string(kMaxHidden) + ", actions " +
                std::to_string(kMaxActions) + ")");
  if (act > 1) return fail("policy model activation " + std::to_string(act) + " is unknown (0 tanh, 1 relu)");
  if (flags > 1) return fail("policy model flags " + std::to_string(flags) + " are unknown");
  m.activation = static_cast<Activation>(act);
  m.has_normalisation = (flags & 1U) != 0;
  m.shape();
  // Size check before reading, so a short file says so instead of "checksum".
  std::size_t floats = (m.has_normalisation ? 2ULL * m.n_obs : 0);
  for (const DenseLayer* l : {&m.pi1, &m.pi2, &m.vf1, &m.vf2, &m.action, &m.value}) floats += l->w.size() + l->b.size();
  const std::size_t want = r.pos + floats * 4 + 8;
  if (bytes.size() < want)
    return fail("policy model truncated: " + std::to_string(bytes.size()) + " bytes, its header needs " +
                std::to_string(want));
  if (bytes.size() > want)
    return fail("policy model has " + std::to_string(bytes.size() - want) + " bytes past its end");
  if (m.has_normalisation) r.floats(m.obs_mean), r.floats(m.obs_var);
  for (DenseLayer* l : {&m.pi1, &m.pi2, &m.vf1, &m.vf2, &m.action, &m.value}) r.floats(l->w), r.floats(l->b);
  std::uint64_t sum = 0;
  r.get(sum);
  if (sum != fnv1a(bytes.data(), bytes.size() - 8)) return fail("policy model checksum mismatch (corrupted file)");
  if (m.has_normalisation) {
    if (!(m.clip_obs > 0) || !(m.epsilon >= 0)) return fail("policy model normalisation: clip_obs or epsilon invalid");
    for (float v : m.obs_var)
      if (!(v >= 0) || !std::isfinite(v)) return fail("policy model normalisation: a variance is negative or not finite");
    for (float v : m.obs_mean)
      if (!std::isfinite(v)) return fail("policy model normalisation: a mean is not finite");
  }
  for (const DenseLayer* l : {&m.pi1, &m.pi2, &m.vf1, &m.vf2, &m.action, &m.value}) {
    for (float v : l->w)
      if (!std::isfinite(v)) return fail("policy model has a weight that is not finite");
    for (float v : l->b)
      if (!std::isfinite(v)) return fail("policy model has a bias that is not finite");
  }
  return true;
}

bool load_policy_model(const std::string& path, PolicyModel& m, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open model " + path + ": " + std::strerror(errno);
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (!parse_policy_model(ss.str(), m, error)) {
    error = path + ": " + error;
    return false;
  }
  return true;
}

bool save_policy_model(const std::string& path, const PolicyModel& m, std::string& error) {
  const std::string bytes = serialize_policy_model(m);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out || !out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())) || !out.flush()) {
    error = "cannot write model " + path;
    return false;
  }
  return true;
}

}  // namespace tickpath::strategy
