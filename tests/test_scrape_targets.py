"""Prometheus's scrape targets come from each target host's own settings.

inventory/_shared/prometheus.yml builds the file_sd targets from the groups
the roles deploy to (named by the variables in inventory/_shared/topology.yml)
and each host's own port variable, read through hostvars: a port set only in
group_vars/web, or in one host's host_vars, is the port Prometheus scrapes.
A job whose targets require basic auth gets it, and prometheus.yml names a
password file instead of holding the password. The example inventories'
shared files are used as they are (linked into a test inventory), with the
prometheus role's own template, and promtool checks what it renders.
"""
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

SHARED = ROOT / "inventory" / "_shared"
HOSTS = {"all": {"children": {
    "monitoring": {"hosts": {"mon1": {}}},
    "web": {"hosts": {"web1": {}, "web2": {}}},
    "workers": {"children": {"workers_cpu": {"hosts": {"cpu1": {}, "cpu2": {}}},
                             "workers_gpu": {"hosts": {"gpu1": {}}}}},
}}}
RECORD = [
    {"name": "The prometheus role's variables, as its tasks see them",
     "ansible.builtin.include_role": {"name": "prometheus", "tasks_from": "preflight.yml", "public": True}},
    {"name": "Record the targets and the rendered prometheus.yml",
     "ansible.builtin.set_fact": {"test_result": {
         "targets": "{{ prometheus_targets }}",
         "config": "{{ lookup('ansible.builtin.template', '%s/roles/prometheus/templates/prometheus.yml.j2') }}"
                   % ROOT,
     }}},
]


def inventory(tmp: Path, hosts: dict, group_vars: dict[str, dict], host_vars: dict[str, dict] | None = None) -> Path:
    inv = tmp / "inventory"
    (inv / "group_vars" / "all").mkdir(parents=True)
    (inv / "group_vars" / "monitoring").mkdir(parents=True)
    (inv / "group_vars" / "all" / "topology.yml").symlink_to(SHARED / "topology.yml")
    (inv / "group_vars" / "monitoring" / "prometheus.yml").symlink_to(SHARED / "prometheus.yml")
    (inv / "group_vars" / "all" / "main.yml").write_text(yaml.safe_dump(
        {"brefboard_environment": "test", "vault_prometheus_admin_password": "test-only-password"}))
    for group, values in group_vars.items():
        (inv / "group_vars" / group).mkdir(parents=True, exist_ok=True)
        # zz: read after topology.yml, as an inventory's own settings would be.
        (inv / "group_vars" / group / "zz.yml").write_text(yaml.safe_dump(values))
    for host, values in (host_vars or {}).items():
        (inv / "host_vars").mkdir(exist_ok=True)
        (inv / "host_vars" / f"{host}.yml").write_text(yaml.safe_dump(values))
    (inv / "hosts.yml").write_text(yaml.safe_dump(hosts))
    return inv / "hosts.yml"


def targets(result: dict, job: str) -> set[str]:
    groups = result["targets"][job]
    return {t for g in groups for t in g["targets"]}


def jobs(result: dict) -> dict[str, dict]:
    return {j["job_name"]: j for j in yaml.safe_load(result["config"])["scrape_configs"]}


def promtool_check(result: dict, tmp: Path) -> str:
    """promtool's check of the rendered prometheus.yml with its file_sd and password files, under tmp."""
    if not shutil.which("promtool"):
        pytest.skip("promtool is not installed (scripts/test-dashboards.sh installs Debian's prometheus)")
    etc = tmp / "etc-prometheus"
    (etc / "file_sd").mkdir(parents=True)
    config = result["config"].replace("/etc/prometheus/", f"{etc}/")
    for job, groups in result["targets"].items():
        (etc / "file_sd" / f"{job}.yml").write_text(yaml.safe_dump(groups))
    for job in yaml.safe_load(config)["scrape_configs"]:
        if "password_file" in job.get("basic_auth", {}):
            Path(job["basic_auth"]["password_file"]).write_text("test-only")
    (etc / "prometheus.yml").write_text(config)
    proc = subprocess.run(["promtool", "check", "config", str(etc / "prometheus.yml")],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "WARNING" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    return proc.stdout


def test_each_target_is_scraped_on_its_own_port(play, tmp_path):
    inv = inventory(tmp_path, HOSTS, group_vars={"web": {"brefboard_http_port": 8081}}, host_vars={
        "web2": {"node_exporter_web_listen_address": "0.0.0.0:9200"},
        "cpu2": {"brefboard_worker_metrics_port": 0},
        "gpu1": {"brefboard_worker_metrics_port": 9818},
    })
    result = play.run(None, None, RECORD, inventory=inv, pattern="monitoring")["mon1"]
    assert result["ok"], result

    # Set only in group_vars/web: the monitoring host's own value (80) is not what counts.
    assert targets(result, "brefboard") == {"web1:8081", "web2:8081"}
    assert targets(result, "node") == {"mon1:9100", "web1:9100", "web2:9200", "cpu1:9100", "cpu2:9100", "gpu1:9100"}
    # Both worker groups; a worker with port 0 has no metrics endpoint.
    assert targets(result, "brefboard-worker") == {"cpu1:9808", "gpu1:9818"}
    # No host requires credentials: the node job has none.
    assert "basic_auth" not in jobs(result)["node"]
    assert jobs(result)["prometheus"]["basic_auth"]["username"] == "admin"
    assert "SUCCESS" in promtool_check(result, tmp_path)


def test_groups_are_the_ones_the_roles_use(play, tmp_path):
    hosts = {"all": {"children": {
        "monitoring": {"hosts": {"mon1": {}}},
        "frontends": {"hosts": {"front1": {}}},
        "web": {"hosts": {"notweb": {}}},
        "transcribers": {"hosts": {"t1": {}}},
    }}}
    inv = inventory(tmp_path, hosts, group_vars={"all": {
        "brefboard_web_group": "frontends", "brefboard_workers_cpu_group": "transcribers",
        "brefboard_workers_gpu_group": "no_such_group"}})
    result = play.run(None, None, RECORD, inventory=inv, pattern="monitoring")["mon1"]
    assert result["ok"], result
    assert targets(result, "brefboard") == {"front1:80"}
    assert targets(result, "brefboard-worker") == {"t1:9808"}


def test_a_job_whose_targets_require_auth_gets_it_from_a_file(play, tmp_path):
    inv = inventory(tmp_path, HOSTS, group_vars={"web": {
        "node_exporter_basic_auth_users": {"scraper": "test-only-node-password"}}})
    result = play.run(None, None, RECORD, inventory=inv, pattern="monitoring")["mon1"]
    assert result["ok"], result
    node = jobs(result)["node"]
    assert node["basic_auth"] == {"username": "scraper", "password_file": "/etc/prometheus/scrape-node.password"}
    assert "test-only-node-password" not in result["config"]
    assert "test-only-password" not in result["config"]
    assert "SUCCESS" in promtool_check(result, tmp_path)


def test_hosts_requiring_different_credentials_are_refused(play, tmp_path):
    inv = inventory(tmp_path, HOSTS, group_vars={
        "web": {"node_exporter_basic_auth_users": {"scraper": "one"}},
        "workers": {"node_exporter_basic_auth_users": {"scraper": "two"}}})
    result = play.run(None, None, RECORD, inventory=inv, pattern="monitoring")["mon1"]
    assert not result["ok"]
    assert "give every host that sets node_exporter_basic_auth_users the same single user" in json.dumps(result)


def test_grafana_reads_prometheus_where_its_host_listens(play, tmp_path):
    hosts = {"all": {"children": {"monitoring": {"hosts": {"mon1": {}}}, "grafana": {"hosts": {"graf1": {}}}}}}
    inv = inventory(tmp_path, hosts, group_vars={}, host_vars={
        "mon1": {"prometheus_web_listen_address": "0.0.0.0:9191", "ansible_host": "10.0.0.5"}})
    (tmp_path / "inventory" / "group_vars" / "grafana").mkdir()
    (tmp_path / "inventory" / "group_vars" / "grafana" / "grafana.yml").symlink_to(SHARED / "grafana.yml")
    record = {"name": "Record the datasource URL",
              "ansible.builtin.set_fact": {"test_result": {"url": "{{ grafana_prometheus_url }}"}}}
    result = play.run(None, None, [record], inventory=inv, pattern="grafana")["graf1"]
    assert result == {"ok": True, "url": "http://10.0.0.5:9191"}, result
