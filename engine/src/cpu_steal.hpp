// vCPU steal: time the hypervisor ran something else while a guest's
// virtual CPU wanted to run (the 8th value of a cpuN line of /proc/stat, in
// USER_HZ ticks). On a shared VM this, not the engine, is what sets the tail
// latencies: an event that arrives while the host holds the core waits for
// all of it. The run reports it per hot core.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tickpath::engine {

// Steal ticks of `cpu` in the text of /proc/stat; false when there is no
// such cpuN line, or it has no steal field (kernels before 2.6.11), or the
// field is not a number.
bool parse_steal_ticks(std::string_view proc_stat, int cpu, std::uint64_t& ticks) noexcept;

// The online CPUs /proc/stat lists (its cpuN lines), in order.
std::vector<int> stat_cpus(std::string_view proc_stat);

// Steal of a set of CPUs between two readings of /proc/stat.
class StealMeter {
 public:
  // Reads /proc/stat (under `root`) now; `cpus` empty: every CPU listed.
  // A host without /proc/stat or without the field gives an empty result.
  explicit StealMeter(std::vector<int> cpus, std::string root = "/");

  struct Cpu {
    int cpu = 0;
    double ms = 0;  // steal
    double fraction = 0;  // of the wall time between the two readings
  };
  // Reads again; one entry per CPU that both readings had.
  [[nodiscard]] std::vector<Cpu> since_start() const;

 private:
  std::string path_;
  std::vector<int> cpus_;
  std::vector<std::uint64_t> start_;  // parallel to cpus_ (only those read)
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace tickpath::engine
