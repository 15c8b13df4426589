// What the dashboard stream carries, and how it gets off the strategy
// thread without slowing it.
//
// UiPublisher (strategy thread): per symbol, a frame of the state a trader
// looks at (last price, top of book, forming bar, the closed bar's
// overlays, position and equity) written into a seqlock at most every
// `period` ticks, and at once when a bar closes or a signal is made; each
// closed bar and each trade also goes into an SPSC ring (full: counted,
// never waited on; the trade ring holds 65,536, 6.5 M trades/s drained
// every 10 ms). Cost on the hot thread: a compare per event, a 40-byte
// ring slot per trade, a ~190-byte write per symbol per period. The
// seqlock's payload is a run of relaxed atomic words, so the reader's torn
// copies are retried, not undefined.
//
// UiHub (io thread): drains the rings and the signals into bounded
// histories (numbered, so each WebSocket client resumes from its own
// cursor), and renders the snapshot a client gets on connect and the
// deltas it gets at the broadcast rate. Bars and signals reach every client
// whole; the trade tape is a view of the latest trades: a delta carries at
// most the newest kTapePerMessage after the client's cursor.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "tickpath/infra/signal.hpp"
#include "tickpath/infra/spsc_ring.hpp"
#include "tickpath/strategy/bar_builder.hpp"
#include "ui_server.hpp"

namespace tickpath::engine {

struct UiSymbolFrame {
  std::int64_t time_ms = 0;
  double last = 0, bid = 0, ask = 0;
  strategy::Bar forming{};
  double sma_20 = 0, ema_12 = 0, ema_26 = 0, bb_upper = 0, bb_middle = 0, bb_lower = 0, rsi_14 = 0;
  double position = 0, equity = 0;
  std::uint64_t trades = 0, bars = 0;
  std::uint64_t published = 0;  // 0: never written
};

struct UiBar {
  infra::SymbolId symbol = infra::kNoSymbol;
  strategy::Bar bar{};
  double sma_20 = 0, bb_upper = 0, bb_lower = 0;
};

struct UiTrade {
  infra::SymbolId symbol = infra::kNoSymbol;
  std::uint8_t buyer_maker = 0;  // 1: the seller took the bid
  std::uint8_t aggregate = 0;    // 1: an aggTrade (id is `a`), 0: a trade (id is `t`)
  std::int64_t time_ms = 0;
  double price = 0, qty = 0;
  std::int64_t id = 0;
};

// One writer, any number of readers; T trivially copyable, a multiple of 8 bytes.
template <class T>
class Seqlocked {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) % 8 == 0);
  static constexpr std::size_t kWords = sizeof(T) / 8;

 public:
  void write(const T& v) noexcept {
    std::array<std::uint64_t, kWords> w;
    std::memcpy(w.data(), &v, sizeof v);
    const std::uint32_t s = seq_.load(std::memory_order_relaxed);
    seq_.store(s + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    for (std::size_t i = 0; i < kWords; ++i) words_[i].store(w[i], std::memory_order_relaxed);
    seq_.store(s + 2, std::memory_order_release);
  }
  // False when a write overlapped the copy (try again later).
  bool read(T& out) const noexcept {
    const std::uint32_t s1 = seq_.load(std::memory_order_acquire);
    if (s1 & 1U) return false;
    std::array<std::uint64_t, kWords> w;
    for (std::size_t i = 0; i < kWords; ++i) w[i] = words_[i].load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (seq_.load(std::memory_order_relaxed) != s1) return false;
    std::memcpy(static_cast<void*>(&out), w.data(), sizeof out);
    return true;
  }

 private:
  alignas(64) std::atomic<std::uint32_t> seq_{0};
  std::array<std::atomic<std::uint64_t>, kWords> words_{};
};

// Both drained by the io thread in batches every 10 ms: the index layout.
using UiBarRing = infra::SpscRing<UiBar, 1U << 12, infra::RingWait::index>;
using UiTradeRing = infra::SpscRing<UiTrade, 1U << 16, infra::RingWait::index>;  // 2.6 MB: 6.5 M trades/s at the io thread's 10 ms

class UiPublisher {
 public:
  UiPublisher(std::size_t symbols, std::uint64_t period_ticks)
      : n_(symbols), period_(period_ticks), next_(symbols, 0), raw_trades_(symbols, 0), frames_(std::make_unique<Seqlocked<UiSymbolFrame>[]>(symbols)),
        bars_(std::make_unique<UiBarRing>()), trades_(std::make_unique<UiTradeRing>()) {}

  // Strategy thread: the caller builds a frame only when due (or forced:
  // a bar closed or a signal was made), then publishes it.
  [[nodiscard]] bool due(std::size_t id, std::uint64_t now) const noexcept { return id < n_ && now >= next_[id]; }
  void publish(std::size_t id, std::uint64_t now, const UiSymbolFrame& f) noexcept {
    if (id >= n_) return;
    next_[id] = now + period_;
    frames_[id].write(f);
  }
  void bar_closed(const UiBar& b) noexcept {
    if (!bars_->try_push(b)) bar_drops_.store(bar_drops_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  // A trade for the tape. trade and aggTrade streams report the same
  // trades: once a symbol's raw trades are seen, its aggregates are left out.
  void trade(const UiTrade& t) noexcept {
    if (t.symbol < n_) {
      if (t.aggregate && raw_trades_[t.symbol]) return;
      if (!t.aggregate) raw_trades_[t.symbol] = 1;
    }
    if (!trades_->try_push(t)) tape_drops_.store(tape_drops_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  // io thread
  [[nodiscard]] bool read(std::size_t id, UiSymbolFrame& out) const noexcept { return id < n_ && frames_[id].read(out); }
  UiBarRing& bars() noexcept { return *bars_; }
  UiTradeRing& trades() noexcept { return *trades_; }
  [[nodiscard]] std::uint64_t bar_drops() const noexcept { return bar_drops_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t tape_drops() const noexcept { return tape_drops_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::size_t symbols() const noexcept { return n_; }

 private:
  std::size_t n_;
  std::uint64_t period_;
  std::vector<std::uint64_t> next_;  // strategy thread only
  std::vector<std::uint8_t> raw_trades_;  // strategy thread only
  std::unique_ptr<Seqlocked<UiSymbolFrame>[]> frames_;
  std::unique_ptr<UiBarRing> bars_;
  std::unique_ptr<UiTradeRing> trades_;
  std::atomic<std::uint64_t> bar_drops_{0}, tape_drops_{0};
};

class UiHub {
 public:
  static constexpr std::size_t kBarHistory = 2000, kSignalHistory = 1000, kTapeHistory = 1000, kTapePerMessage = 200;

  UiHub(UiPublisher& pub, std::vector<std::string> symbol_names, StatsView stats)
      : pub_(pub), names_(std::move(symbol_names)), stats_(std::move(stats)), frames_(names_.size()) {}

  // io thread: closed bars, trades and signals as they are drained.
  void on_bar(const UiBar& b) { bars_.push(b, kBarHistory); }
  void on_trade(const UiTrade& t) { tape_.push(t, kTapeHistory); }
  void on_signal(const infra::Signal& s);
  std::string snapshot(UiCursor& c);
  std::string delta(UiCursor& c);
  // GET /api/signals: the latest `n` signals, oldest first, with symbol names.
  std::string signals_json(std::size_t n) const;
  // GET /api/book: per symbol, the top of book and last trade price as last published.
  std::string book_json();

 private:
  std::string render(const char* type, UiCursor& c, bool full);
  template <class T>
  struct History {
    std::deque<T> items;
    std::uint64_t first = 1;  // sequence number of items.front()
    void push(const T& v, std::size_t cap) {
      items.push_back(v);
      if (items.size() > cap) {
        items.pop_front();
        ++first;
      }
    }
    [[nodiscard]] std::uint64_t end() const { return first + items.size(); }  // next sequence number
  };
  UiPublisher& pub_;
  std::vector<std::string> names_;
  StatsView stats_;
  std::vector<UiSymbolFrame> frames_;
  History<UiBar> bars_;
  History<infra::Signal> signals_;
  History<UiTrade> tape_;
};

}  // namespace tickpath::engine
