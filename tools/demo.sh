#!/usr/bin/env bash
# The engine's main job on its embedded default: a seeded synthetic Binance
# market, then a real recording from ../shared/data/binance, each through
# the pinned feed -> strategy pipeline, ending in the per-stage latency report.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
tickpath_build release Release -- tickpath
bin="$TICKPATH_ROOT/build/release/engine/tickpath"
cpus="0,1"
[ "$(nproc)" -lt 2 ] && cpus="0,0"
out="$TICKPATH_ROOT/build/demo"
mkdir -p "$out"

# The policy is UNTRAINED until the trainer lands: SB3's orthogonal
# initialisation, seed 1. Its signals show the path and its latency, not skill.
model="$out/untrained-policy.tpp"
"$bin" init-model --seed 1 --out "$model"

echo "== synthetic market: 4 symbols, 2,000,000 frames, pinned to cores $cpus, untrained policy on every trade"
"$bin" run --feed synthetic --symbols BTCUSDT,ETHUSDT,SOLUSDT,BNBUSDT --messages 2000000 --cpus "$cpus" \
  --model "$model" --report "$out/synthetic.json"

reports="$out/synthetic.json"
recording="$TICKPATH_ROOT/../shared/data/binance/ws/cryptofeed_2021-04-04_btcusdt-ethusdt-dotusdt_raw-recording.txt"
if [ -f "$recording" ]; then
  echo
  echo "== real Binance recording (2021-04-04, BTC/ETH/DOT aggTrade + depth + kline_1m), as fast as it goes"
  "$bin" run --feed "replay:$recording" --cpus "$cpus" --model "$model" --report "$out/replay.json"
  reports="$reports and $out/replay.json"
else
  echo
  echo "(skipping the real-recording replay: $recording is not there; shared/ sits beside the repository)"
fi
echo
echo "JSON reports: $reports"
