#include "tickpath/engine/pipeline.hpp"

#include <fmt/format.h>
#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <memory>
#include <optional>
#include <thread>

#include "journal.hpp"
#include "live_feed.hpp"
#include "clickhouse_sink.hpp"
#include "cpu_steal.hpp"
#include "csv_sink.hpp"
#include "nats_sink.hpp"
#include "ui_feed.hpp"
#include "ui_server.hpp"
#include "tickpath/feed/feed_handler.hpp"
#include "tickpath/infra/affinity.hpp"
#include "tickpath/infra/byte_ring.hpp"
#include "tickpath/infra/hygiene.hpp"
#include "tickpath/infra/signal.hpp"
#include "tickpath/infra/spsc_ring.hpp"
#include "tickpath/infra/tsc_clock.hpp"

namespace tickpath::engine {

namespace {

using Ring = infra::SpscRing<infra::Event, 1U << 16>;
using SignalRing = infra::SpscRing<infra::Signal, 1U << 16, infra::RingWait::index>;  // drained by the io thread every 10 ms
constexpr std::uint32_t kBookLevels = 5000;  // per side: Binance's deepest REST snapshot
constexpr std::size_t kHeldDiffBytes = 1U << 20;  // per book, diffs held while a snapshot is fetched
constexpr double kUiPublishNs = 50e6;     // a symbol's dashboard frame at most every 50 ms (and on bars, trades)
constexpr auto kUiBroadcast = std::chrono::milliseconds(100);  // WebSocket deltas at 10 Hz

// Counters a hot thread writes and the io thread reads, each on its own line.
struct alignas(64) SharedCounter {
  std::atomic<std::uint64_t> v{0};
  void add(std::uint64_t n) noexcept { v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t get() const noexcept { return v.load(std::memory_order_relaxed); }
};

struct FeedThreadStats {
  infra::LatencyHistogram parse, wire;
  SharedCounter dropped, backpressure_ticks, laps, frames_fed, journal_drops, udp_missing;
};
struct StrategyThreadStats {
  infra::LatencyHistogram queue, indicators, policy, signal, tick_to_signal, end_to_end;
  SharedCounter processed, signals, signal_drops, warmup_skips;
  SharedCounter warm_events;  // warm-start events the strategy has taken into its state
};

// Shifts event times by whole laps of a looped frame set, so bars keep
// moving forward when a recording or rendered market is replayed again.
void shift_times(infra::Event& ev, std::int64_t offset_ms) noexcept {
  if (offset_ms == 0) return;
  if (ev.exchange_time_ms != 0) ev.exchange_time_ms += offset_ms;
  switch (ev.type) {
    case infra::EventType::trade:
    case infra::EventType::agg_trade: ev.trade.trade_time_ms += offset_ms; break;
    case infra::EventType::kline:
      ev.kline.open_time_ms += offset_ms;
      ev.kline.close_time_ms += offset_ms;
      break;
    default: break;
  }
}

// Set-up pass over the frames in memory (io thread, before the clock
// starts): interns every symbol they name, in order of appearance, so the
// hot threads only ever look ids up, and measures the span of event time
// they cover, rounded up to whole minutes, so laps line up bars.
struct Prescan {
  std::int64_t span_ms = 0;
  // Symbols with diff depth and a REST snapshot among the frames: they get an
  // order book (without a snapshot a book can never sync).
  std::vector<bool> depth_symbols;
  std::vector<std::int64_t> time_ns;  // per frame: recorder receive time, else event time, else the previous
};
Prescan prescan(const feed::FrameSet& frames, infra::SymbolTable& symbols, bool want_times) {
  feed::BinanceParser parser;
  feed::Message m;
  Prescan p;
  std::vector<bool> diffs, snaps;
  if (want_times) p.time_ns.resize(frames.size());
  std::int64_t lo = INT64_MAX, hi = INT64_MIN, last_ns = 0;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const auto f = frames.frame(i);
    const bool ok = parser.parse(f.data(), f.size(), m) == feed::RejectReason::none;
    if (want_times) {
      std::int64_t t = frames.frames()[i].recv_time_ns;
      if (t < 0) t = ok && m.E > 0 ? m.E * 1'000'000 : last_ns;
      p.time_ns[i] = last_ns = t;
    }
    if (!ok) continue;
    const std::string_view sym = m.symbol.empty() ? frames.frames()[i].symbol_hint : m.symbol;
    if (!sym.empty() && !symbols.frozen()) (void)symbols.intern(sym);
    const bool rest_snapshot = m.type == feed::MessageType::depth && m.stream.empty();
    if (m.type == feed::MessageType::depth_update || rest_snapshot) {
      const infra::SymbolId id = symbols.find(sym);
      if (id != infra::kNoSymbol) {
        if (diffs.size() <= id) diffs.resize(id + 1U, false), snaps.resize(id + 1U, false);
        (rest_snapshot ? snaps : diffs)[id] = true;
      }
    }
    std::int64_t t = m.E;
    if (m.type == feed::MessageType::trade || m.type == feed::MessageType::agg_trade) t = m.T;
    if (t <= 0) continue;
    lo = std::min(lo, t);
    hi = std::max(hi, t);
  }
  if (lo <= hi) p.span_ms = (hi - lo + 1 + 59'999) / 60'000 * 60'000 + 60'000;
  p.depth_symbols.resize(diffs.size());
  for (std::size_t i = 0; i < diffs.size(); ++i) p.depth_symbols[i] = diffs[i] && snaps[i];
  return p;
}

// One frame of each kind Binance sends, compact as on the wire, for the feed
// thread's warm-up pass (parsed into a scratch message; the handler's state
// is not touched).
constexpr std::string_view kWarmupFrames[] = {
    R"({"stream":"btcusdt@trade","data":{"e":"trade","E":1762578805373,"s":"BTCUSDT","t":5455447976,"p":"102571.17000000","q":"0.00100000","T":1762578805372,"m":true,"M":true}})",
    R"({"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1617566591315,"s":"BTCUSDT","a":665076760,"p":"58001.03000000","q":"0.08620500","f":745522877,"l":745522877,"T":1617566591314,"m":true,"M":true}})",
    R"({"stream":"btcusdt@bookTicker","data":{"u":400900217,"s":"BTCUSDT","b":"58001.03000000","B":"31.21000000","a":"58001.04000000","A":"40.66000000"}})",
    R"({"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1617566591316,"s":"BTCUSDT","U":157,"u":160,"b":[["58001.03000000","10.00000000"],["58001.02000000","0.50000000"]],"a":[["58001.04000000","1.00000000"]]}})",
    R"({"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1617566591776,"s":"BTCUSDT","k":{"t":1617566580000,"T":1617566639999,"s":"BTCUSDT","i":"1m","f":346711017,"L":346711087,"o":"2063.88000000","c":"2064.73000000","h":"2065.00000000","l":"2063.88000000","v":"70.86425000","n":71,"x":false,"q":"146321.71560700","V":"46.98201000","Q":"97009.77617410","B":"0"}}})",
};
constexpr std::size_t kHotStackPrefault = 256U << 10;

}  // namespace

std::uint64_t book_checksum(const feed::OrderBookSide& bids, const feed::OrderBookSide& asks,
                            std::uint32_t levels) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  auto mix = [&h](std::int64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= static_cast<std::uint64_t>(v >> (8 * i)) & 0xFF;
      h *= 0x100000001b3ULL;
    }
  };
  for (const auto* side : {&bids, &asks})
    for (std::uint32_t i = 0; i < side->size() && i < levels; ++i) {
      mix((*side)[i].price_e8);
      mix((*side)[i].qty_e8);
    }
  return h;
}

RunReport run_pipeline(const PipelineConfig& cfg, std::string& error, const std::atomic<bool>* stop,
                       const std::atomic<bool>* cut_short) {
  RunReport rep;
  error.clear();
  infra::TscClock clock;
  rep.clock = std::string(clock.source_name());
  rep.clock_note = std::string(clock.fallback_reason());
  rep.clock_overhead_ns = clock.overhead_ns();
  rep.tsc_ghz = clock.ticks_per_ns();

  // ---- set-up (io thread): the policy first, so a bad model fails fast ----
  std::unique_ptr<strategy::Policy> policy;
  if (!cfg.model_path.empty()) {
    policy = strategy::load_policy(cfg.model_path, cfg.policy_backend, true, error, cfg.policy_critic);
    if (!policy) return {};
    rep.policy_backend = strategy::to_string(policy->backend());
    rep.policy_critic = policy->critic();
    rep.model = cfg.model_path;
  }
  // ---- set-up (io thread): frames in memory, symbols interned ----
  feed::FrameSet frames;
  infra::SymbolTable symbols;
  std::uint64_t target = cfg.messages;
  const bool live = cfg.feed == PipelineConfig::Feed::live;
  const bool udp = cfg.feed == PipelineConfig::Feed::udp;
  std::unique_ptr<feed::UdpReceiver> udp_rx;
  if (live || udp) {
    rep.feed = live ? "live:" + cfg.live.ws_url : fmt::format("udp://{}:{}", cfg.udp.group, cfg.udp.port);
    if (cfg.symbols.empty()) {
      error = "a live feed needs --symbols (e.g. --symbols BTCUSDT,ETHUSDT)";
      return {};
    }
    if (udp) {
      udp_rx = std::make_unique<feed::UdpReceiver>();
      if (!udp_rx->open(cfg.udp, error)) return {};
    }
  } else if (cfg.feed == PipelineConfig::Feed::replay) {
    rep.feed = "replay:" + cfg.replay_path;
    std::error_code ec;
    rep.journal_replay = std::filesystem::is_directory(cfg.replay_path, ec);
    if (!(rep.journal_replay ? frames.load_dir(cfg.replay_path, error) : frames.load_file(cfg.replay_path, error)))
      return {};
    if (frames.size() == 0) {
      error = "no frames in " + cfg.replay_path;
      return {};
    }
    rep.metadata_lines = frames.metadata_lines();
    if (target == 0 && cfg.duration_s <= 0) target = frames.size();
  } else {
    rep.feed = "synthetic";
    feed::SyntheticConfig sc = cfg.synthetic;
    if (!cfg.symbols.empty()) sc.symbols = cfg.symbols;
    if (target == 0 && cfg.duration_s <= 0) target = 1'000'000;
    const std::size_t n = target > 0 ? std::min<std::uint64_t>(target, cfg.synthetic_render_cap) : cfg.synthetic_render_cap;
    try {
      feed::SyntheticMarket market(sc);
      frames = market.render(n);
    } catch (const std::exception& e) {
      error = e.what();
      return {};
    }
  }
  for (const auto& s : cfg.symbols) {
    if (symbols.intern(s) == infra::kNoSymbol) {
      error = "bad symbol '" + s + "' (letters and digits, at most 23)";
      return {};
    }
  }
  if (!cfg.symbols.empty()) symbols.freeze();
  // Warm start: the journal of an earlier run, played into the state before the first frame.
  feed::FrameSet warm_journal;
  if (!cfg.warm_from.empty()) {
    namespace fs = std::filesystem;
    std::error_code ec;
    rep.warm_from = cfg.warm_from;
    if (!fs::exists(cfg.warm_from, ec)) {
      // `--record DIR --warm-from DIR` on the first run of a journal: nothing to continue yet.
      if (cfg.warm_from != cfg.record_dir) return error = "--warm-from: no such journal: " + cfg.warm_from, RunReport{};
      rep.warnings.push_back("warning: --warm-from " + cfg.warm_from + " does not exist yet: a cold start");
    } else if (!(fs::is_directory(cfg.warm_from, ec) ? warm_journal.load_dir(cfg.warm_from, error)
                                                     : warm_journal.load_file(cfg.warm_from, error))) {
      return error = "--warm-from: " + error, RunReport{};
    } else if (warm_journal.size() == 0) {
      rep.warnings.push_back("warning: no frames in " + cfg.warm_from + ": a cold start");
    }
  }
  const bool paced = cfg.feed == PipelineConfig::Feed::replay && cfg.replay_speed > 0;
  // The warm journal first: its symbols are interned in the order the earlier run met them.
  const Prescan warm_scan = live || udp || warm_journal.size() == 0 ? Prescan{} : prescan(warm_journal, symbols, false);
  Prescan scan = live || udp ? Prescan{} : prescan(frames, symbols, paced);
  if (scan.depth_symbols.size() < warm_scan.depth_symbols.size()) scan.depth_symbols.resize(warm_scan.depth_symbols.size(), false);
  for (std::size_t i = 0; i < warm_scan.depth_symbols.size(); ++i)
    if (warm_scan.depth_symbols[i]) scan.depth_symbols[i] = true;
  const std::int64_t span_ms = scan.span_ms;
  symbols.freeze();  // every symbol is known now; the hot path only looks ids up
  if (symbols.size() > cfg.max_symbols) {
    error = fmt::format("{} symbols, more than the {} this run allows", symbols.size(), cfg.max_symbols);
    return {};
  }

  // Pacing at the recorded speed: each frame's due time, in ns after the first.
  std::vector<std::int64_t> due_ns;
  if (paced) {
    due_ns.resize(frames.size());
    std::int64_t first = -1;
    for (std::size_t i = 0; i < frames.size(); ++i) {
      const std::int64_t t = scan.time_ns[i];
      if (first < 0 && t > 0) first = t;
      due_ns[i] = first < 0 ? 0
                            : static_cast<std::int64_t>(static_cast<double>(std::max<std::int64_t>(0, t - first)) /
                                                        cfg.replay_speed);
    }
  }

  // Fixed wall-clock pace (frames per second), when asked and not paced by recorded times.
  const double pace_ticks = cfg.pace_fps > 0 && !paced ? clock.ticks_per_ns() * 1e9 / cfg.pace_fps : 0.0;

  const bool on_bar = cfg.policy_on == PipelineConfig::PolicyOn::bar;
  const bool on_interval = cfg.policy_on == PipelineConfig::PolicyOn::interval;
  if (on_interval && cfg.policy_every_ms <= 0) {
    error = "the policy interval must be a positive number of milliseconds";
    return {};
  }

  // One hot thread (cfg.inline_strategy): the feed thread hands each event
  // straight to the strategy, so there is no event ring and no core-to-core
  // hop; the io thread keeps the other core.
  const bool one_thread = cfg.inline_strategy;
  auto ring = one_thread ? nullptr : std::make_unique<Ring>();
  auto signals = std::make_unique<SignalRing>();
  strategy::SignalDecider decider(cfg.signal, symbols.size());
  std::vector<strategy::PaperPortfolio> books(symbols.size(), strategy::PaperPortfolio(cfg.portfolio));
  std::vector<std::int64_t> next_policy_ms(symbols.size(), INT64_MIN);  // interval mode, per symbol
  auto market = std::make_unique<strategy::MarketState>(symbols.size());
  auto handler = std::make_unique<feed::FeedHandler>(symbols);
  std::unique_ptr<LiveFeed> livefeed;
  if (live) {
    livefeed = std::make_unique<LiveFeed>(cfg.live, symbols, clock);
    handler->enable_books(livefeed->book_symbols(), kBookLevels, kHeldDiffBytes);
    handler->enable_dedup(true);
    const bool tls = cfg.live.ws_url.rfind("wss://", 0) == 0;
    rep.tls = !tls ? "none (plain ws://)" : cfg.live.insecure ? "INSECURE (certificates not verified)" : "verified";
    if (tls && cfg.live.insecure)
      std::fprintf(stderr, "tickpath: WARNING: TLS certificate verification is OFF (--insecure); use it only against a local simulator\n");
  } else if (rep.journal_replay) {  // a live recording: played back with the live feed's rules
    handler->enable_books(scan.depth_symbols, kBookLevels, kHeldDiffBytes);
    handler->enable_dedup(true);
  } else {
    handler->enable_books(scan.depth_symbols, kBookLevels);
  }
  std::unique_ptr<infra::ByteRing> jring;
  std::unique_ptr<JournalWriter> journal;
  if (!cfg.record_dir.empty()) {
    journal = std::make_unique<JournalWriter>(cfg.record_dir, symbols);
    if (!journal->open(error)) return {};
    jring = std::make_unique<infra::ByteRing>(64U << 20);
    rep.journal_dir = cfg.record_dir;
  }
  auto fstats = std::make_unique<FeedThreadStats>();
  auto sstats = std::make_unique<StrategyThreadStats>();
  std::atomic<bool> feed_done{false};
  std::atomic<int> started{0};
  std::string feed_pin_warning, strategy_pin_warning;
  std::string feed_hygiene, strategy_hygiene, feed_fifo_warning, strategy_fifo_warning;
  // The warm-up frames, padded for the parser (allocated here, before the hot threads).
  std::vector<std::string> warm_frames;
  for (auto f : kWarmupFrames) warm_frames.emplace_back(std::string(f) + std::string(feed::kPadding, '\0'));
  const std::uint64_t duration_ticks =
      cfg.duration_s > 0 ? clock.ns_to_ticks(cfg.duration_s * 1e9) : 0;
  std::atomic<std::uint64_t> t_start{0};
  std::uint64_t t_end = 0;

  // The read-only HTTP endpoint and update stream (io thread), before the feed connects.
  std::unique_ptr<UiServer> ui;
  std::unique_ptr<UiPublisher> uipub;
  std::unique_ptr<UiHub> hub;
  std::unique_ptr<NatsSink> nats;
  std::unique_ptr<ClickHouseSink> clickhouse;
  std::unique_ptr<CsvSink> csv;
  StatsView stats_view;
  if (!cfg.ui_listen.empty() || !cfg.nats.url.empty() || !cfg.clickhouse.url.empty() || !cfg.export_dir.empty()) {
    stats_view.feed = rep.feed;
    stats_view.uptime_s = [&] { return t_start.load() == 0 ? 0.0 : clock.to_ns(clock.now() - t_start.load()) * 1e-9; };
    stats_view.running = [&] { return !feed_done.load(std::memory_order_acquire); };
    auto add = [&](std::string name, std::string help, std::function<std::uint64_t()> get, std::string label = {},
                   std::string value = {}) {
      stats_view.counters.push_back({std::move(name), std::move(help), std::move(label), std::move(value), std::move(get)});
    };
    const feed::FeedCounters& fc = handler->counters();
    auto rd = [](const std::atomic<std::uint64_t>& a) { return [&a] { return a.load(std::memory_order_relaxed); }; };
    add("frames_total", "Frames read from the feed.", [&] { return fstats->frames_fed.get(); });
    add("events_total", "Frames turned into events.", rd(fc.events));
    add("processed_total", "Events the strategy processed (on its own thread, or on the feed thread with --inline-strategy).", [&] { return sstats->processed.get(); });
    for (std::size_t r = 1; r < feed::kRejectReasons; ++r)
      add("rejects_total", "Frames refused, by reason.", rd(fc.reject_by_reason[r]), "reason",
          feed::to_string(static_cast<feed::RejectReason>(r)));
    add("duplicates_total", "Frames dropped as already seen (overlapping connections).", rd(fc.duplicates));
    add("depth_gaps_total", "Depth diffs that did not follow the previous one.", rd(fc.depth_gaps));
    add("book_out_of_sync_total", "Diffs that did not follow the book (a new snapshot is fetched).", rd(fc.book_out_of_sync));
    add("ring_drops_total", "Events dropped at a full ring (--drop-on-full).", [&] { return fstats->dropped.get(); });
    add("signals_total", "Signals published by the policy.", [&] { return sstats->signals.get(); });
    add("signal_drops_total", "Signals lost at a full signal ring.", [&] { return sstats->signal_drops.get(); });
    for (std::size_t a = 0; a < 3; ++a)
      add("signals_by_action_total", "Signals the io thread received, by action.", [&rep, a] { return rep.signals_by_action[a]; },
          "action", infra::to_string(static_cast<infra::SignalAction>(a)));
    if (livefeed) {
      add("open_connections", "WebSocket connections open now (a gauge, counted here for simplicity).",
          [&] { return static_cast<std::uint64_t>(livefeed->open_connections()); });
    }
    stats_view.stages = {{"wire", &fstats->wire},         {"parse", &fstats->parse},
                {"queue", &sstats->queue},       {"indicators", &sstats->indicators},
                {"policy", &sstats->policy},     {"signal", &sstats->signal},
                {"tick_to_signal", &sstats->tick_to_signal}, {"end_to_end", &sstats->end_to_end}};
    if (one_thread) std::erase_if(stats_view.stages, [](const auto& st) { return std::string_view(st.name) == "queue"; });
    uipub = std::make_unique<UiPublisher>(symbols.size(), clock.ns_to_ticks(kUiPublishNs));
  }
  std::vector<std::string> symbol_names;
  for (std::size_t i = 0; i < symbols.size(); ++i) symbol_names.emplace_back(symbols.name(static_cast<infra::SymbolId>(i)));
  if (!cfg.nats.url.empty()) {
    nats = std::make_unique<NatsSink>();
    NatsOptions no = cfg.nats;
    if (no.spill_dir.empty()) no.spill_dir = cfg.record_dir;
    if (!nats->start(no, symbol_names, cfg.shard, error)) return {};
    rep.nats_url = cfg.nats.url;
    rep.nats_stream = cfg.nats.stream;
  }
  if (!cfg.clickhouse.url.empty()) {
    clickhouse = std::make_unique<ClickHouseSink>();
    ClickHouseOptions co = cfg.clickhouse;
    if (co.spill_dir.empty()) co.spill_dir = cfg.record_dir;
    if (!clickhouse->start(co, symbol_names, cfg.shard, error)) return {};
    rep.clickhouse_url = cfg.clickhouse.url;
  }
  if (!cfg.export_dir.empty()) {
    csv = std::make_unique<CsvSink>();
    if (!csv->open(cfg.export_dir, symbol_names, cfg.shard, cfg.export_from_ms, cfg.export_to_ms, error)) return {};
    rep.export_dir = cfg.export_dir;
  }
  if (!cfg.ui_listen.empty()) {
    std::string addr;
    std::uint16_t port = 0;
    if (!parse_listen_address(cfg.ui_listen, addr, port, error)) return {};
    std::vector<UiRoute> routes;
    routes.push_back({"/api/health", "application/json", [stats_view] { return health_json(stats_view); }});
    routes.push_back({"/api/stats", "application/json", [stats_view] { return stats_json(stats_view); }});
    routes.push_back({"/metrics", "text/plain; version=0.0.4", [stats_view] { return metrics_text(stats_view); }});
    hub = std::make_unique<UiHub>(*uipub, symbol_names, stats_view);
    routes.push_back({"/api/signals", "application/json", [&h = *hub] { return h.signals_json(100); }});
    routes.push_back({"/api/book", "application/json", [&h = *hub] { return h.book_json(); }});
    ui = std::make_unique<UiServer>();
    ui->set_stream({"/ws", [&h = *hub](UiCursor& c) { return h.snapshot(c); }, [&h = *hub](UiCursor& c) { return h.delta(c); }});
    {
      std::string why;
      const std::string root = cfg.ui_root.empty() ? std::string(TICKPATH_WEB_DIST) : cfg.ui_root;
      if (!ui->set_static_root(root, why)) {
        if (!cfg.ui_root.empty()) return error = "--ui-root: " + why, RunReport{};
        rep.warnings.push_back("warning: " + why + "; the JSON API, metrics and stream are served");
      }
    }
    if (!ui->start(addr, port, std::move(routes), error)) return {};
    rep.ui_address = fmt::format("{}:{}", addr, ui->port());
    if (cfg.ui_ready) cfg.ui_ready(ui->port());
  }

  // Connect last, so the first frames are not left waiting for the rest of the set-up.
  if (livefeed && !livefeed->start(error)) return {};

  if (!cfg.start_note.empty()) {
    std::fprintf(stderr, "%s\n", cfg.start_note.c_str());
    rep.hygiene.push_back(cfg.start_note);
  }
  // Every page mapped so far (rings, books, parser buffers, model, code)
  // stays resident from here on.
  if (cfg.lock_memory) rep.hygiene.push_back(infra::lock_memory().note);
  else rep.hygiene.push_back("memory not locked (the CLI locks it unless --no-mlock)");
  if (one_thread)
    rep.hygiene.push_back(fmt::format("one hot thread: the feed thread runs the strategy (no event ring); signal ring "
                                      "prefaulted at construction, {} MiB",
                                      (sizeof(infra::Signal) * SignalRing::capacity) >> 20));
  else
    rep.hygiene.push_back(fmt::format("rings prefaulted at construction: events {} MiB, signals {} MiB",
                                      (sizeof(infra::Event) * Ring::capacity) >> 20,
                                      (sizeof(infra::Signal) * SignalRing::capacity) >> 20));
  // Each hot thread, once pinned: its stack prefaulted, FIFO if asked, its code warmed.
  auto hot_thread_setup = [&](const char* who, std::string& note, std::string& warning, auto&& warm) {
    infra::prefault_stack(kHotStackPrefault);
    std::string fifo = "normal scheduling";
    if (cfg.fifo_priority > 0) {
      const auto r = infra::set_fifo(cfg.fifo_priority);
      fifo = r.note;
      if (!r.done) warning = fmt::format("{} thread: {}", who, r.note);
    }
    const std::uint64_t w0 = clock.now();
    const std::string what = warm();
    note = fmt::format("{} thread: stack prefaulted ({} KiB), {}, warm-up {} in {:.2f} ms", who, kHotStackPrefault >> 10,
                       fifo, what, static_cast<double>(clock.delta_ns(w0, clock.now())) / 1e6);
  };

  // ---- the strategy: its state and what it does with one event ----
  // Run by the strategy thread, or, with one hot thread, by the feed thread
  // itself; by one thread either way.
  auto strategy_warm = [&] {
    if (!policy) return std::string("none (no policy)");
    strategy::Observation zero{};
    strategy::PolicyOutput scratch;
    for (std::uint32_t i = 0; i < cfg.warmup_rounds; ++i) (void)policy->forward(zero.data(), scratch);
    if (policy->prefetch_lines() == 0) return fmt::format("{} policy passes", cfg.warmup_rounds);
    return fmt::format("{} policy passes (weights, {} KiB, then kept in L1 while idle)", cfg.warmup_rounds,
                       policy->prefetch_lines() * 64 / 1024);
  };
  // The hook is called once per hot thread: with one, the feed thread's call is it.
  bool strategy_warmed = cfg.hooks.after_warmup == nullptr || one_thread;
  std::uint64_t processed = 0;
  std::uint32_t prefetch_cursor = 0;
  strategy::Observation obs{};
  strategy::PolicyOutput out;
  // The dashboard's view of a symbol, when due (or forced by a bar or a trade signal).
  std::uint64_t ui_published = 0;
  auto ui_publish = [&](infra::SymbolId id, std::uint64_t now, bool force) noexcept {
    if (!uipub || id >= market->capacity() || (!force && !uipub->due(id, now))) return;
    const auto& st = market->symbol(id);
    UiSymbolFrame f;
    f.time_ms = st.last_time_ms;
    f.last = st.last_price;
    f.bid = st.bid;
    f.ask = st.ask;
    f.forming = st.source == strategy::BarSource::kline ? st.forming_kline : st.bars.forming();
    const auto& v = st.indicators.last_closed();
    f.sma_20 = v.sma_20;
    f.ema_12 = v.ema_12;
    f.ema_26 = v.ema_26;
    f.bb_upper = v.bb.upper;
    f.bb_middle = v.bb.middle;
    f.bb_lower = v.bb.lower;
    f.rsi_14 = v.rsi_14;
    if (id < books.size()) {
      f.position = books[id].position();
      f.equity = books[id].equity(st.last_price);
    }
    f.trades = st.trades;
    f.bars = st.bars_closed;
    f.published = ++ui_published;
    uipub->publish(id, now, f);
  };
  // One event: state first, then (Warm: a warm-start event) nothing
  // published, timed or shown, so the state evolves exactly as it did in the
  // run that recorded it.
  auto handle = [&]<bool Warm>(const infra::Event& ev) noexcept {
    // Warm-start events are not timed: no stamp at all (0).
    const auto stamp = [&]() noexcept -> std::uint64_t {
      if constexpr (Warm) return 0;
      else return clock.now();
    };
    // The event's first line comes across from the feed core here; the
    // stamp (lfence; rdtsc) waits for that load, so the hop is the queue's.
    // With one hot thread there is no hop: the parse stamp starts the stage.
    const std::uint64_t parsed = ev.parsed_tick;
    const std::uint64_t dq = one_thread ? parsed : stamp();
    if (!Warm && !one_thread) sstats->queue.record(clock.delta_ns(parsed, dq));
    const strategy::MarketUpdate u = market->on_event(ev);
    if (!Warm && uipub && (ev.type == infra::EventType::trade || ev.type == infra::EventType::agg_trade))
      uipub->trade({ev.symbol, static_cast<std::uint8_t>((ev.flags & infra::event_flag::buyer_maker) != 0),
                    static_cast<std::uint8_t>(ev.type == infra::EventType::agg_trade), ev.trade.trade_time_ms,
                    ev.trade.price, ev.trade.qty, ev.trade.id});
    if (!Warm && uipub && u.bar_closed && ev.symbol < market->capacity()) {
      const auto& st = market->symbol(ev.symbol);
      const auto& v = st.indicators.last_closed();
      uipub->bar_closed({ev.symbol, st.last_bar, v.sma_20, v.bb.upper, v.bb.lower});
    }
    if (policy && u.bar_closed && ev.symbol < books.size())
      books[ev.symbol].mark(market->symbol(ev.symbol).indicators.last_closed().close);
    bool decide = policy && ev.symbol < market->capacity() && (on_bar ? u.bar_closed : u.price);
    if (decide && on_interval) {
      const std::int64_t t = market->symbol(ev.symbol).last_time_ms;
      std::int64_t& next = next_policy_ms[ev.symbol];
      decide = t >= next;
      if (decide) next = t + cfg.policy_every_ms;
    }
    if (!decide) {
      if constexpr (!Warm) {
        const std::uint64_t done = clock.now();
        sstats->indicators.record(clock.delta_ns(dq, done));
        sstats->end_to_end.record(clock.delta_ns(ev.rx_tick, done));
        ui_publish(ev.symbol, done, u.bar_closed);
      }
      return;
    }
    strategy::PaperPortfolio& book = books[ev.symbol];
    const auto& st = market->symbol(ev.symbol);
    const double ref_price = on_bar ? st.indicators.last_closed().close : st.last_price;
    market->observe(ev.symbol, on_bar, book.position(), book.unrealised_fraction(ref_price), obs);
    const std::uint64_t features = stamp();
    if constexpr (!Warm) sstats->indicators.record(clock.delta_ns(dq, features));
    const bool ok = policy->forward(obs.data(), out);
    const std::uint64_t decided = stamp();
    if (!ok && market->symbol(ev.symbol).features.bars() < strategy::kObservationWarmupBars) {
      if constexpr (!Warm) {
        sstats->warmup_skips.add(1);  // indicators still inside their lookback: no decision yet
        sstats->end_to_end.record(clock.delta_ns(ev.rx_tick, decided));
      }
      return;  // the network declined at its input check: not a forward pass, not timed as one
    }
    if constexpr (!Warm) sstats->policy.record(clock.delta_ns(features, decided));
    strategy::Decision d;
    if (ok) {
      d = decider.decide(out, policy->n_actions(), ev.symbol, st.last_time_ms);
    } else {
      d.reason = infra::SignalReason::non_finite_input;
    }
    // The paper account trades the signal at the reference price, paying
    // the book ticker's half-spread when one has been seen.
    if (d.action != infra::SignalAction::hold) {
      const double half = std::isfinite(st.bid) && std::isfinite(st.ask) && st.ask > st.bid ? (st.ask - st.bid) / 2 : 0.0;
      book.rebalance(d.action == infra::SignalAction::buy ? strategy::Target::long_
                     : cfg.portfolio.allow_short    ? strategy::Target::short_
                                                    : strategy::Target::flat,
                     ref_price, half);
    }
    if constexpr (Warm) return;
    infra::Signal* sig = signals->try_claim();
    if (sig != nullptr) {
      sig->symbol = ev.symbol;
      sig->action = d.action;
      sig->reason = d.reason;
      sig->confidence = d.confidence;
      sig->value = out.value;
      sig->price = ref_price;
      sig->event_time_ms = st.last_time_ms;
      sig->rx_tick = ev.rx_tick;
      sig->features_tick = features;
      sig->policy_tick = decided;
      sig->position = static_cast<std::int8_t>(book.position());
      sig->equity = book.equity(ref_price);
      signals->publish();
      sstats->signals.add(1);
    } else {
      sstats->signal_drops.add(1);
    }
    const std::uint64_t pushed = clock.now();
    sstats->signal.record(clock.delta_ns(decided, pushed));
    sstats->tick_to_signal.record(clock.delta_ns(ev.rx_tick, pushed));
    sstats->end_to_end.record(clock.delta_ns(ev.rx_tick, pushed));
    ui_publish(ev.symbol, pushed, u.bar_closed || d.action != infra::SignalAction::hold);
  };
  auto on_event = [&](const infra::Event& ev) noexcept {
    if ((ev.flags & infra::event_flag::warm_start) != 0) [[unlikely]] {
      handle.template operator()<true>(ev);
      sstats->warm_events.add(1);
      return;
    }
    handle.template operator()<false>(ev);
  };
  // The run's own events handled (warm-start ones are not counted here).
  auto took = [&](std::uint64_t n) noexcept {
    processed += n;
    sstats->processed.add(n);
    if (!strategy_warmed && processed >= cfg.hooks.warmup_messages) {
      cfg.hooks.after_warmup(HotThread::strategy, cfg.hooks.ctx);
      strategy_warmed = true;
    }
  };
  // Idle: touch the next 16 lines of the policy's weights, so they are in L1
  // when a trade comes. On a core shared with another hardware thread or the
  // host they are evicted within microseconds of the last pass
  // (bench_policy's after-a-gap rows); a sweep of ~660 lines takes about 40
  // polls. The prefetches wait for nothing.
  auto idle_sweep = [&]() noexcept {
    if (policy) prefetch_cursor = policy->prefetch(prefetch_cursor, 16);
  };

  // ---- feed thread ----
  std::thread feed_thread([&] {
    infra::name_this_thread("tp-feed");
    feed_pin_warning = infra::pin_this_thread(cfg.feed_cpu, "feed").warning;
    hot_thread_setup(one_thread ? "feed (and strategy)" : "feed", feed_hygiene, feed_fifo_warning, [&] {
      std::uint64_t ok = 0;
      for (const auto& f : warm_frames) ok += handler->warm_up(f.data(), f.size() - feed::kPadding, cfg.warmup_rounds);
      std::string what = fmt::format("{} parses of {} frame kinds ({} accepted)", cfg.warmup_rounds * warm_frames.size(),
                                     warm_frames.size(), ok);
      if (one_thread) what += "; " + strategy_warm();
      return what;
    });
    started.fetch_add(1);
    while (started.load() < (one_thread ? 1 : 2)) _mm_pause();
    infra::Event ev;
    if (warm_journal.size() != 0) {
      // Warm start: the earlier run's frames through the same handler and
      // strategy, flagged so the strategy publishes and times nothing; the run
      // starts once the strategy has taken the last of them.
      const std::uint64_t w0 = clock.now();
      std::uint64_t pushed = 0, played = 0;
      for (const feed::FrameRef& fr : warm_journal.frames()) {
        if ((played & 1023) == 0 && stop != nullptr && stop->load(std::memory_order_relaxed)) break;
        ++played;
        if (handler->on_frame(warm_journal.data() + fr.offset, fr.len, fr.symbol_hint, ev) != feed::RejectReason::none) continue;
        ev.flags |= infra::event_flag::warm_start;
        ev.rx_tick = ev.parsed_tick = 0;  // not timed
        if (one_thread) on_event(ev);
        else while (!ring->try_push(ev)) _mm_pause();
        ++pushed;
      }
      while (sstats->warm_events.get() < pushed) _mm_pause();
      const feed::FeedCounters& fc = handler->counters();
      rep.warm_frames = played;
      rep.warm_events = pushed;
      rep.warm_rejects = fc.rejects.load(std::memory_order_relaxed);
      rep.warm_duplicates = fc.duplicates.load(std::memory_order_relaxed);
      rep.warm_s = static_cast<double>(clock.delta_ns(w0, clock.now())) * 1e-9;
      handler->reset_counters();
    }
    std::uint64_t fed = 0;
    const std::uint64_t t0 = clock.now();
    t_start.store(t0);
    bool warmed = cfg.hooks.after_warmup == nullptr;
    bool seen_full = false;
    // An event is stamped, timed and pushed; a full ring waits (counted) or drops (counted).
    auto emit = [&](infra::Event& e, std::uint64_t rx) noexcept {
      e.rx_tick = rx;
      e.parsed_tick = clock.now();
      fstats->parse.record(clock.delta_ns(rx, e.parsed_tick));
      if (one_thread) {
        on_event(e);
        took(1);
        return;
      }
      if (ring->try_push(e)) return;
      if (!seen_full && cfg.hooks.ring_full != nullptr) cfg.hooks.ring_full(cfg.hooks.ctx);
      seen_full = true;
      if (cfg.drop_on_full) {
        fstats->dropped.add(1);
      } else {
        const std::uint64_t w0 = clock.now();
        while (!ring->try_push(e)) _mm_pause();
        fstats->backpressure_ticks.add(clock.now() - w0);
      }
    };
    auto should_stop = [&]() noexcept {
      if (target != 0 && fed >= target) return true;
      if (stop != nullptr && stop->load(std::memory_order_relaxed)) return true;
      return duration_ticks != 0 && clock.now() - t0 >= duration_ticks;
    };
    // Waiting for the next frame: with one hot thread, this is the strategy's idle time too.
    auto idle = [&]() noexcept {
      if (one_thread) idle_sweep();
      _mm_pause();
    };
    auto warm = [&]() noexcept {
      if (!warmed && fed >= cfg.hooks.warmup_messages) {
        cfg.hooks.after_warmup(HotThread::feed, cfg.hooks.ctx);
        warmed = true;
      }
    };

    // One anchor maps our ticks onto CLOCK_REALTIME: for the journal's
    // receive times and the simulator's send stamps (the wire stage).
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    const std::uint64_t tsc0 = clock.now();
    const std::int64_t wall0 = static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
    auto record_wire = [&](std::uint64_t rx, std::int64_t tx_ns) noexcept {
      if (tx_ns <= 0) return;
      const std::int64_t rx_wall = wall0 + static_cast<std::int64_t>(clock.to_ns(rx - tsc0));
      fstats->wire.record(rx_wall > tx_ns ? static_cast<std::uint64_t>(rx_wall - tx_ns) : 0);
    };
    auto record = [&](const char* d, std::size_t len, feed::RejectReason r, std::string_view hint,
                      std::uint64_t rx) noexcept {
      if (!jring) return;
      char* p = jring->try_claim(sizeof(JournalRecord) + len);
      if (p == nullptr) {
        fstats->journal_drops.add(1);
        return;
      }
      JournalRecord jr{};
      jr.rx_wall_ns = wall0 + static_cast<std::int64_t>(clock.to_ns(rx - tsc0));
      jr.symbol = r == feed::RejectReason::none || r == feed::RejectReason::duplicate ? ev.symbol
                  : hint.empty()                                                       ? infra::kNoSymbol
                                                                                       : symbols.find(hint);
      jr.rest = hint.empty() ? 0 : 1;
      std::memcpy(p, &jr, sizeof jr);
      std::memcpy(p + sizeof jr, d, len);
      jring->publish();
    };

    if (live) {
      auto on_frame = [&](const char* d, std::size_t len, std::string_view hint, std::uint64_t rx,
                          LiveConn* conn) noexcept {
        const feed::RejectReason r = handler->on_frame(d, len, hint, ev);
        ++fed;
        fstats->frames_fed.add(1);
        record(d, len, r, hint, rx);
        if (conn != nullptr) {
          const feed::Message& m = handler->last_message();
          conn->sq.on(m.sim_seq);
          record_wire(rx, m.sim_tx_ns);
        }
        if (r != feed::RejectReason::none) return;
        emit(ev, rx);
        if (ev.type == infra::EventType::depth_update) livefeed->maybe_request_snapshot(*handler, ev.symbol);
      };
      std::uint64_t spins = 0, idle_polls = 0;
      const bool event_driven = cfg.live.event_driven;
      while (true) {
        if ((++spins & 63) == 0 && should_stop()) break;
        warm();
        if (livefeed->feed_poll(on_frame) != 0) {
          idle_polls = 0;
          continue;
        }
        if (event_driven && ++idle_polls >= 64) livefeed->feed_wait(1);  // 1 ms: stop flags and timers stay live
        else idle();
      }
      livefeed->feed_shutdown(on_frame);
    } else if (udp) {
      SeqAccount sq;  // UDP does not retransmit: a jump is loss
      auto on_datagram = [&](const char* d, std::size_t len, std::uint64_t rx) noexcept {
        const feed::RejectReason r = handler->on_frame(d, len, std::string_view{}, ev);
        ++fed;
        fstats->frames_fed.add(1);
        record(d, len, r, std::string_view{}, rx);
        const feed::Message& m = handler->last_message();
        const std::uint64_t before = sq.missing;
        sq.on(m.sim_seq);
        if (sq.missing != before) fstats->udp_missing.add(sq.missing - before);
        record_wire(rx, m.sim_tx_ns);
        if (r == feed::RejectReason::none) emit(ev, rx);
      };
      std::uint64_t spins = 0, idle_polls = 0;
      while (true) {
        if ((++spins & 63) == 0 && should_stop()) break;
        warm();
        if (udp_rx->poll(clock, on_datagram) != 0) {
          idle_polls = 0;
          continue;
        }
        if (cfg.live.event_driven && ++idle_polls >= 64) (void)udp_rx->wait_readable(1);
        else idle();
      }
    } else {
      const auto& refs = frames.frames();
      const char* base = frames.data();
      const std::size_t n = refs.size();
      std::size_t i = 0;
      std::uint64_t lap = 0;
      while (true) {
        if ((fed & 1023) == 0 && should_stop()) break;
        if (target != 0 && fed >= target) break;
        warm();
        const feed::FrameRef& fr = refs[i];
        if (!due_ns.empty() || pace_ticks > 0) {
          const std::uint64_t due = !due_ns.empty()
                                        ? t0 + clock.ns_to_ticks(static_cast<double>(due_ns[i]))
                                        : t0 + static_cast<std::uint64_t>(static_cast<double>(fed) * pace_ticks);
          while (clock.now() < due) idle();
        }
        const std::uint64_t rx = clock.now();
        const feed::RejectReason r = handler->on_frame(base + fr.offset, fr.len, fr.symbol_hint, ev);
        ++fed;
        fstats->frames_fed.add(1);
        record(base + fr.offset, fr.len, r, fr.symbol_hint, rx);
        if (++i == n) {
          i = 0;
          ++lap;
          fstats->laps.add(1);
          handler->reset_sequences();  // a lap is a resubscribe, not a gap
        }
        if (r != feed::RejectReason::none) continue;
        shift_times(ev, static_cast<std::int64_t>(lap - (i == 0 ? 1 : 0)) * span_ms);
        emit(ev, rx);
      }
    }
    if (one_thread) t_end = clock.now();
    feed_done.store(true, std::memory_order_release);
  });

  // ---- strategy thread (not with one hot thread) ----
  std::thread strategy_thread;
  if (!one_thread) strategy_thread = std::thread([&] {
    infra::name_this_thread("tp-strategy");
    strategy_pin_warning = infra::pin_this_thread(cfg.strategy_cpu, "strategy").warning;
    hot_thread_setup("strategy", strategy_hygiene, strategy_fifo_warning, strategy_warm);
    started.fetch_add(1);
    while (started.load() < 2) _mm_pause();
    while (true) {
      const std::uint64_t warm_before = sstats->warm_events.get();
      const std::size_t got = ring->pop_batch(64, on_event);
      if (got == 0) {
        if (feed_done.load(std::memory_order_acquire) && ring->front() == nullptr) break;
        idle_sweep();
        _mm_pause();
        continue;
      }
      took(got - (sstats->warm_events.get() - warm_before));
    }
    t_end = clock.now();
  });

  // ---- io thread: signals and progress ----
  std::vector<SymbolSummary> per_symbol(symbols.size());
  auto drain_signals = [&] {
    signals->pop_batch(SignalRing::capacity, [&](const infra::Signal& sg) noexcept {
      ++rep.signals;
      ++rep.signals_by_action[static_cast<std::size_t>(sg.action) % 3];
      rep.held_low_confidence += sg.reason == infra::SignalReason::low_confidence;
      rep.held_cooldown += sg.reason == infra::SignalReason::cooldown;
      if (hub) hub->on_signal(sg);
      if (nats) nats->on_signal(sg);
      if (clickhouse) clickhouse->on_signal(sg);
      if (csv) csv->on_signal(sg);
      if (sg.symbol < per_symbol.size()) {
        auto& ps = per_symbol[sg.symbol];
        ++ps.signals;
        auto mix = [&ps](std::uint64_t v) {
          for (int b = 0; b < 8; ++b) {
            ps.signal_digest ^= (v >> (8 * b)) & 0xFF;
            ps.signal_digest *= 0x100000001b3ULL;
          }
        };
        mix(static_cast<std::uint64_t>(sg.action) | static_cast<std::uint64_t>(sg.reason) << 8);
        mix(std::bit_cast<std::uint64_t>(static_cast<double>(sg.confidence)));
        mix(std::bit_cast<std::uint64_t>(static_cast<double>(sg.value)));
        mix(std::bit_cast<std::uint64_t>(static_cast<double>(sg.price)));
        mix(static_cast<std::uint64_t>(sg.event_time_ms));
        ps.has_signal = true;
        ps.last_signal = sg;
      }
    });
  };
  // What the strategy thread published for the dashboard and the sinks:
  // closed bars and trades, to the stream's histories and to NATS.
  auto drain_published = [&] {
    if (!uipub) return;
    uipub->bars().pop_batch(UiBarRing::capacity, [&](const UiBar& b) noexcept {
      if (hub) hub->on_bar(b);
      if (nats) nats->on_bar(b);
      if (clickhouse) clickhouse->on_bar(b);
      if (csv) csv->on_bar(b);
    });
    uipub->trades().pop_batch(UiTradeRing::capacity, [&](const UiTrade& t) noexcept {
      if (hub) hub->on_trade(t);
      if (nats) nats->on_trade(t);
      if (clickhouse) clickhouse->on_trade(t);
      if (csv) csv->on_trade(t);
    });
  };
  // ClickHouse's latency table: each stage's percentiles over the interval since the last row.
  std::vector<infra::HistogramSnapshot> stage_before(stats_view.stages.size());
  auto store_latency = [&] {
    const auto now_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    for (std::size_t i = 0; i < stats_view.stages.size(); ++i) {
      const auto snap = stats_view.stages[i].h->snapshot();
      clickhouse->on_latency(now_ms, stats_view.stages[i].name, snap.since(stage_before[i]));
      stage_before[i] = snap;
    }
  };
  // vCPU steal on the hot cores, read here on the io thread from the first
  // frame (within one of its sleeps) to the end of the feed.
  std::optional<StealMeter> steal;
  std::vector<int> hot_cpus;
  for (const int c : {cfg.feed_cpu, one_thread ? -1 : cfg.strategy_cpu})
    if (c >= 0 && std::find(hot_cpus.begin(), hot_cpus.end(), c) == hot_cpus.end()) hot_cpus.push_back(c);
  {
    auto next = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    auto next_broadcast = std::chrono::steady_clock::now();
    auto next_stats = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (!feed_done.load(std::memory_order_acquire)) {
      // Drained often enough that the signal ring cannot fill at full rate.
      std::this_thread::sleep_for(std::chrono::milliseconds(policy || live || udp || journal || uipub ? 10 : 100));
      if (!steal && t_start.load() != 0) steal.emplace(hot_cpus);
      drain_signals();
      drain_published();
      if ((nats || clickhouse) && std::chrono::steady_clock::now() >= next_stats) {
        if (nats) nats->on_stats(stats_json(stats_view));
        if (clickhouse) store_latency();
        next_stats += std::chrono::seconds(1);
      }
      if (clickhouse) clickhouse->poll();
      if (nats) nats->poll();
      if (ui) {
        if (const auto t = std::chrono::steady_clock::now(); t >= next_broadcast) {
          ui->broadcast();
          next_broadcast = t + kUiBroadcast;
        }
        ui->poll();
      }
      if (livefeed) livefeed->io_tick();
      if (journal) journal->drain(*jring);
      if (!cfg.progress || std::chrono::steady_clock::now() < next) continue;
      next += std::chrono::seconds(1);
      const double el = clock.to_ns(clock.now() - t_start.load()) * 1e-9;
      const auto e2e = sstats->end_to_end.snapshot();
      std::fprintf(stderr, "[%6.1fs] %llu frames  %.2fM/s  rejects %llu  dropped %llu  signals %llu  end_to_end p99 %.0f ns\n",
                   el, static_cast<unsigned long long>(fstats->frames_fed.get()),
                   el > 0 ? static_cast<double>(fstats->frames_fed.get()) / el * 1e-6 : 0.0,
                   static_cast<unsigned long long>(handler->counters().rejects.load(std::memory_order_relaxed)),
                   static_cast<unsigned long long>(fstats->dropped.get()),
                   static_cast<unsigned long long>(sstats->signals.get()), e2e.percentile(0.99));
    }
  }
  if (steal) {
    for (const auto& c : steal->since_start()) {
      rep.steal.push_back({c.cpu, c.ms, c.fraction});
      if (c.fraction >= 0.01)
        rep.warnings.push_back(fmt::format(
            "warning: the host ran something else on cpu {} for {:.0f} ms ({:.1f}% of the run, vCPU steal): latency "
            "percentiles from about p{:.1f} up measure the host's scheduling, not tickpath",
            c.cpu, c.ms, c.fraction * 100, (1.0 - c.fraction) * 100));
    }
  }
  feed_thread.join();
  if (strategy_thread.joinable()) strategy_thread.join();
  drain_signals();
  if (journal) {
    journal->drain(*jring);
    journal->close();
    rep.journal_frames = journal->frames();
    rep.journal_bytes = journal->bytes();
    rep.journal_files = journal->files();
    rep.journal_error = journal->error();
    rep.journal_drops = fstats->journal_drops.get();
    if (rep.journal_drops != 0)
      rep.warnings.push_back(fmt::format("warning: {} frames not journaled: the journal ring was full (disk slower than the feed)",
                                         rep.journal_drops));
    if (!rep.journal_error.empty()) rep.warnings.push_back("warning: " + rep.journal_error);
  }
  if (udp_rx) {
    rep.udp_datagrams = udp_rx->counters().datagrams.load();
    rep.udp_truncated = udp_rx->counters().truncated.load();
    rep.sq_missing = fstats->udp_missing.get();
  }
  drain_published();
  if ((nats || clickhouse) && stop != nullptr && stop->load())
    std::fprintf(stderr, "tickpath: stopping: delivering what %s still holds (while it drains, at most 60 s); signal "
                         "again to stop now\n", nats && clickhouse ? "NATS and ClickHouse" : nats ? "NATS" : "ClickHouse");
  if (nats) {
    // The last figures, then what is buffered, in flight or spilled goes to
    // the server: for as long as it keeps draining (at most 60 s), or until
    // 5 s pass without progress.
    nats->on_stats(stats_json(stats_view));
    nats->flush(5000, 60'000, cut_short);
    const NatsCounters c = nats->counters();
    rep.nats_published = c.published;
    rep.nats_failed = c.failed;
    rep.nats_bytes = c.bytes;
    rep.nats_disconnects = c.disconnects;
    rep.nats_reconnects = c.reconnects;
    rep.nats_acked = c.acked;
    rep.nats_duplicates = c.duplicates;
    rep.nats_ack_errors = c.ack_errors;
    rep.nats_spilled = c.spilled;
    rep.nats_unsent = c.unsent;
    if (!c.connected) rep.warnings.push_back("warning: NATS " + cfg.nats.url + " is not connected at the end of the run: what was buffered for it is lost");
    if (c.spilled != 0)
      rep.warnings.push_back(fmt::format("warning: {} NATS messages waited on disk ({} hand-overs refused, {} publishes not "
                                         "acknowledged); {} still undelivered at the end",
                                         c.spilled, c.failed, c.ack_errors, c.unsent));
    else if (c.unsent != 0)
      rep.warnings.push_back(fmt::format("warning: {} NATS messages undelivered at the end", c.unsent));
    if (const std::string w = nats->warning(); !w.empty()) rep.warnings.push_back("warning: " + w);
  }
  if (csv) {
    std::string why;
    if (!csv->close(why)) rep.warnings.push_back("warning: " + why);
    const CsvCounters c = csv->counters();
    rep.export_trades = c.trades;
    rep.export_bars = c.bars;
    rep.export_signals = c.signals;
    rep.export_outside = c.outside;
  }
  if (clickhouse) {
    // The last (partial) second's latency, then what is batched goes out
    // now: while batches keep being stored (at most 60 s), or until 5 s pass
    // without one (a server that is away).
    store_latency();
    clickhouse->finish(5000, 60'000, cut_short);
    const ClickHouseCounters c = clickhouse->counters();
    rep.ch_trades = c.trades;
    rep.ch_bars = c.bars;
    rep.ch_signals = c.signals;
    rep.ch_latency = c.latency;
    rep.ch_batches = c.batches;
    rep.ch_failures = c.failures;
    rep.ch_dropped = c.dropped;
    rep.ch_unsent = c.pending;
    rep.ch_spilled = c.spilled;
    if (c.spilled != 0)
      rep.warnings.push_back(fmt::format("warning: ClickHouse {}: {} rows waited on disk (more than {} MiB in memory while the "
                                         "server was away or slow)", cfg.clickhouse.url, c.spilled,
                                         cfg.clickhouse.max_buffer_bytes >> 20));
    if (c.pending != 0 || c.dropped != 0)
      rep.warnings.push_back(fmt::format("warning: ClickHouse {}: {} rows not stored ({} lost: the spill file refused them, {} "
                                         "unsent at the end){}", cfg.clickhouse.url, c.pending + c.dropped, c.dropped,
                                         c.pending, c.last_error.empty() ? "" : "; last error: " + c.last_error));
  }
  if (cut_short != nullptr && cut_short->load() && rep.nats_unsent + rep.ch_unsent != 0) {
    rep.delivery_cut_short = true;
    rep.warnings.push_back("warning: a second signal cut the end-of-run delivery to NATS / ClickHouse short: what it "
                           "had not sent is counted undelivered above");
  }
  if (ui) {
    // The last bars and signals go out to the stream's clients (bounded: 100 ms).
    ui->broadcast();
    for (int i = 0; i < 50; ++i) {
      ui->poll();
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    rep.ui_requests = ui->counters().requests;
    rep.ui_connections = ui->counters().connections;
    rep.ui_ws_clients = ui->counters().ws_clients;
    rep.ui_ws_messages = ui->counters().ws_messages;
    rep.ui_ws_coalesced = ui->counters().ws_coalesced;
  }
  if (uipub) {
    rep.ui_bar_drops = uipub->bar_drops();
    rep.ui_tape_drops = uipub->tape_drops();
    if (rep.ui_bar_drops != 0 || rep.ui_tape_drops != 0)
      rep.warnings.push_back(fmt::format("warning: {} closed bars and {} trades did not reach the dashboard and sinks: their ring "
                                         "was full (the io thread drains it every 10 ms)",
                                         rep.ui_bar_drops, rep.ui_tape_drops));
  }
  if (livefeed) {
    livefeed->finish(rep);
    rep.snapshots_applied = livefeed->snapshots_applied();
  }

  // ---- report (io thread, after the join) ----
  rep.inline_strategy = one_thread;
  rep.hygiene.push_back(feed_hygiene);
  if (!one_thread) rep.hygiene.push_back(strategy_hygiene);
  for (const auto* w : {&feed_fifo_warning, &strategy_fifo_warning})
    if (!w->empty()) rep.warnings.push_back(*w);
  if (!feed_pin_warning.empty()) rep.warnings.push_back(feed_pin_warning);
  if (!strategy_pin_warning.empty()) rep.warnings.push_back(strategy_pin_warning);
  if (!one_thread && cfg.feed_cpu >= 0 && cfg.feed_cpu == cfg.strategy_cpu)
    rep.warnings.push_back("warning: feed and strategy share one core; busy-polling threads will take turns");
  const auto& fc = handler->counters();
  rep.messages = fstats->frames_fed.get();
  rep.events = fc.events.load();
  rep.rejects = fc.rejects.load();
  for (std::size_t i = 0; i < feed::kRejectReasons; ++i) rep.reject_by_reason[i] = fc.reject_by_reason[i].load();
  rep.dropped = fstats->dropped.get();
  rep.backpressure_ns = clock.to_ns(fstats->backpressure_ticks.get());
  rep.depth_gaps = fc.depth_gaps.load();
  rep.book_snapshots = fc.book_snapshots.load();
  rep.book_out_of_sync = fc.book_out_of_sync.load();
  rep.duplicates = fc.duplicates.load();
  rep.diffs_held = fc.diffs_buffered.load();
  for (std::size_t id = 0; id < symbols.size(); ++id) {
    const feed::BookSync* b = handler->book(static_cast<infra::SymbolId>(id));
    if (b == nullptr) continue;
    ++rep.books;
    rep.books_synced += b->state() == feed::BookState::synced;
    BookSummary bs;
    bs.symbol = std::string(symbols.name(static_cast<infra::SymbolId>(id)));
    bs.synced = b->state() == feed::BookState::synced;
    bs.last_update_id = b->last_update_id();
    bs.bid_levels = b->bids().size();
    bs.ask_levels = b->asks().size();
    bs.best_bid = b->bids().empty() ? 0.0 : static_cast<double>(b->bids()[0].price_e8) * 1e-8;
    bs.best_ask = b->asks().empty() ? 0.0 : static_cast<double>(b->asks()[0].price_e8) * 1e-8;
    bs.checksum = book_checksum(b->bids(), b->asks());
    bs.top_checksum = book_checksum(b->bids(), b->asks(), BookSummary::kTopLevels);
    bs.level_overflows = b->counters().overflows;
    bs.bad_levels = b->counters().bad_levels;
    rep.book_states.push_back(std::move(bs));
  }
  rep.laps = fstats->laps.get();
  rep.processed = sstats->processed.get();
  rep.late_trades = market->late_trades();
  rep.bars_closed = market->counters().bars_closed;
  rep.not_bar_source = market->counters().not_bar_source;
  rep.duration_s = clock.to_ns(t_end - t_start.load()) * 1e-9;
  rep.throughput_msgs_per_s = rep.duration_s > 0 ? static_cast<double>(rep.messages) / rep.duration_s : 0;
  rep.symbol_over_capacity = market->counters().symbol_over_capacity;

  auto add_stage = [&](const char* name, const infra::HistogramSnapshot& h) {
    rep.stages.push_back({name, h.summary()});
  };
  if (const auto w = fstats->wire.snapshot(); w.count() > 0) add_stage("wire", w);
  add_stage("parse", fstats->parse.snapshot());
  if (!one_thread) add_stage("queue", sstats->queue.snapshot());
  add_stage("indicators", sstats->indicators.snapshot());
  if (policy) {
    add_stage("policy", sstats->policy.snapshot());
    add_stage("signal", sstats->signal.snapshot());
    add_stage("tick_to_signal", sstats->tick_to_signal.snapshot());
    rep.signal_drops = sstats->signal_drops.get();
    rep.policy_warmup_skips = sstats->warmup_skips.get();
    rep.non_finite_observations = policy->non_finite_inputs() - rep.policy_warmup_skips;
  }
  add_stage("end_to_end", sstats->end_to_end.snapshot());

  for (std::size_t id = 0; id < symbols.size() && id < market->capacity(); ++id) {
    const auto& s = market->symbol(id);
    SymbolSummary sum = per_symbol[id];
    sum.name = std::string(symbols.name(static_cast<infra::SymbolId>(id)));
    sum.bar_source = strategy::to_string(s.source);
    sum.trades = s.trades;
    sum.bars = s.bars_closed;
    sum.depth_events = s.depth_events;
    sum.depth_gaps = s.depth_gaps;
    sum.price_anomalies = s.price_anomalies;
    sum.volume_anomalies = s.volume_anomalies;
    sum.last = s.indicators.last_closed();
    sum.window_mean_5m = s.window_means.mean(0);
    sum.book_bid = s.book_bid;
    sum.book_ask = s.book_ask;
    sum.book_imbalance = s.book_imbalance;
    sum.window_mean_1h = s.window_means.mean(2);
    sum.vwap = s.vwap.value();
    if (policy) {
      books[id].mark(s.last_price);  // final mark at the last trade (the strategy thread has stopped)
      sum.has_portfolio = true;
      sum.portfolio = books[id].metrics();
    }
    rep.symbols.push_back(std::move(sum));
  }
  return rep;
}

}  // namespace tickpath::engine
