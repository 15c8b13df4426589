#include <gtest/gtest.h>

#include <cctype>
#include <charconv>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "support/alloc_counter.hpp"
#include "support/test_data.hpp"
#include "tickpath/feed/binance_parser.hpp"
#include "tickpath/feed/feed_handler.hpp"
#include "tickpath/feed/frame_set.hpp"

using namespace tickpath::feed;
using nlohmann::json;

namespace {

std::uint64_t bits(double d) {
  std::uint64_t b;
  std::memcpy(&b, &d, sizeof b);
  return b;
}

// Checks one decimal against the text nlohmann read: the double must be
// from_chars' bit for bit and the int64 the text's digits.
void expect_decimal(const Decimal& d, const json& j, const std::string& where) {
  ASSERT_TRUE(j.is_string()) << where;
  const std::string s = j.get<std::string>();
  double v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  EXPECT_EQ(bits(d.value), bits(v)) << where << " " << s;
  std::string digits;
  const auto dot = s.find('.');
  const std::string ip = s.substr(0, dot), fp = dot == std::string::npos ? "" : s.substr(dot + 1);
  digits = ip + (fp + "00000000").substr(0, 8);
  EXPECT_EQ(d.e8, std::stoll(digits)) << where << " " << s;
}

void expect_levels(const LevelSpan& span, const json& j, const std::string& where) {
  ASSERT_TRUE(j.is_array()) << where;
  ASSERT_EQ(span.size, j.size()) << where;
  for (std::size_t i = 0; i < j.size(); ++i) {
    expect_decimal(span.data[i].price, j[i][0], where + "[" + std::to_string(i) + "].price");
    expect_decimal(span.data[i].qty, j[i][1], where + "[" + std::to_string(i) + "].qty");
  }
}

// Every field of the payload, as nlohmann sees it, against our Message.
void cross_check(const Message& m, const json& frame, const std::string& where) {
  const json& d = frame.contains("data") ? frame["data"] : frame;
  if (frame.contains("stream")) {
    EXPECT_EQ(m.stream, frame["stream"].get<std::string>()) << where;
  }
  for (auto it = d.begin(); it != d.end(); ++it) {
    const std::string k = it.key();
    const json& v = it.value();
    const std::string w = where + "." + k;
    if (k == "e") {
      EXPECT_EQ(m.event_name, v.get<std::string>()) << w;
    } else if (k == "E") {
      EXPECT_EQ(m.E, v.get<std::int64_t>()) << w;
    } else if (k == "s") {
      EXPECT_EQ(m.symbol, v.get<std::string>()) << w;
    } else if (k == "t") {
      EXPECT_EQ(m.t, v.get<std::int64_t>()) << w;
    } else if (k == "T") {
      EXPECT_EQ(m.T, v.get<std::int64_t>()) << w;
    } else if (k == "f") {
      EXPECT_EQ(m.f, v.get<std::int64_t>()) << w;
    } else if (k == "l") {
      EXPECT_EQ(m.l, v.get<std::int64_t>()) << w;
    } else if (k == "U") {
      EXPECT_EQ(m.U, v.get<std::int64_t>()) << w;
    } else if (k == "u") {
      EXPECT_EQ(m.u, v.get<std::int64_t>()) << w;
    } else if (k == "m") {
      EXPECT_EQ(m.m, v.get<bool>()) << w;
    } else if (k == "M") {
      EXPECT_EQ(m.M, v.get<bool>()) << w;
    } else if (k == "p") {
      expect_decimal(m.p, v, w);
    } else if (k == "q") {
      expect_decimal(m.q, v, w);
    } else if (k == "B") {
      expect_decimal(m.B, v, w);
    } else if (k == "A") {
      expect_decimal(m.A, v, w);
    } else if (k == "lastUpdateId") {
      EXPECT_EQ(m.last_update_id, v.get<std::int64_t>()) << w;
    } else if (k == "bids") {
      expect_levels(m.bids, v, w);
    } else if (k == "asks") {
      expect_levels(m.asks, v, w);
    } else if (k == "b" || k == "a") {
      const bool bid = k == "b";
      if (v.is_array()) {
        expect_levels(bid ? m.bids : m.asks, v, w);
      } else if (v.is_string()) {
        expect_decimal(bid ? m.b : m.a, v, w);
      } else {
        EXPECT_EQ(bid ? m.b_id : m.a_id, v.get<std::int64_t>()) << w;
      }
    } else if (k == "k") {
      const auto& x = m.k;
      EXPECT_EQ(x.t, v["t"].get<std::int64_t>()) << w;
      EXPECT_EQ(x.T, v["T"].get<std::int64_t>()) << w;
      EXPECT_EQ(x.s, v["s"].get<std::string>()) << w;
      EXPECT_EQ(x.i, v["i"].get<std::string>()) << w;
      EXPECT_EQ(x.f, v["f"].get<std::int64_t>()) << w;
      EXPECT_EQ(x.L, v["L"].get<std::int64_t>()) << w;
      EXPECT_EQ(x.n, v["n"].get<std::int64_t>()) << w;
      EXPECT_EQ(x.x, v["x"].get<bool>()) << w;
      expect_decimal(x.o, v["o"], w + ".o");
      expect_decimal(x.c, v["c"], w + ".c");
      expect_decimal(x.h, v["h"], w + ".h");
      expect_decimal(x.l, v["l"], w + ".l");
      expect_decimal(x.v, v["v"], w + ".v");
      expect_decimal(x.q, v["q"], w + ".q");
      expect_decimal(x.V, v["V"], w + ".V");
      expect_decimal(x.Q, v["Q"], w + ".Q");
      if (v.contains("B")) expect_decimal(x.B, v["B"], w + ".B");
    } else {
      ADD_FAILURE() << "field the parser does not read: " << w;
    }
  }
}

struct Parsed {
  RejectReason r;
  Message m;
};

Parsed parse_text(BinanceParser& p, const std::string& text) {
  std::string padded = text;
  padded.append(kPadding, '\0');
  Parsed out;
  out.r = p.parse(padded.data(), text.size(), out.m);
  return out;
}

FrameSet load(const std::string& rel) {
  FrameSet fs;
  std::string err;
  EXPECT_TRUE(fs.load_file(tickpath::test::data_file(rel), err)) << err;
  return fs;
}

}  // namespace

TEST(BinanceParser_RealFrames, EveryFrameOfEveryFileParsesAndMatchesNlohmann) {
  BinanceParser parser;
  Message m;
  std::size_t total = 0;
  const auto files = tickpath::test::ws_files();
  ASSERT_GE(files.size(), 14U);
  for (const auto& path : files) {
    FrameSet fs;
    std::string err;
    ASSERT_TRUE(fs.load_file(path, err)) << err;
    ASSERT_GT(fs.size(), 0U) << path;
    for (std::size_t i = 0; i < fs.size(); ++i) {
      const auto f = fs.frame(i);
      const std::string where = path + ":" + std::to_string(fs.frames()[i].line);
      ASSERT_EQ(parser.parse(f.data(), f.size(), m), RejectReason::none) << where << " field " << (m.bad_field ? m.bad_field : "-");
      const json j = json::parse(f);
      cross_check(m, j, where);
      if (::testing::Test::HasFailure()) return;
      ++total;
    }
  }
  // 4716 + 4719 + 11357 + 3286 + 1228 + 1003 + 265 + 71 + 3 + 2 + 3 REST snapshots
  EXPECT_EQ(total, 26653U);
}

TEST(BinanceParser_RealFrames, ExactValuesOfKnownFrames) {
  BinanceParser p;
  Message m;
  {
    auto fs = load("ws/andreytokmakov_2025-11-08_btcusdt_trade_single.json");
    ASSERT_EQ(fs.size(), 1U);
    ASSERT_EQ(p.parse(fs.frame(0).data(), fs.frame(0).size(), m), RejectReason::none);
    EXPECT_EQ(m.type, MessageType::trade);
    EXPECT_EQ(m.stream, "btcusdt@trade");
    EXPECT_EQ(m.E, 1762578805373);
    EXPECT_EQ(m.t, 5455447976);
    EXPECT_EQ(m.p.e8, 10'257'117'000'000LL);
    EXPECT_EQ(m.p.value, 102571.17);
    EXPECT_EQ(m.q.e8, 100'000);
    EXPECT_EQ(m.T, 1762578805372);
    EXPECT_TRUE(m.m);
    EXPECT_TRUE(m.M);
  }
  {
    auto fs = load("ws/cryptofeed_2021-04-04_btcusdt-ethusdt-dotusdt_combined.jsonl");
    // Line 4 (index 3) onwards holds the first BTCUSDT aggTrade; find it.
    std::size_t i = 0;
    for (; i < fs.size(); ++i)
      if (fs.frame(i).find("btcusdt@aggTrade") != std::string_view::npos) break;
    ASSERT_LT(i, fs.size());
    ASSERT_EQ(p.parse(fs.frame(i).data(), fs.frame(i).size(), m), RejectReason::none);
    EXPECT_EQ(m.type, MessageType::agg_trade);
    EXPECT_EQ(m.a_id, 665076760);
    EXPECT_EQ(m.p.e8, 5'800'103'000'000LL);
    EXPECT_EQ(m.q.e8, 8'620'500);
    EXPECT_EQ(m.f, 745522877);
    EXPECT_EQ(m.l, 745522877);
    EXPECT_EQ(m.T, 1617566591314);
    EXPECT_TRUE(m.m);
    for (i = 0; i < fs.size(); ++i)
      if (fs.frame(i).find("ethusdt@kline_1m") != std::string_view::npos) break;
    ASSERT_EQ(p.parse(fs.frame(i).data(), fs.frame(i).size(), m), RejectReason::none);
    EXPECT_EQ(m.type, MessageType::kline);
    EXPECT_EQ(m.k.t, 1617566580000);
    EXPECT_EQ(m.k.interval_s, 60U);
    EXPECT_EQ(m.k.o.e8, 206'388'000'000LL);
    EXPECT_EQ(m.k.c.e8, 206'473'000'000LL);
    EXPECT_EQ(m.k.v.e8, 7'086'425'000LL);
    EXPECT_EQ(m.k.n, 71);
    EXPECT_FALSE(m.k.x);
    EXPECT_EQ(m.k.Q.e8, 9'700'977'617'410LL);
  }
  {
    auto fs = load("ws/andreytokmakov_2025-11-14_btcusdt_bookTicker-depth100ms_combined.jsonl");
    ASSERT_EQ(fs.size(), 3U);
    ASSERT_EQ(p.parse(fs.frame(0).data(), fs.frame(0).size(), m), RejectReason::none);
    EXPECT_EQ(m.type, MessageType::book_ticker);
    EXPECT_EQ(m.u, 80630992451);
    EXPECT_EQ(m.b.e8, 9'579'461'000'000LL);
    EXPECT_EQ(m.B.e8, 41'915'000);
    EXPECT_EQ(m.a.e8, 9'579'462'000'000LL);
    EXPECT_EQ(m.A.e8, 220'768'000);
    ASSERT_EQ(p.parse(fs.frame(1).data(), fs.frame(1).size(), m), RejectReason::none);
    EXPECT_EQ(m.type, MessageType::depth_update);
    EXPECT_EQ(m.U, 80630991978);
    EXPECT_EQ(m.u, 80630992451);
    EXPECT_EQ(m.bids.size, 136U);
    EXPECT_EQ(m.asks.size, 74U);
    EXPECT_EQ(m.bids.data[1].qty.e8, 0);  // "95793.89000000","0.00000000": remove the level
  }
  {
    auto fs = load("ws/andreytokmakov_2025-11-08_btcusdt_depth20-100ms_single.json");
    ASSERT_EQ(p.parse(fs.frame(0).data(), fs.frame(0).size(), m), RejectReason::none);
    EXPECT_EQ(m.type, MessageType::depth);
    EXPECT_EQ(m.symbol, "btcusdt");  // partial depth has no "s": from the stream name
    EXPECT_EQ(m.last_update_id, 80089389252);
    EXPECT_EQ(m.bids.size, 20U);
    EXPECT_EQ(m.asks.size, 20U);
    EXPECT_EQ(m.bids.data[0].price.e8, 10'257'117'000'000LL);
    EXPECT_EQ(m.bids.data[0].qty.e8, 38'980'000);
  }
  {
    auto fs = load("ws/cryptofeed_2021-04-04_rest_depth_snapshot_BTCUSDT.json");
    ASSERT_EQ(p.parse(fs.frame(0).data(), fs.frame(0).size(), m), RejectReason::none);
    EXPECT_EQ(m.type, MessageType::depth);
    EXPECT_EQ(m.last_update_id, 9893033066);
    EXPECT_EQ(m.bids.size, 1000U);
    EXPECT_EQ(m.asks.size, 1000U);
    EXPECT_EQ(m.bids.data[0].price.e8, 5'800'103'000'000LL);
  }
}

TEST(BinanceParser_RecorderFile, RestBodiesCarryTheirSymbolAndTime) {
  auto fs = load("ws/cryptofeed_2021-04-04_btcusdt-ethusdt-dotusdt_raw-recording.txt");
  EXPECT_EQ(fs.metadata_lines(), 1U);
  EXPECT_EQ(fs.size(), 4719U);
  int rest = 0;
  for (const auto& f : fs.frames()) {
    EXPECT_GE(f.recv_time_ns, 1'617'566'590'000'000'000LL);
    if (!f.symbol_hint.empty()) ++rest;
  }
  EXPECT_EQ(rest, 3);
}

TEST(FeedHandler_Sequence, GapsInRealRecordingAreFoundWhereTheRecorderRestarted) {
  tickpath::infra::SymbolTable symbols;
  FeedHandler h(symbols);
  auto fs = load("ws/lukasbraun2_2025-07-13_btcusdt_depth1000ms_raw-stream.jsonl");
  Event ev;
  std::vector<std::uint32_t> gap_lines;
  for (std::size_t i = 0; i < fs.size(); ++i) {
    ASSERT_EQ(h.on_frame(fs.frame(i).data(), fs.frame(i).size(), {}, ev), RejectReason::none);
    if (ev.flags & event_flag::seq_gap) gap_lines.push_back(fs.frames()[i].line);
  }
  EXPECT_EQ(gap_lines, (std::vector<std::uint32_t>{23, 65, 69}));
  EXPECT_EQ(h.counters().depth_gaps.load(), 3U);
}

TEST(FeedHandler_Sequence, ContiguousRecordingsHaveNoGapsAndNeverAllocate) {
  for (const char* rel : {"ws/andreytokmakov_2025-12-07_btcusdt_depth100ms_combined.jsonl",
                          "ws/cryptofeed_2021-04-04_btcusdt-ethusdt-dotusdt_combined.jsonl"}) {
    tickpath::infra::SymbolTable symbols;
    FeedHandler h(symbols);
    auto fs = load(rel);
    Event ev;
    tickpath::test::AllocationScope scope;
    for (std::size_t i = 0; i < fs.size(); ++i)
      ASSERT_EQ(h.on_frame(fs.frame(i).data(), fs.frame(i).size(), {}, ev), RejectReason::none);
    EXPECT_EQ(scope.count(), 0U) << rel;
    EXPECT_EQ(h.counters().depth_gaps.load(), 0U) << rel;
    EXPECT_EQ(h.counters().events.load(), fs.size());
  }
}

TEST(BinanceParser_BadInput, EachProblemHasItsReason) {
  BinanceParser p;
  const std::string trade =
      R"({"e":"trade","E":1,"s":"BTCUSDT","t":2,"p":"1.5","q":"2.0","T":3,"m":false,"M":true})";
  struct Case {
    std::string text;
    RejectReason want;
  };
  std::string huge_levels = R"({"lastUpdateId":1,"bids":[)";
  for (int i = 0; i < 5001; ++i) huge_levels += std::string(i ? "," : "") + R"(["1.0","1.0"])";
  huge_levels += R"(],"asks":[]})";
  const Case cases[] = {
      {"", RejectReason::empty_frame},
      {"{", RejectReason::malformed_json},
      {"[1,2]", RejectReason::not_an_object},
      {"\"str\"", RejectReason::not_an_object},
      {R"({"e":"outboundAccountPosition","E":1})", RejectReason::unknown_event},
      {R"({"result":null,"id":1})", RejectReason::unknown_event},
      {R"({"e":"trade","E":1,"s":"BTCUSDT","t":2,"p":"1.5","q":"2.0","T":3})", RejectReason::missing_field},
      {R"({"e":"trade","E":"1","s":"BTCUSDT","t":2,"p":"1.5","q":"2.0","T":3,"m":false})", RejectReason::wrong_type},
      {R"({"e":"trade","E":1,"s":"BTCUSDT","t":2,"p":1.5,"q":"2.0","T":3,"m":false})", RejectReason::wrong_type},
      {R"({"e":"trade","E":1,"s":"BTCUSDT","t":2,"p":"1.5x","q":"2.0","T":3,"m":false})", RejectReason::bad_decimal},
      {R"({"e":"trade","E":1,"s":"BTCUSDT","t":2,"p":"1e400","q":"2.0","T":3,"m":false})", RejectReason::bad_decimal},
      {R"({"e":"trade","E":1,"s":"BTCUSDT","t":2,"p":"99999999999999.0","q":"2.0","T":3,"m":false})",
       RejectReason::decimal_out_of_range},
      {R"({"e":"trade","E":1,"s":"BTCUSDT","t":99999999999999999999999,"p":"1","q":"2.0","T":3,"m":false})",
       RejectReason::wrong_type},
      {R"({"stream":"ethusdt@trade","data":)" + trade + "}", RejectReason::symbol_mismatch},
      {trade + " x", RejectReason::malformed_json},
      {trade + trade, RejectReason::malformed_json},
      {R"({"e":"kline","E":1,"s":"B","k":{"t":1,"T":2,"s":"B","i":"7x","f":1,"L":2,"o":"1","c":"1","h":"1","l":"1","v":"1","n":1,"x":true,"q":"1","V":"1","Q":"1"}})",
       RejectReason::bad_interval},
      {R"({"e":"depthUpdate","E":1,"s":"B","U":1,"u":2,"b":[["1.0"]],"a":[]})", RejectReason::wrong_type},
      {R"({"e":"depthUpdate","E":1,"s":"B","U":1,"u":2,"b":[["1.0","2","3"]],"a":[]})", RejectReason::wrong_type},
      {huge_levels, RejectReason::too_many_levels},
      {"\xff\xfe{}", RejectReason::malformed_json},
  };
  for (const auto& c : cases) {
    const auto r = parse_text(p, c.text);
    EXPECT_EQ(r.r, c.want) << c.text.substr(0, 120) << " -> " << to_string(r.r);
  }
  // The parser still works after all of that.
  EXPECT_EQ(parse_text(p, trade).r, RejectReason::none);
  std::string big(BinanceParser::kMaxFrameBytes + 1, ' ');
  EXPECT_EQ(parse_text(p, big).r, RejectReason::frame_too_large);
}

TEST(BinanceParser_BadInput, EveryTruncationOfARealFrameIsARejectNotACrash) {
  auto fs = load("ws/cryptofeed_2021-04-04_btcusdt-ethusdt-dotusdt_combined.jsonl");
  BinanceParser p;
  for (std::size_t i : {0UL, 100UL, 200UL}) {
    const std::string f(fs.frame(i));
    for (std::size_t len = 0; len < f.size(); ++len)
      EXPECT_NE(parse_text(p, f.substr(0, len)).r, RejectReason::none) << "prefix " << len << " of " << f;
  }
}

// The single-pass reader against simdjson On-Demand (the authority) on the
// same bytes: every real frame, every truncation of some, and seeded random
// byte edits, with the result compared field by field. A frame the single
// pass is not sure of goes to simdjson, so the two must never differ.
namespace {

bool same_decimal(const Decimal& a, const Decimal& b) { return a.e8 == b.e8 && bits(a.value) == bits(b.value); }

bool same_levels(const LevelSpan& a, const LevelSpan& b) {
  if (a.size != b.size) return false;
  for (std::uint32_t i = 0; i < a.size; ++i)
    if (!same_decimal(a.data[i].price, b.data[i].price) || !same_decimal(a.data[i].qty, b.data[i].qty)) return false;
  return true;
}

// Every field of Message; decimals bit for bit, strings by text.
std::string differences(RejectReason ra, const Message& a, RejectReason rb, const Message& b) {
  std::string d;
  auto check = [&](bool same, const char* what) {
    if (!same) d += std::string(d.empty() ? "" : ",") + what;
  };
  check(ra == rb, "reason");
  check((a.bad_field == nullptr) == (b.bad_field == nullptr) &&
            (a.bad_field == nullptr || std::string_view(a.bad_field) == b.bad_field),
        "bad_field");
  if (ra != RejectReason::none || rb != RejectReason::none) return d;  // fields of a rejected frame are not a contract
  check(a.type == b.type && a.present == b.present && a.kpresent == b.kpresent, "presence");
  check(a.stream == b.stream && a.symbol == b.symbol && a.event_name == b.event_name, "text");
  check(a.sim_seq == b.sim_seq && a.sim_tx_ns == b.sim_tx_ns, "sq/tx");
  check(a.E == b.E && a.T == b.T && a.t == b.t && a.a_id == b.a_id && a.b_id == b.b_id && a.f == b.f && a.l == b.l &&
            a.u == b.u && a.U == b.U && a.last_update_id == b.last_update_id && a.m == b.m && a.M == b.M,
        "integers");
  check(same_decimal(a.p, b.p) && same_decimal(a.q, b.q) && same_decimal(a.b, b.b) && same_decimal(a.B, b.B) &&
            same_decimal(a.a, b.a) && same_decimal(a.A, b.A),
        "decimals");
  check(same_levels(a.bids, b.bids) && same_levels(a.asks, b.asks), "levels");
  const auto &x = a.k, &y = b.k;
  check(x.t == y.t && x.T == y.T && x.f == y.f && x.L == y.L && x.n == y.n && x.s == y.s && x.i == y.i &&
            x.interval_s == y.interval_s && x.x == y.x && same_decimal(x.o, y.o) && same_decimal(x.c, y.c) &&
            same_decimal(x.h, y.h) && same_decimal(x.l, y.l) && same_decimal(x.v, y.v) && same_decimal(x.q, y.q) &&
            same_decimal(x.V, y.V) && same_decimal(x.Q, y.Q) && same_decimal(x.B, y.B),
        "kline");
  return d;
}

// The parser as it runs live (Binance's exact layouts, then the general
// single pass, then simdjson), the general single pass without the exact
// layouts, and simdjson alone (the authority).
struct Parsers {
  BinanceParser fast, general, checked;
  Message mf, mg, mc;
  Parsers() {
    general.set_exact_path(false);
    checked.set_fast_path(false);
  }
  // Empty when all three agree on `text`.
  std::string compare(const std::string& text) {
    std::string padded = text;
    padded.append(kPadding, '\0');
    mf = Message{};  // parse() resets presence, not the values of absent fields
    mg = Message{};
    mc = Message{};
    const auto rf = fast.parse(padded.data(), text.size(), mf);
    const auto rg = general.parse(padded.data(), text.size(), mg);
    const auto rc = checked.parse(padded.data(), text.size(), mc);
    if (std::string d = differences(rf, mf, rc, mc); !d.empty()) return "live parser vs simdjson: " + d;
    if (std::string d = differences(rg, mg, rc, mc); !d.empty()) return "general single pass vs simdjson: " + d;
    return {};
  }
};

// Whether a frame is written the way Binance writes its busiest streams
// today: the combined wrapper, no white space, and the current key set (a
// trade without the legacy order ids "b"/"a").
bool binance_exact_layout(std::string_view f, MessageType type) {
  if (f.substr(0, 11) != R"({"stream":")" || f.find_first_of(" \n\t\r") != std::string_view::npos) return false;
  switch (type) {
    case MessageType::trade: return f.find(R"("b":)") == std::string_view::npos;
    case MessageType::agg_trade:
    case MessageType::book_ticker:
    case MessageType::depth_update: return true;
    default: return false;
  }
}

}  // namespace

TEST(BinanceParser_FastPath, AgreesWithSimdjsonOnEveryRealFrameAndTakesThemAll) {
  Parsers two;
  std::size_t frames = 0, exact = 0;
  for (const auto& path : tickpath::test::ws_files()) {
    FrameSet fs;
    std::string err;
    ASSERT_TRUE(fs.load_file(path, err)) << err;
    for (std::size_t i = 0; i < fs.size(); ++i, ++frames) {
      const std::string f(fs.frame(i));
      const std::string d = two.compare(f);
      ASSERT_TRUE(d.empty()) << path << ":" << fs.frames()[i].line << " differs in " << d;
      exact += binance_exact_layout(f, two.mc.type);
    }
  }
  // Binance writes plain ASCII JSON: the single pass takes every real frame,
  // and its exact layouts every frame written in them.
  EXPECT_EQ(two.fast.fast_frames(), frames);
  EXPECT_EQ(two.fast.checked_frames(), 0U);
  EXPECT_GT(exact, frames / 2);
  EXPECT_EQ(two.fast.exact_frames(), exact);
  EXPECT_EQ(two.general.fast_frames(), frames);
  EXPECT_EQ(two.general.exact_frames(), 0U);
  EXPECT_EQ(two.checked.fast_frames(), 0U);
}

TEST(BinanceParser_FastPath, AgreesWithSimdjsonOnTruncatedAndEditedFrames) {
  Parsers two;
  std::vector<std::string> seeds;
  for (const char* rel : {"ws/cryptofeed_2021-04-04_btcusdt-ethusdt-dotusdt_combined.jsonl",
                          "ws/cryptofeed_2021-04-05_10symbols_bookTicker-aggTrade-depth_combined.jsonl",
                          "ws/andreytokmakov_2025-11-08_btcusdt_trade_single.json",
                          "ws/andreytokmakov_2025-11-08_btcusdt_depth20-100ms_single.json"}) {
    auto fs = load(rel);
    for (std::size_t i = 0; i < fs.size() && i < 400; i += 37) seeds.emplace_back(fs.frame(i));
  }
  ASSERT_GE(seeds.size(), 20U);
  // Bytes that change meaning in JSON, and some that never belong.
  const std::string alphabet = "{}[]\",:.-+eE0123456789 \n\t\\tfnul\x01\x7f\xc3\xa9\xff";
  std::uint64_t rng = 0x9E3779B97F4A7C15ULL;
  auto next = [&] {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
  };
  std::size_t cases = 0, accepted = 0;
  for (const auto& f : seeds) {
    for (std::size_t len = 0; len <= f.size(); len += 1 + f.size() / 64, ++cases) {
      const std::string d = two.compare(f.substr(0, len));
      ASSERT_TRUE(d.empty()) << "prefix " << len << " of " << f << " differs in " << d;
    }
    for (int k = 0; k < 300; ++k, ++cases) {
      std::string g = f;
      const int edits = 1 + static_cast<int>(next() % 3);
      for (int e = 0; e < edits; ++e) {
        const std::size_t at = next() % g.size();
        const char c = alphabet[next() % alphabet.size()];
        switch (next() % 3) {
          case 0: g[at] = c; break;
          case 1: g.insert(g.begin() + static_cast<std::ptrdiff_t>(at), c); break;
          default: g.erase(at, 1); break;
        }
      }
      const std::string d = two.compare(g);
      ASSERT_TRUE(d.empty()) << "edited frame " << g << " differs in " << d;
      accepted += two.mc.type != MessageType::none;
    }
  }
  EXPECT_GT(cases, 8000U);
  // Some edits keep the frame valid (a digit for a digit): both paths accepted those alike.
  EXPECT_GT(accepted, 100U);
  EXPECT_GT(two.fast.checked_frames(), 1000U);
  // The exact layouts took the edits that kept them, and handed on the rest.
  EXPECT_GT(two.fast.exact_frames(), 500U);
  EXPECT_GT(two.fast.fast_frames() - two.fast.exact_frames(), 500U);
}

TEST(BinanceParser_Symbol, StreamNameAndSymbolMustAgreeIgnoringCase) {
  BinanceParser p;
  auto upper = [](std::string x) {
    for (auto& c : x) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return x;
  };
  for (const std::string stream : {"btcusdt@trade", "BTCUSDT@trade", "btcusd@trade", "btcusdtx@trade", "trade", "@trade",
                                   "btc@usdt@trade", "bTcUsDt@trade@x"}) {
    for (const std::string sym : {"BTCUSDT", "btcusdt", "BTC", "BTC@USDT", "BTCUSDTX"}) {
      const auto at = stream.find('@');
      const std::string named = at == std::string::npos ? "" : stream.substr(0, at);
      const bool agree = named.empty() || upper(named) == upper(sym);
      const std::string frame = R"({"stream":")" + stream + R"(","data":{"e":"trade","E":1,"s":")" + sym +
                                R"(","t":2,"p":"1.5","q":"2.0","T":3,"m":false,"M":true}})";
      const auto r = parse_text(p, frame);
      EXPECT_EQ(r.r, agree ? RejectReason::none : RejectReason::symbol_mismatch) << stream << " / " << sym;
    }
  }
}
