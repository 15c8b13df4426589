// Host doctor: reads what the kernel says about the cores the hot threads
// will run on and about the machine around them, the way a low-latency
// engineer checks a box before trusting its numbers, and prints each finding
// with the exact fix.
//
// Everything is read from files under a root (normally "/": /proc and /sys),
// so a test can build a host in a directory and check the verdicts. Nothing
// here needs privileges or changes the host.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tickpath::engine {

struct DoctorFinding {
  enum class Level : std::uint8_t { ok, info, warn, fail };
  std::string check;   // short name, e.g. "isolcpus"
  Level level = Level::ok;
  std::string detail;  // what was found
  std::string fix;     // the command or kernel parameter that fixes it; empty when nothing to do
};
const char* to_string(DoctorFinding::Level l) noexcept;

struct DoctorOptions {
  std::string root = "/";         // where proc/ and sys/ are
  std::vector<int> cpus;          // hot cores; empty: every core the process may use
  std::uint64_t memlock_bytes = 0;  // RLIMIT_MEMLOCK soft limit (the caller reads it; UINT64_MAX = unlimited)
  std::uint64_t memlock_needed = 256ULL << 20;  // what mlockall of the engine needs, with room
  std::vector<int> allowed_cpus;  // the process's affinity set (empty: not checked)
};

struct DoctorReport {
  std::vector<int> cpus;
  std::vector<DoctorFinding> findings;
  // False when any finding is a failure: the hot cores are not fit for latency work.
  [[nodiscard]] bool fit() const noexcept;
  [[nodiscard]] std::size_t count(DoctorFinding::Level l) const noexcept;
  [[nodiscard]] std::string to_table() const;
  [[nodiscard]] std::string to_json() const;
  // One line for the start of `tickpath run`.
  [[nodiscard]] std::string summary() const;
};

DoctorReport run_doctor(const DoctorOptions& opt);

// The live process's RLIMIT_MEMLOCK (UINT64_MAX when unlimited) and affinity set.
std::uint64_t current_memlock_limit() noexcept;
std::vector<int> current_allowed_cpus();

// "0-3,8,10-11" -> {0,1,2,3,8,10,11}; empty on a syntax error.
std::vector<int> parse_cpu_list(const std::string& list);
std::string format_cpu_list(const std::vector<int>& cpus);

}  // namespace tickpath::engine
