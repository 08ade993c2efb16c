"""Prometheus beyond one server, and its web TLS, as the prometheus role renders them.

remote_write entries and federation jobs come from variables: the role's own
preflight and template run on a fake local host, and promtool (Debian's, the
real one) checks the prometheus.yml they give, with the password files it
names. The TLS pair is checked on the controller before any host gets it, the
self-scrape verifies the server against the CA for the configured name, and
promtool's `check web-config` (the check the role runs on the host) refuses a
web config whose key is not its certificate's. The molecule monitoring
scenario runs all of it against two real servers.
"""
import datetime
import json
import ipaddress
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import ROOT

RECORD = [
    {"name": "The prometheus role's variables, as its tasks see them",
     "ansible.builtin.include_role": {"name": "prometheus", "tasks_from": "preflight.yml", "public": True}},
    {"name": "Record the rendered prometheus.yml, web.yml and unit",
     "ansible.builtin.set_fact": {"test_result": {
         "config": "{{ lookup('ansible.builtin.template', '%s/roles/prometheus/templates/prometheus.yml.j2') }}" % ROOT,
         "external_url": "{{ _prometheus_external_url | trim }}",
         "web": "{{ lookup('ansible.builtin.template', '%s/roles/release_binary/templates/web.yml.j2', template_vars={"
                "'release_binary_web_users': prometheus_basic_auth_users,"
                "'release_binary_web_tls_cert_file': _prometheus_tls_cert_path | trim,"
                "'release_binary_web_tls_key_file': _prometheus_tls_key_path | trim}) }}" % ROOT,
         "wait_url": "{{ _prometheus_local_url | trim }}",
     }}},
]

REMOTE = {
    "prometheus_external_labels": {"origin": "mon1"},
    "prometheus_remote_write": [{
        "url": "https://receiver.example.org:9090/api/v1/write",
        "name": "central",
        "queue_config": {"max_shards": 4, "capacity": 5000, "max_samples_per_send": 1000},
        "basic_auth": {"username": "writer", "password": "test-only-writer-password"},
        "tls_config": {"ca_file": "/etc/prometheus/tls/ca.crt"},
        "write_relabel_configs": [{"source_labels": ["__name__"], "regex": "go_.*", "action": "drop"}],
    }, {
        "url": "http://archive.example.org:9201/write",
    }],
    "prometheus_federation": [{
        "job_name": "federate-site-a",
        "targets": ["prom-a.example.org:9090"],
        "match": ['{job="node"}', '{__name__=~"job:.*"}'],
        "scheme": "https",
        "basic_auth": {"username": "fed", "password": "test-only-federation-password"},
        "scrape_interval": "30s",
    }],
}


def promtool_check(config: str, tmp: Path) -> str:
    """promtool's check of a rendered prometheus.yml, with the files it names made under tmp."""
    if not shutil.which("promtool"):
        pytest.skip("promtool is not installed (scripts/test-dashboards.sh installs Debian's prometheus)")
    etc = tmp / "etc-prometheus"
    (etc / "tls").mkdir(parents=True, exist_ok=True)
    config = config.replace("/etc/prometheus/", f"{etc}/")
    doc = yaml.safe_load(config)
    for section in doc.get("scrape_configs", []) + doc.get("remote_write", []):
        for key in ("password_file",):
            if key in section.get("basic_auth", {}):
                Path(section["basic_auth"][key]).write_text("test-only")
        if "ca_file" in section.get("tls_config", {}):
            Path(section["tls_config"]["ca_file"]).write_text(ca()[0])
    (etc / "prometheus.yml").write_text(config)
    proc = subprocess.run(["promtool", "check", "config", str(etc / "prometheus.yml")],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "WARNING" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    return proc.stdout


def _pem(cert, key) -> tuple[str, str]:
    return (cert.public_bytes(serialization.Encoding.PEM).decode(),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode())


_CA = {}


def ca():
    """A throwaway CA: (PEM certificate, certificate, key)."""
    if not _CA:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-only CA")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=30))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(key, hashes.SHA256()))
        _CA.update(pem=_pem(cert, key)[0], cert=cert, key=key)
    return _CA["pem"], _CA["cert"], _CA["key"]


def server_pair(*names: str) -> tuple[str, str]:
    """A certificate the CA signed for names (DNS names or IP addresses), and its key."""
    _, ca_cert, ca_key = ca()
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    sans = []
    for n in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            sans.append(x509.DNSName(n))
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return _pem(cert, key)


def test_remote_write_and_federation_render_from_variables(play, tmp_path):
    result = play.run({"mon1": REMOTE}, {"monitoring": ["mon1"]}, RECORD)["mon1"]
    assert result["ok"], result
    cfg = yaml.safe_load(result["config"])
    central, archive = cfg["remote_write"]
    assert central["url"] == "https://receiver.example.org:9090/api/v1/write"
    assert central["queue_config"] == {"max_shards": 4, "capacity": 5000, "max_samples_per_send": 1000}
    assert central["basic_auth"] == {"username": "writer", "password_file": "/etc/prometheus/remote-write-0.password"}
    assert central["tls_config"] == {"ca_file": "/etc/prometheus/tls/ca.crt"}
    assert central["write_relabel_configs"][0]["action"] == "drop"
    assert archive == {"url": "http://archive.example.org:9201/write"}

    fed = {j["job_name"]: j for j in cfg["scrape_configs"]}["federate-site-a"]
    assert fed["metrics_path"] == "/federate"
    assert fed["honor_labels"] is True
    assert fed["params"] == {"match[]": ['{job="node"}', '{__name__=~"job:.*"}']}
    assert fed["static_configs"] == [{"targets": ["prom-a.example.org:9090"]}]
    assert fed["scheme"] == "https" and fed["scrape_interval"] == "30s"
    assert fed["basic_auth"] == {"username": "fed", "password_file": "/etc/prometheus/scrape-federate-site-a.password"}
    assert cfg["global"]["external_labels"] == {"origin": "mon1"}
    # No password reaches prometheus.yml (which --diff would show).
    assert "test-only" not in result["config"]
    assert "SUCCESS" in promtool_check(result["config"], tmp_path)


@pytest.mark.parametrize("bad, message", [
    ({"prometheus_remote_write": [{"url": "receiver:9090/api/v1/write"}]}, "needs a url such as https://"),
    ({"prometheus_remote_write": [{"url": "http://r:9090/api/v1/write",
                                   "basic_auth": {"username": "w", "password": "p", "password_file": "/f"}}]},
     "either password (from Vault) or password_file, not both"),
    ({"prometheus_federation": [{"job_name": "f", "targets": ["a:9090"], "match": []}]}, "at least one match selector"),
    ({"prometheus_federation": [{"job_name": "prometheus", "targets": ["a:9090"], "match": ["up"]}]},
     "unique among prometheus_scrape_configs and prometheus_federation"),
])
def test_wrong_remote_settings_fail_preflight_with_what_to_do(play, bad, message):
    result = play.run({"mon1": bad}, {"monitoring": ["mon1"]}, RECORD)["mon1"]
    assert not result["ok"], result
    # A check that loops over jobs reports per item, in the play's output.
    assert message in result["msg"] + play.proc.stdout, result["msg"]


def test_tls_from_variables_checks_the_server_like_any_client(play, tmp_path):
    cert, key = server_pair("mon1.example.org", "localhost")
    tls = {"prometheus_web_tls_cert": cert, "prometheus_web_tls_key": key, "prometheus_web_tls_ca": ca()[0],
           "prometheus_web_tls_server_name": "mon1.example.org",
           "prometheus_basic_auth_users": {"admin": "test-only-admin-password"}}
    result = play.run({"mon1": tls}, {"monitoring": ["mon1"]}, RECORD)["mon1"]
    assert result["ok"], result
    self_job = {j["job_name"]: j for j in yaml.safe_load(result["config"])["scrape_configs"]}["prometheus"]
    assert self_job["scheme"] == "https"
    # Verified against the CA for the name, never insecure_skip_verify.
    assert self_job["tls_config"] == {"ca_file": "/etc/prometheus/tls/ca.crt", "server_name": "mon1.example.org"}
    assert result["wait_url"] == "https://mon1.example.org:9090"
    web = yaml.safe_load(result["web"])
    assert web["tls_server_config"] == {"cert_file": "/etc/prometheus/tls/prometheus.crt",
                                        "key_file": "/etc/prometheus/tls/prometheus.key"}
    # Alerts' links point at the HTTPS server, not Prometheus's http:// default.
    assert result["external_url"] == "https://mon1.example.org:9090/"
    assert "SUCCESS" in promtool_check(result["config"], tmp_path)
    # The key never reaches the play's output.
    assert key.splitlines()[1] not in play.proc.stdout + play.proc.stderr


def test_a_bad_tls_pair_never_reaches_the_host(play):
    cert, key = server_pair("mon1.example.org")
    _, other_key = server_pair("mon1.example.org")
    results = play.run({
        "wrongkey": {"prometheus_web_tls_cert": cert, "prometheus_web_tls_key": other_key,
                     "prometheus_web_tls_server_name": "mon1.example.org"},
        "wrongname": {"prometheus_web_tls_cert": cert, "prometheus_web_tls_key": key},
        "both": {"prometheus_web_tls_cert": cert, "prometheus_web_tls_key": key,
                 "prometheus_web_tls_cert_file": "/x.crt", "prometheus_web_tls_key_file": "/x.key"},
    }, {"monitoring": ["wrongkey", "wrongname", "both"]}, RECORD)
    assert "is not the key of prometheus_web_tls_cert" in results["wrongkey"]["msg"]
    assert 'not prometheus_web_tls_server_name "localhost"' in results["wrongname"]["msg"]
    assert "not both" in results["both"]["msg"]
    assert other_key.splitlines()[1] not in play.proc.stdout + play.proc.stderr


def test_promtool_refuses_a_web_config_whose_key_is_not_its_certificates(tmp_path):
    """The host-side check the role runs on web.yml (promtool check web-config) loads the pair."""
    if not shutil.which("promtool"):
        pytest.skip("promtool is not installed")
    cert, key = server_pair("localhost")
    _, other_key = server_pair("localhost")
    (tmp_path / "c.crt").write_text(cert)
    (tmp_path / "good.key").write_text(key)
    (tmp_path / "other.key").write_text(other_key)
    for name, key_file, ok in (("good", "good.key", True), ("bad", "other.key", False)):
        web = tmp_path / f"{name}.yml"
        web.write_text(yaml.safe_dump({"tls_server_config": {"cert_file": str(tmp_path / "c.crt"),
                                                              "key_file": str(tmp_path / key_file)}}))
        proc = subprocess.run(["promtool", "check", "web-config", str(web)], capture_output=True, text=True)
        assert (proc.returncode == 0) is ok, proc.stdout + proc.stderr


def test_the_production_inventory_serves_prometheus_over_https_and_grafana_trusts_it(play, tmp_path):
    """inventory/production as it is, with a test vault: TLS on for Prometheus, its clients verify it."""
    cert, key = server_pair("mon1.example.org")
    vault = {"vault_prometheus_tls_cert": cert, "vault_prometheus_tls_key": key, "vault_prometheus_tls_ca": ca()[0],
             "vault_prometheus_admin_password": "test-only-password", "vault_node_exporter_password": "test-only"}
    (tmp_path / "vault.json").write_text(json.dumps(vault))
    grafana = {"name": "Record Grafana's datasource", "ansible.builtin.set_fact": {"test_result": {
        "url": "{{ grafana_prometheus_url | trim }}", "ca": "{{ grafana_prometheus_tls_ca }}"}}}
    results = play.run(None, None, RECORD, inventory=ROOT / "inventory" / "production", pattern="monitoring",
                       extra_args=["-e", f"@{tmp_path / 'vault.json'}"])
    mon = results["mon1.example.org"]
    assert mon["ok"], mon
    self_job = {j["job_name"]: j for j in yaml.safe_load(mon["config"])["scrape_configs"]}["prometheus"]
    assert self_job["scheme"] == "https"
    assert self_job["tls_config"] == {"ca_file": "/etc/prometheus/tls/ca.crt", "server_name": "mon1.example.org"}
    assert mon["wait_url"] == "https://mon1.example.org:9090"
    assert mon["external_url"] == "https://mon1.example.org:9090/"
    for f in play.out.glob("*.json"):
        f.unlink()
    results = play.run(None, None, [grafana], inventory=ROOT / "inventory" / "production", pattern="grafana",
                       extra_args=["-e", f"@{tmp_path / 'vault.json'}"])
    assert results["mon1.example.org"] == {"ok": True, "url": "https://mon1.example.org:9090", "ca": ca()[0]}
