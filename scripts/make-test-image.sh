#!/usr/bin/env bash
# Builds the tiny local image corral's container tests run: a rootfs holding a static
# /bin/busybox with its applet links (sh, echo, sleep, head, wget, ...), /tmp, and minimal
# /etc files, tarred and `podman import`ed. No registry is needed. Idempotent: does nothing
# when the image already exists (FORCE=1 rebuilds).
#
#   scripts/make-test-image.sh [IMAGE]      default IMAGE: localhost/corral-test:latest
#
# Uses Podman's local storage directly (no service needed); the API service started by
# scripts/podman-service.sh sees the same storage.
set -euo pipefail

image=${1:-localhost/corral-test:latest}

command -v podman >/dev/null || { echo "make-test-image: podman is not installed; run scripts/install-deps.sh" >&2; exit 1; }

if [[ ${FORCE:-0} != 1 ]] && podman image exists "$image"; then
  echo "make-test-image: $image already exists"
  exit 0
fi

busybox=""
for candidate in /bin/busybox /usr/bin/busybox; do
  # ldd fails on a static executable ("not a dynamic executable").
  if [[ -x $candidate ]] && ! ldd "$candidate" >/dev/null 2>&1; then
    busybox=$candidate
    break
  fi
done
[[ -n $busybox ]] || { echo "make-test-image: no static busybox found; install busybox-static" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,workspace,proc,sys,dev}
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
# Inside the rootfs, so the links point at /bin/busybox and land in the standard dirs.
chroot "$root" /bin/busybox --install -s
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"

tar -C "$root" -cf "$work/rootfs.tar" .
podman import --quiet \
  --change 'CMD ["/bin/sh"]' \
  --change 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' \
  "$work/rootfs.tar" "$image" >/dev/null
echo "make-test-image: built $image"
