#!/usr/bin/env bash
# start|stop the release-shaped mirror (testbed/release-mirror.sh) on
# 127.0.0.1:${MIRROR_PORT:-18999}. start is idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${MIRROR_PORT:-18999}
dir=.cache/mirror
pidfile=.cache/mirror.pid
case "${1:-start}" in
start)
    testbed/release-mirror.sh "$dir" >/dev/null
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then exit 0; fi
    # The server outlives this script: it closes every descriptor it inherited
    # first. Started under `flock /tmp/molecule.lock ...` it would otherwise
    # hold the shared lock for as long as it runs, and every later molecule
    # command would wait forever. The directory is given resolved: a server
    # started from a clone that is later removed would answer 404 to all.
    nohup python3 -c 'import os, runpy, sys; os.closerange(3, 65536); sys.argv[0] = "http.server"
runpy.run_module("http.server", run_name="__main__")' --bind 127.0.0.1 --directory "$(realpath "$dir")" "$port" >.cache/mirror.log 2>&1 &
    echo $! > "$pidfile"
    for _ in $(seq 50); do
        curl -fsS -o /dev/null "http://127.0.0.1:$port/" && exit 0
        sleep 0.1
    done
    echo "mirror did not start: see .cache/mirror.log" >&2; exit 1 ;;
stop)
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile" ;;
*) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
