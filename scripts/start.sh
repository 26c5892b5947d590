#!/usr/bin/env bash
# A new user's first command: installs what is missing, builds, and runs `corral dev` (the
# server with SQLite in ./corral-data plus one runner on this machine). Uses Docker when it
# runs here; otherwise starts Podman's Docker-compatible service and a small local busybox
# image (no registry needed). The first job's log is printed once it has run.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
"$repo/scripts/install-deps.sh"
"$repo/scripts/build.sh"

if [[ -z "${DOCKER_HOST:-}" && ! -S /var/run/docker.sock ]] && command -v podman >/dev/null; then
  eval "$("$repo/scripts/podman-service.sh" start "${CORRAL_PODMAN_DIR:-/tmp/corral-podman}")"
  "$repo/scripts/make-test-image.sh" >/dev/null
  export DOCKER_EXECUTOR_IMAGE=${DOCKER_EXECUTOR_IMAGE:-localhost/corral-test:latest}
fi
exec "$repo/build/corral" dev "$@"
