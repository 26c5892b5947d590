#!/usr/bin/env bash
# Runs Podman's Docker-compatible Engine API service for corral's Docker executor and its
# tests, on machines without a Docker engine (see DESIGN.md, "Container engine on machines
# without Docker").
#
#   scripts/podman-service.sh start DIR   start (idempotent), wait until GET /_ping answers,
#                                         print `export DOCKER_HOST=unix://DIR/podman.sock`
#   scripts/podman-service.sh stop DIR    stop the service started in DIR
#   scripts/podman-service.sh env DIR     print the export line (no check)
#
# Typical use:  eval "$(scripts/podman-service.sh start /tmp/corral-podman)"
#
# DIR holds: containers.conf  conmon-wrapper  podman.sock  podman.pid  podman.log
# runc is used because crun fails on hybrid-cgroup kernels; default_ulimits bounds the
# rlimits containers inherit. Diagnostics go to stderr, the export line to stdout.
#
# OOMKilled: conmon 2.1 marks an OOM kill by creating a file "oom" in its *current
# directory* (containers/conmon#504), while Podman < 5 looks for it in the container's
# bundle directory (containers/podman#13102). conmon inherits the service's cwd, so
# State.OOMKilled would always be false (and stray "oom" files would appear wherever the
# service was started). conmon-wrapper enters the bundle directory (conmon's -b argument)
# before exec'ing the real conmon, so the engine reports OOMKilled truthfully.
set -euo pipefail
# No job control: the service started below then stays in this script's process group until
# setsid gives it a session of its own, and setsid never has to fork (it forks only for a
# group leader), so the pid recorded in podman.pid is the service's own. A readiness wait can
# then tell "still starting" (that pid alive, no answer yet) from "exited" (that pid gone).
set +m

usage() {
  echo "usage: $0 start|stop|env DIR" >&2
  exit 2
}

(($# == 2)) || usage
cmd=$1
dir=$2
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
sock=$dir/podman.sock
pidfile=$dir/podman.pid
log=$dir/podman.log
conf=$dir/containers.conf
wrapper=$dir/conmon-wrapper
start_timeout_s=${PODMAN_START_TIMEOUT:-30}

# True when the service at $sock answers GET /_ping with OK.
ping() {
  [[ -S $sock ]] || return 1
  if command -v curl >/dev/null; then
    [[ $(curl -s --max-time 2 --unix-socket "$sock" http://d/_ping 2>/dev/null) == OK ]]
  else
    # Without curl, ask through Podman's own remote client (same socket, libpod API).
    timeout 5 podman --remote --url "unix://$sock" version >/dev/null 2>&1
  fi
}

running_pid() {
  [[ -f $pidfile ]] || return 1
  local pid
  pid=$(<"$pidfile")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

write_conmon_wrapper() {
  local conmon
  conmon=$(command -v conmon || echo /usr/bin/conmon)
  cat >"$wrapper" <<WRAPPER
#!/bin/sh
# Written by corral's scripts/podman-service.sh: run conmon inside the bundle directory
# so its "oom" marker lands where Podman looks for it (containers/podman#13102).
prev=
for arg in "\$@"; do
  if [ "\$prev" = "-b" ] || [ "\$prev" = "--bundle" ]; then
    cd "\$arg" 2>/dev/null || true
    break
  fi
  prev=\$arg
done
exec $conmon "\$@"
WRAPPER
  chmod +x "$wrapper"
}

print_env() { echo "export DOCKER_HOST=unix://$sock"; }

start() {
  for tool in podman runc; do
    command -v "$tool" >/dev/null || {
      echo "podman-service: '$tool' is not installed; run scripts/install-deps.sh" >&2
      exit 1
    }
  done
  if ping; then
    print_env
    return
  fi
  if pid=$(running_pid); then
    echo "podman-service: pid $pid is running but not answering yet; waiting" >&2
  else
    write_conmon_wrapper
    printf '[engine]\nruntime = "runc"\nconmon_path = ["%s"]\n[containers]\ndefault_ulimits = ["nofile=1024:1024","nproc=4096:4096"]\n' \
      "$wrapper" >"$conf"
    rm -f "$sock"
    # setsid: the service outlives this shell and its job control. cd: the service's cwd
    # is DIR, never the caller's directory.
    (cd "$dir" && CONTAINERS_CONF=$conf exec setsid podman system service --time=0 \
      "unix://$sock" </dev/null >>"$log" 2>&1) &
    echo $! >"$pidfile"
  fi
  local deadline=$((SECONDS + start_timeout_s))
  local delay=0.05
  until ping; do
    if ! running_pid >/dev/null; then
      echo "podman-service: the service exited; last lines of $log:" >&2
      tail -n 20 "$log" >&2 || true
      exit 1
    fi
    if ((SECONDS >= deadline)); then
      echo "podman-service: no answer on $sock after ${start_timeout_s}s; see $log" >&2
      exit 1
    fi
    # Poll the readiness condition with a growing interval, bounded by the deadline.
    sleep "$delay"
    delay=$(awk -v d="$delay" 'BEGIN { d *= 2; if (d > 0.5) d = 0.5; print d }')
  done
  print_env
}

stop() {
  local pid
  if pid=$(running_pid); then
    kill "$pid"
    local deadline=$((SECONDS + 15))
    while kill -0 "$pid" 2>/dev/null; do
      if ((SECONDS >= deadline)); then
        kill -9 "$pid" 2>/dev/null || true
        break
      fi
      sleep 0.1
    done
  fi
  rm -f "$pidfile" "$sock"
}

case $cmd in
  start) start ;;
  stop) stop ;;
  env) print_env ;;
  *) usage ;;
esac
