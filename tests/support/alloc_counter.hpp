// Counts operator new calls made by threads that opted in, so a test can
// prove a hot path does not allocate. Linked into every test binary.
#pragma once

#include <cstdint>

namespace tickpath::test {

// Start / stop counting allocations made by the calling thread.
void count_allocations_on_this_thread(bool on) noexcept;
// Allocations counted so far, over all opted-in threads.
std::uint64_t counted_allocations() noexcept;
void reset_counted_allocations() noexcept;

// RAII: counts this thread's allocations within a scope.
class AllocationScope {
 public:
  AllocationScope() noexcept : start_(counted_allocations()) { count_allocations_on_this_thread(true); }
  ~AllocationScope() { count_allocations_on_this_thread(false); }
  [[nodiscard]] std::uint64_t count() const noexcept { return counted_allocations() - start_; }

 private:
  std::uint64_t start_;
};

}  // namespace tickpath::test
