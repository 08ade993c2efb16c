#!/usr/bin/env bash
# Side-by-side run of roles/grafana and grafana.grafana's `grafana` role (from
# the collections the ansible wheel carries, unpacked by scripts/collections.sh),
# each on a fresh Debian 12 systemd container, both against grafana-testdouble
# from the same throwaway signed apt repository (testbed/grafana-testdouble/build-repo.sh).
# For each role: time of the first converge, then of a second converge and the
# number of tasks it still changes (0 = idempotent). Prints a Markdown table.
#
#   bench/grafana-compare/compare.sh        (needs scripts/bootstrap.sh done, dockerd up)
#   COMPARE_ROLES=upstream bench/grafana-compare/compare.sh   (one of them)
#
# A measurement for the README, not a test: it exits 0 whatever the numbers.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
export PATH="$root/.venv/bin:$PATH"
export ANSIBLE_ROLES_PATH="$root/roles" ANSIBLE_COLLECTIONS_PATH="$root/collections"
export ANSIBLE_FORCE_COLOR=0 ANSIBLE_NOCOLOR=1 ANSIBLE_STDOUT_CALLBACK=ansible.builtin.default
export ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks
work=$(mktemp -d /tmp/grafana-compare.XXXXXX)
image=$(testbed/image.sh | tail -1)
# The collection's role needs community.grafana (its datasource task file
# names a module from it even when provisioning files are used); take it from
# the same ansible wheel scripts/collections.sh unpacked, into this run's folder.
wheel=$(ls .cache/wheels/ansible-*.whl | tail -1)
"$root/.venv/bin/python" - "$wheel" "$work/collections" <<'PY'
import pathlib, sys, zipfile
wheel, dest = sys.argv[1], pathlib.Path(sys.argv[2])
with zipfile.ZipFile(wheel) as z:
    for m in z.namelist():
        if m.startswith("ansible_collections/community/grafana/") and not m.endswith("/"):
            out = dest / m
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(z.read(m))
PY
export ANSIBLE_COLLECTIONS_PATH="$work/collections:$ANSIBLE_COLLECTIONS_PATH"
"$root/testbed/grafana-testdouble/build-repo.sh" "$work/testdouble" >/dev/null
containers=()
cleanup() { for c in "${containers[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done; rm -rf "$work"; }
trap cleanup EXIT

start() {  # name: a systemd container like molecule/shared/create.yml makes, serving the repository
    local name=$1
    docker rm -f "$name" >/dev/null 2>&1 || true
    docker run -d --name "$name" --hostname "$name" --cgroupns host --cap-add SYS_ADMIN \
        --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
        --tmpfs /run --tmpfs /run/lock --tmpfs /tmp -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
        -v /usr/local/share/ca-certificates:/usr/local/share/ca-certificates/extra:ro \
        -e container=docker --stop-signal SIGRTMIN+3 "$image" /lib/systemd/systemd >/dev/null
    containers+=("$name")
    for _ in $(seq 60); do
        case $(docker exec "$name" systemctl is-system-running 2>/dev/null) in running|degraded) break ;; esac
        sleep 1
    done
    docker exec "$name" update-ca-certificates >/dev/null 2>&1 || true
    docker cp "$work/testdouble/repo" "$name:/srv/grafana-testdouble-repo"
    docker exec "$name" systemd-run --unit repo python3 -m http.server 18998 --bind 127.0.0.1 \
        --directory /srv/grafana-testdouble-repo >/dev/null 2>&1
    docker exec "$name" apt-get update -qq
}

converge() {  # name playbook log [extra args] -> prints "seconds changed failed"
    local name=$1 playbook=$2 log=$3 t0 t1 recap
    shift 3
    t0=$(date +%s.%N)
    ansible-playbook -i "$name," -c community.docker.docker "$@" "$playbook" >"$log" 2>&1 || true
    t1=$(date +%s.%N)
    mkdir -p /tmp/grafana-compare-logs && cp "$log" /tmp/grafana-compare-logs/
    recap=$(grep -E "^$name +:" "$log" | tail -1 || true)
    [ -n "$recap" ] || recap="changed=? failed=crashed"
    printf '%s %s %s\n' "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')" \
        "$(sed -E 's/.*changed=([0-9]+).*/\1/' <<<"$recap")" "$(sed -E 's/.*failed=([0-9]+).*/\1/' <<<"$recap")"
}

echo "| role | first converge (s) | second converge (s) | changed on 2nd run | failed |"
echo "|---|---|---|---|---|"
# upstream-nodash: the collection's role without the dashboards folder, whose
# import fails under ansible-core 2.19 (see roles/grafana/COMPARISON.md).
for who in ${COMPARE_ROLES:-brefboard upstream upstream-nodash}; do
    name="grafana-cmp-$who"
    extra=()
    playbook="$here/converge-$who.yml"
    if [ "$who" = upstream-nodash ]; then
        playbook="$here/converge-upstream.yml"
        extra=(-e grafana_dashboards_dir=/nonexistent)
    fi
    start "$name"
    read -r s1 c1 f1 < <(converge "$name" "$playbook" "$work/$who-1.log" "${extra[@]}")
    read -r s2 c2 f2 < <(converge "$name" "$playbook" "$work/$who-2.log" "${extra[@]}")
    echo "| $who | $s1 | $s2 | $c2 | $f1/$f2 |"
    docker rm -f "$name" >/dev/null
done
echo "logs: /tmp/grafana-compare-logs/"
