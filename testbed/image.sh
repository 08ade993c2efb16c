#!/usr/bin/env bash
# Build the Debian 12 + systemd image the Molecule scenarios and the lab run on.
#
# No container registry is needed: the root file system comes from debootstrap
# (Debian's default mirror, or $DEBIAN_MIRROR) and is turned into an image with
# `docker import`. The tag carries a hash of this file, so the image is rebuilt
# only when this recipe changes. Prints the image reference on stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
recipe_hash=$(sha256sum "$0" | cut -c1-12)
image="brefboard/debian12-systemd:${recipe_hash}"

# --- recipe (any change here rebuilds the image) ---------------------------
suite=bookworm
packages=systemd,systemd-sysv,dbus,python3,python3-apt,ca-certificates,curl,procps,iproute2,gnupg,sudo,less,cron,tzdata
# ---------------------------------------------------------------------------

log() { echo "[testbed-image] $*" >&2; }

if docker image inspect "$image" >/dev/null 2>&1; then
    echo "$image"
    exit 0
fi

command -v debootstrap >/dev/null || {
    log "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq debootstrap >&2
}

work=$(mktemp -d /var/tmp/brefboard-rootfs.XXXXXX)
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
log "debootstrap $suite into $rootfs (a few minutes, once per recipe change)"
# shellcheck disable=SC2086
debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" ${DEBIAN_MIRROR:-} >&2

# A container has no consoles, no hardware clock and no udev to wait for.
chroot "$rootfs" systemctl mask \
    getty.target console-getty.service systemd-udevd.service \
    systemd-udev-trigger.service systemd-hwdb-update.service \
    systemd-remount-fs.service sys-kernel-debug.mount sys-kernel-tracing.mount \
    systemd-logind.service apt-daily.timer apt-daily-upgrade.timer >&2
# Docker writes these at run time.
rm -f "$rootfs/etc/hostname" "$rootfs/etc/machine-id"
: > "$rootfs/etc/machine-id"
# Keep the image small: apt lists and caches come back with the first update.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin

log "docker import -> $image"
tar -C "$rootfs" -c . | docker import - "$image-rootfs" >&2
# `docker import --change` does not take STOPSIGNAL on every engine version;
# a one-layer build from the imported image does, and needs no registry.
docker build -q -t "$image" - >&2 <<DOCKERFILE
FROM $image-rootfs
ENV container=docker
STOPSIGNAL SIGRTMIN+3
CMD ["/lib/systemd/systemd"]
DOCKERFILE
docker rmi "$image-rootfs" >/dev/null
docker tag "$image" brefboard/debian12-systemd:latest
echo "$image"
