#!/usr/bin/env bash
# Installs what is missing, builds, and starts corral on this machine with an embedded
# SQLite store in ./corral-data. Prints the URL and (on first start) the admin token.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
"$repo/scripts/install-deps.sh"
"$repo/scripts/build.sh"
exec "$repo/build/corral" server --data-dir "${CORRAL_DATA_DIR:-./corral-data}" "$@"
