"""The host firewall (roles/firewall): who may reach which port of which host.

The filter is run on fake hosts (what a host of each kind lets in, from whom),
then the role's own rule task and template on the production inventory as it
is, each host given addresses, and `nft -c` checks the rendered file the way
the role's `validate` does (skipped, saying so, where this machine's nft
cannot check). The site scenario then tries the ports for real.
"""
import importlib.util
import json
import shutil
import subprocess

import pytest
from ansible.errors import AnsibleFilterError

from conftest import ROOT

_spec = importlib.util.spec_from_file_location("firewall_filters", ROOT / "roles/firewall/filter_plugins/firewall.py")
filters = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(filters)
rules = filters.firewall_rules

GROUPS = {"all": ["mon", "web1", "web2", "db", "cpu"], "monitoring": ["mon"], "web": ["web1", "web2"],
          "database": ["db"], "broker": ["db"], "workers_cpu": ["cpu"]}
ADDRESSES = {"mon": ["10.0.0.2"], "web1": ["10.0.0.3", "192.0.2.3"], "web2": ["10.0.0.4"], "db": ["10.0.0.5"],
             "cpu": ["10.0.0.6"]}
HOSTVARS = {h: {"group_names": sorted(g for g, m in GROUPS.items() if h in m and g != "all"),
                "ansible_facts": {"all_ipv4_addresses": a + ["127.0.0.1"], "all_ipv6_addresses": ["fe80::1%eth0"]}}
            for h, a in ADDRESSES.items()}
APP = ["web", "workers_cpu", "workers_gpu"]
SERVICES = [
    {"name": "ssh", "port": "22", "at": ["all"], "from": ["any"]},
    {"name": "nginx", "port": "80", "at": ["web"], "from": ["public"]},
    {"name": "node_exporter", "port": "9100", "at": ["all"], "from": ["monitoring"]},
    {"name": "worker metrics", "port": 9808, "at": ["workers_cpu", "workers_gpu"], "from": ["monitoring"]},
    {"name": "PostgreSQL", "port": "5432", "at": ["database"], "from": APP},
    {"name": "Redis", "port": "6379", "at": ["broker"], "from": APP},
    {"name": "Prometheus", "port": "9090", "at": ["monitoring"], "from": ["admin", "monitoring"]},
    {"name": "Grafana", "port": "3000", "at": ["grafana"], "from": ["admin"]},
    {"name": "HTTPS", "port": "443", "at": ["web"], "from": ["public"], "when": "False"},
]


def by_name(host, public=("any",), admin=("any",)):
    return {r["name"]: r for r in rules(SERVICES, host, GROUPS, HOSTVARS, list(public), list(admin))}


def test_a_web_host_opens_nginx_to_everyone_and_its_exporter_to_the_monitoring_host_only():
    web = by_name("web1")
    assert set(web) == {"ssh", "nginx", "node_exporter"}
    assert web["nginx"]["any"] and web["nginx"]["port"] == 80
    assert web["node_exporter"] == {"name": "node_exporter", "port": 9100, "proto": "tcp", "any": False,
                                    "v4": ["10.0.0.2"], "v6": []}


def test_the_database_host_lets_in_every_address_of_every_app_host_and_nobody_else():
    db = by_name("db")
    assert set(db) == {"ssh", "node_exporter", "PostgreSQL", "Redis"}
    # web1 has two networks: it may connect from either. Loopback and link-local are never listed.
    assert db["PostgreSQL"]["v4"] == ["10.0.0.3", "10.0.0.4", "10.0.0.6", "192.0.2.3"]
    assert not db["PostgreSQL"]["any"] and db["Redis"]["v4"] == db["PostgreSQL"]["v4"]
    assert "10.0.0.2" not in db["PostgreSQL"]["v4"], "the monitoring host is no client of PostgreSQL"


def test_workers_open_their_metrics_to_monitoring_and_monitoring_opens_prometheus_to_the_admins():
    assert by_name("cpu")["worker metrics"]["v4"] == ["10.0.0.2"]
    office = by_name("mon", admin=["198.51.100.0/24", "2001:db8::/32"])["Prometheus"]
    assert office["v4"] == ["10.0.0.2", "198.51.100.0/24"] and office["v6"] == ["2001:db8::/32"]
    assert not office["any"]


def test_a_group_the_inventory_lacks_lets_nobody_in_and_a_false_when_leaves_the_service_out():
    # No Grafana host: nothing opened for it; HTTPS off (when false): port 443 stays closed.
    for host in GROUPS["all"]:
        assert not {"Grafana", "HTTPS"} & set(by_name(host))
    # Public narrowed to the balancer: nginx only from there.
    assert by_name("web2", public=["10.0.0.9"])["nginx"]["v4"] == ["10.0.0.9"]


def test_a_source_host_without_facts_and_a_bad_port_say_what_to_do():
    hostvars = {**HOSTVARS, "cpu": {"group_names": ["workers_cpu"]}}
    with pytest.raises(AnsibleFilterError, match="no addresses known for cpu.*gather its facts"):
        rules(SERVICES, "db", GROUPS, hostvars)
    with pytest.raises(AnsibleFilterError, match="'web' needs a port number"):
        rules([{"name": "web", "port": "http", "at": ["all"], "from": ["any"]}], "db", GROUPS, HOSTVARS)
    with pytest.raises(AnsibleFilterError, match="port 70000 is not 1 to 65535"):
        rules([{"name": "web", "port": 70000, "at": ["all"], "from": ["any"]}], "db", GROUPS, HOSTVARS)


PRODUCTION_ADDRESSES = {"mon1.example.org": "10.1.0.2", "db1.example.org": "10.1.0.3", "web1.example.org": "10.1.0.4",
                        "web2.example.org": "10.1.0.5", "gpu1.example.org": "10.1.0.6", "cpu1.example.org": "10.1.0.7"}


def test_the_production_inventory_renders_rules_nft_accepts(play, tmp_path):
    """The role's defaults on inventory/production as it is: each host's flows, and the file nft would load."""
    results = play.run(None, None, inventory=ROOT / "inventory" / "production", gather_facts=False, tasks=[
        {"name": "Give each host an address, as its facts would",
         "ansible.builtin.set_fact": {"ansible_all_ipv4_addresses": ["{{ addresses[inventory_hostname] }}"],
                                      "ansible_all_ipv6_addresses": []},
         "vars": {"addresses": PRODUCTION_ADDRESSES}},
        {"name": "The firewall role's rules", "ansible.builtin.include_role": {
            "name": "firewall", "tasks_from": "rules.yml", "public": True}},
        {"name": "Record them and the rendered file", "ansible.builtin.set_fact": {"test_result": {
            "rules": "{{ _firewall_rules }}",
            "file": "{{ lookup('ansible.builtin.template', '%s/roles/firewall/templates/nftables.conf.j2') }}" % ROOT}}},
    ], extra_args=["-e", json.dumps({"vault_brefboard_secret_key": "x" * 40})])
    assert set(results) == set(PRODUCTION_ADDRESSES)
    flows = {host: {r["name"]: (r["port"], "any" if r["any"] else tuple(r["v4"])) for r in result["rules"]}
             for host, result in results.items()}
    app = ("10.1.0.4", "10.1.0.5", "10.1.0.6", "10.1.0.7")
    assert flows["db1.example.org"]["PostgreSQL"] == (5432, app)
    assert flows["db1.example.org"]["Redis"] == (6379, app)
    assert flows["web1.example.org"]["nginx (HTTP)"] == (80, "any")
    assert flows["gpu1.example.org"]["worker metrics"] == (9808, ("10.1.0.2",))
    assert flows["mon1.example.org"]["Prometheus"] == (9090, "any")
    for host in PRODUCTION_ADDRESSES:
        assert flows[host]["node_exporter"] == (9100, ("10.1.0.2",)), host
        assert "PostgreSQL" not in flows[host] or host == "db1.example.org"

    nft = shutil.which("nft")
    if not nft:
        pytest.skip("no nft on this machine (make bootstrap installs Debian's nftables) to check the rendered rules")
    for host, result in results.items():
        path = tmp_path / f"{host}.nft"
        path.write_text(result["file"])
        check = subprocess.run([nft, "-c", "-f", str(path)], capture_output=True, text=True)
        if check.returncode and "Operation not permitted" in check.stderr:
            pytest.skip("this machine's nft may not check rules (no CAP_NET_ADMIN); the role's validate does, on the host")
        assert check.returncode == 0, f"{host}: {check.stderr}\n{result['file']}"
        assert 'ip saddr { 10.1.0.2 } tcp dport 9100 accept comment "node_exporter"' in result["file"]
        assert 'reject with tcp reset comment "refused"' in result["file"]
