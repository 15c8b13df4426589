#include "tickpath/infra/affinity.hpp"

#include <pthread.h>
#include <sched.h>

#include <cstring>
#include <fmt/format.h>

namespace tickpath::infra {

namespace {
// The cores the process was started with. Read once, before the first
// pin: after a thread pins itself, threads it creates inherit its one-core
// mask, and asking the kernel then would hide every other core from them.
bool allowed_set(cpu_set_t& set) noexcept {
  static const struct Initial {
    cpu_set_t set;
    bool ok;
    Initial() noexcept {
      CPU_ZERO(&set);
      ok = sched_getaffinity(0, sizeof(set), &set) == 0;
    }
  } initial;
  set = initial.set;
  return initial.ok;
}
}  // namespace

std::string allowed_cpus() {
  cpu_set_t set;
  if (!allowed_set(set)) return "?";
  std::string out;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (!CPU_ISSET(c, &set)) continue;
    int e = c;
    while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, &set)) ++e;
    if (!out.empty()) out += ',';
    out += e == c ? fmt::format("{}", c) : fmt::format("{}-{}", c, e);
    c = e;
  }
  return out;
}

int allowed_cpu_count() {
  cpu_set_t set;
  return allowed_set(set) ? CPU_COUNT(&set) : 0;
}

PinResult pin_this_thread(int cpu, const char* thread_name) {
  PinResult r;
  if (cpu < 0) return r;
  cpu_set_t allowed;
  if (cpu >= CPU_SETSIZE || !allowed_set(allowed) || !CPU_ISSET(cpu, &allowed)) {
    r.warning = fmt::format("warning: {} thread asked for core {}, which this host does not offer (allowed: {}); running unpinned",
                            thread_name, cpu, allowed_cpus());
    return r;
  }
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  const int rc = pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
  if (rc != 0) {
    r.warning = fmt::format("warning: pinning {} thread to core {} failed: {}; running unpinned", thread_name, cpu,
                            std::strerror(rc));
    return r;
  }
  r.pinned = true;
  return r;
}

void name_this_thread(const char* name) noexcept {
  char buf[16];
  std::strncpy(buf, name, sizeof(buf) - 1);
  buf[sizeof(buf) - 1] = '\0';
  pthread_setname_np(pthread_self(), buf);
}

}  // namespace tickpath::infra
