#!/usr/bin/env python3
"""First converge and idempotent re-run of roles/prometheus against prometheus-community's role.

    bench/provisioning_peer.py PEER_COLLECTIONS_PATH [--runs N]

PEER_COLLECTIONS_PATH is a directory holding ansible_collections/prometheus/prometheus
(the prometheus-community/ansible collection). Nothing is downloaded by this script; get
the collection once, for example
    git clone https://github.com/prometheus-community/ansible /tmp/peer/ansible_collections/prometheus/prometheus
and pass /tmp/peer.

Both roles run side by side under the same conditions:
  - the same systemd image (testbed/image.sh), a fresh container for every run;
  - the same release-shaped mirror on the controller (testbed/mirror.sh: Debian's
    Prometheus 2.42.0 repackaged as a release archive), an empty controller cache at the
    start of each run, so the first converge downloads, verifies and unpacks;
  - the same settings: version 2.42.0, the same two scrape jobs (one static, one
    file_sd with one target), the same rule file, no basic auth, no TLS;
  - the same ansible.cfg (the project's) and Ansible, reaching the container with the
    community.docker.docker connection.
Runs are interleaved (ours, peer, peer, ours, ...) so that a change in the machine's load
hits both. A run counts only if the re-run reports changed=0 and the server answers
/-/ready. Prints each run, the medians and the ratios ours/peer; exits 1 if a run failed.
"""
import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
VERSION = "2.42.0"
MIRROR = "http://127.0.0.1:18999"

RULES = """groups:
  - name: bench
    rules:
      - alert: BenchTargetDown
        expr: up == 0
        for: 5m
        labels: {severity: warning}
        annotations: {summary: "{{ $labels.instance }} is down"}
"""


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw).stdout


def env_for(collections):
    env = dict(os.environ)
    env["PATH"] = f"{ROOT}/.venv/bin:{env['PATH']}"
    env["ANSIBLE_CONFIG"] = str(ROOT / "ansible.cfg")
    env["ANSIBLE_ROLES_PATH"] = str(ROOT / "roles")
    env["ANSIBLE_COLLECTIONS_PATH"] = ":".join(collections)
    env["ANSIBLE_FORCE_COLOR"] = "0"
    # BENCH_PROFILE=1: each log ends with the time of every task (ansible.posix.profile_tasks)
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    if os.environ.get("BENCH_PROFILE"):
        env["ANSIBLE_CALLBACKS_ENABLED"] = "ansible.posix.profile_tasks"
    return env


def playbooks(work, rules_file):
    """One playbook per role, configured the same way."""
    url = f"{MIRROR}/prometheus/releases/download/v{VERSION}"
    scrape = [
        {"job_name": "prometheus", "static_configs": [{"targets": ["localhost:9090"]}]},
        {"job_name": "node", "file_sd_configs": [{"files": ["/etc/prometheus/file_sd/node.yml"]}]},
    ]
    targets = {"node": [{"targets": ["localhost:9100"]}]}
    ours = {
        "prometheus_version": VERSION,
        "prometheus_binary_url": f"{url}/prometheus-{VERSION}.linux-__ARCH__.tar.gz",
        "prometheus_checksum_url": f"{url}/sha256sums.txt",
        "prometheus_binary_cache_dir": "{{ bench_cache }}",
        "prometheus_scrape_configs": scrape,
        "prometheus_targets": targets,
        "prometheus_rule_files": [str(rules_file)],
    }
    peer = {
        "prometheus_version": VERSION,
        "prometheus_binary_url": f"{url}/prometheus-{VERSION}.linux-{{{{ _prometheus_go_ansible_arch }}}}.tar.gz",
        "prometheus_checksums_url": f"{url}/sha256sums.txt",
        "prometheus_local_cache_path": "{{ bench_cache }}",
        "prometheus_scrape_configs": scrape,
        "prometheus_targets": targets,
        "prometheus_alert_rules_files": [str(rules_file)],
        "prometheus_static_targets_files": [],
        "prometheus_alert_rules": [],
    }
    out = {}
    for name, role, vars_ in (("ours", "prometheus", ours), ("peer", "prometheus.prometheus.prometheus", peer)):
        path = work / f"{name}.yml"
        path.write_text(json.dumps([{"name": f"Bench {name}", "hosts": "bench", "gather_facts": True,
                                     "vars": vars_, "roles": [{"role": role}]}], indent=2))
        out[name] = path
    return out


def start_container(image, name):
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    sh("docker", "run", "-d", "--name", name, "--hostname", name, "--cgroupns=host", "--cap-add=SYS_ADMIN",
       "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
       "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
       "--stop-signal", "SIGRTMIN+3", "-e", "container=docker", image, "/lib/systemd/systemd")
    state = ""
    for _ in range(60):  # right after `docker run` systemctl may not reach systemd yet
        state = subprocess.run(["docker", "exec", name, "systemctl", "is-system-running", "--wait"],
                               capture_output=True, text=True).stdout.strip()
        if state in ("running", "degraded"):
            break
        time.sleep(1)
    else:
        raise RuntimeError(f"{name}: systemd did not boot ({state})")


def timed_play(playbook, inventory, cache, env, log):
    t0 = time.monotonic()
    p = subprocess.run(["ansible-playbook", "-i", str(inventory), "-e", f"bench_cache={cache}", str(playbook)],
                       env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - t0
    log.write_text(p.stdout + p.stderr)
    recap = [line for line in p.stdout.splitlines() if line.startswith("bench ")]
    changed = int(recap[-1].split("changed=")[1].split()[0]) if recap else -1
    return p.returncode, elapsed, changed


def one_run(kind, i, image, plays, env, logs):
    name = f"bench-peer-{kind}-{i}"
    inv = logs / f"{name}.ini"
    inv.write_text(f"[bench]\nbench ansible_connection=community.docker.docker ansible_host={name} ansible_user=root\n")
    cache = pathlib.Path(tempfile.mkdtemp(prefix=f"{name}-cache.", dir=logs))
    try:
        start_container(image, name)
        rc1, first, _ = timed_play(plays[kind], inv, cache, env, logs / f"{name}.converge.log")
        if rc1:
            return None, f"{kind} run {i}: converge failed, see {logs}/{name}.converge.log"
        rc2, rerun, changed = timed_play(plays[kind], inv, cache, env, logs / f"{name}.rerun.log")
        if rc2 or changed != 0:
            return None, f"{kind} run {i}: re-run rc={rc2} changed={changed}, see {logs}/{name}.rerun.log"
        ready = subprocess.run(["docker", "exec", name, "curl", "-fsS", "http://127.0.0.1:9090/-/ready"],
                               capture_output=True, text=True)
        if ready.returncode:
            return None, f"{kind} run {i}: server not ready after the re-run"
        return (first, rerun), None
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 epilog="PEER_COLLECTIONS_PATH/ansible_collections/prometheus/prometheus must exist")
    ap.add_argument("peer", help="directory with ansible_collections/prometheus/prometheus in it")
    ap.add_argument("--runs", type=int, default=3, help="runs of each role, interleaved (default 3)")
    ap.add_argument("--only", choices=["ours", "peer"], help="run one role only (to debug it; prints no ratio)")
    args = ap.parse_args()
    peer = pathlib.Path(args.peer).resolve()
    if not (peer / "ansible_collections/prometheus/prometheus/roles/prometheus/tasks/main.yml").is_file():
        sys.exit(f"{peer} holds no ansible_collections/prometheus/prometheus collection "
                 "(clone prometheus-community/ansible into PEER/ansible_collections/prometheus/prometheus)")
    if args.runs < 1:
        sys.exit("--runs must be at least 1")

    image = sh(str(ROOT / "testbed/image.sh")).split()[-1]
    sh(str(ROOT / "testbed/mirror.sh"), "start")
    urllib.request.urlopen(f"{MIRROR}/prometheus/releases/download/v{VERSION}/sha256sums.txt", timeout=10).read()

    logs = pathlib.Path(tempfile.mkdtemp(prefix="bench-provisioning-peer."))
    rules = logs / "bench.rules.yml"
    rules.write_text(RULES)
    plays = playbooks(logs, rules)
    env = env_for([str(peer), str(ROOT / "collections")])

    results = {"ours": [], "peer": []}
    failed = []
    print(f"{'run':>3} {'role':<5} {'first_converge_s':>16} {'rerun_s':>8}  load1")
    for i in range(1, args.runs + 1):
        order = ("ours", "peer") if i % 2 else ("peer", "ours")
        order = [k for k in order if args.only in (None, k)]
        for kind in order:
            r, err = one_run(kind, i, image, plays, env, logs)
            load = os.getloadavg()[0]
            if err:
                failed.append(err)
                print(f"{i:>3} {kind:<5} FAILED: {err}", flush=True)
                continue
            results[kind].append(r)
            print(f"{i:>3} {kind:<5} {r[0]:>16.1f} {r[1]:>8.1f}  {load:.2f}", flush=True)

    if results["ours"] and results["peer"]:
        med = {k: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)) for k, v in results.items()}
        print(f"median ours: first converge {med['ours'][0]:.1f} s, re-run {med['ours'][1]:.1f} s")
        print(f"median peer: first converge {med['peer'][0]:.1f} s, re-run {med['peer'][1]:.1f} s")
        print(f"ratio ours/peer: first converge {med['ours'][0] / med['peer'][0]:.2f}, "
              f"re-run {med['ours'][1] / med['peer'][1]:.2f}")
        print(f"({len(results['ours'])}+{len(results['peer'])} runs, {os.cpu_count()} CPUs, "
              f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; logs in {logs})")
    if failed:
        print("!! failed:\n  " + "\n  ".join(failed), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
