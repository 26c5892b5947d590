#!/usr/bin/env bash
# What corral adds around an agent run: the same Claude Code review (against the local mock
# model server, tests/agent/mock-model.mjs) run N times straight with `podman run` in the
# agent image, and N times as a corral agent job (submit -> claim -> container -> CLI ->
# finish) on an idle runner with the same image, network and environment. Prints the
# medians, the difference (corral's overhead per run) and the ratio, measured in one run.
#
#   bench/agent_overhead.sh [RUNS]           default 5; needs a build (build/corral, or
#                                            CORRAL_BINARY), DOCKER_HOST (scripts/podman-service.sh)
#                                            and the agent image (scripts/make-agent-image.sh)
#
# The corral figure is the job's created_at -> finished_at as the server recorded them (the
# submit's commit to the finish's); the direct figure is `podman run`'s wall time from start
# to exit. Both include creating, starting and removing the container.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-5}
corral=${CORRAL_BINARY:-build/corral}
image=localhost/corral-agent:latest
[[ -x $corral ]] || { echo "agent_overhead: no $corral; build first (scripts/build.sh)" >&2; exit 1; }
[[ -n ${DOCKER_HOST:-} ]] || { echo "agent_overhead: DOCKER_HOST is not set; eval \"\$(scripts/podman-service.sh start DIR)\"" >&2; exit 1; }
podman image exists "$image" || { echo "agent_overhead: no $image; run scripts/make-agent-image.sh" >&2; exit 1; }

# `podman run` with the settings the API service runs containers with (runc, bounded
# rlimits: scripts/podman-service.sh), so both ways start containers alike.
service_conf=$(dirname "${DOCKER_HOST#unix://}")/containers.conf
[[ -f $service_conf ]] && export CONTAINERS_CONF=${CONTAINERS_CONF:-$service_conf}

work=$(mktemp -d /tmp/corral-agent-bench-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

now_ms() { date +%s%3N; }
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : int((a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }

# The mock model server.
coproc MOCK { exec node tests/agent/mock-model.mjs --port 0; }
pids+=("$MOCK_PID")
read -r line <&"${MOCK[0]}"
port=${line#PORT=}
model_url=http://127.0.0.1:$port
agent_env=(ANTHROPIC_BASE_URL="$model_url" ANTHROPIC_API_KEY=sk-bench DISABLE_TELEMETRY=1
           CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1)

# 1. Straight: podman run ... claude -p.
direct=()
for ((i = 0; i < runs; i++)); do
  t0=$(now_ms)
  podman run --rm --network host --cap-drop all --security-opt no-new-privileges \
    "${agent_env[@]/#/--env=}" "$image" \
    claude -p "[mock:ok] Review this change." --output-format stream-json --verbose >"$work/direct.out" 2>&1 ||
    { cat "$work/direct.out" >&2; exit 1; }
  direct+=($(($(now_ms) - t0)))
done

# 2. Through corral: a server, an idle runner parked in its long-poll claim, N jobs.
server_port=$((20000 + RANDOM % 20000))
"$corral" server --listen 127.0.0.1:$server_port --data-dir "$work/server" >"$work/server.log" 2>&1 &
pids+=($!)
url=http://127.0.0.1:$server_port
for _ in $(seq 100); do [[ -s $work/server/admin.token ]] && curl -fs "$url/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
admin=$(cat "$work/server/admin.token")
reg=$("$corral" tokens create --kind runner --name bench --server "$url" --token "$admin")
env "${agent_env[@]}" RUNNER_SERVER_URL="$url" RUNNER_TOKEN="$reg" RUNNER_NAME=bench \
  RUNNER_AGENT_ENV=DISABLE_TELEMETRY,CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC \
  DOCKER_EXECUTOR_IMAGE="$image" DOCKER_NETWORK_MODE=host DOCKER_PULL_POLICY=never \
  DOCKER_WORKSPACE_BASE="$work/workspaces" "$corral" runner >"$work/runner.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do
  "$corral" runners --server "$url" --token "$admin" 2>/dev/null | grep -q idle && break
  sleep 0.1
done

through=()
for ((i = 0; i < runs; i++)); do
  t0=$(now_ms)
  id=$("$corral" submit --server "$url" --token "$admin" -f - <<<'{"agent": {"cli": "claude", "prompt": "[mock:ok] Review this change."}}')
  for _ in $(seq 1200); do
    state=$(curl -fs -H "Authorization: Bearer $admin" "$url/api/v1/jobs/$id" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);console.log(j.state)})')
    [[ $state == succeeded || $state == failed ]] && break
    sleep 0.05
  done
  [[ $state == succeeded ]] || { echo "agent_overhead: job $id $state" >&2; cat "$work/runner.log" >&2; exit 1; }
  # The server's own created_at -> finished_at: the polling above adds nothing to it.
  through+=($(curl -fs -H "Authorization: Bearer $admin" "$url/api/v1/jobs/$id" |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);console.log(Date.parse(j.finished_at)-Date.parse(j.created_at))})'))
done

d=$(printf '%s\n' "${direct[@]}" | median)
c=$(printf '%s\n' "${through[@]}" | median)
echo "agent runs: $runs each, Claude Code $(podman run --rm "$image" claude --version 2>/dev/null | head -1) against the mock"
echo "direct (podman run ... claude -p): median ${d} ms   [${direct[*]}]"
echo "as a corral job (created -> finished): median ${c} ms   [${through[*]}]"
echo "corral adds: $((c - d)) ms per run; ratio corral/direct: $(awk -v c="$c" -v d="$d" 'BEGIN { printf "%.2f", c / d }')"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
