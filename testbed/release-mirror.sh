#!/usr/bin/env bash
# Build a release-shaped mirror of Prometheus, node_exporter and Alertmanager
# from the real binaries in Debian 12's `prometheus`, `prometheus-node-exporter`
# and `prometheus-alertmanager` packages.
#
# Why: the official release downloads may be unreachable (CI, air-gapped
# sites). The archives built here have the upstream layout
#   <base>/v<version>/<name>-<version>.linux-<arch>.tar.gz
#   <base>/v<version>/sha256sums.txt
# so the roles run their normal download, checksum and unpack code against
# them. They carry Debian's versions (Prometheus 2.42.0, node_exporter 1.5.0,
# Alertmanager 0.25.0), named as what they are; they never pretend to be the
# versions the roles default to.
#
# Usage: testbed/release-mirror.sh [DIR]   (default .cache/mirror)
# Prints lines "name version" for what the mirror holds.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=$(realpath -m "${1:-.cache/mirror}")
arch=$(dpkg --print-architecture)
log() { echo "[release-mirror] $*" >&2; }

for pkg in prometheus prometheus-node-exporter prometheus-alertmanager; do
    dpkg -s "$pkg" >/dev/null 2>&1 || {
        log "installing Debian package $pkg (for its binaries)"
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$pkg" >&2
        if [ -d /run/systemd/system ]; then systemctl disable --now "$pkg" >&2 || true; fi
    }
done

debian_version() { dpkg-query -W -f='${Version}' "$1" | sed -e 's/^[0-9]*://' -e 's/[+~-].*//'; }

pack() {  # name version dir-with-files
    local name=$1 version=$2 src=$3
    local rel="$dest/$name/releases/download/v$version"
    local base="$name-$version.linux-$arch"
    mkdir -p "$rel"
    if [ ! -f "$rel/$base.tar.gz" ]; then
        local tmp; tmp=$(mktemp -d)
        cp -a "$src" "$tmp/$base"
        # Reproducible archive: fixed owner, order and times.
        tar -C "$tmp" --sort=name --owner=0 --group=0 --numeric-owner \
            --mtime='2023-01-01 00:00Z' -cf - "$base" | gzip -n > "$rel/$base.tar.gz"
        rm -rf "$tmp"
    fi
    (cd "$rel" && sha256sum ./*.tar.gz | sed 's#\./##' > sha256sums.txt)
    log "$name $version -> $rel/$base.tar.gz"
    echo "$name $version"
}

stage=$(mktemp -d); trap 'rm -rf "$stage"' EXIT

p="$stage/prometheus"; mkdir -p "$p/consoles" "$p/console_libraries"
install -m 0755 /usr/bin/prometheus /usr/bin/promtool "$p/"
cp /etc/prometheus/consoles/* "$p/consoles/"
cp /etc/prometheus/console_libraries/* "$p/console_libraries/"
cp /usr/share/doc/prometheus/copyright "$p/LICENSE"
printf 'global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: [localhost:9090]\n' > "$p/prometheus.yml"
pack prometheus "$(debian_version prometheus)" "$p"

n="$stage/node_exporter"; mkdir -p "$n"
install -m 0755 /usr/bin/prometheus-node-exporter "$n/node_exporter"
cp /usr/share/doc/prometheus-node-exporter/copyright "$n/LICENSE"
pack node_exporter "$(debian_version prometheus-node-exporter)" "$n"

# Debian's build reads its notification templates from
# /usr/share/prometheus/alertmanager/{default,email}.tmpl where upstream's
# binary embeds them: the scenario's prepare and the lab copy them there.
a="$stage/alertmanager"; mkdir -p "$a"
install -m 0755 /usr/bin/prometheus-alertmanager "$a/alertmanager"
install -m 0755 /usr/bin/amtool "$a/amtool"
cp /usr/share/doc/prometheus-alertmanager/copyright "$a/LICENSE"
printf 'route:\n  receiver: default\nreceivers:\n  - name: default\n' > "$a/alertmanager.yml"
pack alertmanager "$(debian_version prometheus-alertmanager)" "$a"
