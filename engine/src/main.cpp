// tickpath: the command line. Every command ends a set-up failure with one
// line on stderr and exit status 1; usage errors exit 2 (CLI11's own).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <atomic>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "tickpath/engine/pipeline.hpp"
#include "tickpath/feed/binance_parser.hpp"
#include "tickpath/feed/frame_set.hpp"
#include "tickpath/feed/message_json.hpp"
#include "tickpath/feed/synthetic.hpp"
#include "tickpath/strategy/indicator_set.hpp"
#include "tickpath/strategy/kline_csv.hpp"
#include "tickpath/strategy/policy.hpp"
#include "tickpath/strategy/policy_model.hpp"

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

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

int cmd_run(const std::string& feed, const std::string& symbols, std::uint64_t messages, double duration,
            const std::string& cpus, const std::string& report, double speed, bool drop, std::uint64_t seed,
            double rate, bool bursty, bool quiet, const std::string& model, const std::string& backend,
            const std::string& policy_on) {
  tickpath::engine::PipelineConfig cfg;
  if (feed == "synthetic") {
    cfg.feed = tickpath::engine::PipelineConfig::Feed::synthetic;
  } else if (feed.rfind("replay:", 0) == 0 && feed.size() > 7) {
    cfg.feed = tickpath::engine::PipelineConfig::Feed::replay;
    cfg.replay_path = feed.substr(7);
  } else {
    return fail("--feed must be 'synthetic' or 'replay:PATH', not '" + feed + "'");
  }
  cfg.symbols = split_list(symbols);
  cfg.messages = messages;
  cfg.duration_s = duration;
  cfg.replay_speed = speed;
  cfg.drop_on_full = drop;
  cfg.synthetic.seed = seed;
  cfg.synthetic.rate_per_s = rate;
  cfg.synthetic.bursty = bursty;
  cfg.progress = !quiet;
  cfg.model_path = model;
  cfg.policy_backend = backend;
  if (policy_on == "trade") cfg.policy_on = tickpath::engine::PipelineConfig::PolicyOn::trade;
  else if (policy_on == "bar") cfg.policy_on = tickpath::engine::PipelineConfig::PolicyOn::bar;
  else return fail("--policy-on must be 'trade' or 'bar', not '" + policy_on + "'");
  if (!cpus.empty()) {
    const auto parts = split_list(cpus);
    if (parts.size() != 2) return fail("--cpus takes FEED,STRATEGY core numbers, e.g. --cpus 0,1");
    try {
      cfg.feed_cpu = std::stoi(parts[0]);
      cfg.strategy_cpu = std::stoi(parts[1]);
    } catch (const std::exception&) {
      return fail("--cpus takes FEED,STRATEGY core numbers, e.g. --cpus 0,1");
    }
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::string error;
  const auto rep = tickpath::engine::run_pipeline(cfg, error, &g_stop);
  if (!error.empty()) return fail(error);
  std::fputs(rep.to_table().c_str(), stdout);
  for (const auto& w : rep.warnings) std::fprintf(stderr, "%s\n", w.c_str());
  if (!report.empty()) {
    if (!write_file(report, rep.to_json() + "\n", error)) return fail(error);
    std::fprintf(stdout, "\n  report written to %s\n", report.c_str());
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
  PolicyModel model;
  std::string error;
  if (!load_policy_model(model_path, model, error)) return fail(error);
  PolicyBackend backend;
  if (!parse_policy_backend(backend_name, backend)) return fail("--backend must be auto, scalar, avx2 or avx512");
  auto policy = Policy::create(model, backend, error);
  if (!policy) return fail(error);
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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tickpath: Binance market data to signals on the shortest measured path"};
  app.require_subcommand(1);

  auto* run = app.add_subcommand("run", "run the pinned feed -> strategy pipeline and print a latency report");
  std::string feed = "synthetic", symbols, cpus, report;
  std::uint64_t messages = 0, seed = 42;
  double duration = 0, speed = 0, rate = 200;
  bool drop = false, bursty = false, quiet = false;
  run->add_option("--feed", feed, "synthetic | replay:PATH (JSONL, pretty JSON or recorder file)")->capture_default_str();
  run->add_option("--symbols", symbols, "comma-separated symbols (replay: only these; synthetic: the market)");
  run->add_option("--messages", messages, "stop after N frames (default: synthetic 1000000, replay one pass)");
  run->add_option("--duration", duration, "stop after S seconds");
  run->add_option("--cpus", cpus, "FEED,STRATEGY cores to pin the hot threads to, e.g. 0,1");
  run->add_option("--report", report, "write the report as JSON to FILE");
  run->add_option("--speed", speed, "replay pace: 0 = as fast as possible, 1 = recorded pace, 10 = 10x")->capture_default_str();
  run->add_flag("--drop-on-full", drop, "drop (and count) events when the ring is full instead of waiting");
  run->add_option("--seed", seed, "synthetic feed seed")->capture_default_str();
  run->add_option("--rate", rate, "synthetic frames per second of event time (market activity, not wall pace)")->capture_default_str();
  run->add_flag("--bursty", bursty, "synthetic feed arrives in bursts");
  run->add_flag("--quiet", quiet, "no progress line on stderr");
  std::string run_model, run_backend = "auto", policy_on = "trade";
  run->add_option("--model", run_model, "policy model file: adds the policy and signal stages");
  run->add_option("--backend", run_backend, "policy back-end: auto | scalar | avx2 | avx512")->capture_default_str();
  run->add_option("--policy-on", policy_on, "run the policy on every trade (forming bar) or on each closed bar")
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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (*run)
    return cmd_run(feed, symbols, messages, duration, cpus, report, speed, drop, seed, rate, bursty, quiet, run_model,
                   run_backend, policy_on);
  if (*parse) return cmd_parse(parse_path, parse_limit, strict);
  if (*gen) return cmd_gen(gen_symbols, gen_messages, gen_seed, gen_rate, gen_bursty, gen_out);
  if (*ind) return cmd_indicators(klines, ind_out);
  if (*init) return cmd_init_model(init_seed, init_out);
  if (*infer) return cmd_infer(model_path, infer_input, backend);
  return 2;
}
