#include "cpu_steal.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

namespace tickpath::engine {

namespace {

std::string read_all(const std::string& path) {
  std::ifstream f(path);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// Calls fn(n, line) for each "cpuN ..." line of the text (not the "cpu "
// total), in order.
template <class Fn>
void each_cpu_line(std::string_view text, Fn&& fn) {
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t end = std::min(text.find('\n', at), text.size());
    const std::string_view line = text.substr(at, end - at);
    if (line.size() > 3 && line.substr(0, 3) == "cpu" && line[3] >= '0' && line[3] <= '9') {
      int n = 0;
      const auto r = std::from_chars(line.data() + 3, line.data() + line.size(), n);
      if (r.ec == std::errc{} && r.ptr < line.data() + line.size() && *r.ptr == ' ') fn(n, line);
    }
    at = end + 1;
  }
}

}  // namespace

bool parse_steal_ticks(std::string_view proc_stat, int cpu, std::uint64_t& ticks) noexcept {
  std::string_view line;
  each_cpu_line(proc_stat, [&](int n, std::string_view l) {
    if (n == cpu && line.empty()) line = l;
  });
  if (line.empty()) return false;
  // fields after the name: user nice system idle iowait irq softirq steal ...
  std::size_t at = line.find(' ');
  for (int field = 0; field < 8; ++field) {
    while (at < line.size() && line[at] == ' ') ++at;
    if (at >= line.size()) return false;
    const std::size_t end = std::min(line.find(' ', at), line.size());
    if (field == 7) {
      const auto r = std::from_chars(line.data() + at, line.data() + end, ticks);
      return r.ec == std::errc{} && r.ptr == line.data() + end;
    }
    at = end;
  }
  return false;
}

std::vector<int> stat_cpus(std::string_view proc_stat) {
  std::vector<int> out;
  each_cpu_line(proc_stat, [&](int n, std::string_view) { out.push_back(n); });
  return out;
}

StealMeter::StealMeter(std::vector<int> cpus, std::string root)
    : path_(std::move(root) + "/proc/stat"), t0_(std::chrono::steady_clock::now()) {
  const std::string text = read_all(path_);
  if (cpus.empty()) cpus = stat_cpus(text);
  for (const int c : cpus) {
    std::uint64_t t = 0;
    if (!parse_steal_ticks(text, c, t)) continue;
    cpus_.push_back(c);
    start_.push_back(t);
  }
}

std::vector<StealMeter::Cpu> StealMeter::since_start() const {
  std::vector<Cpu> out;
  if (cpus_.empty()) return out;
  const std::string text = read_all(path_);
  const double wall_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0_).count();
  const long hz = ::sysconf(_SC_CLK_TCK);
  const double ms_per_tick = 1000.0 / static_cast<double>(hz > 0 ? hz : 100);
  for (std::size_t i = 0; i < cpus_.size(); ++i) {
    std::uint64_t t = 0;
    if (!parse_steal_ticks(text, cpus_[i], t) || t < start_[i]) continue;
    const double ms = static_cast<double>(t - start_[i]) * ms_per_tick;
    out.push_back({cpus_[i], ms, wall_ms > 0 ? std::min(1.0, ms / wall_ms) : 0.0});
  }
  return out;
}

}  // namespace tickpath::engine
