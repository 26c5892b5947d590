#!/usr/bin/env bash
# Starts and stops a fresh private PostgreSQL cluster N times in a row (default 50), each in
# a new directory, through scripts/pg-service.sh, and fails at the first start that does not
# come up ready or stop that does not stop. It guards the readiness check against the race
# of a postmaster that has not written its pid file yet (see pg-service.sh).
#
#   scripts/check-pg-service.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-50}
base=$(mktemp -d /tmp/corral-pg-check-XXXXXX)
chmod 755 "$base"  # the cluster runs as postgres when we are root
trap 'for d in "$base"/*/; do scripts/pg-service.sh stop "$d" >/dev/null 2>&1 || true; done; rm -rf "$base"' EXIT
for ((i = 1; i <= n; i++)); do
  dir=$base/$i
  env_line=$(scripts/pg-service.sh start "$dir") || { echo "check-pg-service: start $i of $n failed" >&2; exit 1; }
  url=${env_line#export CORRAL_TEST_PG=}
  # Ready means a client can run a query now, not merely that a process exists.
  if ! out=$(psql -X -q -t -A "$url" -c 'SELECT 1' 2>&1) || [[ $out != 1 ]]; then
    echo "check-pg-service: start $i of $n said ready but a query failed: $out" >&2
    exit 1
  fi
  scripts/pg-service.sh stop "$dir" || { echo "check-pg-service: stop $i of $n failed" >&2; exit 1; }
  if scripts/pg-service.sh status "$dir" 2>/dev/null; then
    echo "check-pg-service: the server of start $i still runs after stop" >&2
    exit 1
  fi
  rm -rf "$dir"
done
echo "check-pg-service: $n fresh starts and stops, all ready and stopped"
