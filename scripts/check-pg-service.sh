#!/usr/bin/env bash
# Starts and stops a fresh private PostgreSQL cluster N times in a row (default 50), each in
# a new directory, through scripts/pg-service.sh, and fails at the first start that does not
# come up ready or stop that does not stop. It guards the readiness check against the race
# of a postmaster that has not written its pid file yet (see pg-service.sh).
#
#   scripts/check-pg-service.sh [--slow-start] [N]
#
# --slow-start: every postmaster waits a second before it starts (a wrapper in front of the
# real `postgres`, as on a loaded machine), which is the window in which the old check took
# "no pid file yet" for "exited". The ctest entry scripts.pg_service runs it that way.
set -euo pipefail
cd "$(dirname "$0")/.."
slow_start=0
if [[ ${1:-} == --slow-start ]]; then
  slow_start=1
  shift
fi
n=${1:-50}
base=$(mktemp -d /tmp/corral-pg-check-XXXXXX)
chmod 755 "$base"  # the cluster runs as postgres when we are root

if ((slow_start)); then
  real_bin=""
  for candidate in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    [[ -x $candidate/pg_ctl ]] && { real_bin=$candidate; break; }
  done
  [[ -n $real_bin ]] || { echo "check-pg-service: PostgreSQL not found; run scripts/install-deps.sh" >&2; exit 1; }
  mkdir "$base/slow-bin"
  # pg_ctl runs the `postgres` beside its own (resolved) path, so it is copied, not linked.
  cp "$real_bin/pg_ctl" "$base/slow-bin/"
  ln -s "$real_bin/initdb" "$real_bin/pg_isready" "$base/slow-bin/"
  cat >"$base/slow-bin/postgres" <<WRAPPER
#!/bin/sh
case "\$1" in -V|--version|--describe-config) exec "$real_bin/postgres" "\$@" ;; esac
sleep 1
exec "$real_bin/postgres" "\$@"
WRAPPER
  chmod 755 "$base/slow-bin" "$base/slow-bin/postgres"
  export PG_BIN=$base/slow-bin
fi
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
