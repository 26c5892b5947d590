#!/usr/bin/env bash
# Installs what is missing, builds, starts the services the tests use (Podman's Docker
# Engine API service with a tiny local busybox image, a private PostgreSQL cluster), and
# runs the test suite twice: in the normal build, then built with AddressSanitizer +
# UndefinedBehaviorSanitizer (the server and runner binaries the integration tests start are
# the sanitized ones too; the fuzz corpora are replayed in both; the unit tests run in the
# sanitized pass only). At the end it prints how
# long each phase took and the slowest tests, and exits non-zero when any test failed in
# either pass.
#
#   scripts/test.sh [CTEST ARGS...]     e.g. scripts/test.sh -L unit, scripts/test.sh -R Schedules
#
# Environment:
#   CORRAL_TEST_PARALLEL=N     tests run side by side (default 4; they mostly wait on
#                              servers, containers and git, not on the CPU)
#   CORRAL_ASAN_TEST_PARALLEL=N  the same for the sanitized pass (default 4)
#   CORRAL_SKIP_SANITIZERS=1   only the normal pass
#   CORRAL_FUZZ_SECONDS=N      also fuzz each libFuzzer target for N seconds (clang build)
#   CORRAL_PG_DIR=DIR          where the test PostgreSQL cluster lives (default /tmp/corral-pg-ci)
#
# docs/development.md says how long CI takes and how to run one suite or one test.
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=${CORRAL_TEST_PARALLEL:-4}
# The sanitized pass: 6 side by side was tried (2026-12-01) and was slower than 4 (load 7.5:
# sanitized tests use the CPU more than they wait).
asan_jobs=${CORRAL_ASAN_TEST_PARALLEL:-4}
state_dir=$(mktemp -d /tmp/corral-test-XXXXXX)
pg_dir=${CORRAL_PG_DIR:-/tmp/corral-pg-ci}
started=$SECONDS
phase_lines=()
failed_passes=()

# Runs "$@" as the phase NAME and records how long it took.
phase() {
  local name=$1
  shift
  local t0=$SECONDS status=0
  echo "test.sh: == $name"
  "$@" || status=$?
  phase_lines+=("$(printf '  %-28s %4ds%s' "$name" $((SECONDS - t0)) "$( ((status)) && echo '  FAILED')")")
  return "$status"
}

summary() {
  echo
  echo "test.sh: time by phase (total $((SECONDS - started))s)"
  printf '%s\n' "${phase_lines[@]}"
  local pass
  for pass in normal asan; do
    [[ -f $state_dir/ctest-$pass.log ]] || continue
    echo "test.sh: the 10 slowest tests ($pass)"
    awk '/Test +#[0-9]+: / && / sec *$/ {
           for (i = 1; i <= NF; i++) if ($i ~ /^#[0-9]+:$/) { print $(NF - 1), $(i + 1); break }
         }' "$state_dir/ctest-$pass.log" | sort -rn | head -n 10 | awk '{ printf "  %8.2fs  %s\n", $1, $2 }'
  done
}

cleanup() {
  local status=$?
  summary || true
  if [[ -x scripts/podman-service.sh ]]; then scripts/podman-service.sh stop "$state_dir/podman" >/dev/null 2>&1 || true; fi
  scripts/pg-service.sh stop "$pg_dir" >/dev/null 2>&1 || true
  rm -rf "$state_dir"
  exit "$status"
}
trap cleanup EXIT

start_services() {
  # PostgreSQL for the store's conformance suite and the several-servers tests: one private
  # cluster, kept between runs (initdb happens once), stopped when the tests end.
  local pg_env
  pg_env=$(scripts/pg-service.sh start "$pg_dir") || return 1
  eval "$pg_env"
  echo "test.sh: PostgreSQL at $CORRAL_TEST_PG"
  if [[ -x scripts/podman-service.sh ]]; then
    local podman_env
    podman_env=$(scripts/podman-service.sh start "$state_dir/podman") || return 1
    eval "$podman_env"
    scripts/make-test-image.sh || return 1
    # The agent image (busybox, git, the Claude Code and Codex CLIs from npm: docs/agents.md),
    # started in the background before the build: downloading and writing it is network and
    # disk work that overlaps the compile.
    if [[ -n ${agent_image_pid:-} ]]; then
      wait "$agent_image_pid" || { cat "$state_dir/agent-image.log" >&2; return 1; }
      cat "$state_dir/agent-image.log"
    fi
    echo "test.sh: container engine at $DOCKER_HOST"
  fi
  # The browser tests' npm packages (playwright-core; no browser download: they drive
  # Debian's chromium). Installed again only when the lock file changed.
  if [[ ! -f tests/e2e/node_modules/.package-lock.json ||
        tests/e2e/package-lock.json -nt tests/e2e/node_modules/.package-lock.json ]]; then
    npm ci --prefix tests/e2e --no-audit --no-fund || return 1
  fi
}

# ctest in build dir $1 for pass $2, the rest are ctest's arguments; its output is kept (added
# to the pass's log) for the summary.
run_tests() {
  local dir=$1 pass=$2
  shift 2
  local parallel=$jobs
  [[ $pass == asan ]] && parallel=$asan_jobs
  (cd "$dir" && ctest -j "$parallel" --output-on-failure --timeout 900 "$@") 2>&1 | tee -a "$state_dir/ctest-$pass.log"
}

# The sanitized pass: the unit tests and fuzz corpora of the sanitized tree, then the
# integration suite of the normal tree driving the sanitized `corral` binary (CORRAL_BINARY):
# every server, runner and CLI process those tests start is the sanitized one, and the test
# programs themselves, which only send requests and wait, are not compiled twice. The tests
# that start no corral process (the Docker client's, DockerRuntimeTest: 80 s) would only run
# the normal build's code again, so they are left out of it. So are the suites whose subject is
# what a job does inside its container (the warm pool, hardening limits, result files, agent
# jobs and pushes, workflows: about a third of this pass's time, mostly waiting on Podman):
# they run in the normal pass, and the runner's own paths (claim, log, cancel, drain, restart,
# crash recovery) stay here through RunnerTest, LogStream, RemoteControl and the rest.
sanitized_skip='^integration\.(DockerRuntimeTest|WarmPoolTest|RunnerHardening|RunnerResultFileTest|AgentJobTest|AgentPushTest|WorkflowTest)\.'
run_sanitized_tests() {
  local status=0
  run_tests build-asan asan -LE '^scripts$' "$@" || status=1
  CORRAL_BINARY=$PWD/build-asan/corral CORRAL_BINARY_SANITIZED=1 \
    run_tests build asan -L '^integration$' -E "$sanitized_skip" "$@" || status=1
  return "$status"
}

# The normal build: optimized as a release is (-O2), without debug info (-g0), which is a
# third of the compile time and most of the link time. It builds no unit tests
# (-DCORRAL_UNIT_TESTS=OFF): the sanitized pass runs every one of them, and the two cores are
# full in both passes, so running them twice cost about 80 s (their build and their run).
# The normal pass tests the optimized build through the integration, browser and script
# suites, which start the optimized `corral`.
phase "install packages" ./scripts/install-deps.sh
# The style gate (issue 20): a file clang-format would change fails the run, after the tests.
phase "style (clang-format)" ./scripts/check-format.sh || failed_passes+=(style)
if [[ -x scripts/make-agent-image.sh ]]; then
  scripts/make-agent-image.sh >"$state_dir/agent-image.log" 2>&1 &
  agent_image_pid=$!
fi
phase "build" env BUILD_TYPE=RelWithDebInfo \
  CMAKE_ARGS="-DCORRAL_EXTRA_FLAGS=-g0 -DCORRAL_BENCH=ON -DCORRAL_UNIT_TESTS=OFF" ./scripts/build.sh
phase "start services" start_services

# ctest -j starts the tests it measured longest first; a fresh tree has no measurements yet,
# so it gets those of an earlier run (tests/ctest-costs.txt): a long test started last would
# hold up the end of the pass.
if [[ ! -f build/Testing/Temporary/CTestCostData.txt ]]; then
  mkdir -p build/Testing/Temporary
  grep -v '^#' tests/ctest-costs.txt >build/Testing/Temporary/CTestCostData.txt
fi
phase "tests" run_tests build normal "$@" || failed_passes+=(normal)

if [[ -z "${CORRAL_SKIP_SANITIZERS:-}" ]]; then
  # The sanitizer tree: -O0 with line tables (-g1), so ASan's reports name file and line;
  # optimizing it would take three times as long to build as it saves in the tests. No
  # benchmarks, and no integration test program (run_sanitized_tests). (Building it beside the normal tests, even at nice 19, saved nothing in all
  # and slowed the browser tests past their deadlines: the phases run one after the other.)
  phase "build (ASan + UBSan)" env BUILD_DIR=build-asan BUILD_TYPE=Debug \
    CMAKE_ARGS="-DCORRAL_SANITIZE=ON -DCORRAL_EXTRA_FLAGS=-g1 -DCORRAL_BENCH=OFF -DCORRAL_INTEGRATION_TESTS=OFF" \
    ./scripts/build.sh
  export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  # The scripts' own tests (label scripts) run no sanitized code: the normal pass has them.
  phase "tests (ASan + UBSan)" run_sanitized_tests "$@" || failed_passes+=(asan)
fi

# The fuzz targets' seed corpora are replayed in both passes (ctest label fuzz). Fuzzing for
# new inputs (a clang build, libFuzzer) only when asked: CORRAL_FUZZ_SECONDS=N per target
# (longer runs: docs/security.md).
if [[ -n "${CORRAL_FUZZ_SECONDS:-}" ]]; then
  phase "fuzz (${CORRAL_FUZZ_SECONDS}s per target)" ./scripts/fuzz.sh "${CORRAL_FUZZ_SECONDS}" ||
    failed_passes+=(fuzz)
fi

if ((${#failed_passes[@]})); then
  echo "test.sh: tests failed in: ${failed_passes[*]} (see the output above)" >&2
  exit 1
fi
echo "test.sh: all tests passed"
