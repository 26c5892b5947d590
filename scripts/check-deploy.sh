#!/usr/bin/env bash
# Checks the deploy files (deploy/, docs/deploy.md) for real, in 26-38 s on a busy 2-core host:
#
#   1. systemd units: `systemd-analyze verify` on copies whose ExecStart names the built
#      binary (verify exits 0 on an unknown directive, so any output it prints fails the
#      check), and `systemd-analyze security --offline` keeps their exposure bounded.
#   2. compose files: Debian's docker-compose (1.29) validates them against the compose
#      schema with .env.example's settings, and refuses them naming a missing secret.
#   3. images: each apt package the recipes install exists in Debian, and the server and
#      runner recipes install every library the binary links. No registry is reachable
#      here, so the recipes are built by Podman FROM a local base (--build-arg BASE_IMAGE)
#      that stands in for debian:12-slim: busybox, the binary's, curl's and git's host
#      libraries, the time zone files, and stand-ins for apt-get, groupadd and useradd.
#      Then the server image serves /healthz on its published port and passes its
#      HEALTHCHECK as a non-root user writing to its volume; a runner container registers
#      with it and drains on SIGTERM (exit 0, at once: corral as PID 1 handles the
#      signal); the executor image runs git as a non-root user in /workspace.
#
#   scripts/check-deploy.sh CORRAL_BINARY
#
# Everything it creates (images, containers, volumes, temp files) is removed on exit.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
deploy=$(cd "$here/../deploy" && pwd)
started=$SECONDS

die() { echo "check-deploy: FAIL: $*" >&2; exit 1; }
step() { echo "check-deploy: [$((SECONDS - started)) s] $*"; }

(($# == 1)) || { echo "usage: $0 CORRAL_BINARY" >&2; exit 2; }
binary=$(readlink -f "$1")
[[ -x $binary ]] || die "$1 is not an executable; build it first (scripts/build.sh)"
for tool in systemd-analyze docker-compose podman curl busybox; do
  command -v "$tool" >/dev/null || die "$tool is not installed; run scripts/install-deps.sh"
done

work=$(mktemp -d /tmp/corral-check-deploy.XXXXXX)
tag=check-$$
base_image=localhost/corral-deploy-base:$tag
server_image=localhost/corral-deploy-server:$tag
runner_image=localhost/corral-deploy-runner:$tag
executor_image=localhost/corral-deploy-executor:$tag
server_container=corral-deploy-server-$tag
runner_container=corral-deploy-runner-$tag
data_volume=corral-deploy-data-$tag
compose_pid="" apt_pid="" podman_used=""
# Podman with storage of its own: image builds take the storage's locks, and the engine the
# other tests run containers through (scripts/podman-service.sh) must not wait on them.
podman() { command podman --root "$work/storage" --runroot "$work/run" --tmpdir "$work/libpod" "$@"; }
cleanup() {
  # The background checks (below), when a foreground check failed first.
  for pid in $compose_pid $apt_pid; do kill "$pid" 2>/dev/null || true; done
  if [[ -n $podman_used ]]; then
    podman rm -f -t 0 "$runner_container" "$server_container" >/dev/null 2>&1 || true
    podman volume rm -f "$data_volume" >/dev/null 2>&1 || true
    podman rmi -f "$executor_image" "$runner_image" "$server_image" "$base_image" >/dev/null 2>&1 || true
    # The storage's own mounts (overlay binds its directory onto itself). Not `podman system
    # reset`: it reaches beyond this storage (networks, runtime state the engine uses).
    findmnt -rn -o TARGET | grep "^$work/" | sort -r | xargs -r umount -l 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# Waits until the command succeeds, at most $1 seconds; fails naming $2 otherwise.
wait_for() {
  local seconds=$1 what=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    ((SECONDS < deadline)) || die "$what: not within $seconds s"
    sleep 0.1
  done
}

# --- 2. compose files, and the recipes' package names ------------------------------------
# Run in the background, beside the rest: docker-compose and apt-cache each take seconds to
# start (apt here keeps no package cache). Their verdicts are read before the image builds.

# The packages after `apt-get install` in a recipe (continuation lines joined).
apt_packages() {
  sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$1" |
    grep -o 'apt-get install[^&]*' | sed 's/apt-get install//' | tr -s ' ' '\n' | grep -v '^-' | grep . || true
}

compose_checks() {
  [[ -f $deploy/.env.example ]] || die "deploy/.env.example is missing"
  if grep -nE '(crl_|sk-ant-|sk-|ghp_|github_pat_)[A-Za-z0-9_]{8,}' \
    "$deploy"/*.yml "$deploy"/.env.example "$deploy"/systemd/*.example; then
    die "a secret-looking value is written into a deploy file (above); read it from .env instead"
  fi
  # The example leaves secrets empty; fill them the way a user would, in a copy of .env.
  sed -e 's/^CORRAL_ADMIN_TOKEN=$/CORRAL_ADMIN_TOKEN=crl_admin_example/' \
    -e 's/^RUNNER_TOKEN=$/RUNNER_TOKEN=crl_runner_example/' \
    -e 's/^CORRAL_ENGINE_GID=$/CORRAL_ENGINE_GID=998/' "$deploy/.env.example" >"$work/filled.env"
  sed 's/^RUNNER_TOKEN=.*/RUNNER_TOKEN=/' "$work/filled.env" >"$work/no-token.env"
  compose_config() { # ENV_FILE COMPOSE_FILE
    env -i PATH="$PATH" docker-compose --env-file "$1" --project-directory "$deploy" -f "$deploy/$2" config -q 2>&1
  }
  local file pids=()
  for file in docker-compose.yml docker-compose.runner.yml; do
    [[ -f $deploy/$file ]] || die "deploy/$file is missing"
    compose_config "$work/filled.env" "$file" >"$work/$file.out" &
    pids+=($!)
  done
  compose_config "$work/no-token.env" docker-compose.runner.yml >"$work/no-token.out" &
  local no_token_pid=$!
  local i=0
  for file in docker-compose.yml docker-compose.runner.yml; do
    wait "${pids[i++]}" || die "deploy/$file is not valid compose:"$'\n'"$(cat "$work/$file.out")"
  done
  # Without the token, the runner alone is refused with a message naming the setting.
  if wait "$no_token_pid"; then
    die "docker-compose.runner.yml accepted an empty RUNNER_TOKEN; make it required (\${RUNNER_TOKEN:?...})"
  fi
  grep -q RUNNER_TOKEN "$work/no-token.out" ||
    die "docker-compose.runner.yml refused an empty RUNNER_TOKEN without naming it: $(cat "$work/no-token.out")"
}

# The recipes' packages exist in Debian: the test base's apt-get stand-in cannot tell.
apt_name_checks() {
  if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
    echo "check-deploy: no apt package lists here (apt-get update makes them): package names not checked"
    return 0
  fi
  local recipe pkg all found names
  all=$(for recipe in server runner executor; do apt_packages "$deploy/$recipe.Dockerfile"; done | sort -u)
  # One look-up for all (it exits 0 when any is found): compare the names it shows.
  mapfile -t names <<<"$all"
  found=$(apt-cache show --no-all-versions "${names[@]}" 2>/dev/null | sed -n 's/^Package: //p' | sort -u)
  for pkg in $(comm -23 <(echo "$all") <(echo "$found")); do
    recipe=$(grep -l -w -- "$pkg" "$deploy"/*.Dockerfile | head -1)
    die "deploy/${recipe##*/} installs $pkg, which Debian does not have (apt-cache show $pkg)"
  done
}

compose_checks >"$work/compose.log" 2>&1 &
compose_pid=$!
apt_name_checks >"$work/apt.log" 2>&1 &
apt_pid=$!
background_verdict() { # PID LOG WHAT
  if ! wait "$1"; then
    cat "$2" >&2
    exit 1
  fi
  cat "$2"
  step "$3: passed"
}

# --- 1. systemd units ------------------------------------------------------------------
step "systemd units"
mkdir -p "$work/units"
for unit in corral-server.service corral-runner@.service; do
  [[ -f $deploy/systemd/$unit ]] || die "deploy/systemd/$unit is missing"
  grep -q '^ExecStart=/usr/local/bin/corral ' "$deploy/systemd/$unit" ||
    die "deploy/systemd/$unit: ExecStart must start /usr/local/bin/corral (the path docs/deploy.md installs to)"
  # verify checks that ExecStart's program exists and is executable: use the built one.
  sed "s#^ExecStart=/usr/local/bin/corral #ExecStart=$binary #" "$deploy/systemd/$unit" >"$work/units/$unit"
done
# A template is verified through an instance; systemd-analyze finds the template beside it.
verify_out=$(systemd-analyze verify "$work/units/corral-server.service" "$work/units/corral-runner@ci.service" 2>&1) ||
  die "systemd-analyze verify failed:"$'\n'"$verify_out"
[[ -z $verify_out ]] || die "systemd-analyze verify warned (an unknown or bad directive is only a warning):"$'\n'"$verify_out"
# Exposure: 0.0 (locked down) .. 10.0 (unprotected); --threshold counts tenths. The bounds
# are today's 1.4 and 3.2 (the runner keeps more for shell-executor jobs, docs/deploy.md):
# dropping any option fails here; raise a bound only on purpose.
security_check() { # UNIT MAX_TENTHS
  local out
  out=$(systemd-analyze security --offline=true --no-pager --threshold="$2" "$work/units/$1" 2>&1) ||
    die "$1: exposure above $(($2 / 10)).$(($2 % 10)), a hardening option was dropped or loosened: $(grep -o 'level for.*' <<<"$out")
  (each option's share: systemd-analyze security --offline=true deploy/systemd/$1)"
}
security_check corral-server.service 14
security_check corral-runner@ci.service 32
# Stopping must outlast the runner's drain (RUNNER_DRAIN_TIMEOUT_S, 600 s by default).
timeout_stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)$/\1/p' "$deploy/systemd/corral-runner@.service")
if [[ -z $timeout_stop ]] || ((timeout_stop <= 600)); then
  die "corral-runner@.service: TimeoutStopSec (${timeout_stop:-unset}) must exceed RUNNER_DRAIN_TIMEOUT_S's default 600 s"
fi
grep -q '^KillMode=mixed$' "$deploy/systemd/corral-runner@.service" ||
  die "corral-runner@.service: KillMode=mixed is needed so SIGTERM reaches the runner alone and its jobs can drain"

# --- 3. images -------------------------------------------------------------------------
step "image recipes: the libraries the binary links"
# Each library the binary links must come from a package the recipe installs, or from
# debian:12-slim itself (libc6, libgcc-s1, libstdc++6: apt needs them). One dpkg -S for
# all (it is slow), asked under both /lib and /usr/lib (merged /usr: dpkg knows one).
sonames=$(objdump -p "$binary" | awk '$1 == "NEEDED" { print $2 }')
[[ -n $sonames ]] || die "objdump finds no libraries in $binary; install binutils"
paths=()
for soname in $sonames; do paths+=("/lib/x86_64-linux-gnu/$soname" "/usr/lib/x86_64-linux-gnu/$soname"); done
owners=$(dpkg -S "${paths[@]}" 2>/dev/null || true)
needed_packages=$(
  for soname in $sonames; do
    owner=$(grep -m1 "/$soname\$" <<<"$owners") || die "no Debian package owns $soname, which $binary links"
    echo "${owner%%:*}"
  done | sort -u)
for recipe in server runner; do
  installed=" $(apt_packages "$deploy/$recipe.Dockerfile" | tr '\n' ' ') libc6 libgcc-s1 libstdc++6 "
  for pkg in $needed_packages; do
    [[ $installed == *" $pkg "* ]] ||
      die "the binary links a library of $pkg: add $pkg to deploy/$recipe.Dockerfile's apt-get install"
  done
done

step "test base image"
# runc: crun fails on this kernel's hybrid cgroups (DESIGN.md, "Container engine").
printf '[engine]\nruntime = "runc"\n[containers]\ndefault_ulimits = ["nofile=1024:1024","nproc=4096:4096"]\n' \
  >"$work/containers.conf"
export CONTAINERS_CONF=$work/containers.conf
busybox=""
for candidate in /bin/busybox /usr/bin/busybox; do
  # ldd fails on a static executable ("not a dynamic executable").
  if [[ -x $candidate ]] && ! ldd "$candidate" >/dev/null 2>&1; then busybox=$candidate; break; fi
done
[[ -n $busybox ]] || die "no static busybox found; install busybox-static (scripts/install-deps.sh)"
root=$work/rootfs
mkdir -p "$root"/{usr/bin,usr/sbin,usr/lib,usr/lib64,etc,tmp,root,var/lib,proc,sys,dev}
# Merged /usr, like the host whose libraries are copied, so ldd's paths are valid inside.
for dir in bin sbin lib lib64; do ln -s "usr/$dir" "$root/$dir"; done
chmod 1777 "$root/tmp"
cp "$busybox" "$root/usr/bin/busybox"
chroot "$root" /bin/busybox --install -s
curl_bin=$(readlink -f "$(command -v curl)")
git_bin=$(readlink -f "$(command -v git)")
cp "$curl_bin" "$root/usr/bin/curl"
cp "$git_bin" "$root/usr/bin/git"
{ ldd "$binary" "$curl_bin" "$git_bin" 2>/dev/null || true; } |
  awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $1 !~ /:$/ { print $1 }' | sort -u |
  while IFS= read -r lib; do
    [[ -e $root$lib ]] || { mkdir -p "$(dirname "$root$lib")"; cp -L "$lib" "$root$lib"; }
  done
# tzdata's files: the server resolves --refresh-timezone (UTC) at start.
mkdir -p "$root/usr/share"
cp -a /usr/share/zoneinfo "$root/usr/share/"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
# Stand-ins for Debian's tools: the libraries are already here, and the package names were
# checked above against Debian's lists.
cat >"$root/usr/bin/apt-get" <<'EOF'
#!/bin/sh
echo "test base: apt-get $* (skipped: the host's libraries are copied in)"
EOF
cat >"$root/usr/sbin/groupadd" <<'EOF'
#!/bin/sh
# groupadd [--system] --gid GID NAME
gid=""
while [ $# -gt 1 ]; do case $1 in --gid) gid=$2; shift 2 ;; *) shift ;; esac; done
[ -n "$gid" ] || { echo "test base: groupadd needs --gid" >&2; exit 2; }
echo "$1:x:$gid:" >>/etc/group
EOF
cat >"$root/usr/sbin/useradd" <<'EOF'
#!/bin/sh
# useradd [--system] --uid UID --gid GROUP --home-dir DIR [--create-home] --shell SHELL NAME
uid="" gid="" home=/ shell=/bin/sh create=""
while [ $# -gt 1 ]; do
  case $1 in
    --uid) uid=$2; shift 2 ;;
    --gid) gid=$2; shift 2 ;;
    --home-dir) home=$2; shift 2 ;;
    --shell) shell=$2; shift 2 ;;
    --create-home) create=1; shift ;;
    *) shift ;;
  esac
done
[ -n "$uid" ] && [ -n "$gid" ] || { echo "test base: useradd needs --uid and --gid" >&2; exit 2; }
case $gid in *[!0-9]*) gid=$(awk -F: -v g="$gid" '$1 == g { print $3 }' /etc/group) ;; esac
[ -n "$gid" ] || { echo "test base: useradd: no such group" >&2; exit 2; }
echo "$1:x:$uid:$gid::$home:$shell" >>/etc/passwd
[ -z "$create" ] || { mkdir -p "$home" && chown "$uid:$gid" "$home"; }
EOF
chmod 0755 "$root/usr/bin/apt-get" "$root/usr/sbin/groupadd" "$root/usr/sbin/useradd"
podman_used=1
tar --numeric-owner -C "$root" -cf - . |
  podman import --quiet --change 'ENV PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$base_image" >/dev/null

build() { # RECIPE IMAGE CONTEXT
  # docker format: the OCI format drops HEALTHCHECK. --pull=never: no registry here.
  podman build --quiet --format docker --layers=false --pull=never --network none \
    --build-arg BASE_IMAGE="$base_image" -f "$deploy/$1.Dockerfile" -t "$2" "$3" >"$work/build-$1.log" 2>&1 ||
    die "podman build of deploy/$1.Dockerfile failed:"$'\n'"$(tail -20 "$work/build-$1.log")"
}
# The context holds only the binary (the recipes COPY `corral`).
mkdir -p "$work/context"
cp "$binary" "$work/context/corral"
# Read here, before the longest part: by now they are done.
background_verdict "$compose_pid" "$work/compose.log" "compose files (docker-compose config)"
background_verdict "$apt_pid" "$work/apt.log" "apt package names"
step "build server, runner and executor images"
# Side by side: most of a build is waiting on runc and storage, not on a core.
build server "$server_image" "$work/context" &
server_build=$!
build runner "$runner_image" "$work/context" &
runner_build=$!
build executor "$executor_image" "$work/context" &
executor_build=$!
for pid in $server_build $runner_build $executor_build; do wait "$pid" || exit 1; done

step "server container"
version=$("$binary" --version)
got=$(podman run --rm --no-healthcheck --network none "$server_image" --version) || die "$server_image --version failed"
[[ $got == "$version" ]] || die "$server_image --version says '$got', the binary '$version'"
admin_token=crl_deploycheck_$RANDOM$RANDOM$RANDOM
# --health-interval=disable: no systemd timer (none here); `podman healthcheck run` below
# runs the image's HEALTHCHECK command once.
# A named volume, as in docker-compose.yml: the engine fills it from the image's directory,
# owner included, so the non-root server can write there.
podman run -d --name "$server_container" -p 127.0.0.1::8080 --health-interval=disable \
  -v "$data_volume:/var/lib/corral" -e CORRAL_ADMIN_TOKEN="$admin_token" "$server_image" >"$work/server-run.log" 2>&1 ||
  die "podman run $server_image failed:"$'\n'"$(cat "$work/server-run.log")"
server_logs() { podman logs "$server_container" 2>&1 | tail -20; }
port=$(podman port "$server_container" 8080/tcp | sed -n 's/.*:\([0-9]*\)$/\1/p' | head -1)
[[ -n $port ]] || die "the server container publishes no port 8080 (state $(podman inspect --format \
  '{{.State.Status}}' "$server_container")):"$'\n'"$(server_logs)"
url=http://127.0.0.1:$port
server_ready() {
  [[ $(podman inspect --format '{{.State.Running}}' "$server_container") == true ]] ||
    die "the server container exited:"$'\n'"$(server_logs)"
  curl -fsS -o /dev/null --max-time 2 "$url/healthz" 2>/dev/null
}
wait_for 15 "the server container answering $url/healthz" server_ready
# The image's own HEALTHCHECK command, run inside the container.
podman healthcheck run "$server_container" >/dev/null 2>&1 ||
  die "the server image's HEALTHCHECK fails on a healthy server"
uid=$(podman exec "$server_container" id -u)
[[ $uid != 0 ]] || die "the server container runs as root"
podman exec "$server_container" test -s /var/lib/corral/corral.db ||
  die "the server wrote no /var/lib/corral/corral.db (is the volume writable by uid $uid?)"
curl -fsS -o /dev/null -H "Authorization: Bearer $admin_token" "$url/api/v1/runners" ||
  die "the server container does not accept CORRAL_ADMIN_TOKEN"

step "runner container"
runner_token=$(podman exec "$server_container" corral tokens create --token "$admin_token" --kind runner \
  --name deploy-check) || true
[[ -n $runner_token ]] || die "could not make a runner token in the server container"
# The runner shares the server's network namespace; the shell executor needs no engine.
podman run -d --name "$runner_container" --health-interval=disable --network "container:$server_container" \
  -e RUNNER_SERVER_URL=http://127.0.0.1:8080 -e RUNNER_TOKEN="$runner_token" -e RUNNER_NAME=deploy-check \
  -e RUNNER_EXECUTOR=shell "$runner_image" >/dev/null || die "podman run $runner_image failed"
runner_online() {
  [[ $(podman inspect --format '{{.State.Running}}' "$runner_container") == true ]] ||
    die "the runner container exited:"$'\n'"$(podman logs "$runner_container" 2>&1 | tail -20)"
  curl -fsS --max-time 2 -H "Authorization: Bearer $admin_token" "$url/api/v1/runners" 2>/dev/null |
    grep -q '"name": *"deploy-check"'
}
wait_for 15 "the runner container registering" runner_online
# SIGTERM with nothing running: the drain is immediate and the exit clean. A runner that
# ignored SIGTERM as PID 1 would be killed after the 10 s here (and 11 min under compose).
stop_started=$SECONDS
podman stop -t 10 "$runner_container" >/dev/null || die "podman stop $runner_container failed"
exit_code=$(podman inspect --format '{{.State.ExitCode}}' "$runner_container")
((exit_code == 0 && SECONDS - stop_started < 8)) ||
  die "the runner container did not drain on SIGTERM (exit $exit_code after $((SECONDS - stop_started)) s):"$'\n'"$(podman logs "$runner_container" 2>&1 | tail -10)"

step "executor image"
got=$(podman run --rm --network none "$executor_image" sh -c 'id -u; pwd; git --version') ||
  die "$executor_image could not run sh and git"
mapfile -t lines <<<"$got"
exec_uid=${lines[0]} exec_dir=${lines[1]}
[[ $exec_uid != 0 ]] || die "the executor image runs jobs as root"
[[ $exec_dir == /workspace ]] || die "the executor image's working directory is $exec_dir, not /workspace"
[[ $got == *"git version"* ]] || die "git does not run in the executor image: $got"

step "passed"
