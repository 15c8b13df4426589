#!/usr/bin/env bash
# Builds Release and runs every benchmark with its anchor in the same binary,
# 5 repetitions each (medians and spreads), writing one JSON file per binary
# to bench/results/<UTC date>_<commit>_<binary>.json with CPU, compiler,
# flags and commit in its context block.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
tickpath_build release Release -- bench_parse bench_ring bench_policy bench_transport bench_indicators bench_pipeline bench_spill bench_train
commit="$(git -C "$TICKPATH_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
dirty="$(git -C "$TICKPATH_ROOT" status --porcelain -- . ":!bench/results" 2>/dev/null | grep -q . && echo "+dirty" || true)"
out="$TICKPATH_ROOT/bench/results"
mkdir -p "$out"
stamp="$(date -u +%Y-%m-%dT%H%M%SZ)"
for b in bench_parse bench_ring bench_policy bench_transport bench_indicators bench_pipeline bench_spill bench_train; do
  echo "== $b"
  TICKPATH_COMMIT="$commit$dirty" "$TICKPATH_ROOT/build/release/bench/$b" --benchmark_repetitions="${REPS:-5}" --benchmark_report_aggregates_only=true \
    --benchmark_min_time="${MIN_TIME:-0.3}" --benchmark_enable_random_interleaving=true \
    --benchmark_out="$out/${stamp}_${commit}_$b.json" --benchmark_out_format=json "$@"
done
echo "results: $out/${stamp}_${commit}_*.json"
