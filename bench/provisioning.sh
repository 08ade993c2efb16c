#!/usr/bin/env bash
# Converge and idempotent re-run wall time of each Molecule scenario.
#   bench/provisioning.sh [scenario ...]   (default: every scenario with a converge.yml)
# Container creation is excluded; each figure is one run (this machine is
# shared: compare scenarios measured in the same run, not across runs).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PWD/.venv/bin:$PATH ANSIBLE_COLLECTIONS_PATH=$PWD/collections
scenarios=("$@")
if [ ${#scenarios[@]} -eq 0 ]; then
    for d in molecule/*/converge.yml; do s=${d#molecule/}; scenarios+=("${s%/converge.yml}"); done
fi
secs() { local t0=$EPOCHREALTIME; "$@" >/dev/null 2>&1 || { echo "$* failed" >&2; exit 1; }; python3 -c "print($EPOCHREALTIME - $t0)"; }
printf '%-16s %12s %14s %8s\n' scenario converge_s idempotent_s ratio
for s in "${scenarios[@]}"; do
    molecule destroy -s "$s" >/dev/null 2>&1 || true
    molecule create -s "$s" >/dev/null 2>&1
    molecule prepare -s "$s" >/dev/null 2>&1 || true
    c=$(secs molecule converge -s "$s")
    i=$(secs molecule idempotence -s "$s")
    printf '%-16s %12.1f %14.1f %8.2f\n' "$s" "$c" "$i" "$(python3 -c "print($i / $c)")"
    molecule destroy -s "$s" >/dev/null 2>&1 || true
done
