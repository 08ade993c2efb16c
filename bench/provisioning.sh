#!/usr/bin/env bash
# Converge and idempotent re-run wall time of each Molecule scenario.
#   bench/provisioning.sh [scenario ...]   (default: every scenario with a converge.yml)
#   bench/provisioning.sh brefboard site   # only those: the other scenarios keep their last result
# Container creation and prepare are excluded; each figure is one run. The machine may be
# shared: the 1-minute load average is sampled every 2 s during each step and its mean is
# printed beside the time (compare scenarios measured at a similar load, not across runs).
# Each scenario's result goes to bench/results/provisioning/SCENARIO.txt (a rerun replaces
# only the scenarios it ran), then all of them are gathered into bench/results/provisioning.json;
# `bench/run_all.sh --plots-only` redraws docs/benchmarks.md from it.
# A scenario whose converge or idempotence fails is reported as failed; the others still run
# and the script exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PWD/.venv/bin:$PATH ANSIBLE_COLLECTIONS_PATH=$PWD/collections ANSIBLE_CONFIG=$PWD/ansible.cfg
OUT=bench/results/provisioning
mkdir -p "$OUT"
scenarios=("$@")
if [ ${#scenarios[@]} -eq 0 ]; then
    for d in molecule/*/converge.yml; do s=${d#molecule/}; scenarios+=("${s%/converge.yml}"); done
fi
for s in "${scenarios[@]}"; do
    [ -f "molecule/$s/molecule.yml" ] || { echo "no Molecule scenario molecule/$s" >&2; exit 2; }
done
log_dir=$(mktemp -d /tmp/bench-provisioning.XXXXXX)

# timed STEP_LOG CMD...: prints "SECONDS LOAD_MEAN LOAD_MAX"; returns the command's status
timed() {
    local log=$1 samples rc=0 t0 t1; shift
    samples=$(mktemp "$log_dir/load.XXXXXX")
    ( while :; do cut -d' ' -f1 /proc/loadavg >>"$samples"; sleep 2; done ) >/dev/null 2>&1 &
    local sampler=$!
    t0=$EPOCHREALTIME
    "$@" >"$log" 2>&1 || rc=$?
    t1=$EPOCHREALTIME
    kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
    cut -d' ' -f1 /proc/loadavg >>"$samples"
    python3 - "$t0" "$t1" "$samples" <<'EOF'
import sys
t0, t1, path = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
loads = [float(x) for x in open(path).read().split()]
print(f"{t1 - t0:.1f} {sum(loads) / len(loads):.2f} {max(loads):.2f}")
EOF
    return $rc
}
hosts() {  # how many containers the scenario converges
    python -c 'import sys, yaml; print(len(yaml.safe_load(open(sys.argv[1]))["platforms"]))' "molecule/$1/molecule.yml"
}

header=$(printf '%-16s %5s %11s %13s %7s %12s %12s' scenario hosts converge_s idempotent_s ratio \
    load_converge load_rerun)
echo "$header"
failed=()
for s in "${scenarios[@]}"; do
    molecule destroy -s "$s" >/dev/null 2>&1 || true
    if ! molecule create -s "$s" >"$log_dir/$s.create.log" 2>&1 || ! molecule prepare -s "$s" >>"$log_dir/$s.create.log" 2>&1; then
        echo "$s: create/prepare failed: $log_dir/$s.create.log" >&2
        failed+=("$s"); molecule destroy -s "$s" >/dev/null 2>&1 || true; continue
    fi
    n=$(hosts "$s")
    if c=$(timed "$log_dir/$s.converge.log" molecule converge -s "$s") \
        && i=$(timed "$log_dir/$s.idempotence.log" molecule idempotence -s "$s"); then
        read -r c_s c_load _ <<<"$c"; read -r i_s i_load _ <<<"$i"
        line=$(printf '%-16s %5d %11.1f %13.1f %7.2f %12.2f %12.2f' "$s" "$n" "$c_s" "$i_s" \
            "$(python3 -c "print($i_s / $c_s)")" "$c_load" "$i_load")
        echo "$line"
        # one file a scenario: a later run of other scenarios leaves this result alone
        { echo "# bench/provisioning.sh, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs; load = mean 1-minute load average during the step"
          echo "$header"; echo "$line"; } >"$OUT/$s.txt"
    else
        echo "$s: converge or idempotence failed: $log_dir/$s.*.log" >&2
        tail -20 "$log_dir/$s".*.log >&2 || true
        failed+=("$s")
    fi
    molecule destroy -s "$s" >/dev/null 2>&1 || true
done
python3 bench/collect.py provisioning "$OUT" bench/results/provisioning.json
echo "results: $OUT/*.txt, bench/results/provisioning.json; docs: bench/run_all.sh --plots-only"
if [ ${#failed[@]} -gt 0 ]; then echo "!! failed: ${failed[*]} (logs in $log_dir)" >&2; exit 1; fi
rm -rf "$log_dir"
