// The ring between pinned hot threads: tickpath's SpscRing beside
// moodycamel::ReaderWriterQueue (bounded use: try_enqueue never allocates)
// and moodycamel::ConcurrentQueue (MPMC, with producer and consumer tokens,
// capacity preallocated, try_enqueue) at the same capacity, same element,
// same cores. Two measurements:
//   Throughput: thread 0 produces, thread 1 consumes, items/s.
//   PingPong:   thread 0 sends, thread 1 echoes on a second queue; the round
//               trip halved is the one-way hop, with percentiles.
// Threads are pinned to cores 0 and 1 (TICKPATH_BENCH_CPUS="a,b" to change).
#include <concurrentqueue/concurrentqueue.h>
#include <readerwriterqueue/readerwriterqueue.h>

#include <cstdlib>
#include <immintrin.h>
#include <memory>

#include "bench_common.hpp"
#include "tickpath/infra/affinity.hpp"
#include "tickpath/infra/event.hpp"
#include "tickpath/infra/spsc_ring.hpp"

namespace {

constexpr std::size_t kCap = 1024;

int cpu_for(int thread_index) {
  int a = 0, b = 1;
  if (const char* env = std::getenv("TICKPATH_BENCH_CPUS")) std::sscanf(env, "%d,%d", &a, &b);
  return thread_index == 0 ? a : b;
}

template <typename T>
struct Ours {
  tickpath::infra::SpscRing<T, kCap> q;
  bool push(const T& v) noexcept { return q.try_push(v); }
  bool pop(T& v) noexcept { return q.try_pop(v); }
};
template <typename T>
struct Moody {
  moodycamel::ReaderWriterQueue<T> q{kCap};
  bool push(const T& v) noexcept { return q.try_enqueue(v); }
  bool pop(T& v) noexcept { return q.try_dequeue(v); }
};

template <typename T>
struct MoodyMpmc {
  moodycamel::ConcurrentQueue<T> q{kCap};
  moodycamel::ProducerToken ptok{q};
  moodycamel::ConsumerToken ctok{q};
  bool push(const T& v) noexcept { return q.try_enqueue(ptok, v); }
  bool pop(T& v) noexcept { return q.try_dequeue(ctok, v); }
};

template <typename T>
T make(std::uint64_t i) {
  T v{};
  if constexpr (std::is_same_v<T, std::uint64_t>) v = i;
  else v.trade.id = static_cast<std::int64_t>(i);
  return v;
}

template <typename Q, typename T>
void BM_Throughput(benchmark::State& state) {
  static std::unique_ptr<Q> q;
  if (state.thread_index() == 0) q = std::make_unique<Q>();
  tickpath::infra::pin_this_thread(cpu_for(state.thread_index()), "bench");
  // Google Benchmark starts both threads' loops together (a barrier).
  if (state.thread_index() == 0) {
    std::uint64_t i = 0;
    for (auto _ : state) {
      const T v = make<T>(i++);
      while (!q->push(v)) _mm_pause();
    }
  } else {
    T v{};
    for (auto _ : state) {
      while (!q->pop(v)) _mm_pause();
      benchmark::DoNotOptimize(v);
    }
  }
  state.SetItemsProcessed(state.iterations());
}

template <typename Q, typename T>
void BM_PingPong(benchmark::State& state) {
  static std::unique_ptr<Q> there, back;
  if (state.thread_index() == 0) {
    there = std::make_unique<Q>();
    back = std::make_unique<Q>();
  }
  tickpath::infra::pin_this_thread(cpu_for(state.thread_index()), "bench");
  const auto& clk = tickpath::bench::clock();
  tickpath::infra::LatencyHistogram h;
  T v{};
  if (state.thread_index() == 0) {
    std::uint64_t i = 0;
    for (auto _ : state) {
      const auto t0 = clk.now();
      while (!there->push(make<T>(i++))) _mm_pause();
      while (!back->pop(v)) _mm_pause();
      h.record(clk.delta_ns(t0, clk.now()) / 2);
    }
    tickpath::bench::report_percentiles(state, h, "one_way_");
  } else {
    for (auto _ : state) {
      while (!there->pop(v)) _mm_pause();
      while (!back->push(v)) _mm_pause();
    }
  }
}

}  // namespace

using Ev = tickpath::infra::Event;
BENCHMARK_TEMPLATE(BM_Throughput, Ours<std::uint64_t>, std::uint64_t)->Threads(2)->UseRealTime();
BENCHMARK_TEMPLATE(BM_Throughput, Moody<std::uint64_t>, std::uint64_t)->Threads(2)->UseRealTime();
BENCHMARK_TEMPLATE(BM_Throughput, MoodyMpmc<std::uint64_t>, std::uint64_t)->Threads(2)->UseRealTime();
BENCHMARK_TEMPLATE(BM_Throughput, Ours<Ev>, Ev)->Threads(2)->UseRealTime();
BENCHMARK_TEMPLATE(BM_Throughput, Moody<Ev>, Ev)->Threads(2)->UseRealTime();
BENCHMARK_TEMPLATE(BM_Throughput, MoodyMpmc<Ev>, Ev)->Threads(2)->UseRealTime();
BENCHMARK_TEMPLATE(BM_PingPong, Ours<std::uint64_t>, std::uint64_t)->Threads(2)->UseRealTime();
BENCHMARK_TEMPLATE(BM_PingPong, Moody<std::uint64_t>, std::uint64_t)->Threads(2)->UseRealTime();
BENCHMARK_TEMPLATE(BM_PingPong, MoodyMpmc<std::uint64_t>, std::uint64_t)->Threads(2)->UseRealTime();
BENCHMARK_TEMPLATE(BM_PingPong, Ours<Ev>, Ev)->Threads(2)->UseRealTime();
BENCHMARK_TEMPLATE(BM_PingPong, Moody<Ev>, Ev)->Threads(2)->UseRealTime();
TICKPATH_BENCHMARK_MAIN()
