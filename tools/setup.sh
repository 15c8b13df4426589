#!/usr/bin/env bash
# Shared set-up for tools/demo.sh and tools/test.sh: installs the Debian
# packages tickpath builds with (only those missing; silent when all are
# there), then configures and builds one CMake tree. Source it, then call
# tickpath_build NAME BUILD_TYPE [cmake options...] [-- targets...].
set -euo pipefail

TICKPATH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TICKPATH_PACKAGES=(
  g++ cmake ninja-build
  libsimdjson-dev nlohmann-json3-dev libfmt-dev libcli11-dev
  libreaderwriterqueue-dev libconcurrentqueue-dev
  libgtest-dev libgmock-dev libbenchmark-dev libdnnl-dev
  python3-torch libssl-dev libboost-dev libtbb-dev
  libnats-dev         # NATS fan-out (--nats)
  ocl-icd-opencl-dev  # oneDNN's CMake package looks for OpenCL (a Recommends of libdnnl-dev)
  nodejs              # the dashboard page (web/: Vite 7 needs Node.js >= 20.19, with its npm)
)
# A script may ask for more before sourcing this file (tools/test.sh: chromium).
TICKPATH_PACKAGES+=(${TICKPATH_EXTRA_PACKAGES[@]+"${TICKPATH_EXTRA_PACKAGES[@]}"})

tickpath_die() { echo "tickpath set-up: $*" >&2; exit 1; }

tickpath_install() {
  local missing=() p
  for p in "${TICKPATH_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || tickpath_die "missing packages (${missing[*]}) and no root or sudo to install them"
    sudo="sudo"
  fi
  echo "tickpath set-up: installing ${missing[*]}" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null \
    || tickpath_die "apt-get update failed"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || tickpath_die "apt-get install ${missing[*]} failed"
}

# tickpath_build NAME BUILD_TYPE [cmake -D options...] [-- targets...]
tickpath_build() {
  local name="$1" type="$2"
  shift 2
  local opts=() targets=()
  while [ $# -gt 0 ]; do
    if [ "$1" = "--" ]; then shift; targets=("$@"); break; fi
    opts+=("$1"); shift
  done
  local dir="$TICKPATH_ROOT/build/$name"
  cmake -S "$TICKPATH_ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" "${opts[@]}" >"$dir.configure.log" 2>&1 \
    || { mkdir -p "$(dirname "$dir")"; cat "$dir.configure.log" >&2; tickpath_die "cmake configure of build/$name failed"; }
  local t=()
  [ ${#targets[@]} -gt 0 ] && t=(--target "${targets[@]}")
  cmake --build "$dir" --parallel "$(nproc)" "${t[@]}" >"$dir.build.log" 2>&1 \
    || { grep -E "error|Error" "$dir.build.log" | head -20 >&2; tickpath_die "build of build/$name failed (full log: build/$name.build.log)"; }
}

# tickpath_web: the dashboard page. npm ci installs the locked packages into
# web/node_modules (once, or when the lock file changes) and Vite builds
# web/dist, which the engine serves (and dist/report, which `tickpath
# backtest --html` inlines); skipped when dist is newer than every source of
# the page.
tickpath_web() {
  local web="$TICKPATH_ROOT/web"
  command -v npm >/dev/null || tickpath_die "npm is missing: the dashboard page needs Node.js >= 20.19 with npm"
  if [ ! -d "$web/node_modules" ] || [ "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ]; then
    (cd "$web" && npm ci --no-audit --no-fund >"$TICKPATH_ROOT/build/web.npm.log" 2>&1) \
      || { tail -20 "$TICKPATH_ROOT/build/web.npm.log" >&2; tickpath_die "npm ci in web/ failed (full log: build/web.npm.log)"; }
  fi
  # (the backtest report, dist/report/report.js, is built last)
  if [ -f "$web/dist/index.html" ] && [ -f "$web/dist/report/report.js" ] && [ -z "$(find "$web/index.html" "$web/src" \
       "$web/vite.config.ts" "$web/vite.report.config.ts" "$web/package.json" "$web/package-lock.json" \
       -newer "$web/dist/report/report.js" 2>/dev/null | head -1)" ]; then
    return 0
  fi
  (cd "$web" && npm run build >"$TICKPATH_ROOT/build/web.build.log" 2>&1) \
    || { tail -20 "$TICKPATH_ROOT/build/web.build.log" >&2; tickpath_die "the dashboard page did not build (full log: build/web.build.log)"; }
}

mkdir -p "$TICKPATH_ROOT/build"
tickpath_install
