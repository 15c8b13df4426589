#include "tickpath/infra/hygiene.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TICKPATH_SANITIZED 1
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define TICKPATH_SANITIZED 1
#endif
#endif

namespace tickpath::infra {

namespace {
std::uint64_t status_kib(const char* key) {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  std::uint64_t v = 0;
  const std::size_t n = std::strlen(key);
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, key, n) == 0 && line[n] == ':') {
      v = std::strtoull(line + n + 1, nullptr, 10);
      break;
    }
  std::fclose(f);
  return v * 1024;
}
}  // namespace

std::uint64_t resident_bytes() { return status_kib("VmRSS"); }
std::uint64_t locked_bytes() { return status_kib("VmLck"); }

HygieneStep lock_memory() {
#ifdef TICKPATH_SANITIZED
  return {false, "memory not locked: sanitizer build (its shadow memory cannot be locked)"};
#else
  if (mlockall(MCL_CURRENT) == 0)
    return {true, fmt::format("memory locked (mlockall): {} MiB resident", locked_bytes() >> 20)};
  const int e = errno;
  rlimit r{};
  getrlimit(RLIMIT_MEMLOCK, &r);
  const std::string limit = r.rlim_cur == RLIM_INFINITY ? std::string("unlimited") : fmt::format("{} KiB", r.rlim_cur >> 10);
  return {false, fmt::format("memory not locked: mlockall: {} (memlock limit {}, {} MiB resident); fix: ulimit -l "
                             "unlimited, or run with CAP_IPC_LOCK",
                             std::strerror(e), limit, resident_bytes() >> 20)};
#endif
}

[[gnu::noinline]] void prefault_stack(std::size_t bytes) noexcept {
  // One volatile byte per page of a 64 KiB frame, then the next frame below
  // it; the read after the call keeps the compiler from reusing this frame.
  constexpr std::size_t kPage = 4096;
  constexpr std::size_t kChunk = 16 * kPage;
  volatile char buf[kChunk];
  for (std::size_t i = 0; i < kChunk; i += kPage) buf[i] = 0;
  if (bytes > kChunk) prefault_stack(bytes - kChunk);
  buf[0] = buf[kPage];
}

HygieneStep set_fifo(int priority) {
  sched_param sp{};
  sp.sched_priority = priority;
  const int rc = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
  if (rc == 0) return {true, fmt::format("SCHED_FIFO priority {}", priority)};
  return {false, fmt::format("SCHED_FIFO {} refused: {} (needs CAP_SYS_NICE or 'ulimit -r {}')", priority,
                             std::strerror(rc), priority)};
}

}  // namespace tickpath::infra
