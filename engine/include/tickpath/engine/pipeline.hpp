// Pipeline: the engine's running shape. A feed thread walks frames in memory
// (replayed from a file or rendered ahead by the synthetic market), stamps
// each at rx, parses it into an Event and pushes it into an SpscRing; a
// strategy thread pops events, updates bars and indicators and stamps the
// stages. Both are pinned and busy-poll. The calling thread is the io
// thread: it prepares frames, prints progress and merges the histograms.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "tickpath/feed/binance_parser.hpp"
#include "tickpath/feed/frame_set.hpp"
#include "tickpath/feed/order_book.hpp"
#include "tickpath/feed/udp.hpp"
#include "tickpath/feed/synthetic.hpp"
#include "tickpath/infra/latency_histogram.hpp"
#include "tickpath/infra/signal.hpp"
#include "tickpath/strategy/market_state.hpp"
#include "tickpath/strategy/policy.hpp"
#include "tickpath/strategy/portfolio.hpp"
#include "tickpath/strategy/signal_decider.hpp"

namespace tickpath::engine {

enum class HotThread : std::uint8_t { feed, strategy };

// Called once by each hot thread after its warm-up, on that thread (tests
// use it to start counting allocations there); with one hot thread
// (inline_strategy) only as HotThread::feed. Plain function pointer: no
// std::function on this path.
struct HotThreadHooks {
  void (*after_warmup)(HotThread, void* ctx) = nullptr;
  // Called by the feed thread the first time it finds the ring full.
  void (*ring_full)(void* ctx) = nullptr;
  void* ctx = nullptr;
  std::uint64_t warmup_messages = 1000;
};

// The live feed: Binance's combined streams (or the simulator's) over TLS.
struct LiveOptions {
  std::string ws_url = "wss://stream.binance.com:9443";  // /stream?streams=... is appended
  std::string rest_url = "https://api.binance.com";      // /api/v3/depth snapshots
  std::vector<std::string> streams{"trade", "bookTicker", "depth@100ms", "kline_1m"};  // per symbol
  bool insecure = false;       // skip certificate verification (local tests only; warned)
  std::string ca_file;         // trust this PEM instead of the system store
  std::size_t max_streams_per_connection = 1024;  // Binance's limit per connection
  double rotate_after_s = 23.0 * 3600 + 50 * 60;  // Binance closes connections at 24 h: rotate first
  double overlap_s = 10;       // old and new connection both read for this long (duplicates dropped)
  // During the overlap the new connection's frames wait in a buffer of this
  // size and are handled after the old connection's last one, so neither
  // can run ahead of the other; a full buffer ends the overlap early.
  std::size_t rotation_hold_bytes = 8U << 20;
  double stale_after_s = 10;   // no message for this long: reconnect
  double backoff_initial_s = 0.25, backoff_max_s = 30;
  int connects_per_5min = 300;  // Binance's connection-attempt limit per IP
  int snapshot_limit = 5000;    // REST depth levels
  int rest_weight_per_min = 6000;
  bool huge_pages = false;      // receive buffers on 2 MB pages when available
  // Event-driven: when nothing has arrived for a while the feed thread
  // sleeps in poll(2) on its connections instead of spinning (frees the
  // core, costs wake-up latency; see bench_transport).
  bool event_driven = false;
  std::size_t max_message_bytes = 1U << 20;
};

struct ConnectionRecord {
  std::uint64_t id = 0;
  std::size_t slot = 0;
  double opened_s = 0, closed_s = -1;  // seconds after the first connect
  std::uint64_t messages = 0, sq_missing = 0;
  std::string end;
};

// Results fanned out over NATS from the io thread (engine/src/nats_sink.hpp).
struct NatsOptions {
  std::string url;  // nats://HOST:PORT[,nats://...]; empty: off
  std::string prefix = "tickpath";
  bool trades = false;  // also every trade (the tape)
  bool binary = false;  // fixed little-endian records instead of JSON (stats stay JSON)
  int reconnect_buffer = 8 << 20;  // bytes kept while the server is away
  // JetStream: every message also stored in this stream (subjects PREFIX.>),
  // published with a Nats-Msg-Id so a retried message is stored once, and
  // acknowledged; "" = core NATS only (at most once).
  std::string stream;
  std::int64_t stream_max_bytes = std::int64_t{1} << 30;  // oldest messages discarded past it
  double stream_max_age_s = 7 * 86400.0;
  int stream_replicas = 1;  // 3 on a cluster
  std::size_t max_in_flight = 65'536;  // JetStream publishes awaiting their ack; past it, messages wait on disk
  // Messages that cannot go now (in-flight bound, a full reconnect buffer,
  // a publish the server did not acknowledge) wait in a file here, in order,
  // and are sent on recovery. "" = the run's --record directory, else the
  // temporary directory.
  std::string spill_dir;
};

// Results stored in ClickHouse over HTTP from the io thread (engine/src/clickhouse_sink.hpp).
struct ClickHouseOptions {
  std::string url;  // http://HOST:PORT; empty: off
  std::string database = "default";
  std::size_t batch_rows = 20'000;  // a table's batch is sent at this many rows ...
  int batch_ms = 1'000;             // ... or when its oldest row is this old
  std::size_t max_buffer_bytes = 64U << 20;  // batches kept in memory while the server is away; past it they wait on disk
  std::string spill_dir;  // "" = the run's --record directory, else the temporary directory
};

struct PipelineConfig {
  enum class Feed { synthetic, replay, live, udp } feed = Feed::synthetic;
  // udp: one frame per datagram from a multicast group (e.g. tickpath-exsim --udp)
  feed::UdpOptions udp{};
  LiveOptions live{};
  // Journal every raw frame with its receive time under this directory
  // (partitioned by symbol and date); "" = no journal.
  std::string record_dir;
  std::string replay_path;
  // Warm start: before its first frame, the engine plays this journal (a
  // --record directory, or a recorder file) through the feed handler and the
  // strategy, so books, bars, indicators, the decider and the paper accounts
  // continue where the recording run stopped; nothing from it is published,
  // journaled or timed. "" = a cold start.
  std::string warm_from;
  std::vector<std::string> symbols;   // replay: empty = every symbol in the file; synthetic: the market
  std::uint64_t messages = 0;          // stop after this many frames (0: synthetic 1M, replay one pass)
  double duration_s = 0;               // or after this long (0: no limit)
  int feed_cpu = -1, strategy_cpu = -1;
  // One hot thread: the feed thread runs the strategy on each event as soon
  // as it is parsed. No event ring, no core-to-core hop, no queue stage; the
  // strategy's idle work (keeping the policy's weights in L1) runs while the
  // feed waits. strategy_cpu is then unused, and the other core is the io
  // thread's. For hosts with few cores to isolate, and the lowest latency
  // per event while one core keeps up with the feed.
  bool inline_strategy = false;
  bool drop_on_full = false;           // default: the feed waits (counted as backpressure)
  double replay_speed = 0;             // 0: as fast as possible; 1: recorded pace; 10: ten times faster
  double pace_fps = 0;                 // synthetic/replay: feed at this many frames per wall-clock second (0: off)
  feed::SyntheticConfig synthetic{};
  std::size_t synthetic_render_cap = 1'000'000;  // frames rendered ahead; longer runs replay them in laps
  std::size_t max_symbols = infra::SymbolTable::kMaxSymbols;  // a set-up error past this
  bool progress = true;                // a line on stderr every second
  // Policy stage: empty model path = none (the pipeline ends at indicators).
  std::string model_path;
  std::string policy_backend = "auto";  // auto | scalar | avx2 | avx512
  // false: the actor alone. The value network is not run, the policy stage
  // does about half the work, and signals carry no value (NaN).
  bool policy_critic = true;
  // When the policy runs: on every trade (forming bar), on each closed bar,
  // or at most every policy_every_ms of event time per symbol.
  enum class PolicyOn { trade, bar, interval } policy_on = PolicyOn::trade;
  std::int64_t policy_every_ms = 1000;
  strategy::SignalOptions signal{};
  // Each symbol's paper account, traded by the signals on the strategy thread
  // (so the observation's position and PnL features are live).
  strategy::PortfolioConfig portfolio{};
  HotThreadHooks hooks{};
  // Start-up hygiene (reported line by line): lock every page mapped before
  // the hot threads start (mlockall), prefault their stacks, run each hot
  // thread's code over warm-up inputs (parser: one frame of each kind;
  // policy: forward passes) before the first real frame, and optionally
  // SCHED_FIFO for the hot threads.
  bool lock_memory = false;     // the CLI turns it on (--no-mlock to skip)
  int fifo_priority = 0;        // 0: normal scheduling
  std::uint32_t warmup_rounds = 2000;
  // A line printed on stderr once set-up has succeeded, just before the hot
  // threads start (the CLI's host summary), and kept in the report.
  std::string start_note;
  // Read-only HTTP endpoint on the io thread: /api/health, /api/stats,
  // /metrics (Prometheus). "" = off; "[ADDRESS:]PORT" (address 127.0.0.1 by
  // default, port 0 = any free one). ui_ready gets the bound port.
  std::string ui_listen;
  std::function<void(std::uint16_t)> ui_ready;
  // The dashboard page served at "/" (Vite's output); "" = the one built
  // from web/ in the source tree. Missing: the API and stream are still
  // served, with a warning.
  std::string ui_root;
  NatsOptions nats;
  ClickHouseOptions clickhouse;
  std::string shard = "all";  // "I/N" when sharded (--shard): tags what the sinks store and publish
  // CSV of trades, bars and signals under this directory (tickpath export); "" = none
  std::string export_dir;
  std::int64_t export_from_ms = std::numeric_limits<std::int64_t>::min();
  std::int64_t export_to_ms = std::numeric_limits<std::int64_t>::max();
};

struct StageSummary {
  std::string name;
  infra::Percentiles p;
};

struct SymbolSummary {
  std::string name;
  const char* bar_source = "none";
  std::uint64_t trades = 0, bars = 0, depth_events = 0, depth_gaps = 0, price_anomalies = 0, volume_anomalies = 0;
  strategy::IndicatorValues last{};
  double window_mean_5m = strategy::kNaN, window_mean_1h = strategy::kNaN, vwap = strategy::kNaN;
  double book_bid = strategy::kNaN, book_ask = strategy::kNaN, book_imbalance = strategy::kNaN;
  std::uint64_t signals = 0;
  bool has_signal = false;
  bool has_portfolio = false;
  strategy::PortfolioMetrics portfolio{};
  // FNV-1a 64 over this symbol's signals in order (action, reason and the
  // bits of confidence, value, price, event time): equal digests, equal signals.
  std::uint64_t signal_digest = 0xcbf29ce484222325ULL;
  infra::Signal last_signal{};
};

// A local order book at the end of a run. The checksum is FNV-1a 64 over
// every level's (price e8, qty e8) as little-endian int64 pairs, bids best
// first then asks best first, so another book can be compared exactly.
struct BookSummary {
  std::string symbol;
  bool synced = false;
  std::int64_t last_update_id = 0;
  std::uint32_t bid_levels = 0, ask_levels = 0;
  double best_bid = 0, best_ask = 0;
  std::uint64_t checksum = 0;      // every level held
  static constexpr std::uint32_t kTopLevels = 20;
  std::uint64_t top_checksum = 0;  // the best kTopLevels of each side: exact even when the far tail was bounded
  std::uint64_t level_overflows = 0, bad_levels = 0;  // levels past the book's capacity; refused levels
};
// FNV-1a 64 over (price e8, qty e8), bids then asks, best first, at most
// `levels` per side.
std::uint64_t book_checksum(const feed::OrderBookSide& bids, const feed::OrderBookSide& asks,
                            std::uint32_t levels = UINT32_MAX) noexcept;

struct RunReport {
  std::string feed;
  std::uint64_t messages = 0;   // frames read by the feed
  std::uint64_t events = 0;     // frames that became events
  std::uint64_t processed = 0;  // events the strategy handled
  std::uint64_t rejects = 0;
  std::array<std::uint64_t, feed::kRejectReasons> reject_by_reason{};
  std::uint64_t dropped = 0;
  double backpressure_ns = 0;
  std::uint64_t depth_gaps = 0, late_trades = 0, bars_closed = 0, not_bar_source = 0, laps = 0;
  std::uint64_t symbol_over_capacity = 0;
  std::uint64_t books = 0, books_synced = 0, book_snapshots = 0, book_out_of_sync = 0, diffs_held = 0;
  std::vector<BookSummary> book_states;
  // policy stage
  std::string policy_backend;  // empty when the run had no policy
  bool policy_critic = true;
  bool inline_strategy = false;  // one hot thread: the feed thread ran the strategy
  std::string model;
  std::uint64_t signals = 0, signal_drops = 0, policy_warmup_skips = 0, non_finite_observations = 0;
  std::array<std::uint64_t, 3> signals_by_action{};
  std::uint64_t held_low_confidence = 0, held_cooldown = 0;
  std::uint64_t metadata_lines = 0;
  // live feed
  bool live = false;
  std::vector<ConnectionRecord> connections;
  std::uint64_t reconnects = 0, rotations = 0, stale_reconnects = 0, connect_failures = 0, connect_rate_limited = 0;
  std::uint64_t rotation_held = 0, rotation_hold_full = 0;
  std::string ui_address;  // the read-only HTTP endpoint, when on: ADDRESS:PORT
  std::uint64_t ui_requests = 0, ui_connections = 0;  // served by the read-only HTTP endpoint
  // its update stream: WebSocket clients, messages sent, updates coalesced
  // for a client still writing the previous one, closed bars and trades the
  // rings refused
  std::uint64_t ui_ws_clients = 0, ui_ws_messages = 0, ui_ws_coalesced = 0, ui_bar_drops = 0, ui_tape_drops = 0;
  // NATS: messages handed to the client library, refused (its reconnect
  // buffer full), payload bytes, connection losses and recoveries
  std::string nats_url;
  std::uint64_t nats_published = 0, nats_failed = 0, nats_bytes = 0, nats_disconnects = 0, nats_reconnects = 0;
  // JetStream (--nats-stream): publishes acknowledged by the stream, of them
  // those it had already stored (a retry, de-duplicated by id), not
  // acknowledged (retried); messages that waited on disk, and the messages
  // still undelivered at the end
  std::string nats_stream;
  std::uint64_t nats_acked = 0, nats_duplicates = 0, nats_ack_errors = 0, nats_spilled = 0, nats_unsent = 0;
  // ClickHouse: rows inserted per table (trades, bars_1m, signals, latency),
  // batches sent, failed attempts (retried), rows that waited on disk (the
  // memory bound reached), rows lost (the disk refused them), rows still
  // unsent at the end
  std::string export_dir;  // CSV rows written, and rows outside the time range
  std::uint64_t export_trades = 0, export_bars = 0, export_signals = 0, export_outside = 0;
  std::string clickhouse_url;
  std::uint64_t ch_trades = 0, ch_bars = 0, ch_signals = 0, ch_latency = 0, ch_batches = 0, ch_failures = 0,
                ch_dropped = 0, ch_unsent = 0, ch_spilled = 0;
  std::uint64_t duplicates = 0, sq_missing = 0, snapshot_fetches = 0, snapshot_failures = 0, snapshots_applied = 0;
  std::uint64_t pings = 0, pongs = 0;
  double outage_s = 0;
  std::string last_connect_error;
  // journal (--record)
  std::string journal_dir, journal_error;
  std::uint64_t journal_frames = 0, journal_drops = 0, journal_bytes = 0, journal_files = 0;
  // warm start (--warm-from): frames played before the run, the events they
  // became (state only), the frames refused or dropped as duplicates, and how
  // long it took before the first frame of the run
  std::string warm_from;
  std::uint64_t warm_frames = 0, warm_events = 0, warm_rejects = 0, warm_duplicates = 0;
  double warm_s = 0;
  std::string stopped_by;  // "SIGINT" / "SIGTERM" when a signal ended the run (set by the command line)
  bool delivery_cut_short = false;  // a second signal ended the end-of-run delivery to NATS / ClickHouse with some left undelivered
  bool journal_replay = false;  // the feed was a journal directory (de-duplication and held diffs on, as live)
  std::uint64_t udp_datagrams = 0, udp_truncated = 0;  // udp feed
  std::string tls;  // "verified" | "INSECURE (not verified)" | "none"
  double duration_s = 0;
  double throughput_msgs_per_s = 0;
  std::string clock;
  std::string clock_note;
  double clock_overhead_ns = 0;
  double tsc_ghz = 0;
  std::vector<std::string> warnings;
  std::vector<std::string> hygiene;  // start-up steps, what each did
  // vCPU steal on the hot cores (every core when not pinned) from the first
  // frame to the end of the feed: the time the hypervisor ran something
  // else; empty when the host does not say (or the run was too short to read it)
  struct Steal {
    int cpu = 0;
    double ms = 0;
    double fraction = 0;  // of the wall time measured
  };
  std::vector<Steal> steal;
  std::vector<StageSummary> stages;
  std::vector<SymbolSummary> symbols;

  [[nodiscard]] std::string to_json() const;
  [[nodiscard]] std::string to_table() const;
};

// Runs the pipeline to completion. Set-up failures (unreadable file, bad
// config) come back in `error` as one line, with an empty report. `stop`
// ends the run the way the end of the feed does; `cut_short` (a second
// signal) also ends the end-of-run delivery of what the NATS and ClickHouse
// sinks still hold, which is then reported as undelivered.
RunReport run_pipeline(const PipelineConfig& cfg, std::string& error, const std::atomic<bool>* stop = nullptr,
                       const std::atomic<bool>* cut_short = nullptr);

}  // namespace tickpath::engine
