# Shared by the scripts of scripts/ and bench/ (source it).

# apt_install_missing LABEL [PACKAGE...]: install the Debian packages named (none: nothing
# to do), quietly. Debian's prometheus packages start servers where systemd runs; the
# tests only want their binaries (promtool, prometheus, node_exporter), so those are
# stopped and disabled again.
apt_install_missing() {
    local label=$1
    shift
    [ $# -gt 0 ] || return 0
    echo "[$label] installing Debian packages: $*"
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$@" >/dev/null
    if [ -d /run/systemd/system ]; then
        systemctl disable --now prometheus prometheus-node-exporter 2>/dev/null || true
    fi
}
