// CPU pinning for the hot threads. Pinning never fails hard: a core that does
// not exist or is not in this process's allowed set gives a warning that
// names it, and the thread runs unpinned.
#pragma once

#include <string>

namespace tickpath::infra {

struct PinResult {
  bool pinned = false;
  std::string warning;  // empty when pinned (or when cpu < 0: not requested)
};

// Pins the calling thread to `cpu`; cpu < 0 means "leave it alone".
PinResult pin_this_thread(int cpu, const char* thread_name);

// Names the calling thread for top/perf/gdb (at most 15 characters kept).
void name_this_thread(const char* name) noexcept;

// Cores this process may run on, e.g. "0-1" or "0,2,4-7" (as the process
// started: pinning one thread does not shrink it for the others).
std::string allowed_cpus();
int allowed_cpu_count();

}  // namespace tickpath::infra
