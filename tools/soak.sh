#!/usr/bin/env bash
# A long soak with the engine and the exchange simulator in separate
# processes, so each one's resident memory is measured on its own (the
# CI-sized soak in tests/engine_soak_test.cpp runs both in one process).
#
#   tools/soak.sh [SECONDS=3600] [OUTDIR=build/soak] [extra `tickpath run` options...]
#
# The simulator serves 4,000 frames/s under every fault on a schedule
# (connection resets, server closes, stalls, skipped depth ids, malformed
# frames, pings); the engine runs the live feed against it over verified
# TLS. Every 10 s (shorter runs: more often) both processes' resident and
# anonymous memory go to OUTDIR/rss.csv. At the end:
# the engine's report (OUTDIR/live.json), and each process's growth from
# the end of the first quarter to its peak. Exits non-zero when the engine
# grew by more than TICKPATH_SOAK_MAX_GROWTH_MB (8 by default) or its
# report shows a frame missing inside a connection.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
seconds="${1:-3600}"
out="${2:-$TICKPATH_ROOT/build/soak}"
shift 2 2>/dev/null || shift $#
max_growth_mb="${TICKPATH_SOAK_MAX_GROWTH_MB:-8}"
tickpath_build release Release -- tickpath tickpath-exsim
bin="$TICKPATH_ROOT/build/release/engine/tickpath"
sim="$TICKPATH_ROOT/build/release/tools/exsim/tickpath-exsim"
cpus="0,1"
[ "$(nproc)" -lt 2 ] && cpus="0,0"
mkdir -p "$out"
rm -rf "$out/exsim-cert"

"$sim" --rate 4000 --cert-dir "$out/exsim-cert" --stats-every 300 \
  --fault drop:9 --fault close:13 --fault stall:6:0.4 --fault skip_ids:4 --fault malformed:0.25 --fault ping:1.5 \
  </dev/null >"$out/exsim.out" 2>"$out/exsim.err" &
sim_pid=$!
engine_pid=""
trap 'kill $sim_pid $engine_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q "exsim ready" "$out/exsim.out" 2>/dev/null && break; sleep 0.05; done
grep -q "exsim ready" "$out/exsim.out" || tickpath_die "the exchange simulator did not start: $(cat "$out/exsim.err")"
ws_url="$(grep -o 'wss://[^ ]*/stream' "$out/exsim.out" | sed 's#/stream$##')"

"$bin" run --feed "$ws_url" --ca-file "$out/exsim-cert/exsim-cert.pem" --symbols BTCUSDT,ETHUSDT \
  --streams trade,aggTrade,bookTicker,depth@100ms,kline_1m --duration "$seconds" --cpus "$cpus" \
  --report "$out/live.json" --quiet "$@" >"$out/engine.out" 2>&1 &
engine_pid=$!

# VmRSS, and its anonymous part (heap, rings, buffers: where a leak shows;
# the file-backed rest is library code paged in and out).
rss_kb() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
echo "t_s,engine_rss_kb,engine_anon_kb,exsim_rss_kb,exsim_anon_kb" >"$out/rss.csv"
every=$(( seconds >= 200 ? 10 : (seconds >= 40 ? seconds / 20 : 2) ))  # seconds between samples
echo "soak: ${seconds} s, engine pid $engine_pid, simulator pid $sim_pid; resident memory every ${every} s in $out/rss.csv"
start=$(date +%s)
while kill -0 "$engine_pid" 2>/dev/null; do
  echo "$(( $(date +%s) - start )),$(rss_kb "$engine_pid" VmRSS),$(rss_kb "$engine_pid" RssAnon),$(rss_kb "$sim_pid" VmRSS),$(rss_kb "$sim_pid" RssAnon)" >>"$out/rss.csv"
  sleep "$every"
done
wait "$engine_pid"
rc=$?
kill "$sim_pid" 2>/dev/null || true
wait "$sim_pid" 2>/dev/null || true
cat "$out/engine.out"
[ "$rc" -eq 0 ] || tickpath_die "the engine exited with $rc (see $out/engine.out)"

/usr/bin/python3 - "$out/rss.csv" "$out/live.json" "$seconds" "$max_growth_mb" <<'EOF'
import csv, json, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if int(r["engine_rss_kb"] or 0) > 0]
seconds, bound = float(sys.argv[3]), float(sys.argv[4])
later = [r for r in rows if int(r["t_s"]) >= seconds / 4]
if len(later) < 3:
    sys.exit("soak: too few samples after the first quarter")
def growth(key):
    first = int(later[0][key]); peak = max(int(r[key]) for r in later); last = int(later[-1][key])
    return first / 1024, (peak - first) / 1024, (last - first) / 1024
rep = json.load(open(sys.argv[2]))
live = rep.get("live", {})
fails = []
for name, key in (("engine", "engine_rss_kb"), ("engine (anonymous)", "engine_anon_kb"), ("simulator", "exsim_rss_kb"),
                  ("simulator (anonymous)", "exsim_anon_kb")):
    first, peak, last = growth(key)
    print(f"soak: {name} resident {first:.1f} MB at {int(later[0]['t_s'])} s; peak growth {peak:+.2f} MB, "
          f"at the end {last:+.2f} MB ({len(later)} samples)")
    if name == "engine" and peak > bound:
        fails.append(f"the engine's resident memory grew {peak:.2f} MB (bound {bound} MB)")
print(f"soak: {live.get('reconnects')} reconnects, outage {live.get('outage_s')} s, "
      f"{live.get('sq_missing')} frames missing inside a connection, {live.get('duplicates')} duplicates dropped")
if live.get("sq_missing", 1) != 0:
    fails.append("frames went missing inside a connection")
if fails:
    sys.exit("soak: " + "; ".join(fails))
EOF
