#!/usr/bin/env bash
# Installs every Debian package corral's build, tests and runtime need. Idempotent:
# a second run installs nothing and takes about a second.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git curl lld
  libboost-dev libboost-system-dev nlohmann-json3-dev libcli11-dev libyaml-cpp-dev
  libspdlog-dev libssl-dev libsqlite3-dev sqlite3 libpq-dev libgtest-dev libgmock-dev
  libbenchmark-dev
  # the corral binary's allocator (CMakeLists.txt, CORRAL_TCMALLOC)
  libtcmalloc-minimal4
  # time zones: date/tz.h over the system tz database (src/common/timezone.cpp)
  libhowardhinnant-date-dev
  # libFuzzer targets (tests/fuzz, scripts/fuzz.sh)
  clang
  # the style gate (scripts/check-format.sh, .clang-format)
  clang-format
  # container engine for the runner's Docker executor and its tests (see docs/operations.md)
  podman runc busybox-static uidmap
  # PostgreSQL for the scale-out store
  postgresql
  # the dashboard's browser tests (tests/e2e): Node for playwright-core, and the browser
  nodejs chromium
  # copied into the agent image (scripts/make-agent-image.sh): the GitHub CLI
  gh
  # promtool, which checks the server's and the runner's /metrics (tests/integration/metrics_test.cpp)
  prometheus
  # validates deploy/'s compose files against the compose schema (scripts/check-deploy.sh)
  docker-compose
)
# Debian's npm package; a NodeSource nodejs brings its own npm and conflicts with it.
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  [[ "$p" == \#* ]] && continue
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
