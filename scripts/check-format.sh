#!/usr/bin/env bash
# The style gate: every C++ file in the repository is as clang-format (.clang-format at the
# root) would write it. Lists the files that are not and exits 1; --fix rewrites them.
#
#   scripts/check-format.sh [--fix]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "check-format: clang-format is missing; run scripts/install-deps.sh" >&2; exit 2; }
mapfile -t files < <(git ls-files '*.cpp' '*.h')
if [[ ${1:-} == --fix ]]; then
  clang-format -i "${files[@]}"
  exit 0
fi
# One clang-format for all files (a process per file took a minute on 2 busy cores): each
# difference is a warning that starts with the file's name.
mapfile -t bad < <(clang-format --dry-run "${files[@]}" 2>&1 | grep -oE '^[^:]+\.(cpp|h):[0-9]+:[0-9]+: warning' |
  cut -d: -f1 | sort -u)
if ((${#bad[@]})); then
  echo "check-format: ${#bad[@]} of ${#files[@]} files differ from .clang-format:" >&2
  printf '  %s\n' "${bad[@]}" >&2
  echo "check-format: fix them with scripts/check-format.sh --fix (or clang-format -i FILE)" >&2
  exit 1
fi
echo "check-format: all ${#files[@]} C++ files match .clang-format"
