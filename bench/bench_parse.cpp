// Parsing real Binance frames: tickpath's parser (simdjson On-Demand, every
// decimal to double + int64, fields checked) beside the anchors doing the
// same job on the same bytes: plain simdjson On-Demand visiting every field
// with from_chars, simdjson DOM, and nlohmann::json. Each anchor reads every
// value and converts every decimal string with std::from_chars, so all four
// produce the same numbers.
#include <simdjson.h>

#include <charconv>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "tickpath/feed/binance_parser.hpp"
#include "tickpath/feed/frame_set.hpp"

namespace {

using tickpath::feed::BinanceParser;
using tickpath::feed::FrameSet;
using tickpath::feed::Message;

struct Sample {
  const char* name;
  std::string frame;
};

std::string data(const char* rel) { return std::string(TICKPATH_DATA_DIR) + "/" + rel; }

// One real frame of each kind, first of its kind in the recording.
const std::vector<Sample>& samples() {
  static const std::vector<Sample> s = [] {
    std::vector<Sample> out;
    auto pick = [&](const char* name, const char* file, const char* needle, std::size_t skip = 0) {
      FrameSet fs;
      std::string err;
      if (!fs.load_file(data(file), err)) {
        std::fprintf(stderr, "bench_parse: %s\n", err.c_str());
        std::exit(1);
      }
      for (std::size_t i = 0; i < fs.size(); ++i) {
        if (fs.frame(i).find(needle) == std::string_view::npos) continue;
        if (skip-- > 0) continue;
        out.push_back({name, std::string(fs.frame(i))});
        return;
      }
      std::fprintf(stderr, "bench_parse: no %s frame in %s\n", needle, file);
      std::exit(1);
    };
    pick("trade", "ws/andreytokmakov_2025-11-08_btcusdt_trade_single.json", "@trade");
    // The same real frame as Binance sends it on the wire: compact (168 B).
    // The capture above is pretty-printed; the key order is kept.
    out.push_back({"trade_compact", nlohmann::ordered_json::parse(out.back().frame).dump()});
    pick("aggTrade", "ws/cryptofeed_2021-04-04_btcusdt-ethusdt-dotusdt_combined.jsonl", "@aggTrade");
    pick("bookTicker", "ws/cryptofeed_2021-04-05_10symbols_bookTicker-aggTrade-depth_combined.jsonl", "@bookTicker");
    pick("kline", "ws/cryptofeed_2021-04-04_btcusdt-ethusdt-dotusdt_combined.jsonl", "@kline_1m");
    pick("depthUpdate", "ws/andreytokmakov_2025-12-07_btcusdt_depth100ms_combined.jsonl", "@depth@100ms", 10);
    pick("depth20", "ws/andreytokmakov_2025-11-08_btcusdt_depth20-100ms_single.json", "depth20");
    // The same depth20 frame compact, as Binance sends it (the capture
    // indents every level: 2,728 B of text, 1,408 B on the wire).
    out.push_back({"depth20_compact", nlohmann::ordered_json::parse(out.back().frame).dump()});
    return out;
  }();
  return s;
}

std::string padded(const std::string& f) {
  std::string p = f;
  p.append(simdjson::SIMDJSON_PADDING, '\0');
  return p;
}

struct Sink {
  double d = 0;
  std::int64_t i = 0;
  void number_text(std::string_view s) {
    double v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    d += v;
  }
};

// Every contender goes through this same loop. Second argument 1: each
// parse stamped with the TSC (per-frame percentiles, each carrying one
// stamp); 0: no stamps, so the benchmark's time per iteration is the parse
// alone (the figure the ratios use).
template <typename ParseOne>
void run_timed(benchmark::State& state, const Sample& s, ParseOne&& parse_one) {
  state.SetLabel(s.name);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * s.frame.size()));
  if (state.range(1) == 0) {
    for (auto _ : state) parse_one();
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * s.frame.size()));
    return;
  }
  tickpath::infra::LatencyHistogram h;
  const auto& clk = tickpath::bench::clock();
  for (auto _ : state) {
    const auto t0 = clk.now();
    parse_one();
    h.record(clk.delta_ns(t0, clk.now()));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * s.frame.size()));
  tickpath::bench::report_percentiles(state, h);
}

const Sample& sample_of(const benchmark::State& state) { return samples()[static_cast<std::size_t>(state.range(0))]; }

// --- tickpath as it runs live, and with its faster readers switched off ---
enum class Readers { live, general, simdjson_only };
void run_tickpath(benchmark::State& state, Readers readers) {
  const Sample& s = sample_of(state);
  const std::string buf = padded(s.frame);
  auto parser = std::make_unique<BinanceParser>();
  parser->set_exact_path(readers == Readers::live);
  parser->set_fast_path(readers != Readers::simdjson_only);
  Message m;
  run_timed(state, s, [&] {
    auto r = parser->parse(buf.data(), s.frame.size(), m);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(m);
  });
}
void BM_Tickpath(benchmark::State& state) { run_tickpath(state, Readers::live); }
// without Binance's exact layouts: the general single pass
void BM_TickpathGeneral(benchmark::State& state) { run_tickpath(state, Readers::general); }
// with its single pass off: every frame through simdjson
void BM_TickpathSimdjsonOnly(benchmark::State& state) { run_tickpath(state, Readers::simdjson_only); }

// --- plain On-Demand: visit every field, from_chars every string number ---
namespace od = simdjson::ondemand;
void visit_od(od::value v, Sink& sink);
void visit_od_object(od::object o, Sink& sink) {
  for (auto f : o) {
    od::field fld;
    if (std::move(f).get(fld)) return;
    visit_od(fld.value(), sink);
  }
}
void visit_od(od::value v, Sink& sink) {
  od::json_type t;
  if (v.type().get(t)) return;
  switch (t) {
    case od::json_type::object: {
      od::object o;
      if (!v.get_object().get(o)) visit_od_object(o, sink);
      break;
    }
    case od::json_type::array: {
      od::array a;
      if (v.get_array().get(a)) break;
      for (auto e : a) {
        od::value ev;
        if (!std::move(e).get(ev)) visit_od(ev, sink);
      }
      break;
    }
    case od::json_type::string: {
      std::string_view sv;
      if (!v.get_string().get(sv)) sink.number_text(sv);
      break;
    }
    case od::json_type::number: {
      std::int64_t x;
      if (!v.get_int64().get(x)) sink.i += x;
      break;
    }
    case od::json_type::boolean: {
      bool b;
      if (!v.get_bool().get(b)) sink.i += b;
      break;
    }
    default: break;
  }
}
void BM_OnDemandFromChars(benchmark::State& state) {
  const Sample& s = sample_of(state);
  const std::string buf = padded(s.frame);
  od::parser parser;
  Sink sink;
  run_timed(state, s, [&] {
    od::document doc;
    if (!parser.iterate(buf.data(), s.frame.size(), buf.size()).get(doc)) {
      od::object o;
      if (!doc.get_object().get(o)) visit_od_object(o, sink);
    }
    benchmark::DoNotOptimize(sink);
  });
}

// --- simdjson DOM ---
void visit_dom(simdjson::dom::element e, Sink& sink) {
  switch (e.type()) {
    case simdjson::dom::element_type::OBJECT: {
      simdjson::dom::object o;
      if (!e.get_object().get(o))
        for (auto kv : o) visit_dom(kv.value, sink);
      break;
    }
    case simdjson::dom::element_type::ARRAY: {
      simdjson::dom::array a;
      if (!e.get_array().get(a))
        for (auto x : a) visit_dom(x, sink);
      break;
    }
    case simdjson::dom::element_type::STRING: {
      std::string_view sv;
      if (!e.get_string().get(sv)) sink.number_text(sv);
      break;
    }
    case simdjson::dom::element_type::INT64: {
      std::int64_t x;
      if (!e.get_int64().get(x)) sink.i += x;
      break;
    }
    case simdjson::dom::element_type::BOOL: {
      bool b;
      if (!e.get_bool().get(b)) sink.i += b;
      break;
    }
    default: break;
  }
}
void BM_SimdjsonDom(benchmark::State& state) {
  const Sample& s = sample_of(state);
  const std::string buf = padded(s.frame);
  simdjson::dom::parser parser;
  Sink sink;
  run_timed(state, s, [&] {
    simdjson::dom::element root;
    if (!parser.parse(buf.data(), s.frame.size(), false).get(root)) visit_dom(root, sink);
    benchmark::DoNotOptimize(sink);
  });
}

// --- nlohmann::json ---
void visit_nl(const nlohmann::json& j, Sink& sink) {
  if (j.is_object() || j.is_array()) {
    for (const auto& x : j) visit_nl(x, sink);
  } else if (j.is_string()) {
    sink.number_text(j.get_ref<const std::string&>());
  } else if (j.is_number_integer()) {
    sink.i += j.get<std::int64_t>();
  } else if (j.is_boolean()) {
    sink.i += j.get<bool>();
  }
}
void BM_Nlohmann(benchmark::State& state) {
  const Sample& s = sample_of(state);
  Sink sink;
  run_timed(state, s, [&] {
    const auto j = nlohmann::json::parse(s.frame, nullptr, false);
    visit_nl(j, sink);
    benchmark::DoNotOptimize(sink);
  });
}

void kinds(benchmark::internal::Benchmark* b) {
  for (int stamped = 0; stamped < 2; ++stamped)
    for (int i = 0; i < 8; ++i) b->Args({i, stamped});
}

}  // namespace

BENCHMARK(BM_Tickpath)->Apply(kinds);
BENCHMARK(BM_TickpathGeneral)->Apply(kinds);
BENCHMARK(BM_TickpathSimdjsonOnly)->Apply(kinds);
BENCHMARK(BM_OnDemandFromChars)->Apply(kinds);
BENCHMARK(BM_SimdjsonDom)->Apply(kinds);
BENCHMARK(BM_Nlohmann)->Apply(kinds);
TICKPATH_BENCHMARK_MAIN()
