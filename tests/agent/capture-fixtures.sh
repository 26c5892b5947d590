#!/usr/bin/env bash
# Captures tests/agent/fixtures/: the real stdout and stderr of `claude` and `codex` in the
# agent image, run the way corral's runner runs them, against mock-model.mjs on the host.
# Rerun it after bumping the CLIs in images/agent; it rewrites the fixtures and the exit
# code table in fixtures/exit-codes.tsv (README.md describes the commands).
#
#   tests/agent/capture-fixtures.sh [IMAGE]     default IMAGE: localhost/corral-agent:latest
#
# Needs podman and the image (scripts/make-agent-image.sh). CONTAINERS_CONF is honoured;
# without one, runc and bounded ulimits are used as scripts/podman-service.sh does.
set -euo pipefail

image=${1:-localhost/corral-agent:latest}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$here/fixtures
scenarios=(ok tool overloaded ratelimited unauthorized stream-error)

podman image exists "$image" || { echo "capture-fixtures: no image $image; run scripts/make-agent-image.sh" >&2; exit 1; }

work=$(mktemp -d)
mock_pid=""
cleanup() {
  [[ -n $mock_pid ]] && kill "$mock_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

if [[ -z ${CONTAINERS_CONF:-} ]]; then
  printf '[engine]\nruntime = "runc"\n[containers]\ndefault_ulimits = ["nofile=1024:1024","nproc=4096:4096"]\n' >"$work/containers.conf"
  export CONTAINERS_CONF=$work/containers.conf
fi

node "$here/mock-model.mjs" --ignore-stdin >"$work/mock.out" 2>"$work/mock.err" &
mock_pid=$!
for _ in $(seq 100); do
  grep -q '^PORT=' "$work/mock.out" 2>/dev/null && break
  sleep 0.05
done
port=$(sed -n 's/^PORT=//p' "$work/mock.out")
[[ -n $port ]] || { echo "capture-fixtures: the mock did not start" >&2; cat "$work/mock.err" >&2; exit 1; }

# A small repository as the job's /workspace, writable by uid 1000.
workspace=$work/workspace
mkdir -p "$workspace"
git -C "$workspace" init -q
printf '# demo\n\nA repository for the agent fixtures.\n' >"$workspace/README.md"
printf 'int main(void) { return 0; }\n' >"$workspace/main.c"
git -C "$workspace" add .
git -C "$workspace" -c user.name=corral -c user.email=corral@localhost commit -qm 'initial commit'
chmod -R a+rwX "$workspace"

run_in_image() {
  podman run --rm --network host --user 1000 --cap-drop all --security-opt no-new-privileges \
    -v "$workspace:/workspace" "$@"
}

claude_cmd() {
  run_in_image \
    -e ANTHROPIC_BASE_URL="http://127.0.0.1:$port" \
    -e ANTHROPIC_API_KEY=sk-ant-mock-key \
    -e CLAUDE_CODE_MAX_RETRIES=0 \
    -e DISABLE_TELEMETRY=1 \
    -e CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 \
    "$image" claude -p "$1" --output-format stream-json --verbose "${@:2}"
}

codex_cmd() {
  run_in_image \
    -e OPENAI_API_KEY=sk-mock-key \
    "$image" codex exec --json --dangerously-bypass-approvals-and-sandbox --skip-git-repo-check \
    -c model_provider=mock \
    -c model_providers.mock.name=mock \
    -c "model_providers.mock.base_url=\"http://127.0.0.1:$port/v1\"" \
    -c model_providers.mock.env_key=OPENAI_API_KEY \
    -c model_providers.mock.wire_api=responses \
    -c model_providers.mock.request_max_retries=0 \
    -c model_providers.mock.stream_max_retries=0 \
    --disable unbounded_connection_retries \
    "${@:2}" "$1"
}

# Each case: CLI, fixture name, marker, extra CLI arguments.
cases=()
for cli in claude codex; do
  for scenario in "${scenarios[@]}"; do cases+=("$cli|$scenario|$scenario|"); done
done
cases+=("claude|tool-max-turns|tool|--max-turns 1")
# A model name the CLI does not know (what a test passing `model:` gets): both still work,
# with a warning (Claude: stderr; Codex: an item of type "error" on stdout).
cases+=("claude|ok-model|ok|--model mock-model")
cases+=("codex|ok-model|ok|-m mock-model")

mkdir -p "$out"
printf 'cli\tfixture\texit_code\tseconds\n' >"$out/exit-codes.tsv"
for entry in "${cases[@]}"; do
  IFS='|' read -r cli name marker extra <<<"$entry"
  curl -s -X POST "http://127.0.0.1:$port/_mock/reset" >/dev/null
  base=$out/$cli-$name
  started=$(date +%s.%N)
  set +e
  # shellcheck disable=SC2086 # extra holds whole arguments
  "${cli}_cmd" "[mock:$marker] Review the change in this repository." $extra \
    </dev/null >"$base.stdout.jsonl" 2>"$base.stderr.txt"
  code=$?
  set -e
  seconds=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  printf '%s\t%s\t%s\t%s\n' "$cli" "$name" "$code" "$seconds" >>"$out/exit-codes.tsv"
  curl -s "http://127.0.0.1:$port/_mock/requests" \
    | node -e 'process.stdout.write(JSON.stringify(JSON.parse(require("fs").readFileSync(0, "utf8")), null, 1) + "\n")' \
      >"$base.requests.json"
  echo "capture-fixtures: $cli $name -> exit $code in ${seconds}s"
done
