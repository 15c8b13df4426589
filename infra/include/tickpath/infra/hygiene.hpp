// Start-up hygiene for the hot threads: what a low-latency process does once,
// before the first frame, so that the hot path never page-faults or waits for
// the scheduler later. Every step says what it did or why it could not; the
// run report carries those lines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tickpath::infra {

struct HygieneStep {
  bool done = false;
  std::string note;  // what was done, or why not (with the fix)
};

// mlockall(MCL_CURRENT): every page mapped now (heap, rings, code) is faulted
// in and stays resident. Not MCL_FUTURE: with a finite memlock limit that
// would make later allocations off the hot path fail. Skipped in sanitizer
// builds, whose shadow mappings are terabytes of address space.
HygieneStep lock_memory();

// Writes one byte per page over `bytes` of the calling thread's stack, so
// its first deep call on the hot path does not fault.
void prefault_stack(std::size_t bytes) noexcept;

// SCHED_FIFO at `priority` (1-99) for the calling thread. Needs CAP_SYS_NICE
// or an rtprio limit; a busy-polling FIFO thread owns its core, so use it
// only on isolated cores (the kernel's RT throttling still leaves 5%).
HygieneStep set_fifo(int priority);

// Resident and locked memory of this process from /proc/self/status, bytes.
std::uint64_t resident_bytes();
std::uint64_t locked_bytes();

}  // namespace tickpath::infra
