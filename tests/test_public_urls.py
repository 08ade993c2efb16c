"""brefboard_public_urls → Django's ALLOWED_HOSTS and CSRF trusted origins, and nginx's Host.

Django refuses a POST whose Origin is neither scheme://<Host header> nor a
trusted origin ("Origin checking failed", 403). Behind a published port
(http://localhost:8080) the Origin has the port: nginx must forward the Host
header with it, and the trusted origins must carry ports. The role's own
preflight and templates run here on fake local hosts.
"""
import re

from conftest import ROOT, preflight_task

RECORD = {
    "name": "Record the settings",
    "ansible.builtin.set_fact": {"test_result": {
        "allowed": "{{ _brefboard_env.DJANGO_ALLOWED_HOSTS.split(',') }}",
        "origins": "{{ _brefboard_env.DJANGO_CSRF_TRUSTED_ORIGINS.split(',') }}",
        "ip": "{{ ansible_facts.default_ipv4.address | default('') }}",
        "nginx": "{{ lookup('ansible.builtin.template', '%s/roles/brefboard/templates/nginx-brefboard.conf.j2') }}" % ROOT,
    }},
}


def _run(play, hosts):
    return play.run(hosts, {"web": list(hosts)}, [preflight_task(), RECORD])


def test_urls_users_type_become_hosts_and_origins_with_ports(play, tmp_path):
    results = _run(play, {
        "lab": {"brefboard_public_urls": ["http://localhost:8080"], "brefboard_server_name": "localhost"},
        "twourls": {"brefboard_public_urls": ["https://BrefBoard.Example.org:443/", "http://10.1.2.3:8000",
                                              "http://[fd00::5]:8080"]},
        "derived": {"brefboard_server_name": "brefboard.example.org", "brefboard_http_port": 8080},
        "derived_tls": {"brefboard_server_name": "brefboard.example.org", "brefboard_tls": "selfsigned",
                        "brefboard_https_port": 8443},
        "derived_default": {"brefboard_server_name": "brefboard.example.org"},
    })
    assert all(r["ok"] for r in results.values()), results

    lab = results["lab"]
    ip = lab["ip"]
    assert "http://localhost:8080" in lab["origins"]
    # Plain http://localhost (port 80) and the host's own address keep working.
    assert {"http://localhost", f"http://{ip}"} <= set(lab["origins"])
    assert {"localhost", "lab", "127.0.0.1", "[::1]", ip} <= set(lab["allowed"])
    assert all(":" not in h or h.startswith("[") for h in lab["allowed"]), "ALLOWED_HOSTS take no ports"

    two = results["twourls"]
    # Lower case, default port and trailing slash gone: what a browser sends as Origin.
    assert {"https://brefboard.example.org", "http://10.1.2.3:8000", "http://[fd00::5]:8080"} <= set(two["origins"])
    assert {"brefboard.example.org", "10.1.2.3", "[fd00::5]", "twourls"} <= set(two["allowed"])

    assert "http://brefboard.example.org:8080" in results["derived"]["origins"]
    assert "https://brefboard.example.org:8443" in results["derived_tls"]["origins"]
    assert not any(o.startswith("http://brefboard") for o in results["derived_tls"]["origins"])
    assert "http://brefboard.example.org" in results["derived_default"]["origins"]
    assert "brefboard.example.org" in results["derived_default"]["allowed"]


def test_nginx_forwards_the_host_with_its_port(play):
    results = _run(play, {"web1": {"brefboard_public_urls": ["http://localhost:8080"]}})
    conf = results["web1"]["nginx"]
    # Every proxied location sends the Host the browser sent (port included), never $host.
    sent = re.findall(r"proxy_set_header Host (\S+);", conf)
    assert sent and set(sent) == {"$brefboard_host"}, sent
    assert re.search(r"map \$http_host \$brefboard_host \{\s*\"\" \$host;\s*default \$http_host;", conf), conf
    assert re.search(r"server_name [^;]*\blocalhost\b", conf)


def test_preflight_rejects_urls_users_cannot_type(play):
    bad = {
        "noscheme": ("brefboard.example.org", "has no scheme: write http://brefboard.example.org"),
        "path": ("https://brefboard.example.org/app", "has a path"),
        "space": ("http://brefboard example.org", "contains a space"),
        "ftp": ("ftp://brefboard.example.org", "has the scheme ftp: only http and https"),
        "user": ("http://me@brefboard.example.org", "names a user"),
        "port": ("http://localhost:808000", "is not scheme://host[:port]"),
    }
    hosts = {name: {"brefboard_public_urls": ["http://localhost:8080", url]} for name, (url, _) in bad.items()}
    hosts["string"] = {"brefboard_public_urls": "http://localhost:8080"}
    hosts["good"] = {"brefboard_public_urls": ["http://localhost:8080", "https://brefboard.example.org/"]}
    results = _run(play, hosts)
    assert results["good"]["ok"], results["good"]
    for name, (url, why) in bad.items():
        r = results[name]
        assert not r["ok"] and r["failed"] == "Check the public URLs (what users type in their browser)", r
        assert f'"{url}" {why}' in r["msg"], r["msg"]
        assert '"http://localhost:8080" ' not in r["msg"], "a good URL is not blamed"
    assert not results["string"]["ok"] and "must be a list" in results["string"]["msg"]
