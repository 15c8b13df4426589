#!/usr/bin/env bash
# What a sink outage costs the hot path, and what it loses: the same paced
# run (synthetic, 4 symbols, policy on every trade, trades published) three
# ways, interleaved over ROUNDS rounds:
#
#   none     no sink
#   sinks    NATS with a JetStream stream, and ClickHouse, both up throughout
#   outage   the same, with both servers killed (SIGKILL) 2 s into the run
#            and started again 2 s later on the same data
#   down     the same sinks with both servers down for the whole run: the
#            engine's own share of the sink work (formatting, spilling to
#            disk, retrying) without the servers' CPU time
#
#   tools/sink_outage.sh [ROUNDS=3] [OUTDIR=build/sink-outage] [FRAMES_PER_S=100000] [SECONDS=8]
#
# Prints, per run, tick_to_signal p50 / p99 / p99.9 from the engine's
# report, and for the sink runs the messages/rows delivered, waiting on disk
# and undelivered; then per mode the median and range of the percentiles.
# Needs nats-server and clickhouse-server (tools/test.sh installs both).
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
rounds="${1:-3}"
out="${2:-$TICKPATH_ROOT/build/sink-outage}"
fps="${3:-100000}"
seconds="${4:-8}"
command -v nats-server >/dev/null || tickpath_die "nats-server is not installed (tools/test.sh installs it)"
command -v clickhouse-server >/dev/null || tickpath_die "clickhouse-server is not installed (tools/test.sh installs it)"
tickpath_build release Release -- tickpath
bin="$TICKPATH_ROOT/build/release/engine/tickpath"
rm -rf "$out"
mkdir -p "$out/nats" "$out/ch"
"$bin" init-model --out "$out/policy.tpp" >/dev/null

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
nats_port=$(free_port)
ch_http=$(free_port)
ch_tcp=$(free_port)
cp /etc/clickhouse-server/users.xml "$out/ch/users.xml"
cat >"$out/ch/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$out/ch/server.log</log><errorlog>$out/ch/server.err.log</errorlog><console>0</console></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$ch_http</http_port>
  <tcp_port>$ch_tcp</tcp_port>
  <path>$out/ch/data/</path>
  <tmp_path>$out/ch/tmp/</tmp_path>
  <user_files_path>$out/ch/user_files/</user_files_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>5368709</mark_cache_size>
</yandex>
EOF
nats_pid=""
ch_pid=""
ch_up() {
  /usr/bin/python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$ch_http/?query=SELECT%201', timeout=1)" 2>/dev/null
}
start_servers() {
  nats-server -a 127.0.0.1 -p "$nats_port" -js -sd "$out/nats" >>"$out/nats/server.log" 2>&1 &
  nats_pid=$!
  clickhouse-server --config-file="$out/ch/config.xml" >>"$out/ch/stdout.log" 2>&1 &
  ch_pid=$!
  for _ in $(seq 200); do
    ch_up && break
    sleep 0.05
  done
  ch_up || tickpath_die "clickhouse-server did not start ($out/ch)"
}
kill_servers() {
  kill -9 "$nats_pid" "$ch_pid" 2>/dev/null || true
  wait "$nats_pid" "$ch_pid" 2>/dev/null || true
}
trap 'kill $nats_pid $ch_pid 2>/dev/null || true' EXIT
start_servers

cpus="0,1"
[ "$(nproc)" -lt 2 ] && cpus="0,0"
run() {  # MODE ROUND
  local mode=$1 r=$2 sinks=()
  [ "$mode" != none ] && sinks=(--nats "nats://127.0.0.1:$nats_port" --nats-stream "OUTAGE$r$mode" --nats-prefix "o$r$mode"
                                --nats-trades --clickhouse "http://127.0.0.1:$ch_http" --clickhouse-db default)
  "$bin" run --symbols BTCUSDT,ETHUSDT,SOLUSDT,BNBUSDT --messages $((fps * seconds)) --pace "$fps" --rate 20 \
    --model "$out/policy.tpp" --cpus "$cpus" --quiet --no-mlock "${sinks[@]}" --report "$out/$mode-$r.json" >/dev/null 2>"$out/$mode-$r.err" &
  local engine=$!
  if [ "$mode" = down ]; then
    wait $engine || tickpath_die "the $mode run failed: $(tail -1 "$out/$mode-$r.err")"
    start_servers
    return
  fi
  if [ "$mode" = outage ]; then
    sleep 2
    kill_servers
    sleep 2
    start_servers
  fi
  wait $engine || tickpath_die "the $mode run failed: $(tail -1 "$out/$mode-$r.err")"
}
for r in $(seq "$rounds"); do
  for mode in none sinks outage down; do
    [ "$mode" = down ] && kill_servers
    run "$mode" "$r"
  done
done

/usr/bin/python3 - "$out" "$rounds" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
rows = {}
for mode in ("none", "sinks", "outage", "down"):
    for r in range(1, rounds + 1):
        rep = json.load(open(f"{out}/{mode}-{r}.json"))
        t = rep["stages"]["tick_to_signal"]
        rows.setdefault(mode, []).append((t["p50_ns"], t["p99_ns"], t["p999_ns"]))
        line = f"{mode:7s} round {r}: tick_to_signal p50 {t['p50_ns']:.0f} ns  p99 {t['p99_ns']:.0f} ns  p99.9 {t['p999_ns']:.0f} ns"
        if mode != "none":
            n, c = rep["nats"], rep["clickhouse"]
            line += (f" | NATS {n['published']} published, {n['acked']} acknowledged, {n['spilled']} waited on disk, "
                     f"{n['unsent']} undelivered | ClickHouse {sum(c['rows'].values())} rows, {c['spilled']} waited on disk, "
                     f"{c['unsent'] + c['dropped']} not stored")
        print(line)
print()
for mode, v in rows.items():
    cols = list(zip(*v))
    print(f"{mode:7s} median (range): " + ", ".join(
        f"{name} {statistics.median(c):.0f} ({min(c):.0f}-{max(c):.0f}) ns" for name, c in zip(("p50", "p99", "p99.9"), cols)))
PY
