#!/usr/bin/env bash
# The whole test suite: Release build with tests, then the same tests under
# AddressSanitizer + UndefinedBehaviorSanitizer, then the threaded tests under
# ThreadSanitizer, then a bounded libFuzzer run of every parser of outside
# input (tools/fuzz.sh). Exits non-zero on any failure.
TICKPATH_EXTRA_PACKAGES=(chromium nats-server clickhouse-server)  # the dashboard's browser test; the NATS and ClickHouse tests' servers
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
tickpath_web
jobs="$(nproc)"
stage_start=$SECONDS
stage_done() { echo "   ($(( SECONDS - stage_start )) s)"; stage_start=$SECONDS; }

echo "== Release build and tests"
tickpath_build release Release
(cd "$TICKPATH_ROOT/build/release" && ctest --output-on-failure -j "$jobs")
stage_done

echo "== ASan + UBSan build and tests"
tickpath_build asan RelWithDebInfo -DTICKPATH_SANITIZE=ON -DTICKPATH_BENCH=OFF
# (the soak runs 20 s here: the Release stage's 60 s covers its length)
(cd "$TICKPATH_ROOT/build/asan" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  TICKPATH_SOAK_SECONDS="${TICKPATH_SOAK_SECONDS:-20}" ctest --output-on-failure -j "$jobs")
stage_done

echo "== ThreadSanitizer build and the threaded tests"
tickpath_build tsan RelWithDebInfo -DTICKPATH_TSAN=ON -DTICKPATH_BENCH=OFF -- infra_tests engine_tests tickpath
(cd "$TICKPATH_ROOT/build/tsan" && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  ctest --output-on-failure -j "$jobs" -R 'SpscRing|ByteRing|LatencyHistogram|Pipeline_|Live_|Ui_|Nats_JetStream')
stage_done

echo "== Fuzzing: every parser of outside input, bounded (FUZZ_SECONDS, default 10 s per target)"
FUZZ_SECONDS="${FUZZ_SECONDS:-10}" "$TICKPATH_ROOT/tools/fuzz.sh"
stage_done
