#!/usr/bin/env bash
# Builds the executor image for agent jobs (issue 15) without any registry: a rootfs holding
# a static busybox (sh and the applets), bash, git (https, with the CA bundle), the Claude
# Code and Codex CLIs pinned in images/agent/package-lock.json, the host's glibc libraries
# they need, users root and agent (uid 1000, HOME=/home/agent), /tmp and /workspace; then
# `podman import`ed. Idempotent: does nothing when the image exists and was built from the
# same recipe (its corral.agent.recipe label); FORCE=1 rebuilds anyway.
#
#   scripts/make-agent-image.sh [IMAGE]     default IMAGE: localhost/corral-agent:latest
#
# Environment:
#   FORCE=1            rebuild even when the image is up to date
#   WITH_NODE=1        also copy /usr/bin/node and its libraries (the CLIs do not need it)
#   CORRAL_CACHE_DIR   where `npm ci` installs the CLIs, kept between builds and reused while
#                      the lock file is unchanged; default ${XDG_CACHE_HOME:-~/.cache}/corral
#
# The CLIs' native binaries are hard-linked from the npm cache into the staging rootfs, and
# tar streams the rootfs into `podman import`: no copy and no tarball of ours on disk (most
# of the build time is Podman writing the 840 MB layer). Codex's Node launcher (bin/codex.js) only sets two variables and execs
# the native binary, so /usr/local/bin/codex links to that binary and Node is left out.
set -euo pipefail

image=${1:-localhost/corral-agent:latest}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
recipe_dir=$here/../images/agent

die() { echo "make-agent-image: $*" >&2; exit 1; }

command -v podman >/dev/null || die "podman is not installed; run scripts/install-deps.sh"
[[ -f $recipe_dir/package-lock.json ]] || die "$recipe_dir/package-lock.json is missing"

# The recipe: the pins and this script. A change to either rebuilds the image.
recipe=$(cat "$recipe_dir/package.json" "$recipe_dir/package-lock.json" "${BASH_SOURCE[0]}" \
  <(echo "with_node=${WITH_NODE:-0}") | sha256sum | cut -c1-16)

if [[ ${FORCE:-0} != 1 ]] && podman image exists "$image"; then
  built=$(podman image inspect --format '{{index .Labels "corral.agent.recipe"}}' "$image" 2>/dev/null || true)
  if [[ $built == "$recipe" ]]; then
    echo "make-agent-image: $image already exists"
    exit 0
  fi
  echo "make-agent-image: $image was built from another recipe ($built); rebuilding"
fi

started=$SECONDS
busybox=""
for candidate in /bin/busybox /usr/bin/busybox; do
  # ldd fails on a static executable ("not a dynamic executable").
  if [[ -x $candidate ]] && ! ldd "$candidate" >/dev/null 2>&1; then
    busybox=$candidate
    break
  fi
done
[[ -n $busybox ]] || die "no static busybox found; install busybox-static"
for tool in git bash npm curl gh; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done
git_core=$(git --exec-path)
ca_bundle=/etc/ssl/certs/ca-certificates.crt
[[ -f $ca_bundle ]] || die "$ca_bundle is missing; install ca-certificates"

# --- The CLIs, installed once per lock file --------------------------------------------
cache=${CORRAL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/corral}
lock_hash=$(cat "$recipe_dir/package.json" "$recipe_dir/package-lock.json" | sha256sum | cut -c1-16)
npm_dir=$cache/agent-npm-$lock_hash
mkdir -p "$cache"
if [[ ! -f $npm_dir/.complete ]]; then
  echo "make-agent-image: npm ci into $npm_dir"
  rm -rf "$npm_dir" "$npm_dir.partial"
  mkdir -p "$npm_dir.partial"
  cp "$recipe_dir/package.json" "$recipe_dir/package-lock.json" "$npm_dir.partial/"
  # --ignore-scripts: claude-code's postinstall only hard-links the platform binary to
  # bin/claude.exe, which the image does not use. npm installs only this platform's
  # optional packages (os, cpu and libc in the lock file).
  (cd "$npm_dir.partial" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error \
    --cache "$cache/npm-cache")
  touch "$npm_dir.partial/.complete"
  echo "make-agent-image: npm ci took $((SECONDS - started)) s"
  mv "$npm_dir.partial" "$npm_dir"
  # Older installs (other lock files) are of no further use.
  find "$cache" -maxdepth 1 -name 'agent-npm-*' ! -name "agent-npm-$lock_hash" -exec rm -rf {} +
fi
modules=$npm_dir/node_modules
claude_bin=$modules/@anthropic-ai/claude-code-linux-x64/claude
codex_vendor=$modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl
[[ -x $claude_bin ]] || die "$claude_bin is missing (is this x86_64 glibc Linux?)"
[[ -x $codex_vendor/bin/codex ]] || die "$codex_vendor/bin/codex is missing"

# --- The rootfs -------------------------------------------------------------------------
# Staged inside the cache directory so the big binaries can be hard links, not copies.
work=$(mktemp -d "$cache/agent-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"/{usr/bin,usr/sbin,usr/lib,usr/lib64,usr/local/bin,etc/ssl/certs,root,home/agent,tmp,var/tmp,workspace,proc,sys,dev,opt}
# Merged /usr, like the host whose libraries are copied, so ldd's paths are valid inside.
for dir in bin sbin lib lib64; do ln -s "usr/$dir" "$root/$dir"; done
chmod 1777 "$root/tmp" "$root/var/tmp"
chmod 700 "$root/root"
# Writable by uid 1000 (the non-root user corral runs jobs as) and, sticky, by any other
# uid a job policy picks: both CLIs write their state under $HOME (~/.claude, ~/.claude.json,
# ~/.codex).
chown 1000:1000 "$root/home/agent"
chmod 1777 "$root/home/agent"
chmod 777 "$root/workspace"

cp "$busybox" "$root/usr/bin/busybox"
chroot "$root" /bin/busybox --install -s

# Hard link when the cache shares a filesystem with the staging dir (it does), else copy.
place() { ln -f "$1" "$2" 2>/dev/null || cp "$1" "$2"; }

mkdir -p "$root/opt/claude-code" "$root/opt/codex/bin" "$root/opt/codex/codex-path" "$root/opt/codex/codex-resources"
place "$claude_bin" "$root/opt/claude-code/claude"
# Codex finds rg (codex-path) and bwrap (codex-resources) next to its binary; the voice
# resources (~50 MB of GStreamer) are for the desktop app and left out.
place "$codex_vendor/bin/codex" "$root/opt/codex/bin/codex"
place "$codex_vendor/bin/codex-code-mode-host" "$root/opt/codex/bin/codex-code-mode-host"
place "$codex_vendor/codex-path/rg" "$root/opt/codex/codex-path/rg"
place "$codex_vendor/codex-resources/bwrap" "$root/opt/codex/codex-resources/bwrap"
cp "$codex_vendor/codex-package.json" "$root/opt/codex/" 2>/dev/null || true
ln -s /opt/claude-code/claude "$root/usr/local/bin/claude"
ln -s /opt/codex/bin/codex "$root/usr/local/bin/codex"
ln -s /opt/codex/codex-path/rg "$root/usr/local/bin/rg"

# bash: Claude Code's Bash tool and Codex's exec_command run commands with it.
rm -f "$root/usr/bin/bash"
cp "$(readlink -f "$(command -v bash)")" "$root/usr/bin/bash"

# git: the dispatcher in git-core (symlinked from /usr/bin), its helpers (git-remote-https
# for clones), templates for `git init`, and the CA bundle.
mkdir -p "$root/usr/lib/git-core" "$root/usr/share/git-core"
cp -a "$git_core/." "$root/usr/lib/git-core/"
rm -f "$root/usr/bin/git"
ln -s ../lib/git-core/git "$root/usr/bin/git"
[[ -d /usr/share/git-core/templates ]] && cp -a /usr/share/git-core/templates "$root/usr/share/git-core/"
cp "$ca_bundle" "$root/etc/ssl/certs/ca-certificates.crt"
# The C.UTF-8 locale: Codex runs commands with LC_ALL=C.UTF-8, and bash warns on every
# start without it.
if [[ -d /usr/lib/locale/C.utf8 ]]; then
  mkdir -p "$root/usr/lib/locale"
  cp -a /usr/lib/locale/C.utf8 "$root/usr/lib/locale/"
fi

# curl and the GitHub CLI: the analysis and resolve prompts list pull requests and issues
# with `gh` or the forge's API (docs/agents.md); both read $GITHUB_TOKEN when the runner
# passes one.
cp "$(readlink -f "$(command -v curl)")" "$root/usr/bin/curl"
cp "$(readlink -f "$(command -v gh)")" "$root/usr/bin/gh"

executables=("$root/opt/claude-code/claude" "$root/usr/bin/bash" "$root/usr/bin/curl" "$root/usr/bin/gh")
while IFS= read -r -d '' file; do executables+=("$file"); done \
  < <(find "$root/usr/lib/git-core" -type f -perm -u+x -print0)
if [[ ${WITH_NODE:-0} == 1 ]]; then
  cp "$(readlink -f "$(command -v node)")" "$root/usr/bin/node"
  executables+=("$root/usr/bin/node")
fi

# The shared libraries ldd names (scripts and static binaries just print nothing useful),
# copied to the same path; merged /usr makes /lib/... land in /usr/lib/....
# ldd exits non-zero when any file is a script or static.
{ ldd "${executables[@]}" 2>/dev/null || true; } |
  awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $1 !~ /:$/ { print $1 }' |
  sort -u |
  while IFS= read -r lib; do
    if [[ ! -e $root$lib ]]; then
      mkdir -p "$(dirname "$root$lib")"
      cp -L "$lib" "$root$lib"
    fi
  done

cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/bash
agent:x:1000:1000:agent:/home/agent:/bin/bash
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
agent:x:1000:
nogroup:x:65534:
EOF
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
# git refuses a repository owned by another uid (the runner clones as one uid, the job may
# run as another); the workspace is the job's own.
printf '[safe]\n\tdirectory = *\n' >"$root/etc/gitconfig"

staged=$SECONDS
# The image this build replaces; removed afterwards so rebuilds do not pile up 800 MB each.
previous=$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
tar --numeric-owner -C "$root" -cf - . |
  podman import --quiet \
    --change 'CMD ["/bin/sh"]' \
    --change 'ENV PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV HOME=/home/agent' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV DISABLE_AUTOUPDATER=1' \
    --change 'WORKDIR /workspace' \
    --change "LABEL corral.agent.recipe=$recipe" \
    - "$image" >/dev/null
if [[ -n $previous ]] && [[ $previous != "$(podman image inspect --format '{{.Id}}' "$image")" ]]; then
  # Fails, harmlessly, while a container still uses it or another tag names it.
  podman rmi "$previous" >/dev/null 2>&1 || true
fi
size=$(podman image inspect --format '{{.Size}}' "$image")
echo "make-agent-image: built $image ($((size / 1000000)) MB) in $((SECONDS - started)) s" \
  "(import $((SECONDS - staged)) s)"
