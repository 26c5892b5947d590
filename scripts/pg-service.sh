#!/usr/bin/env bash
# Runs a private PostgreSQL 15 cluster for corral's PostgreSQL store and its tests.
#
#   scripts/pg-service.sh start DIR   start (idempotent), wait until the postmaster is ready
#                                     and pg_isready answers on 127.0.0.1,
#                                     print `export CORRAL_TEST_PG=postgresql://...`
#   scripts/pg-service.sh stop DIR    stop the cluster started in DIR (data stays)
#   scripts/pg-service.sh env DIR     print the export line (no check)
#   scripts/pg-service.sh status DIR  exit 0 when a server runs on DIR's data, 1 otherwise
#
# Typical use:  eval "$(scripts/pg-service.sh start /tmp/corral-pg)"
#
# DIR holds: data/ (the cluster)  sock/ (its unix socket)  port  postgres.log
# PostgreSQL refuses to run as root, so when this script runs as root the cluster belongs
# to the `postgres` system user (DIR is chowned to it) and every server command runs
# through runuser. It listens on 127.0.0.1 only, on a free port picked at first start
# and kept in DIR/port, with trust authentication for local and loopback connections
# (a test cluster: no password to leak). fsync stays on, like a real deployment.
# Diagnostics go to stderr, the export line to stdout.
set -euo pipefail

usage() {
  echo "usage: $0 start|stop|env|status DIR" >&2
  exit 2
}

(($# == 2)) || usage
cmd=$1
dir=$2
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
data=$dir/data
sockdir=$dir/sock
portfile=$dir/port
log=$dir/postgres.log
start_timeout_s=${PG_START_TIMEOUT:-60}

pg_bin=${PG_BIN:-}
if [[ -z $pg_bin ]]; then
  for candidate in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    if [[ -x $candidate/pg_ctl ]]; then
      pg_bin=$candidate
      break
    fi
  done
fi
[[ -n $pg_bin && -x $pg_bin/pg_ctl ]] || {
  echo "pg-service: PostgreSQL server binaries not found (looked in /usr/lib/postgresql/*/bin);" \
    "run scripts/install-deps.sh" >&2
  exit 1
}

# Server commands run as the cluster's owner: `postgres` when we are root.
as_owner() {
  if (($(id -u) == 0)); then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

port() { [[ -f $portfile ]] && cat "$portfile"; }

# A TCP port nobody listens on at 127.0.0.1 (the kernel picks it).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
    awk 'BEGIN { srand(); print 20000 + int(rand() * 20000) }'
}

ready() {
  local p
  p=$(port) || return 1
  [[ -n $p ]] || return 1
  "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$p" -t 2 -d postgres -U postgres
}

print_env() { echo "export CORRAL_TEST_PG=postgresql://postgres@127.0.0.1:$(port)/postgres"; }

init_cluster() {
  [[ -f $data/PG_VERSION ]] && return
  mkdir -p "$data" "$sockdir"
  if (($(id -u) == 0)); then
    chown -R postgres: "$dir"
    runuser -u postgres -- test -x "$dir" || {
      echo "pg-service: the postgres user cannot reach $dir; let it through the parent" \
        "directories (e.g. chmod o+x on each)" >&2
      exit 1
    }
  fi
  chmod 700 "$data"
  as_owner "$pg_bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
    >>"$log" 2>&1 || {
    echo "pg-service: initdb failed; last lines of $log:" >&2
    tail -n 20 "$log" >&2 || true
    exit 1
  }
  free_port >"$portfile"
  cat >>"$data/postgresql.conf" <<CONF
# Written by corral's scripts/pg-service.sh
listen_addresses = '127.0.0.1'
port = $(port)
unix_socket_directories = '$sockdir'
fsync = on
max_connections = 200
CONF
  # initdb --auth=trust already trusts local and loopback; nothing else may connect.
  cat >"$data/pg_hba.conf" <<HBA
local all all trust
host  all all 127.0.0.1/32 trust
HBA
  if (($(id -u) == 0)); then chown -R postgres: "$dir"; fi
}

server_running() { as_owner "$pg_bin/pg_ctl" -D "$data" status >/dev/null 2>&1; }

# The postmaster's own view of itself, from DIR/data/postmaster.pid (line 1: its pid, line 8:
# its status, "starting", "ready" or "stopping"). Empty when there is no pid file yet.
pid_file_status() {
  [[ -f $data/postmaster.pid ]] || return 0
  sed -n 8p "$data/postmaster.pid" 2>/dev/null | tr -d ' ' || true
}

fail_start() {
  echo "pg-service: $1; last lines of $log:" >&2
  tail -n 20 "$log" >&2 || true
  exit 1
}

start() {
  if [[ -f $data/PG_VERSION ]] && ready; then
    print_env
    return
  fi
  init_cluster
  if (($(id -u) == 0)); then chown postgres: "$dir" "$log" 2>/dev/null || true; fi
  if ! server_running; then
    # -w: pg_ctl waits for the real readiness condition: the postmaster it started writes
    # "ready" into postmaster.pid, and pg_ctl knows that child's pid, so a postmaster that has
    # not written its pid file yet is "starting", never "exited". It fails only when that
    # postmaster dies or the deadline (-t) passes.
    as_owner "$pg_bin/pg_ctl" -D "$data" -l "$log" -w -t "$start_timeout_s" start >/dev/null 2>&1 ||
      fail_start "the server did not start (pg_ctl start -w -t $start_timeout_s failed)"
  fi
  # A postmaster that was already starting (another caller's start, a crash recovery) or
  # that pg_ctl reported ready: wait until it answers on TCP too. It has exited only when
  # its pid file is gone after it had been written, or names a process that is not alive.
  local deadline=$((SECONDS + start_timeout_s))
  local delay=0.05
  until ready; do
    local pid
    pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)
    if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
      fail_start "the server (pid $pid) exited"
    fi
    if [[ -z $pid && -n ${seen_pid:-} ]]; then
      fail_start "the server (pid $seen_pid) exited"
    fi
    [[ -n $pid ]] && seen_pid=$pid
    if ((SECONDS >= deadline)); then
      fail_start "no answer on 127.0.0.1:$(port) after ${start_timeout_s}s (postmaster status: $(pid_file_status))"
    fi
    # Poll the readiness condition with a growing interval, bounded by the deadline.
    sleep "$delay"
    delay=$(awk -v d="$delay" 'BEGIN { d *= 2; if (d > 0.5) d = 0.5; print d }')
  done
  print_env
}

stop() {
  [[ -f $data/PG_VERSION ]] || return 0
  if server_running; then
    # fast: roll back open transactions and disconnect clients; -w waits for the exit.
    as_owner "$pg_bin/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null
  fi
}

case $cmd in
  start) start ;;
  stop) stop ;;
  env) print_env ;;
  status) [[ -f $data/PG_VERSION ]] && server_running ;;
  *) usage ;;
esac
