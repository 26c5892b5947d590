#!/usr/bin/env bash
# Installs what is missing, builds, starts the services the tests use (Podman's Docker
# Engine API service with a tiny local busybox image, a private PostgreSQL cluster), and
# runs the whole test suite (twice: the second time under ASan + UBSan).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
./scripts/build.sh

state_dir=$(mktemp -d /tmp/corral-test-XXXXXX)
# PostgreSQL for the store's conformance suite (tests/unit/store): one private cluster,
# kept between runs (initdb happens once), stopped when the tests end.
pg_dir=${CORRAL_PG_DIR:-/tmp/corral-pg-ci}
cleanup() {
  if [[ -x scripts/podman-service.sh ]]; then scripts/podman-service.sh stop "$state_dir/podman" >/dev/null 2>&1 || true; fi
  scripts/pg-service.sh stop "$pg_dir" >/dev/null 2>&1 || true
  rm -rf "$state_dir"
}
trap cleanup EXIT

pg_env=$(scripts/pg-service.sh start "$pg_dir")  # a failed start stops here (set -e)
eval "$pg_env"
echo "test.sh: PostgreSQL at $CORRAL_TEST_PG"

if [[ -x scripts/podman-service.sh ]]; then
  eval "$(scripts/podman-service.sh start "$state_dir/podman")"
  scripts/make-test-image.sh
  echo "test.sh: container engine at $DOCKER_HOST"
fi

# The browser tests' npm packages (playwright-core; no browser download: they drive
# Debian's chromium). Installed again only when the lock file changed.
if [[ ! -f tests/e2e/node_modules/.package-lock.json ||
      tests/e2e/package-lock.json -nt tests/e2e/node_modules/.package-lock.json ]]; then
  npm ci --prefix tests/e2e --no-audit --no-fund
fi

(cd build && ctest --output-on-failure --timeout 900 "$@")

# The same suites once more, built with AddressSanitizer + UndefinedBehaviorSanitizer: the
# server and runner binaries the integration tests start are the sanitized ones too.
if [[ -z "${CORRAL_SKIP_SANITIZERS:-}" ]]; then
  BUILD_DIR=build-asan BUILD_TYPE=Debug CMAKE_ARGS="-DCORRAL_SANITIZE=ON" ./scripts/build.sh
  (cd build-asan && ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
     ctest --output-on-failure --timeout 900 "$@")
fi
