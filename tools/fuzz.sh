#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan, in
# build/fuzz), seeds their corpora from ../shared/data, the shipped model and
# tests/fuzz/regressions, and runs each for FUZZ_SECONDS (default 60).
# Exits non-zero when a target finds an input that fails: the input is in
# build/fuzz/artifacts/<target>/; copy it into tests/fuzz/regressions/<target>/
# (the test suite replays that folder in every build) and fix the cause.
# Usage: tools/fuzz.sh [TARGET...]   (default: all five)
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
TICKPATH_PACKAGES=(clang libclang-rt-dev python3)
tickpath_install
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(fuzz_binance_parser fuzz_feed_handler fuzz_websocket fuzz_kline_csv fuzz_policy_model)
seconds="${FUZZ_SECONDS:-60}"
data="$TICKPATH_ROOT/../shared/data/binance"
[ -d "$data" ] || tickpath_die "no captures at $data (the seed corpora come from there)"

echo "== libFuzzer targets (clang, ASan + UBSan): ${targets[*]}, ${seconds} s each"
CC=clang CXX=clang++ tickpath_build fuzz Release -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DTICKPATH_FUZZ=ON \
  -DTICKPATH_TESTS=OFF -DTICKPATH_BENCH=OFF -- "${targets[@]}"
dir="$TICKPATH_ROOT/build/fuzz"
rm -rf "$dir/corpus"
/usr/bin/python3 "$TICKPATH_ROOT/tools/fuzz_seeds.py" "$TICKPATH_ROOT" "$data" "$dir/corpus" >/dev/null \
  || tickpath_die "seed corpora could not be written"
failed=()
for t in "${targets[@]}"; do
  mkdir -p "$dir/artifacts/$t"
  log="$dir/$t.log"
  if ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      "$dir/tests/fuzz/$t" "$dir/corpus/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -artifact_prefix="$dir/artifacts/$t/" -print_final_stats=1 >"$log" 2>&1; then
    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')"
    cov="$(grep -o 'cov: [0-9]*' "$log" | tail -1)"
    echo "  $t: ${runs:-?} inputs in ${seconds} s, ${cov:-cov ?} edges, no failure"
  else
    echo "  $t: FAILED, input in build/fuzz/artifacts/$t/ (log build/fuzz/$t.log):"
    grep -E "ERROR|runtime error|SUMMARY|disagree|abort" "$log" | head -5 | sed 's/^/    /'
    failed+=("$t")
  fi
done
[ ${#failed[@]} -eq 0 ] || tickpath_die "fuzzing found failing inputs in: ${failed[*]}"
