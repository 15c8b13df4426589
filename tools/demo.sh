#!/usr/bin/env bash
# The engine's main job on its embedded default: a seeded synthetic Binance
# market, then a real recording from ../shared/data/binance, then the live
# feed over verified TLS against the exchange simulator on loopback (with a
# dropped connection and a skipped depth update on the way), each through the
# pinned feed -> strategy pipeline, ending in the per-stage latency report.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
tickpath_web
tickpath_build release Release -- tickpath tickpath-exsim
bin="$TICKPATH_ROOT/build/release/engine/tickpath"
cpus="0,1"
[ "$(nproc)" -lt 2 ] && cpus="0,0"
out="$TICKPATH_ROOT/build/demo"
mkdir -p "$out"

# The shipped policy: trained by `tickpath train` on January 2023 BTCUSDT
# 1-minute bars (README, "Walk-forward"). On a synthetic market and on
# recordings its signals show the path and its latency; skill is what the
# walk-forward table measures, not this demo.
model="$TICKPATH_ROOT/strategy/models/ppo-btcusdt-1m-2023-01.tpp"
[ -f "$model" ] || tickpath_die "the shipped model $model is missing"

echo "== synthetic market: 4 symbols, 2,000,000 frames, pinned to cores $cpus, the trained policy on every trade"
"$bin" run --feed synthetic --symbols BTCUSDT,ETHUSDT,SOLUSDT,BNBUSDT --messages 2000000 --cpus "$cpus" \
  --model "$model" --report "$out/synthetic.json"


echo
echo "== the same market paced at 200,000 frames/s for 3 s on one hot thread (--inline-strategy, core ${cpus%%,*}):"
echo "   the feed thread runs the strategy, the other core is left to the io thread: the latency at a set load"
"$bin" run --feed synthetic --symbols BTCUSDT,ETHUSDT,SOLUSDT,BNBUSDT --pace 200000 --duration 3 --inline-strategy \
  --cpus "${cpus%%,*}" --model "$model" --report "$out/synthetic-one-thread.json" --quiet

reports="$out/synthetic.json, $out/synthetic-one-thread.json"
recording="$TICKPATH_ROOT/../shared/data/binance/ws/cryptofeed_2021-04-04_btcusdt-ethusdt-dotusdt_raw-recording.txt"
if [ -f "$recording" ]; then
  echo
  echo "== real Binance recording (2021-04-04, BTC/ETH/DOT aggTrade + depth + kline_1m), as fast as it goes"
  "$bin" run --feed "replay:$recording" --cpus "$cpus" --model "$model" --report "$out/replay.json"
  reports="$reports, $out/replay.json"
else
  echo
  echo "(skipping the real-recording replay: $recording is not there; shared/ sits beside the repository)"
fi

echo
echo "== live feed: TLS WebSocket + REST snapshots from tickpath-exsim on loopback, 20,000 frames/s for 4 s,"
echo "   the connection reset every 1.5 s and a depth update skipped every 2.5 s; journaled to $out/journal"
exsim_out="$out/exsim.out"
rm -rf "$out/journal" "$out/exsim-cert"
"$TICKPATH_ROOT/build/release/tools/exsim/tickpath-exsim" --rate 20000 --event-rate 15 --cert-dir "$out/exsim-cert" \
  --fault drop:1.5 --fault skip_ids:2.5 </dev/null >"$exsim_out" 2>"$out/exsim.err" &
exsim_pid=$!
trap 'kill $exsim_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q "exsim ready" "$exsim_out" 2>/dev/null && break; sleep 0.05; done
grep -q "exsim ready" "$exsim_out" || tickpath_die "the exchange simulator did not start: $(cat "$out/exsim.err")"
ws_url="$(grep -o 'wss://[^ ]*/stream' "$exsim_out" | sed 's#/stream$##')"
"$bin" run --feed "$ws_url" --ca-file "$out/exsim-cert/exsim-cert.pem" --symbols BTCUSDT,ETHUSDT \
  --streams trade,aggTrade,bookTicker,depth@100ms,kline_1m --duration 4 --cpus "$cpus" --model "$model" \
  --record "$out/journal" --report "$out/live.json" --quiet
kill $exsim_pid 2>/dev/null || true
wait $exsim_pid 2>/dev/null || true
echo
echo "== the journal of that live run, replayed"
"$bin" run --feed "replay:$out/journal" --model "$model" --report "$out/journal-replay.json" --quiet | head -4
digests() { grep -o '"signal_digest":"[0-9a-f]*"' "$1" | sort; }
if [ "$(digests "$out/live.json")" = "$(digests "$out/journal-replay.json")" ]; then
  echo "   per-symbol signal digests of the live run and the replay are equal: the same signals, bit for bit"
else
  tickpath_die "the replay's signals differ from the live run's ($out/live.json vs $out/journal-replay.json)"
fi
reports="$reports, $out/live.json, $out/journal-replay.json"
echo
echo "JSON reports: $reports"
