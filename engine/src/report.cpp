#include <fmt/format.h>

#include <cmath>

#include "tickpath/engine/pipeline.hpp"

namespace tickpath::engine {

namespace {
std::string num(double v) {
  if (!std::isfinite(v)) return "null";
  return fmt::format("{:.6g}", v);
}
std::string cell(double v, int prec = 2) { return std::isfinite(v) ? fmt::format("{:.{}f}", v, prec) : "-"; }
std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o;
}
}  // namespace

std::string RunReport::to_json() const {
  std::string o = "{";
  o += fmt::format("\"feed\":\"{}\",\"messages\":{},\"events\":{},\"processed\":{},\"rejects\":{},\"dropped\":{},",
                   esc(feed), messages, events, processed, rejects, dropped);
  o += "\"reject_reasons\":{";
  bool first = true;
  for (std::size_t i = 1; i < reject_by_reason.size(); ++i) {
    if (reject_by_reason[i] == 0) continue;
    o += fmt::format("{}\"{}\":{}", first ? "" : ",", feed::to_string(static_cast<feed::RejectReason>(i)),
                     reject_by_reason[i]);
    first = false;
  }
  o += "},";
  o += fmt::format(
      "\"backpressure_ns\":{},\"depth_gaps\":{},\"late_trades\":{},\"bars_closed\":{},\"not_bar_source\":{},"
      "\"symbol_over_capacity\":{},\"laps\":{},\"metadata_lines\":{},\"order_books\":{{\"books\":{},\"synced\":{},"
      "\"snapshots\":{},\"out_of_sync\":{}}},",
      num(backpressure_ns), depth_gaps, late_trades, bars_closed, not_bar_source, symbol_over_capacity, laps,
      metadata_lines, books, books_synced, book_snapshots, book_out_of_sync);
  o.pop_back();  // the order_books object is reopened to list its books
  o.pop_back();
  o += fmt::format(",\"diffs_held\":{},\"states\":[", diffs_held);
  for (std::size_t i = 0; i < book_states.size(); ++i) {
    const auto& b = book_states[i];
    o += fmt::format("{}{{\"symbol\":\"{}\",\"synced\":{},\"last_update_id\":{},\"bid_levels\":{},\"ask_levels\":{},"
                     "\"best_bid\":{},\"best_ask\":{},\"checksum\":\"{:016x}\",\"top_checksum\":\"{:016x}\",\"level_overflows\":{},\"bad_levels\":{}}}",
                     i ? "," : "", esc(b.symbol), b.synced, b.last_update_id, b.bid_levels, b.ask_levels, num(b.best_bid),
                     num(b.best_ask), b.checksum, b.top_checksum, b.level_overflows, b.bad_levels);
  }
  o += "]},";
  o += fmt::format("\"duration_s\":{},\"throughput_msgs_per_s\":{},\"hot_threads\":{},\"clock\":\"{}\",\"clock_overhead_ns\":{},",
                   num(duration_s), num(throughput_msgs_per_s), inline_strategy ? 1 : 2, clock, num(clock_overhead_ns));
  if (!clock_note.empty()) o += fmt::format("\"clock_note\":\"{}\",", esc(clock_note));
  if (!policy_backend.empty()) {
    o += fmt::format(
        "\"policy\":{{\"backend\":\"{}\",\"critic\":{},\"model\":\"{}\",\"signals\":{},\"hold\":{},\"buy\":{},"
        "\"sell\":{},\"signal_drops\":{},\"warmup_skips\":{},\"non_finite_observations\":{},\"held_low_confidence\":{},"
        "\"held_cooldown\":{}}},",
        policy_backend, policy_critic, esc(model), signals, signals_by_action[0], signals_by_action[1],
        signals_by_action[2], signal_drops, policy_warmup_skips, non_finite_observations, held_low_confidence,
        held_cooldown);
  }
  if (live) {
    o += fmt::format(
        "\"live\":{{\"tls\":\"{}\",\"reconnects\":{},\"rotations\":{},\"rotation_held\":{},\"rotation_hold_full\":{},"
        "\"stale_reconnects\":{},\"connect_failures\":{},"
        "\"connect_rate_limited\":{},\"outage_s\":{},\"duplicates\":{},\"sq_missing\":{},\"snapshot_fetches\":{},"
        "\"snapshot_failures\":{},\"snapshots_applied\":{},\"pings\":{},\"pongs\":{},\"last_error\":\"{}\",\"connections\":[",
        esc(tls), reconnects, rotations, rotation_held, rotation_hold_full, stale_reconnects, connect_failures,
        connect_rate_limited, num(outage_s),
        duplicates, sq_missing, snapshot_fetches, snapshot_failures, snapshots_applied, pings, pongs,
        esc(last_connect_error));
    for (std::size_t i = 0; i < connections.size(); ++i) {
      const auto& c = connections[i];
      o += fmt::format("{}{{\"id\":{},\"slot\":{},\"opened_s\":{},\"closed_s\":{},\"messages\":{},\"sq_missing\":{},"
                       "\"end\":\"{}\"}}",
                       i ? "," : "", c.id, c.slot, num(c.opened_s), c.closed_s < 0 ? "null" : num(c.closed_s), c.messages,
                       c.sq_missing, esc(c.end));
    }
    o += "]},";
  }
  if (feed.rfind("udp://", 0) == 0)
    o += fmt::format("\"udp\":{{\"datagrams\":{},\"truncated\":{},\"missing_by_sequence\":{}}},", udp_datagrams,
                     udp_truncated, sq_missing);
  if (!journal_dir.empty())
    o += fmt::format("\"journal\":{{\"dir\":\"{}\",\"frames\":{},\"bytes\":{},\"files\":{},\"drops\":{},\"error\":\"{}\"}},",
                     esc(journal_dir), journal_frames, journal_bytes, journal_files, journal_drops, esc(journal_error));
  if (!ui_address.empty())
    o += fmt::format("\"ui\":{{\"address\":\"{}\",\"requests\":{},\"connections\":{},\"ws_clients\":{},\"ws_messages\":{},"
                     "\"ws_coalesced\":{},\"bar_drops\":{},\"tape_drops\":{}}},",
                     esc(ui_address), ui_requests, ui_connections, ui_ws_clients, ui_ws_messages, ui_ws_coalesced, ui_bar_drops,
                     ui_tape_drops);
  if (!nats_url.empty())
    o += fmt::format("\"nats\":{{\"url\":\"{}\",\"published\":{},\"failed\":{},\"bytes\":{},\"disconnects\":{},"
                     "\"reconnects\":{},\"stream\":\"{}\",\"acked\":{},\"duplicates\":{},\"ack_errors\":{},"
                     "\"spilled\":{},\"unsent\":{}}},",
                     esc(nats_url), nats_published, nats_failed, nats_bytes, nats_disconnects, nats_reconnects,
                     esc(nats_stream), nats_acked, nats_duplicates, nats_ack_errors, nats_spilled, nats_unsent);
  if (!export_dir.empty())
    o += fmt::format("\"export\":{{\"dir\":\"{}\",\"trades\":{},\"bars\":{},\"signals\":{},\"outside_range\":{}}},",
                     esc(export_dir), export_trades, export_bars, export_signals, export_outside);
  if (!clickhouse_url.empty())
    o += fmt::format("\"clickhouse\":{{\"url\":\"{}\",\"rows\":{{\"trades\":{},\"bars_1m\":{},\"signals\":{},\"latency\":{}}},"
                     "\"batches\":{},\"failures\":{},\"spilled\":{},\"dropped\":{},\"unsent\":{}}},",
                     esc(clickhouse_url), ch_trades, ch_bars, ch_signals, ch_latency, ch_batches, ch_failures, ch_spilled,
                     ch_dropped, ch_unsent);
  if (!warm_from.empty())
    o += fmt::format("\"warm_start\":{{\"from\":\"{}\",\"frames\":{},\"events\":{},\"rejects\":{},\"duplicates\":{},"
                     "\"seconds\":{}}},",
                     esc(warm_from), warm_frames, warm_events, warm_rejects, warm_duplicates, num(warm_s));
  if (journal_replay) o += "\"journal_replay\":true,";
  if (!stopped_by.empty()) o += fmt::format("\"stopped_by\":\"{}\",", stopped_by);
  if (delivery_cut_short) o += "\"delivery_cut_short\":true,";
  o += "\"warnings\":[";
  for (std::size_t i = 0; i < warnings.size(); ++i) o += fmt::format("{}\"{}\"", i ? "," : "", esc(warnings[i]));
  o += "],\"hygiene\":[";
  for (std::size_t i = 0; i < hygiene.size(); ++i) o += fmt::format("{}\"{}\"", i ? "," : "", esc(hygiene[i]));
  o += "],\"steal\":[";
  for (std::size_t i = 0; i < steal.size(); ++i)
    o += fmt::format("{}{{\"cpu\":{},\"ms\":{},\"fraction\":{}}}", i ? "," : "", steal[i].cpu, num(steal[i].ms),
                     num(steal[i].fraction));
  o += "],\"stages\":{";
  for (std::size_t i = 0; i < stages.size(); ++i) {
    const auto& p = stages[i].p;
    o += fmt::format(
        "{}\"{}\":{{\"count\":{},\"p50_ns\":{},\"p90_ns\":{},\"p99_ns\":{},\"p999_ns\":{},\"p9999_ns\":{},"
        "\"max_ns\":{},\"mean_ns\":{},\"overflow\":{}}}",
        i ? "," : "", stages[i].name, p.count, num(p.p50_ns), num(p.p90_ns), num(p.p99_ns), num(p.p999_ns),
        num(p.p9999_ns), num(p.max_ns), num(p.mean_ns), p.overflow);
  }
  o += "},\"symbols\":{";
  for (std::size_t i = 0; i < symbols.size(); ++i) {
    const auto& s = symbols[i];
    o += fmt::format(
        "{}\"{}\":{{\"bar_source\":\"{}\",\"trades\":{},\"bars\":{},\"depth_events\":{},\"depth_gaps\":{},"
        "\"price_anomalies\":{},\"volume_anomalies\":{},\"close\":{},\"sma_20\":{},\"ema_12\":{},\"rsi_14\":{},"
        "\"macd\":{},\"macd_signal\":{},\"bb_upper\":{},\"bb_lower\":{},\"mean_5m\":{},\"mean_1h\":{},\"vwap\":{},"
        "\"book_bid\":{},\"book_ask\":{},\"book_imbalance_top5\":{}",
        i ? "," : "", esc(s.name), s.bar_source, s.trades, s.bars, s.depth_events, s.depth_gaps, s.price_anomalies,
        s.volume_anomalies, num(s.last.close), num(s.last.sma_20), num(s.last.ema_12), num(s.last.rsi_14),
        num(s.last.macd.macd), num(s.last.macd.signal), num(s.last.bb.upper), num(s.last.bb.lower),
        num(s.window_mean_5m), num(s.window_mean_1h), num(s.vwap), num(s.book_bid), num(s.book_ask),
        num(s.book_imbalance));
    if (s.has_signal)
      o += fmt::format(",\"signal_digest\":\"{:016x}\"", s.signal_digest);
    if (s.has_signal)
      o += fmt::format(",\"signals\":{},\"last_signal\":{{\"action\":\"{}\",\"confidence\":{},\"value\":{},\"price\":{},"
                       "\"event_time_ms\":{},\"reason\":\"{}\"}}",
                       s.signals, infra::to_string(s.last_signal.action), num(s.last_signal.confidence),
                       num(s.last_signal.value), num(s.last_signal.price), s.last_signal.event_time_ms,
                       infra::to_string(s.last_signal.reason));
    if (s.has_portfolio)
      o += fmt::format(",\"portfolio\":{{\"equity\":{},\"total_return\":{},\"realised_pnl\":{},\"unrealised_pnl\":{},"
                       "\"trades\":{},\"fees\":{},\"turnover\":{},\"max_drawdown\":{}}}",
                       num(s.portfolio.equity), num(s.portfolio.total_return), num(s.portfolio.realised_pnl),
                       num(s.portfolio.unrealised_pnl), s.portfolio.round_trips, num(s.portfolio.fees),
                       num(s.portfolio.turnover), num(s.portfolio.max_drawdown));
    o += "}";
  }
  o += "}}";
  return o;
}

std::string RunReport::to_table() const {
  std::string o;
  o += fmt::format("tickpath run: {}\n", feed);
  o += fmt::format("  frames {}  events {}  processed {}  rejects {}  dropped {}  depth gaps {}  late trades {}\n",
                   messages, events, processed, rejects, dropped, depth_gaps, late_trades);
  for (std::size_t i = 1; i < reject_by_reason.size(); ++i)
    if (reject_by_reason[i] != 0)
      o += fmt::format("    reject {:<22} {}\n", feed::to_string(static_cast<feed::RejectReason>(i)), reject_by_reason[i]);
  o += fmt::format("  {:.3f} s, {:.0f} frames/s, backpressure {:.3f} ms, bars closed {}, laps {}{}\n", duration_s,
                   throughput_msgs_per_s, backpressure_ns * 1e-6, bars_closed, laps,
                   inline_strategy ? "; one hot thread (the feed thread ran the strategy)" : "");
  if (books > 0) {
    std::uint64_t overflows = 0, bad = 0;
    for (const auto& b : book_states) overflows += b.level_overflows, bad += b.bad_levels;
    o += fmt::format("  order books {} ({} synced at the end), {} snapshots applied, {} diffs out of sequence (need a new snapshot), "
                     "{} held while a snapshot was fetched, {} levels past capacity, {} levels refused (price <= 0 or "
                     "quantity < 0)\n",
                     books, books_synced, book_snapshots, book_out_of_sync, diffs_held, overflows, bad);
  }
  if (live) {
    o += fmt::format("  live: TLS {}, {} connections, {} reconnects ({} stale), {} rotations, {} failed connects, "
                     "outage {:.3f} s, {} duplicates dropped, {} frames missing by sequence\n",
                     tls, connections.size(), reconnects, stale_reconnects, rotations, connect_failures, outage_s,
                     duplicates, sq_missing);
    o += fmt::format("        REST snapshots {} fetched ({} failed), {} applied; pings {} answered {}\n", snapshot_fetches,
                     snapshot_failures, snapshots_applied, pings, pongs);
    if (rotations != 0)
      o += fmt::format("        rotations: {} frames of the new connections held until the old ones ended, {} overlaps "
                       "cut short by a full hold buffer\n",
                       rotation_held, rotation_hold_full);
    if (!last_connect_error.empty()) o += "        last error: " + last_connect_error + "\n";
  }
  if (feed.rfind("udp://", 0) == 0)
    o += fmt::format("  udp: {} datagrams, {} missing by sequence, {} too long for a slot (dropped, counted)\n", udp_datagrams,
                     sq_missing, udp_truncated);
  if (!ui_address.empty())
    o += fmt::format("  ui {}: {} requests on {} connections; stream: {} clients, {} messages, {} updates coalesced "
                     "(client still writing), {} closed bars and {} tape trades refused (ring full)\n",
                     ui_address, ui_requests, ui_connections, ui_ws_clients, ui_ws_messages, ui_ws_coalesced, ui_bar_drops,
                     ui_tape_drops);
  if (!nats_url.empty())
    o += fmt::format("  nats {}: {} messages published ({:.1f} MB), {} hand-overs refused, {} waited on disk, {} "
                     "undelivered; {} disconnects, {} reconnects{}\n",
                     nats_url, nats_published, static_cast<double>(nats_bytes) / 1e6, nats_failed, nats_spilled, nats_unsent,
                     nats_disconnects, nats_reconnects,
                     nats_stream.empty() ? std::string()
                                         : fmt::format("; stream {}: {} acknowledged ({} already stored), {} not "
                                                       "acknowledged (sent again)",
                                                       nats_stream, nats_acked, nats_duplicates, nats_ack_errors));
  if (!export_dir.empty())
    o += fmt::format("  export {}: {} trades, {} bars, {} signals written as CSV ({} rows outside the time range)\n",
                     export_dir, export_trades, export_bars, export_signals, export_outside);
  if (!clickhouse_url.empty())
    o += fmt::format("  clickhouse {}: rows stored: {} trades, {} bars, {} signals, {} latency; {} batches, {} failed "
                     "attempts (retried), {} rows waited on disk, {} rows lost, {} unsent at the end\n",
                     clickhouse_url, ch_trades, ch_bars, ch_signals, ch_latency, ch_batches, ch_failures, ch_spilled,
                     ch_dropped, ch_unsent);
  if (!journal_dir.empty())
    o += fmt::format("  journal {}: {} frames, {:.1f} MB in {} files, {} not journaled (ring full)\n", journal_dir,
                     journal_frames, static_cast<double>(journal_bytes) * 1e-6, journal_files, journal_drops);
  if (!warm_from.empty())
    o += fmt::format("  warm start from {}: {} frames played in {:.2f} s before the first frame ({} events into the state, "
                     "{} refused, {} duplicates; nothing published)\n",
                     warm_from, warm_frames, warm_s, warm_events, warm_rejects, warm_duplicates);
  if (!stopped_by.empty()) o += fmt::format("  stopped by {}: feed drained, journal closed, report complete\n", stopped_by);
  o += fmt::format("  clock {} ({:.3f} ticks/ns), one stamp costs {:.1f} ns{}\n", clock, tsc_ghz, clock_overhead_ns,
                   clock_note.empty() ? "" : " - " + clock_note);
  if (!policy_backend.empty())
    o += fmt::format("  policy {}{} ({}): {} signals (HOLD {}, BUY {}, SELL {}; held for low confidence {}, cool-down {}), "
                     "{} dropped, {} skipped while warming up, {} non-finite observations\n",
                     policy_backend, policy_critic ? "" : ", actor only (no value)", model, signals,
                     signals_by_action[0], signals_by_action[1], signals_by_action[2],
                     held_low_confidence, held_cooldown, signal_drops, policy_warmup_skips, non_finite_observations);
  for (const auto& h : hygiene) o += "  start-up: " + h + "\n";
  if (!steal.empty()) {
    o += "  host: vCPU steal during the run (the hypervisor running something else):";
    for (std::size_t i = 0; i < steal.size(); ++i)
      o += fmt::format("{} cpu {} {:.0f} ms ({:.1f}%)", i ? "," : "", steal[i].cpu, steal[i].ms, steal[i].fraction * 100);
    o += "\n";
  }
  for (const auto& w : warnings) o += "  " + w + "\n";
  o += fmt::format("\n  {:<15}{:>10}{:>10}{:>10}{:>10}{:>10}{:>11}{:>12}\n", "stage (ns)", "count", "p50", "p90", "p99",
                   "p99.9", "p99.99", "max");
  for (const auto& s : stages) {
    const auto& p = s.p;
    o += fmt::format("  {:<15}{:>10}{:>10.0f}{:>10.0f}{:>10.0f}{:>10.0f}{:>11.0f}{:>12.0f}\n", s.name, p.count,
                     p.p50_ns, p.p90_ns, p.p99_ns, p.p999_ns, p.p9999_ns, p.max_ns);
  }
  if (!symbols.empty()) {
    o += fmt::format("\n  {:<12}{:>9}{:>8}{:>8}{:>13}{:>13}{:>8}{:>11}{:>11}{:>15}\n", "symbol", "source", "trades", "bars",
                     "close", "sma_20", "rsi_14", "macd_hist", "anomalies", "last signal");
    const std::size_t show = std::min<std::size_t>(symbols.size(), 20);
    for (std::size_t i = 0; i < show; ++i) {
      const auto& s = symbols[i];
      const std::string sig =
          s.has_signal ? fmt::format("{} {:.3f}", infra::to_string(s.last_signal.action), s.last_signal.confidence) : "-";
      o += fmt::format("  {:<12}{:>9}{:>8}{:>8}{:>13}{:>13}{:>8}{:>11}{:>11}{:>15}\n", s.name, s.bar_source, s.trades,
                       s.bars, cell(s.last.close, 4), cell(s.last.sma_20, 4), cell(s.last.rsi_14, 1),
                       cell(s.last.macd.hist, 4), s.price_anomalies + s.volume_anomalies, sig);
    }
    if (symbols.size() > show) o += fmt::format("  ... and {} more symbols (see --report)\n", symbols.size() - show);
    if (!policy_backend.empty()) {
      o += fmt::format("\n  {:<12}{:>14}{:>10}{:>8}{:>10}{:>10}   (paper account per symbol, 10,000 quote units each)\n",
                       "symbol", "equity", "return", "trades", "fees", "max_dd");
      for (std::size_t i = 0; i < show; ++i) {
        const auto& p = symbols[i].portfolio;
        o += fmt::format("  {:<12}{:>14.2f}{:>9.2f}%{:>8}{:>10.2f}{:>9.2f}%\n", symbols[i].name, p.equity,
                         p.total_return * 100, p.round_trips, p.fees, p.max_drawdown * 100);
      }
    }
  }
  return o;
}

}  // namespace tickpath::engine
