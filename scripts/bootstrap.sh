#!/usr/bin/env bash
# Prepare this machine as an Ansible controller and container test bed.
# Safe to re-run; every step checks before it acts. Needs root on Debian 12.
#  - Debian packages: docker.io, debootstrap, python3-venv, and (for tests)
#    Debian's prometheus for the real promtool, nftables for nft -c, openssl
#    for the lab's local CA
#  - dockerd started if it is not running (works without systemd, as in CI)
#  - .venv with the pinned controller tools (requirements.txt)
#  - collections from the ansible wheel (scripts/collections.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "[bootstrap] $*"; }

need_pkgs=()
for cmd_pkg in debootstrap:debootstrap promtool:prometheus curl:curl nft:nftables openssl:openssl; do
    command -v "${cmd_pkg%%:*}" >/dev/null || need_pkgs+=("${cmd_pkg#*:}")
done
# The engine, not the client: some images ship a docker client alone
# (`docker --version` answers, nothing serves it). Judge by a running engine
# or a dockerd binary, and install Debian's docker.io when there is neither.
if ! docker info >/dev/null 2>&1 && ! command -v dockerd >/dev/null; then
    if command -v docker >/dev/null; then
        log "$(command -v docker) is a Docker client with no engine behind it: installing Debian's docker.io for dockerd"
    fi
    need_pkgs+=(docker.io)
fi
python3 -c 'import venv, ensurepip' 2>/dev/null || need_pkgs+=(python3-venv)
. scripts/lib.sh
apt_install_missing bootstrap "${need_pkgs[@]}"

if ! docker info >/dev/null 2>&1; then
    if [ -d /run/systemd/system ]; then
        log "starting docker with systemctl"
        systemctl start docker
    else
        log "starting dockerd in the background (no systemd here); log: /var/log/dockerd.log"
        # In a session of its own: when the shell or job that ran this script
        # ends, its process group is killed, and dockerd must outlive it.
        setsid nohup dockerd >/var/log/dockerd.log 2>&1 </dev/null &
    fi
    for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { log "dockerd did not start: see /var/log/dockerd.log"; exit 1; }
fi

stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "creating .venv with the pinned controller tools"
    python3 -m venv .venv
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -r requirements.txt
    echo "$want" > "$stamp"
fi
scripts/collections.sh
