#include "clickhouse_sink.hpp"

#include <fmt/format.h>

#include <utility>  // (Boost 1.74's Asio uses std::exchange without including it)

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstring>
#include <array>
#include <deque>

#include "spill_file.hpp"
#include "tickpath/feed/transport.hpp"

namespace tickpath::engine {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

enum Table : std::size_t { kTrades, kBars, kSignals, kLatency, kTables };
constexpr const char* kTableName[kTables] = {"trades", "bars_1m", "signals", "latency"};

std::string ddl(const std::string& db, Table t) {
  static constexpr const char* kColumns[kTables] = {
      "symbol String, time_ms Int64, id Int64, price Float64, qty Float64, buyer_maker UInt8, aggregate UInt8",
      "symbol String, open_time_ms Int64, open Float64, high Float64, low Float64, close Float64, volume Float64",
      "symbol String, time_ms Int64, action String, reason String, confidence Float64, value Float64, price Float64, "
      "position Int8, equity Float64, shard String",
      "symbol String, time_ms Int64, stage String, count UInt64, p50_ns Float64, p90_ns Float64, p99_ns Float64, "
      "p999_ns Float64, max_ns Float64"};
  static constexpr const char* kTime[kTables] = {"time_ms", "open_time_ms", "time_ms", "time_ms"};
  static constexpr const char* kKey[kTables] = {"(symbol, time_ms, id, aggregate)", "(symbol, open_time_ms)",
                                                "(symbol, time_ms, action, reason)", "(symbol, time_ms, stage)"};
  return fmt::format("CREATE TABLE IF NOT EXISTS {}.{} ({}) ENGINE = ReplacingMergeTree "
                     "PARTITION BY toYYYYMMDD(toDateTime(intDiv({}, 1000))) ORDER BY {}",
                     db, kTableName[t], kColumns[t], kTime[t], kKey[t]);
}

// RowBinary: little-endian fixed-width numbers, strings as LEB128 length + bytes.
template <class T>
void put(std::string& o, T v) {
  char b[sizeof v];
  std::memcpy(b, &v, sizeof v);
  o.append(b, sizeof v);
}
void put_str(std::string& o, std::string_view s) {
  std::uint64_t n = s.size();
  do {
    const auto byte = static_cast<unsigned char>(n & 0x7F);
    n >>= 7;
    o += static_cast<char>(n ? byte | 0x80 : byte);
  } while (n);
  o.append(s);
}

std::string url_encode(std::string_view s) {
  std::string o;
  for (const char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') o += c;
    else o += fmt::format("%{:02X}", static_cast<unsigned char>(c));
  }
  return o;
}

struct Batch {
  Table table = kTrades;  // (kTables: a DDL statement in `body`)
  std::string body;
  std::uint64_t rows = 0;
};

}  // namespace

struct ClickHouseSink::Impl {
  ClickHouseOptions opt;
  std::vector<std::string> names;
  std::string shard;
  asio::io_context ioc;
  tcp::endpoint endpoint;
  std::string host_header;
  // Rows being gathered per table, and when the oldest arrived.
  std::string open[kTables];
  std::uint64_t open_rows[kTables] = {};
  Clock::time_point opened[kTables];
  std::deque<Batch> queue;  // closed batches, oldest first (DDL first of all)
  std::size_t queued_bytes = 0;
  // Batches past `max_buffer_bytes` in memory wait here ([table][rows][RowBinary]),
  // and come back to the queue as it drains.
  SpillFile spill;
  std::uint64_t spill_rows = 0;
  // The request in flight (queue.front()), if any.
  std::unique_ptr<beast::tcp_stream> stream;
  http::request<http::string_body> req;
  http::response<http::string_body> res;
  beast::flat_buffer buf;
  bool busy = false;
  Clock::time_point retry_at{};
  std::string last_error;
  ClickHouseCounters c;

  void close_batch(Table t) {
    if (open_rows[t] == 0) return;
    const std::uint64_t rows = open_rows[t];
    std::string body = std::move(open[t]);
    open[t].clear();
    open_rows[t] = 0;
    // Bounded in memory: past the limit (or behind batches already waiting
    // on disk) the batch waits in the spill file; only a disk that refuses
    // it loses it (counted).
    if (spill.pending() != 0 || (queued_bytes + body.size() > opt.max_buffer_bytes && !queue.empty())) {
      const auto table = static_cast<char>(t);
      if (spill.put({std::string_view(&table, 1), std::string_view(reinterpret_cast<const char*>(&rows), sizeof rows), body})) {
        c.spilled += rows;
        spill_rows += rows;
      } else {
        c.dropped += rows;
        if (last_error.empty()) last_error = "cannot write the spill file " + spill.path();
      }
      return;
    }
    queued_bytes += body.size();
    queue.push_back({t, std::move(body), rows});
  }
  // Batches back from disk while the queue has room.
  void unspill() {
    std::array<std::string_view, SpillFile::kMaxFields> f;
    while (spill.pending() != 0 && queued_bytes < opt.max_buffer_bytes / 2 && spill.front(f)) {
      std::uint64_t rows = 0;
      std::memcpy(&rows, f[1].data(), sizeof rows);
      queue.push_back({static_cast<Table>(f[0][0]), std::string(f[2]), rows});
      queued_bytes += f[2].size();
      spill_rows -= rows;
      spill.pop();
    }
  }
  std::string& row(Table t) {
    if (open_rows[t]++ == 0) opened[t] = Clock::now();
    return open[t];
  }
  void after_row(Table t) {
    if (open_rows[t] >= opt.batch_rows) close_batch(t);
  }

  void fail(const std::string& why) {
    ++c.failures;
    last_error = why;
    busy = false;
    if (stream) {
      beast::error_code ec;
      stream->socket().close(ec);
      stream.reset();
    }
    retry_at = Clock::now() + std::chrono::milliseconds(500);
  }

  void send_front() {
    if (busy || queue.empty() || Clock::now() < retry_at) return;
    busy = true;
    const Batch& b = queue.front();
    const std::string query = b.table == kTables ? std::string{} :
        fmt::format("INSERT INTO {}.{} FORMAT RowBinary", opt.database, kTableName[b.table]);
    req = {http::verb::post, b.table == kTables ? "/" : "/?query=" + url_encode(query), 11};
    req.set(http::field::host, host_header);
    req.set(http::field::user_agent, "tickpath");
    req.keep_alive(true);
    req.body() = b.body;
    req.prepare_payload();
    res = {};
    auto write = [this] {
      stream->expires_after(std::chrono::seconds(10));
      http::async_write(*stream, req, [this](beast::error_code ec, std::size_t) {
        if (ec) return fail("write: " + ec.message());
        http::async_read(*stream, buf, res, [this](beast::error_code ec2, std::size_t) {
          if (ec2) return fail("read: " + ec2.message());
          if (res.result() != http::status::ok) {
            std::string body = res.body().substr(0, 200);
            while (!body.empty() && body.back() == '\n') body.pop_back();
            return fail(fmt::format("HTTP {}: {}", res.result_int(), body));
          }
          const Batch& done = queue.front();
          if (done.table != kTables) {
            ++c.batches;
            std::uint64_t* counter[kTables] = {&c.trades, &c.bars, &c.signals, &c.latency};
            *counter[done.table] += done.rows;
          }
          queued_bytes -= done.body.size();
          queue.pop_front();
          busy = false;
          if (!res.keep_alive()) stream.reset();
          send_front();
        });
      });
    };
    if (stream) return write();
    stream = std::make_unique<beast::tcp_stream>(ioc);
    stream->expires_after(std::chrono::seconds(5));
    stream->async_connect(endpoint, [this, write](beast::error_code ec) {
      if (ec) return fail("connect: " + ec.message());
      write();
    });
  }
};

ClickHouseSink::ClickHouseSink() : impl_(std::make_unique<Impl>()) {}
ClickHouseSink::~ClickHouseSink() = default;

bool ClickHouseSink::start(const ClickHouseOptions& o, std::vector<std::string> symbol_names, std::string shard,
                           std::string& error) {
  Impl& m = *impl_;
  m.opt = o;
  m.names = std::move(symbol_names);
  m.shard = std::move(shard);
  feed::Url u;
  if (o.url.rfind("http://", 0) != 0 || !feed::parse_url(o.url, u, error) || u.tls)
    return error = "--clickhouse takes http://HOST:PORT (the HTTP interface, 8123 by default), not '" + o.url + "'", false;
  for (const char ch : o.database)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_'))
      return error = "--clickhouse-db: '" + o.database + "' is not a plain database name", false;
  beast::error_code ec;
  tcp::resolver resolver(m.ioc);
  const auto found = resolver.resolve(u.host, std::to_string(u.port), ec);
  if (ec || found.empty()) return error = fmt::format("--clickhouse {}: cannot resolve {}: {}", o.url, u.host, ec.message()), false;
  m.endpoint = *found.begin();
  m.host_header = fmt::format("{}:{}", u.host, u.port);
  if (!m.spill.open(o.spill_dir, "clickhouse-spill", error)) return false;
  if (o.database != "default") m.queue.push_back({kTables, "CREATE DATABASE IF NOT EXISTS " + o.database, 0});
  for (std::size_t t = 0; t < kTables; ++t) m.queue.push_back({kTables, ddl(o.database, static_cast<Table>(t)), 0});
  for (const auto& b : m.queue) m.queued_bytes += b.body.size();
  return true;
}

void ClickHouseSink::on_trade(const UiTrade& t) {
  Impl& m = *impl_;
  if (t.symbol >= m.names.size()) return;
  std::string& o = m.row(kTrades);
  put_str(o, m.names[t.symbol]);
  put<std::int64_t>(o, t.time_ms);
  put<std::int64_t>(o, t.id);
  put<double>(o, t.price);
  put<double>(o, t.qty);
  put<std::uint8_t>(o, t.buyer_maker);
  put<std::uint8_t>(o, t.aggregate);
  m.after_row(kTrades);
}

void ClickHouseSink::on_bar(const UiBar& b) {
  Impl& m = *impl_;
  if (b.symbol >= m.names.size()) return;
  std::string& o = m.row(kBars);
  put_str(o, m.names[b.symbol]);
  put<std::int64_t>(o, b.bar.open_time_ms);
  for (const double v : {b.bar.open, b.bar.high, b.bar.low, b.bar.close, b.bar.volume}) put<double>(o, v);
  m.after_row(kBars);
}

void ClickHouseSink::on_signal(const infra::Signal& s) {
  Impl& m = *impl_;
  if (s.symbol >= m.names.size()) return;
  std::string& o = m.row(kSignals);
  put_str(o, m.names[s.symbol]);
  put<std::int64_t>(o, s.event_time_ms);
  put_str(o, infra::to_string(s.action));
  put_str(o, infra::to_string(s.reason));
  put<double>(o, s.confidence);
  put<double>(o, s.value);
  put<double>(o, s.price);
  put<std::int8_t>(o, s.position);
  put<double>(o, s.equity);
  put_str(o, m.shard);
  m.after_row(kSignals);
}

void ClickHouseSink::on_latency(std::int64_t time_ms, const std::string& stage, const infra::HistogramSnapshot& h) {
  Impl& m = *impl_;
  if (h.count() == 0) return;
  const auto p = h.summary();
  std::string& o = m.row(kLatency);
  put_str(o, m.shard);
  put<std::int64_t>(o, time_ms);
  put_str(o, stage);
  put<std::uint64_t>(o, h.count());
  for (const double v : {p.p50_ns, p.p90_ns, p.p99_ns, p.p999_ns, p.max_ns}) put<double>(o, v);
  m.after_row(kLatency);
}

void ClickHouseSink::poll() {
  Impl& m = *impl_;
  const auto now = Clock::now();
  for (std::size_t t = 0; t < kTables; ++t)
    if (m.open_rows[t] != 0 && now - m.opened[t] >= std::chrono::milliseconds(m.opt.batch_ms)) m.close_batch(static_cast<Table>(t));
  m.unspill();
  m.send_front();
  m.ioc.poll();
  m.ioc.restart();
}

void ClickHouseSink::finish(int idle_ms, int max_ms, const std::atomic<bool>* cancel) {
  Impl& m = *impl_;
  for (std::size_t t = 0; t < kTables; ++t) m.close_batch(static_cast<Table>(t));
  const auto start = Clock::now();
  auto last_progress = start;
  std::uint64_t batches = m.c.batches;
  while ((!m.queue.empty() || m.spill.pending() != 0) && !(cancel != nullptr && cancel->load())) {
    const auto now = Clock::now();
    if (m.c.batches != batches) batches = m.c.batches, last_progress = now;
    if (now - last_progress >= std::chrono::milliseconds(idle_ms) || now - start >= std::chrono::milliseconds(max_ms)) break;
    m.unspill();
    m.send_front();
    m.ioc.run_for(std::chrono::milliseconds(20));
    m.ioc.restart();
  }
}

ClickHouseCounters ClickHouseSink::counters() const {
  ClickHouseCounters c = impl_->c;
  c.last_error = impl_->last_error;
  for (const auto& b : impl_->queue) c.pending += b.rows;
  for (const auto n : impl_->open_rows) c.pending += n;
  c.pending += impl_->spill_rows;
  return c;
}

}  // namespace tickpath::engine
