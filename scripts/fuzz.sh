#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, clang with ASan + UBSan) and runs each for
# SECONDS (default 60) on a copy of its seed corpus. Exits 1 at the first target that finds a
# crash, a leak, undefined behaviour or a timeout, printing the input that did it.
#
#   scripts/fuzz.sh [SECONDS]        CORRAL_FUZZ_BUILD=dir (default build-fuzz), CORRAL_FUZZ_JOBS=N
#   scripts/fuzz.sh 600 job_spec     only the named targets
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then targets=(job_spec router stream_demux log_append cron_tz runner_config); fi
build=${CORRAL_FUZZ_BUILD:-build-fuzz}
jobs=${CORRAL_FUZZ_JOBS:-1}
build=$(realpath -m "$build")
root=$PWD

command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ is missing; run scripts/install-deps.sh" >&2; exit 2; }
cmake -S tests/fuzz -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
total=0
for t in "${targets[@]}"; do
  mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
  cp tests/fuzz/corpus/"$t"/* "$work/$t/corpus/"
  log="$work/$t/log"
  # New inputs go to the scratch corpus; the checked-in seeds stay as they are.
  if ! (cd "$work/$t" && "$build/${t}_fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -max_len=65536 -jobs="$jobs" -workers="$jobs" -print_final_stats=1 \
        -artifact_prefix="$work/$t/artifacts/" corpus "$root/tests/fuzz/corpus/$t" >"$log" 2>&1); then
    echo "fuzz.sh: $t FAILED" >&2
    grep -E -m5 "ERROR|runtime error|SUMMARY" "$log" >&2 || tail -20 "$log" >&2
    for a in "$work/$t/artifacts"/*; do
      [[ -e "$a" ]] || continue
      mkdir -p fuzz-artifacts && cp "$a" fuzz-artifacts/
      echo "  input: fuzz-artifacts/$(basename "$a") (add it to tests/fuzz/corpus/$t once fixed)" >&2
    done
    exit 1
  fi
  runs=$(grep -h -o 'stat::number_of_executed_units: *[0-9]*' "$log" "$work/$t"/fuzz-*.log 2>/dev/null |
         awk '{s += $2} END {print s + 0}')
  total=$((total + runs))
  printf 'fuzz.sh: %-14s %10d runs in %ss, no crash\n' "$t" "$runs" "$seconds"
done
printf 'fuzz.sh: %d runs in all, no crash\n' "$total"
