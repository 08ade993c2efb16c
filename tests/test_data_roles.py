"""The data tier's roles (postgresql, redis) get the app's settings through
inventory/_shared/brefboard.yml, as playbooks/app.yml runs them: the example
inventories, their hosts given addresses of their own, render what the roles
are given, and it passes the roles' argument specs. Bad settings fail with a
hint before anything is installed."""
import json
import sys

import yaml

from conftest import ROOT, ansible_bin, preflight_task, run

# The module that gives each fake host its own address (as its facts would).
FAKE_IP_MODULE = '''#!/usr/bin/python
from ansible.module_utils.basic import AnsibleModule
m = AnsibleModule(argument_spec={"address": {"type": "str", "required": True}})
m.exit_json(changed=False, ansible_facts={"default_ipv4": {"address": m.params["address"]}})
'''


def render(tmp_path, inventory: str, ips: dict[str, str], **extra) -> dict[str, dict]:
    """What the database and broker hosts of `inventory` give the postgresql and redis roles."""
    (tmp_path / "library").mkdir()
    (tmp_path / "library" / "fake_ip.py").write_text(FAKE_IP_MODULE)
    out = tmp_path / "out"
    out.mkdir()
    spec = {role: yaml.safe_load((ROOT / f"roles/{role}/meta/argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
            for role in ("postgresql", "redis")}
    # The names the shared file maps (the others keep the roles' defaults).
    mapped = yaml.safe_load((ROOT / "inventory/_shared/brefboard.yml").read_text())
    names = {role: sorted(n for n in mapped if n.startswith(role + "_")) for role in spec}
    assert all(set(names[role]) <= set(spec[role]) for role in spec), f"mapped names the roles do not know: {names}"
    plays = [
        {"name": "addresses", "hosts": "all", "gather_facts": False,
         "tasks": [{"name": "Give the host its address", "fake_ip": {"address": "{{ fake_ips[inventory_hostname] }}"}}]},
    ]
    for group, role in (("database", "postgresql"), ("broker", "redis")):
        plays.append({"name": role, "hosts": group, "gather_facts": False, "tasks": [
            {"name": "The app's data checks", "ansible.builtin.import_role": {"name": "brefboard", "tasks_from": "data.yml"}},
            {"name": "Check against the role's spec",
             "ansible.builtin.validate_argument_spec": {"argument_spec": spec[role]}},
            {"name": "Write what the role gets", "ansible.builtin.copy": {
                "dest": f"{out}/{role}-{{{{ inventory_hostname }}}}.json", "mode": "0644",
                "content": "{{ " + "{" + ", ".join(f"'{n}': {n}"
                                                   for n in names[role]) + "} | to_json }}"}},
        ]})
    (tmp_path / "play.yml").write_text(yaml.safe_dump(plays, sort_keys=False))
    variables = {"fake_ips": ips, "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                 "vault_brefboard_secret_key": "test-only-secret-key-0123456789abcdef-0123",
                 "vault_brefboard_db_password": "test-only-db-password",
                 "vault_brefboard_redis_password": "test-only-redis-password", **extra}
    (tmp_path / "vars.json").write_text(json.dumps(variables))
    proc = run([ansible_bin("ansible-playbook"), "-i", str(ROOT / inventory), str(tmp_path / "play.yml"),
                "-e", f"@{tmp_path / 'vars.json'}"], ANSIBLE_LIBRARY=str(tmp_path / "library"))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}


PRODUCTION = {"mon1.example.org": "10.0.0.2", "db1.example.org": "10.0.0.3", "web1.example.org": "10.0.0.4",
              "web2.example.org": "10.0.0.5", "gpu1.example.org": "10.0.0.6", "cpu1.example.org": "10.0.0.7"}


def test_production_lets_only_the_app_hosts_in_and_listens_on_its_own_address(tmp_path):
    got = render(tmp_path, "inventory/production/hosts.yml", PRODUCTION)
    pg, redis = got["postgresql-db1.example.org"], got["redis-db1.example.org"]
    assert pg["postgresql_users"] == [{"name": "brefboard", "password": "test-only-db-password"}]
    assert pg["postgresql_databases"] == [{"name": "brefboard", "owner": "brefboard"}]
    assert pg["postgresql_port"] == 5432
    # Loopback and the four app hosts; not the monitoring host, not the database host itself.
    assert [e["address"] for e in pg["postgresql_hba_entries"]] == [
        "127.0.0.1/32", "::1/128", "10.0.0.4/32", "10.0.0.5/32", "10.0.0.7/32", "10.0.0.6/32"]
    assert {(e["database"], e["user"], e["auth_method"]) for e in pg["postgresql_hba_entries"]} == {
        ("brefboard", "brefboard", "scram-sha-256")}
    # The address the app's hosts reach it at, not every address.
    assert pg["postgresql_listen_addresses"] == ["localhost", "10.0.0.3"]
    assert redis["redis_bind_interface"] == "127.0.0.1 -::1 10.0.0.3"
    assert redis["redis_requirepass"] == "test-only-redis-password" and redis["redis_port"] == 6379


def test_the_app_names_and_a_wildcard_listen_carry_over(tmp_path):
    got = render(tmp_path, "inventory/production/hosts.yml", PRODUCTION, brefboard_db_name="notes",
                 brefboard_db_user="noter", brefboard_db_port=5433, brefboard_redis_port=6380,
                 brefboard_services_listen="0.0.0.0")
    pg, redis = got["postgresql-db1.example.org"], got["redis-db1.example.org"]
    assert pg["postgresql_databases"] == [{"name": "notes", "owner": "noter"}]
    assert pg["postgresql_users"][0]["name"] == "noter" and pg["postgresql_port"] == 5433
    assert {e["user"] for e in pg["postgresql_hba_entries"]} == {"noter"}
    assert pg["postgresql_listen_addresses"] == ["*"]
    assert redis["redis_bind_interface"] == "0.0.0.0 -::*" and redis["redis_port"] == 6380


def test_one_host_keeps_both_on_loopback(tmp_path):
    got = render(tmp_path, "inventory/single/hosts.yml", {"brefboard.example.org": "10.0.0.9"})
    pg, redis = got["postgresql-brefboard.example.org"], got["redis-brefboard.example.org"]
    assert pg["postgresql_listen_addresses"] == ["localhost"]
    assert [e["address"] for e in pg["postgresql_hba_entries"]] == ["127.0.0.1/32", "::1/128"]
    assert redis["redis_bind_interface"] == "127.0.0.1 -::1"


def test_postgresql_or_redis_as_brefboard_components_fail_with_the_new_home(play):
    results = play.run({"old": {"brefboard_components": ["postgresql", "redis", "web"]}}, {"web": ["old"]},
                       [preflight_task()], gather_facts=False)
    assert results["old"]["ok"] is False
    assert results["old"]["failed"] == "Refuse PostgreSQL and Redis as components of this role"
    assert "roles/postgresql" in results["old"]["msg"] and "database" in results["old"]["msg"]


def test_redis_refuses_an_empty_password_before_installing(play):
    results = play.run({"broker": {}}, {"broker": ["broker"]}, [
        {"name": "The redis role", "ansible.builtin.include_role": {"name": "redis"}, "vars": {"redis_requirepass": ""}},
    ], gather_facts=False)
    assert results["broker"]["ok"] is False and results["broker"]["failed"] == "Check the Redis settings"
    assert "redis_requirepass" in results["broker"]["msg"]
