// tickpath: the command line. Every command ends a set-up failure with one
// line on stderr and exit status 1; usage errors exit 2 (CLI11's own).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "backtest_report.hpp"
#include "stress.hpp"
#include "nats_sink.hpp"
#include "ui_server.hpp"
#include "tickpath/engine/doctor.hpp"
#include "tickpath/engine/pipeline.hpp"
#include "tickpath/feed/binance_parser.hpp"
#include "tickpath/feed/frame_set.hpp"
#include "tickpath/feed/message_json.hpp"
#include "tickpath/feed/synthetic.hpp"
#include "tickpath/feed/transport.hpp"
#include "tickpath/engine/train.hpp"
#include "tickpath/strategy/backtest.hpp"
#include "tickpath/strategy/indicator_set.hpp"
#include "tickpath/strategy/kline_csv.hpp"
#include "tickpath/strategy/policy.hpp"
#include "tickpath/strategy/policy_model.hpp"

namespace {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_cut_short{false};
std::atomic<int> g_signal{0};
// Async-signal-safe: lock-free atomics only. The hot threads see the flag
// within 64 polls, drain, and the run ends the way a finished feed does
// (journal drained and closed, report written, exit 0). A second signal
// also ends the end-of-run delivery to NATS / ClickHouse.
void on_signal(int s) {
  if (g_signal.exchange(s) != 0) g_cut_short.store(true);
  g_stop.store(true);
}

int fail(const std::string& msg) {
  std::fprintf(stderr, "tickpath: %s\n", msg.c_str());
  return 1;
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    const auto comma = s.find(',', start);
    std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

bool write_file(const std::string& path, const std::string& text, std::string& error) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out || !(out << text) || !out.flush()) {
    error = "cannot write " + path;
    return false;
  }
  return true;
}

// tickpath export: the run's trades, bars and signals as CSV.
struct ExportOptions {
  std::string dir, from, to;
};

// Where the hot path runs: --cpus and --inline-strategy.
struct HotThreadOptions {
  std::string cpus;
  bool inline_strategy = false;
  // --cpus as FEED,STRATEGY, or one core with --inline-strategy (both then
  // name it). Unset (-1) without --cpus; false with the message on a bad list.
  bool parse(int& feed_cpu, int& strategy_cpu, std::string& error) const {
    if (cpus.empty()) return true;
    const auto parts = split_list(cpus);
    error = inline_strategy ? "--cpus takes one core with --inline-strategy (the feed thread runs the strategy), e.g. --cpus 0"
                            : "--cpus takes FEED,STRATEGY core numbers, e.g. --cpus 0,1";
    if (parts.size() != (inline_strategy ? 1U : 2U)) return false;
    try {
      feed_cpu = std::stoi(parts[0]);
      strategy_cpu = inline_strategy ? feed_cpu : std::stoi(parts[1]);
    } catch (const std::exception&) {
      return false;
    }
    error.clear();
    return true;
  }
};

// Everything `tickpath run` takes; `tickpath export` fills the few it
// needs and replays the journal through the same path.
struct RunOptions {
  std::string feed = "synthetic", symbols, report;
  std::uint64_t messages = 0, seed = 42;
  double duration = 0, speed = 0, rate = 200, pace = 0;
  bool drop = false, bursty = false, quiet = false;
  HotThreadOptions hot;
  std::string model, backend = "auto", policy_on = "trade";
  bool no_critic = false;
  tickpath::strategy::SignalOptions sig;
  double fee_bps = 10;
  bool allow_short = false;
  tickpath::engine::LiveOptions live;
  std::string streams, record_dir, udp_interface = "127.0.0.1", warm_from, shard;
  bool no_mlock = false;
  int fifo = 0;
  std::string ui, ui_root;
  tickpath::engine::NatsOptions nats;
  tickpath::engine::ClickHouseOptions clickhouse;
  ExportOptions exp;
};

int cmd_run(const RunOptions& o) {
  tickpath::engine::PipelineConfig cfg;
  cfg.warm_from = o.warm_from;
  cfg.ui_listen = o.ui;
  cfg.ui_root = o.ui_root;
  cfg.nats = o.nats;
  cfg.clickhouse = o.clickhouse;
  cfg.export_dir = o.exp.dir;
  if (!o.exp.from.empty() && !tickpath::strategy::parse_time_ms(o.exp.from, cfg.export_from_ms))
    return fail("--from: not a time: " + o.exp.from);
  if (!o.exp.to.empty() && !tickpath::strategy::parse_time_ms(o.exp.to, cfg.export_to_ms)) return fail("--to: not a time: " + o.exp.to);
  if (!o.ui.empty()) {
    std::string addr, err;
    std::uint16_t port = 0;
    if (!tickpath::engine::parse_listen_address(o.ui, addr, port, err)) return fail(err);
    cfg.ui_ready = [addr](std::uint16_t p) {
      const std::string host = addr.find(':') != std::string::npos ? "[" + addr + "]" : addr;
      std::fprintf(stderr, "dashboard: http://%s:%u/  (API: /api/health /api/stats /metrics, stream: /ws; read-only, served by the io thread)\n",
                   host.c_str(), static_cast<unsigned>(p));
    };
  }
  if (!(o.pace >= 0)) return fail("--pace must be >= 0 frames per second");
  cfg.pace_fps = o.pace;
  cfg.lock_memory = !o.no_mlock;
  cfg.fifo_priority = o.fifo;
  cfg.record_dir = o.record_dir;
  cfg.live = o.live;
  if (!o.streams.empty()) cfg.live.streams = split_list(o.streams);
  if (o.feed == "binance" || o.feed.rfind("wss://", 0) == 0 || o.feed.rfind("ws://", 0) == 0) {
    cfg.feed = tickpath::engine::PipelineConfig::Feed::live;
    if (o.feed != "binance") cfg.live.ws_url = o.feed;
    if (o.feed != "binance" && o.live.rest_url == tickpath::engine::LiveOptions{}.rest_url) {
      // Same host and port over HTTP(S), as the simulator serves both.
      tickpath::feed::Url u;
      std::string err;
      if (!tickpath::feed::parse_url(o.feed, u, err)) return fail(err);
      cfg.live.rest_url = fmt::format("{}://{}:{}", u.tls ? "https" : "http", u.host, u.port);
    }
    if (!(cfg.live.stale_after_s >= 0) || !(cfg.live.rotate_after_s >= 0) || !(cfg.live.overlap_s >= 0))
      return fail("--stale-after, --rotate-after and --overlap take seconds >= 0");
  } else if (o.feed.rfind("udp://", 0) == 0) {
    cfg.feed = tickpath::engine::PipelineConfig::Feed::udp;
    const std::string hp = o.feed.substr(6);
    const auto colon = hp.rfind(':');
    int port = 0;
    try {
      port = colon == std::string::npos ? 0 : std::stoi(hp.substr(colon + 1));
    } catch (const std::exception&) {
    }
    if (port <= 0 || port > 65535) return fail("--feed udp:// takes GROUP:PORT, e.g. udp://239.255.42.1:40001");
    cfg.udp.group = hp.substr(0, colon);
    cfg.udp.port = static_cast<std::uint16_t>(port);
    cfg.udp.interface = o.udp_interface;
  } else if (o.feed == "synthetic") {
    cfg.feed = tickpath::engine::PipelineConfig::Feed::synthetic;
  } else if (o.feed.rfind("replay:", 0) == 0 && o.feed.size() > 7) {
    cfg.feed = tickpath::engine::PipelineConfig::Feed::replay;
    cfg.replay_path = o.feed.substr(7);
  } else {
    return fail("--feed must be 'synthetic', 'replay:PATH', 'binance' or a ws:// / wss:// URL, not '" + o.feed + "'");
  }
  cfg.symbols = split_list(o.symbols);
  if (!o.shard.empty()) {
    // This engine's share of the symbol list: every engine of the N, given
    // the same list, takes a disjoint part and together they cover it.
    std::uint32_t index = 0, count = 0;
    std::string err;
    if (!tickpath::engine::parse_shard(o.shard, index, count, err)) return fail(err);
    if (cfg.symbols.empty()) return fail("--shard needs the whole symbol list in --symbols (each engine takes its part)");
    std::vector<std::string> mine;
    for (const auto& s : cfg.symbols)
      if (tickpath::engine::shard_of(s, count) == index) mine.push_back(s);
    if (mine.empty())
      return fail(fmt::format("--shard {}: none of the {} symbols falls to this shard (more shards than the list fills)", o.shard,
                              cfg.symbols.size()));
    std::string list;
    for (const auto& s : mine) list += (list.empty() ? "" : ",") + s;
    std::fprintf(stderr, "shard %s: %zu of %zu symbols: %s\n", o.shard.c_str(), mine.size(), cfg.symbols.size(), list.c_str());
    cfg.symbols = std::move(mine);
    cfg.shard = o.shard;
  }
  cfg.messages = o.messages;
  cfg.duration_s = o.duration;
  cfg.replay_speed = o.speed;
  cfg.drop_on_full = o.drop;
  cfg.synthetic.seed = o.seed;
  cfg.synthetic.rate_per_s = o.rate;
  cfg.synthetic.bursty = o.bursty;
  cfg.progress = !o.quiet;
  cfg.model_path = o.model;
  cfg.policy_backend = o.backend;
  cfg.policy_critic = !o.no_critic;
  if (o.policy_on == "trade") cfg.policy_on = tickpath::engine::PipelineConfig::PolicyOn::trade;
  else if (o.policy_on == "bar") cfg.policy_on = tickpath::engine::PipelineConfig::PolicyOn::bar;
  else if (o.policy_on.size() > 2 && o.policy_on.compare(o.policy_on.size() - 2, 2, "ms") == 0) {
    cfg.policy_on = tickpath::engine::PipelineConfig::PolicyOn::interval;
    try {
      cfg.policy_every_ms = std::stoll(o.policy_on.substr(0, o.policy_on.size() - 2));
    } catch (const std::exception&) {
      cfg.policy_every_ms = 0;
    }
    if (cfg.policy_every_ms <= 0) return fail("--policy-on NNNms needs a positive number of milliseconds");
  } else {
    return fail("--policy-on must be 'trade', 'bar' or a period like '500ms', not '" + o.policy_on + "'");
  }
  cfg.signal = o.sig;
  if (!(o.fee_bps >= 0)) return fail("--fee-bps must be >= 0");
  cfg.portfolio.fee_bps = o.fee_bps;
  cfg.portfolio.allow_short = o.allow_short;
  cfg.inline_strategy = o.hot.inline_strategy;
  if (o.hot.inline_strategy && o.drop)
    return fail("--drop-on-full drops at the ring between the hot threads; with --inline-strategy there is none");
  if (std::string err; !o.hot.parse(cfg.feed_cpu, cfg.strategy_cpu, err)) return fail(err);
  if (o.exp.dir.empty()) {  // (an export is offline work: the host's fitness for latency does not matter)
    tickpath::engine::DoctorOptions d;
    d.allowed_cpus = tickpath::engine::current_allowed_cpus();
    d.memlock_bytes = tickpath::engine::current_memlock_limit();
    if (cfg.feed_cpu >= 0) d.cpus = {std::min(cfg.feed_cpu, cfg.strategy_cpu), std::max(cfg.feed_cpu, cfg.strategy_cpu)};
    if (d.cpus.size() == 2 && d.cpus[0] == d.cpus[1]) d.cpus.pop_back();
    const auto doctor = tickpath::engine::run_doctor(d);
    cfg.start_note = doctor.summary();
    for (const auto& f : doctor.findings)  // pinned to every core it may use: say what to do, here
      if (f.check == "housekeeping" && f.level == tickpath::engine::DoctorFinding::Level::warn) cfg.start_note += "; " + f.fix;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::string error;
  auto rep = tickpath::engine::run_pipeline(cfg, error, &g_stop, &g_cut_short);
  if (!error.empty()) return fail(error);
  if (const int s = g_signal.load(); s != 0) rep.stopped_by = s == SIGINT ? "SIGINT" : s == SIGTERM ? "SIGTERM" : "signal";
  std::fputs(rep.to_table().c_str(), stdout);
  for (const auto& w : rep.warnings) std::fprintf(stderr, "%s\n", w.c_str());
  if (!o.report.empty()) {
    if (!write_file(o.report, rep.to_json() + "\n", error)) return fail(error);
    std::fprintf(stdout, "\n  report written to %s\n", o.report.c_str());
  }
  return 0;
}

int cmd_parse(const std::string& path, std::uint64_t limit, bool strict) {
  tickpath::feed::FrameSet frames;
  std::string error;
  if (!frames.load_file(path, error)) return fail(error);
  tickpath::feed::BinanceParser parser;
  tickpath::feed::Message m;
  std::string line;
  std::uint64_t rejects = 0, n = 0;
  for (std::size_t i = 0; i < frames.size() && (limit == 0 || n < limit); ++i, ++n) {
    const auto f = frames.frame(i);
    line.clear();
    const auto r = parser.parse(f.data(), f.size(), m);
    if (r != tickpath::feed::RejectReason::none) {
      ++rejects;
      tickpath::feed::append_reject_json(r, m, line);
    } else {
      const std::string_view sym = m.symbol.empty() ? frames.frames()[i].symbol_hint : m.symbol;
      tickpath::feed::append_message_json(m, sym, line);
    }
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stdout);
  }
  std::fprintf(stderr, "%s: %llu frames, %llu rejects, %zu metadata lines skipped\n", path.c_str(),
               static_cast<unsigned long long>(n), static_cast<unsigned long long>(rejects), frames.metadata_lines());
  return strict && rejects > 0 ? 1 : 0;
}

int cmd_gen(const std::string& symbols, std::uint64_t messages, std::uint64_t seed, double rate, bool bursty,
            const std::string& out_path) {
  tickpath::feed::SyntheticConfig cfg;
  if (!symbols.empty()) cfg.symbols = split_list(symbols);
  cfg.seed = seed;
  cfg.rate_per_s = rate;
  cfg.bursty = bursty;
  std::FILE* out = stdout;
  if (!out_path.empty() && out_path != "-") {
    out = std::fopen(out_path.c_str(), "wb");
    if (out == nullptr) return fail("cannot write " + out_path);
  }
  try {
    tickpath::feed::SyntheticMarket market(cfg);
    std::string f;
    for (std::uint64_t i = 0; i < messages; ++i) {
      f.clear();
      market.next(f);
      f += '\n';
      if (std::fwrite(f.data(), 1, f.size(), out) != f.size()) {
        if (out != stdout) std::fclose(out);
        return fail("write failed for " + out_path);
      }
    }
  } catch (const std::exception& e) {
    if (out != stdout) std::fclose(out);
    return fail(e.what());
  }
  if (out != stdout && std::fclose(out) != 0) return fail("write failed for " + out_path);
  return 0;
}

int cmd_indicators(const std::string& path, const std::string& out_path) {
  auto load = tickpath::strategy::load_kline_csv(path);
  if (!load.error.empty()) return fail(load.error);
  std::string o =
      "open_time,close,sma_20,ema_12,ema_26,rsi_14,macd,macd_signal,macd_hist,bb_upper,bb_middle,bb_lower,stddev_20\n";
  o.reserve(load.bars.size() * 200);
  tickpath::strategy::IndicatorSet set;
  const auto v = [&o](double x) {
    o += ',';
    if (std::isfinite(x)) o += fmt::format("{:.17g}", x);
  };
  for (const auto& b : load.bars) {
    const auto& r = set.on_bar(b);
    o += fmt::format("{}", b.open_time_ms);
    v(b.close), v(r.sma_20), v(r.ema_12), v(r.ema_26), v(r.rsi_14), v(r.macd.macd), v(r.macd.signal),
        v(r.macd.hist), v(r.bb.upper), v(r.bb.middle), v(r.bb.lower), v(r.bb.stddev);
    o += '\n';
  }
  if (out_path.empty() || out_path == "-") {
    std::fwrite(o.data(), 1, o.size(), stdout);
    return 0;
  }
  std::string error;
  if (!write_file(out_path, o, error)) return fail(error);
  return 0;
}

const char* action_name(std::uint32_t a, std::uint32_t n) {
  static const char* names[] = {"HOLD", "BUY", "SELL"};
  return n == 3 && a < 3 ? names[a] : nullptr;
}

int cmd_init_model(std::uint64_t seed, const std::string& out) {
  const auto m = tickpath::strategy::PolicyModel::init_orthogonal(seed);
  std::string error;
  if (!tickpath::strategy::save_policy_model(out, m, error)) return fail(error);
  std::fprintf(stderr, "wrote an untrained 13-64-64-3 policy (orthogonal init, seed %llu) to %s\n",
               static_cast<unsigned long long>(seed), out.c_str());
  return 0;
}

int cmd_infer(const std::string& model_path, const std::string& input, const std::string& backend_name) {
  using namespace tickpath::strategy;
  std::string error;
  auto policy = load_policy(model_path, backend_name, false, error);
  if (!policy) return fail(error);
  const PolicyModel& model = policy->model();
  std::ifstream in(input);
  if (!in) return fail("cannot open " + input);
  const std::uint32_t n = model.n_obs, na = model.n_actions;
  std::string header;
  for (std::uint32_t a = 0; a < na; ++a) {
    const char* nm = action_name(a, na);
    header += fmt::format("p_{},", nm ? std::string(nm) : std::to_string(a));
  }
  for (auto& c : header)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  std::string out = header + "value,action,confidence\n";
  std::vector<float> obs(n);
  std::string line;
  std::size_t line_no = 0;
  PolicyOutput o;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::vector<std::string> cells = split_list(line + ",");
    // a header line (any cell that is not a number) is skipped
    bool numeric = cells.size() == n;
    for (std::uint32_t i = 0; numeric && i < n; ++i) {
      const auto& c = cells[i];
      float v = 0;
      const auto r = std::from_chars(c.data(), c.data() + c.size(), v);
      if (c == "nan" || c == "NaN") v = std::nanf(""), numeric = true;
      else if (c == "inf" || c == "-inf") v = c[0] == '-' ? -INFINITY : INFINITY;
      else if (r.ec != std::errc{} || r.ptr != c.data() + c.size()) numeric = false;
      obs[i] = v;
    }
    if (!numeric) {
      if (line_no == 1) continue;
      return fail(fmt::format("{}:{}: expected {} numbers, got '{}'", input, line_no, n, line.substr(0, 80)));
    }
    const bool ok = policy->forward(obs.data(), o);
    for (std::uint32_t a = 0; a < na; ++a) out += fmt::format("{:.9g},", o.probs[a]);
    const char* nm = action_name(o.action, na);
    out += fmt::format("{:.9g},{},{:.9g}{}\n", o.value, nm ? std::string(nm) : std::to_string(o.action), o.confidence,
                       ok ? "" : ",non_finite_input");
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

int cmd_backtest(const std::string& klines, const std::string& model_path, const std::string& backend_name,
                 double fee_bps, const std::string& from, const std::string& to, bool allow_short,
                 const std::string& report, const std::string& equity_path, const std::string& html_path,
                 const std::string& web_root) {
  using namespace tickpath::strategy;
  BacktestConfig cfg;
  cfg.portfolio.fee_bps = fee_bps;
  cfg.portfolio.allow_short = allow_short;
  cfg.keep_equity = !equity_path.empty() || !html_path.empty();
  cfg.keep_trades = !html_path.empty();
  cfg.progress = true;
  if (!(fee_bps >= 0)) return fail("--fee-bps must be >= 0");
  if (!from.empty() && !parse_time_ms(from, cfg.from_ms)) return fail("--from: not a time: " + from);
  if (!to.empty() && !parse_time_ms(to, cfg.to_ms)) return fail("--to: not a time: " + to);
  std::unique_ptr<Policy> policy;
  std::string error;
  if (!model_path.empty()) {
    policy = load_policy(model_path, backend_name, true, error);
    if (!policy) return fail(error);
  }
  const auto load = load_kline_csv(klines);
  if (!load.error.empty()) return fail(load.error);
  const auto t0 = std::chrono::steady_clock::now();
  const auto res = run_backtest(load.bars, policy.get(), cfg);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (res.bars == 0) return fail("no bars of " + klines + " fall inside --from/--to");

  std::string t = fmt::format("tickpath backtest: {} ({} bars, {} to {} UTC ms), fee {} bps, {}, {:.3f} s\n", klines,
                              res.bars, res.first_ms, res.last_ms, fee_bps, allow_short ? "long/short" : "long/flat",
                              secs);
  if (policy)
    t += fmt::format("  policy {} ({}): {} decisions, {} bars warming up, {} non-finite observations\n",
                     to_string(policy->backend()), model_path, res.policy_decisions, res.policy_warmup,
                     res.policy_non_finite);
  t += fmt::format("\n  {:<16}{:>12}{:>9}{:>9}{:>10}{:>8}{:>12}{:>14}\n", "strategy", "return", "sharpe", "sortino",
                   "max_dd", "trades", "fees", "final equity");
  std::string j = fmt::format("{{\"klines\":\"{}\",\"bars\":{},\"first_ms\":{},\"last_ms\":{},\"fee_bps\":{},\"strategies\":{{",
                              klines, res.bars, res.first_ms, res.last_ms, fee_bps);
  for (std::size_t i = 0; i < res.strategies.size(); ++i) {
    const auto& st = res.strategies[i];
    const auto& m = st.metrics;
    t += fmt::format("  {:<16}{:>11.2f}%{:>9.2f}{:>9.2f}{:>9.2f}%{:>8}{:>12.2f}{:>14.2f}\n", st.name, m.total_return * 100,
                     m.sharpe, m.sortino, m.max_drawdown * 100, m.round_trips, m.fees, m.equity);
    j += fmt::format("{}\"{}\":{{\"total_return\":{:.10g},\"sharpe\":{:.10g},\"sortino\":{:.10g},\"max_drawdown\":{:.10g},"
                     "\"trades\":{},\"fills\":{},\"fees\":{:.10g},\"turnover\":{:.10g},\"realised_pnl\":{:.10g},"
                     "\"unrealised_pnl\":{:.10g},\"final_equity\":{:.10g}}}",
                     i ? "," : "", st.name, m.total_return, m.sharpe, m.sortino, m.max_drawdown, m.round_trips, m.fills,
                     m.fees, m.turnover, m.realised_pnl, m.unrealised_pnl, m.equity);
  }
  j += "}}\n";
  t += "  (trades are round trips; Sharpe and Sortino annualised from per-bar returns; fills at the next bar's open, fees, no slippage)\n";
  std::fputs(t.c_str(), stdout);
  if (!report.empty() && !write_file(report, j, error)) return fail(error);
  if (!equity_path.empty()) {
    std::string csv = "open_time";
    for (const auto& st : res.strategies) csv += "," + st.name;
    csv += "\n";
    for (std::size_t i = 0; i < res.open_time_ms.size(); ++i) {
      csv += fmt::format("{}", res.open_time_ms[i]);
      for (const auto& st : res.strategies) csv += fmt::format(",{:.10g}", st.equity[i]);
      csv += "\n";
    }
    if (!write_file(equity_path, csv, error)) return fail(error);
  }
  if (!html_path.empty()) {
    tickpath::engine::BacktestReportInput in{klines, model_path, policy ? std::string(to_string(policy->backend())) : "",
                                            fee_bps, allow_short, &load.bars, &res};
    const std::string html = tickpath::engine::backtest_report_html(
        in, web_root, error);
    if (html.empty()) return fail(error);
    if (!write_file(html_path, html, error)) return fail(error);
    std::printf("  report: %s (%.1f MB; open it in a browser, it needs no server)\n", html_path.c_str(),
                static_cast<double>(html.size()) / 1e6);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tickpath: Binance market data to signals on the shortest measured path"};
  app.require_subcommand(1);

  auto* run = app.add_subcommand("run", "run the pinned feed -> strategy pipeline and print a latency report");
  RunOptions ro;
  run->add_option("--feed", ro.feed,
                  "synthetic | replay:PATH (JSONL, pretty JSON or recorder file, or a --record directory) | binance (live, "
                  "wss://stream.binance.com:9443) | wss://HOST:PORT (another endpoint, e.g. tickpath-exsim) | "
                  "udp://GROUP:PORT (one frame per datagram, e.g. tickpath-exsim --udp)")
      ->capture_default_str();
  run->add_option("--streams", ro.streams, "live: streams per symbol, e.g. trade,aggTrade,bookTicker,depth@100ms,kline_1m,depth20@100ms");
  run->add_option("--rest-url", ro.live.rest_url, "live: REST base for depth snapshots")->capture_default_str();
  run->add_flag("--insecure", ro.live.insecure, "live: do not verify TLS certificates (local tests only)");
  run->add_option("--ca-file", ro.live.ca_file, "live: trust this PEM certificate instead of the system store");
  run->add_option("--stale-after", ro.live.stale_after_s, "live: reconnect after this many seconds without a message")->capture_default_str();
  run->add_option("--rotate-after", ro.live.rotate_after_s, "live: open a new connection after S seconds (Binance closes at 24 h)")
      ->capture_default_str();
  run->add_option("--overlap", ro.live.overlap_s, "live: seconds both connections are read during a rotation")->capture_default_str();
  run->add_option("--snapshot-limit", ro.live.snapshot_limit, "live: REST depth snapshot levels")->capture_default_str();
  run->add_option("--udp-interface", ro.udp_interface, "udp: local address of the interface to join the group on")->capture_default_str();
  run->add_option("--record", ro.record_dir, "journal every raw frame with its receive time under DIR (S=SYMBOL/date=YYYY-MM-DD/); replay with --feed replay:DIR");
  run->add_option("--warm-from", ro.warm_from, "warm start: play the journal DIR (an earlier run's --record) into the books, bars, "
                                               "indicators and paper accounts before the first frame, so the run continues that "
                                               "one (nothing from it is published); DIR may be this run's --record");
  run->add_flag("--event-driven", ro.live.event_driven, "live: sleep in poll(2) when the feed is idle instead of busy-polling");
  run->add_flag("--huge-pages", ro.live.huge_pages, "live: receive buffers on 2 MB pages when the host has them");
  run->add_option("--symbols", ro.symbols, "comma-separated symbols (replay: only these; synthetic: the market)");
  run->add_option("--messages", ro.messages, "stop after N frames (default: synthetic 1000000, replay one pass)");
  run->add_option("--duration", ro.duration, "stop after S seconds");
  run->add_option("--cpus", ro.hot.cpus, "FEED,STRATEGY cores to pin the hot threads to, e.g. 0,1 (one core with --inline-strategy)");
  run->add_flag("--inline-strategy", ro.hot.inline_strategy,
                "one hot thread: the feed thread runs the strategy on each event (no ring hop; the other core is left to the io thread)");
  run->add_option("--report", ro.report, "write the report as JSON to FILE");
  run->add_option("--speed", ro.speed, "replay pace: 0 = as fast as possible, 1 = recorded pace, 10 = 10x")->capture_default_str();
  run->add_flag("--drop-on-full", ro.drop, "drop (and count) events when the ring is full instead of waiting");
  run->add_option("--seed", ro.seed, "synthetic feed seed")->capture_default_str();
  run->add_option("--rate", ro.rate, "synthetic frames per second of event time (market activity, not wall pace)")->capture_default_str();
  run->add_flag("--bursty", ro.bursty, "synthetic feed arrives in bursts");
  run->add_flag("--quiet", ro.quiet, "no progress line on stderr");
  run->add_option("--ui-root", ro.ui_root, "serve the dashboard page from DIR instead of the one built from web/");
  run->add_option("--ui", ro.ui, "serve the read-only JSON API and Prometheus metrics on [ADDRESS:]PORT "
                                 "(address 127.0.0.1 unless given; off by default)");
  run->add_option("--nats", ro.nats.url, "publish signals, closed bars, position changes and stats to NATS at nats://HOST:PORT "
                                         "(subjects PREFIX.KIND.SYMBOL, JSON; from the io thread, never blocking)");
  run->add_option("--nats-prefix", ro.nats.prefix, "subject prefix")->capture_default_str();
  run->add_flag("--nats-trades", ro.nats.trades, "publish every trade too (PREFIX.trade.SYMBOL)");
  run->add_flag("--nats-binary", ro.nats.binary, "fixed little-endian records instead of JSON (README: Binary records; stats stay JSON)");
  run->add_option("--nats-stream", ro.nats.stream, "also store every message in this JetStream stream (subjects PREFIX.>, created or "
                                                   "updated at start; acknowledged, de-duplicated by message id) for consumers "
                                                   "that replay");
  double stream_age_h = ro.nats.stream_max_age_s / 3600;
  run->add_option("--nats-stream-max-bytes", ro.nats.stream_max_bytes, "the stream's size limit (oldest discarded past it)")
      ->capture_default_str();
  run->add_option("--nats-stream-max-age", stream_age_h, "the stream keeps messages this many hours")->capture_default_str();
  run->add_option("--nats-stream-replicas", ro.nats.stream_replicas, "copies of the stream (3 on a cluster)")->capture_default_str()
      ->check(CLI::Range(1, 5));
  run->add_option("--nats-max-in-flight", ro.nats.max_in_flight, "JetStream publishes awaiting their acknowledgement; past it "
                                                                 "messages wait in the spill file")
      ->capture_default_str();
  run->add_option("--nats-spill-dir", ro.nats.spill_dir, "where messages wait while NATS cannot take them (default: the "
                                                         "--record directory, else the temporary directory)");
  run->add_option("--clickhouse", ro.clickhouse.url, "store trades, bars, signals and per-second stage latency in ClickHouse at "
                                                     "http://HOST:PORT (tables created if missing; batched RowBinary inserts "
                                                     "from the io thread)");
  run->add_option("--clickhouse-db", ro.clickhouse.database, "database")->capture_default_str();
  run->add_option("--shard", ro.shard, "I/N: run only the symbols of --symbols that hash to shard I of N (N engines cover the "
                                       "list once)");
  run->add_option("--pace", ro.pace, "synthetic/replay: feed this many frames per wall-clock second (latency at a set load; 0 = as fast as possible)")
      ->capture_default_str();
  run->add_flag("--no-mlock", ro.no_mlock, "do not lock the process's memory (mlockall) before the hot threads start");
  run->add_option("--fifo", ro.fifo, "SCHED_FIFO priority (1-99) for the hot threads; only on isolated cores")
      ->check(CLI::Range(0, 99));
  run->add_option("--model", ro.model, "policy model file: adds the policy and signal stages");
  run->add_option("--backend", ro.backend, "policy back-end: auto | scalar | avx2 | avx512")->capture_default_str();
  run->add_flag("--no-critic", ro.no_critic,
                "run the actor alone: signals carry no value estimate, the policy pass does about half the work");
  run->add_option("--policy-on", ro.policy_on, "trade (every trade, forming bar) | bar (each closed bar) | NNNms (at most every NNN ms of event time)")
      ->capture_default_str();
  run->add_flag("--sample", ro.sig.sample, "sample the action from the policy's probabilities instead of argmax");
  run->add_option("--sample-seed", ro.sig.seed, "seed for --sample")->capture_default_str();
  run->add_option("--min-confidence", ro.sig.min_confidence, "BUY/SELL below this probability become HOLD")->capture_default_str();
  run->add_option("--fee-bps", ro.fee_bps, "paper account fee per fill, basis points")->capture_default_str();
  run->add_flag("--short", ro.allow_short, "paper account: SELL goes short instead of flat");
  run->add_option("--cooldown-ms", ro.sig.cooldown_ms, "after a BUY/SELL, hold that symbol for this long (event time)")
      ->capture_default_str();

  auto* parse = app.add_subcommand("parse", "print one JSON object per frame of FILE, as tickpath reads it");
  std::string parse_path;
  std::uint64_t parse_limit = 0;
  bool strict = false;
  parse->add_option("FILE", parse_path, "frames file")->required();
  parse->add_option("--limit", parse_limit, "at most N frames");
  parse->add_flag("--strict", strict, "exit 1 if any frame is rejected");

  auto* gen = app.add_subcommand("gen", "write seeded synthetic Binance combined-stream frames as JSONL");
  std::string gen_symbols = "BTCUSDT,ETHUSDT", gen_out = "-";
  std::uint64_t gen_messages = 10000, gen_seed = 42;
  double gen_rate = 200;
  bool gen_bursty = false;
  gen->add_option("--symbols", gen_symbols, "comma-separated symbols")->capture_default_str();
  gen->add_option("--messages", gen_messages, "number of frames")->capture_default_str();
  gen->add_option("--seed", gen_seed, "seed")->capture_default_str();
  gen->add_option("--rate", gen_rate, "frames per second of event time")->capture_default_str();
  gen->add_flag("--bursty", gen_bursty, "bursty arrivals");
  gen->add_option("--out", gen_out, "output file ('-' for stdout)")->capture_default_str();

  auto* ind = app.add_subcommand("indicators", "compute the indicator set over a kline CSV and print CSV");
  std::string klines, ind_out = "-";
  ind->add_option("--klines", klines, "kline CSV (data.binance.vision or with a header)")->required();
  ind->add_option("--out", ind_out, "output file ('-' for stdout)")->capture_default_str();

  auto* init = app.add_subcommand("init-model", "write an untrained policy model (SB3 orthogonal init, seeded)");
  std::uint64_t init_seed = 1;
  std::string init_out;
  init->add_option("--seed", init_seed, "seed")->capture_default_str();
  init->add_option("--out", init_out, "model file to write")->required();

  auto* infer = app.add_subcommand("infer", "run the policy over rows of raw observations and print CSV");
  std::string model_path, infer_input, backend = "auto";
  infer->add_option("--model", model_path, "policy model file")->required();
  infer->add_option("--input", infer_input, "CSV of raw (un-normalised) observations, one row each")->required();
  infer->add_option("--backend", backend, "auto | scalar | avx2 | avx512")->capture_default_str();

  auto* stress = app.add_subcommand("stress", "ramp the exchange simulator's rate against the live feed on loopback; "
                                               "report the highest rate sustained with zero loss");
  tickpath::engine::StressOptions so;
  std::string stress_rates, stress_symbols = "BTCUSDT,ETHUSDT";
  HotThreadOptions stress_hot;
  bool stress_plain = false;
  stress->add_option("--rates", stress_rates, "comma-separated frames/s steps (default 5000,10000,20000,50000,100000,200000)");
  stress->add_option("--step", so.step_s, "seconds per step")->capture_default_str();
  stress->add_option("--symbols", stress_symbols, "symbols")->capture_default_str();
  stress->add_option("--model", so.model, "policy model: adds the policy and signal stages");
  stress->add_option("--cpus", stress_hot.cpus, "FEED,STRATEGY cores (one core with --inline-strategy)");
  stress->add_flag("--inline-strategy", stress_hot.inline_strategy, "one hot thread: the feed thread runs the strategy");
  stress->add_flag("--plain", stress_plain, "plain TCP instead of TLS");
  stress->add_option("--drain", so.max_drain_s, "seconds the engine may take to catch up after a step")->capture_default_str();
  stress->add_option("--report", so.report, "write the steps as JSON to FILE");

  auto* exp = app.add_subcommand("export", "replay a journal (a --record directory) and write its trades, bars and signals "
                                           "as CSV in the ClickHouse tables' columns");
  ExportOptions ex;
  std::string exp_journal, exp_model, exp_policy_on = "trade";
  exp->add_option("JOURNAL", exp_journal, "the --record directory")->required();
  exp->add_option("--out", ex.dir, "directory for trades.csv, bars_1m.csv, signals.csv")->required();
  exp->add_option("--model", exp_model, "policy model file: signals as the recording run made them (without one, no signals)");
  exp->add_option("--policy-on", exp_policy_on, "as the recording run: trade | bar | PERIODms")->capture_default_str();
  bool exp_no_critic = false;
  exp->add_flag("--no-critic", exp_no_critic, "as the recording run: the actor alone, no value estimate");
  exp->add_option("--from", ex.from, "rows from this event time (epoch ms/us or ISO-8601)");
  exp->add_option("--to", ex.to, "rows before this event time");

  auto* tail = app.add_subcommand("tail", "print what flows on a NATS subject, e.g. tickpath tail nats://127.0.0.1:4222 'tickpath.signal.>'");
  std::string tail_url, tail_subject;
  std::uint64_t tail_count = 0;
  double tail_idle = 0;
  tail->add_option("URL", tail_url, "nats://HOST:PORT")->required();
  tail->add_option("SUBJECT", tail_subject, "subject, wildcards allowed (* one token, > the rest)")->required();
  tail->add_option("--count", tail_count, "stop after this many messages (0: never)")->capture_default_str();
  tail->add_option("--idle", tail_idle, "stop after this many seconds without a message (0: never)")->capture_default_str();
  bool tail_replay = false;
  tail->add_flag("--replay", tail_replay, "from the first message the JetStream stream holding SUBJECT kept (--nats-stream), then live");

  auto* doctor = app.add_subcommand("doctor", "check this host's hot cores for latency work and print each fix; exits 1 when they are not fit");
  std::string doctor_cpus, doctor_root = "/";
  bool doctor_json = false;
  doctor->add_option("--cpus", doctor_cpus, "hot cores, e.g. 2,3 or 2-5 (default: every core this process may use)");
  doctor->add_flag("--json", doctor_json, "print the findings as JSON");
  doctor->add_option("--root", doctor_root, "read proc/ and sys/ under this directory (for checking a saved host image)")
      ->capture_default_str();

  auto* bt = app.add_subcommand("backtest", "run the policy and three baselines over a kline CSV, side by side");
  std::string bt_klines, bt_model, bt_backend = "auto", bt_from, bt_to, bt_report, bt_equity, bt_html, bt_web_root;
  double bt_fee = 10;
  bool bt_short = false;
  bt->add_option("--klines", bt_klines, "kline CSV")->required();
  bt->add_option("--model", bt_model, "policy model file (without one, only the baselines run)");
  bt->add_option("--backend", bt_backend, "policy back-end: auto | scalar | avx2 | avx512")->capture_default_str();
  bt->add_option("--fee-bps", bt_fee, "fee per fill in basis points")->capture_default_str();
  bt->add_option("--from", bt_from, "first bar to trade (epoch ms/us or ISO-8601)");
  bt->add_option("--to", bt_to, "trade bars before this time");
  bt->add_flag("--short", bt_short, "SELL goes short instead of flat");
  bt->add_option("--report", bt_report, "write the table as JSON to FILE");
  bt->add_option("--equity", bt_equity, "write per-bar equity of every strategy as CSV to FILE");
  bt->add_option("--html", bt_html,
                 "write a self-contained HTML report to FILE: equity curves of the policy and the baselines, each "
                 "strategy's trades on the candles");
  bt->add_option("--ui-root", bt_web_root, "take the report page from DIR instead of the one built from web/");

  auto* train = app.add_subcommand("train", "train the policy with PPO over a kline CSV and write the model the engine serves");
  tickpath::engine::TrainOptions tr;
  train->add_option("--klines", tr.klines, "kline CSV")->required();
  train->add_option("--from", tr.from, "first bar to train on (epoch ms/us or ISO-8601)");
  train->add_option("--to", tr.to, "train on bars before this time");
  train->add_option("--out", tr.out, "model file to write")->required();
  train->add_option("--log", tr.log, "training log CSV (default: OUT.log.csv)");
  train->add_option("--steps", tr.steps, "environment steps in all, rounded up to whole rollouts")->capture_default_str();
  train->add_option("--seed", tr.seed, "seed of the initial weights, episode starts and action sampling")->capture_default_str();
  train->add_option("--threads", tr.threads, "threads for rollouts and minibatch gradients (0: every core)")->capture_default_str();
  train->add_option("--envs", tr.envs, "environments rolled out per iteration")->capture_default_str();
  train->add_option("--reward", tr.reward, "dsr (differential Sharpe ratio) | return (per-bar return in percent)")->capture_default_str();
  train->add_option("--fee-bps", tr.fee_bps, "fee per fill in basis points")->capture_default_str();
  train->add_option("--slippage-bps", tr.slippage_bps, "half-spread paid per fill in basis points")->capture_default_str();
  train->add_option("--episode-bars", tr.episode_bars, "bars per episode")->capture_default_str();
  train->add_option("--n-steps", tr.n_steps, "steps per environment and rollout")->capture_default_str();
  train->add_option("--batch-size", tr.batch_size, "minibatch size")->capture_default_str();
  train->add_option("--epochs", tr.epochs, "passes over each rollout")->capture_default_str();
  train->add_option("--lr", tr.learning_rate, "Adam learning rate")->capture_default_str();
  train->add_option("--ent-coef", tr.ent_coef, "entropy coefficient")->capture_default_str();
  train->add_flag("--short", tr.allow_short, "SELL goes short instead of flat");
  train->add_flag("--quiet", tr.quiet, "no progress on stderr");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  ro.nats.stream_max_age_s = stream_age_h * 3600;
  if (*run) return cmd_run(ro);
  if (*stress) {
    so.tls = !stress_plain;
    so.symbols = split_list(stress_symbols);
    if (!stress_rates.empty()) {
      so.rates.clear();
      for (const auto& r : split_list(stress_rates)) {
        try {
          so.rates.push_back(std::stod(r));
        } catch (const std::exception&) {
          return fail("--rates takes numbers, e.g. 5000,20000");
        }
        if (!(so.rates.back() > 0)) return fail("--rates must be positive");
      }
    }
    so.inline_strategy = stress_hot.inline_strategy;
    if (std::string err; !stress_hot.parse(so.feed_cpu, so.strategy_cpu, err)) return fail(err);
    if (!(so.step_s > 0)) return fail("--step must be positive");
    return tickpath::engine::run_stress(so);
  }
  if (*exp) {
    RunOptions eo;
    eo.feed = "replay:" + exp_journal;
    eo.quiet = true;
    eo.no_mlock = true;
    eo.model = exp_model;
    eo.no_critic = exp_no_critic;
    eo.policy_on = exp_policy_on;
    eo.exp = ex;
    return cmd_run(eo);
  }
  if (*tail) {
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    return tickpath::engine::nats_tail(tail_url, tail_subject, tail_count, tail_idle, tail_replay, g_stop);
  }
  if (*doctor) {
    tickpath::engine::DoctorOptions d;
    d.root = doctor_root;
    d.allowed_cpus = tickpath::engine::current_allowed_cpus();
    d.memlock_bytes = tickpath::engine::current_memlock_limit();
    if (!doctor_cpus.empty()) {
      d.cpus = tickpath::engine::parse_cpu_list(doctor_cpus);
      if (d.cpus.empty()) return fail("--cpus takes a core list like 2,3 or 2-5, not '" + doctor_cpus + "'");
    }
    const auto rep = tickpath::engine::run_doctor(d);
    std::fputs(doctor_json ? (rep.to_json() + "\n").c_str() : rep.to_table().c_str(), stdout);
    return rep.fit() ? 0 : 1;
  }
  if (*parse) return cmd_parse(parse_path, parse_limit, strict);
  if (*gen) return cmd_gen(gen_symbols, gen_messages, gen_seed, gen_rate, gen_bursty, gen_out);
  if (*ind) return cmd_indicators(klines, ind_out);
  if (*init) return cmd_init_model(init_seed, init_out);
  if (*infer) return cmd_infer(model_path, infer_input, backend);
  if (*train) return tickpath::engine::run_train(tr);
  if (*bt) return cmd_backtest(bt_klines, bt_model, bt_backend, bt_fee, bt_from, bt_to, bt_short, bt_report, bt_equity, bt_html, bt_web_root);
  return 2;
}
