#!/usr/bin/env bash
# Runs clang-tidy (the profile in .clang-tidy: bugprone-*, performance-*) over corral's own
# sources, or the files given, and exits non-zero when it reports anything. Installs
# clang-tidy 16 when missing (Debian 12's 14 cannot read libstdc++ 12's coroutines).
# Per-file compile commands come from a non-unity configure (nothing is built).
#
#   scripts/tidy.sh                 every .cpp under src/ (about 20 s each: ~30 min on 2 cores)
#   scripts/tidy.sh src/server/why.cpp src/runner/executor.cpp
#
# Environment: TIDY_JOBS=N (default: the number of cores), TIDY_BUILD_DIR (default
# /tmp/corral-tidy).
set -euo pipefail
cd "$(dirname "$0")/.."

tidy=clang-tidy-16
if ! command -v "$tidy" >/dev/null; then
  apt-get install -y -q clang-tidy-16 >/dev/null
fi
build_dir=${TIDY_BUILD_DIR:-/tmp/corral-tidy}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_UNITY_BUILD=OFF -DCMAKE_BUILD_TYPE=Debug \
  -DCORRAL_BENCH=OFF >/dev/null

if (($# > 0)); then
  files=("$@")
else
  mapfile -t files < <(git ls-files 'src/*.cpp')
fi

# Boost 1.74's Asio looks for coroutines only in libc++ when the compiler is clang: told here
# that libstdc++'s <coroutine> is there. gcc's own warning flags mean nothing to clang.
extra=(--extra-arg=-DBOOST_ASIO_HAS_CO_AWAIT=1 --extra-arg=-DBOOST_ASIO_HAS_STD_COROUTINE=1
  --extra-arg=-Wno-unknown-warning-option)
log=$(mktemp /tmp/corral-tidy-XXXXXX.log)
printf '%s\n' "${files[@]}" |
  xargs -P "${TIDY_JOBS:-$(nproc)}" -n 1 "$tidy" -p "$build_dir" --quiet "${extra[@]}" \
    >"$log" 2>/dev/null || true
# One report per finding, whichever file's run saw it first (headers are seen many times).
findings=$(grep -E '^/[^ ]+:[0-9]+:[0-9]+: (warning|error):' "$log" | sort -u || true)
if [[ -n $findings ]]; then
  echo "$findings"
  echo "tidy.sh: $(echo "$findings" | wc -l) finding(s); the full output is in $log" >&2
  exit 1
fi
echo "tidy.sh: clean (${#files[@]} files)"
rm -f "$log"
