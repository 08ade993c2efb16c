"""A browser's POST and Django's CSRF origin check, with the hosts and origins a
deployment gives in DJANGO_ALLOWED_HOSTS and DJANGO_CSRF_TRUSTED_ORIGINS (ports
included), through the test Client with the Origin and Host headers a browser sends."""
import json
import os
import subprocess
import sys

import pytest
from django.test import Client

from brefboard.recordings.models import Chunk, Recording
from brefboard.settings import allowed_hosts, csrf_trusted_origins
from tests.helpers import APP_DIR

pytestmark = pytest.mark.django_db

HOSTS = "localhost,127.0.0.1,10.0.0.5"
ORIGINS = "http://localhost:8080,http://10.0.0.5"
PASSWORD = "correct horse battery"


def settings_from_env(env: dict) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "BREFBOARD_"))}
    code = ("import json, brefboard.settings as s; print(json.dumps({'hosts': s.ALLOWED_HOSTS,"
            " 'origins': s.CSRF_TRUSTED_ORIGINS, 'view': s.CSRF_FAILURE_VIEW}))")
    return subprocess.run([sys.executable, "-c", code], cwd=APP_DIR, env={**base, "DJANGO_SECRET_KEY": "k", **env},
                          capture_output=True, text=True)


def test_hosts_and_origins_from_the_environment_ports_included():
    r = settings_from_env({"DJANGO_ALLOWED_HOSTS": "localhost:8080, 10.0.0.5,[::1]:8080,.example.org",
                           "DJANGO_CSRF_TRUSTED_ORIGINS": "http://localhost:8080, http://10.0.0.5/,"
                                                          "HTTPS://BrefBoard.example.org:443"})
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    # Django matches a Host's name without its port: an entry with one would never match.
    assert s["hosts"] == ["localhost", "10.0.0.5", "[::1]", ".example.org"]
    # Origins are compared exactly: a non-default port stays, a default one and a slash go.
    assert s["origins"] == ["http://localhost:8080", "http://10.0.0.5", "https://brefboard.example.org"]
    assert s["view"] == "brefboard.accounts.views.csrf_failure"


def test_an_origin_without_a_scheme_is_refused_at_start():
    r = settings_from_env({"DJANGO_CSRF_TRUSTED_ORIGINS": "localhost:8080"})
    assert r.returncode != 0 and "DJANGO_CSRF_TRUSTED_ORIGINS" in r.stderr and "http://" in r.stderr


@pytest.fixture
def deployed(settings):
    """The settings a host gets from DJANGO_ALLOWED_HOSTS / DJANGO_CSRF_TRUSTED_ORIGINS."""
    settings.ALLOWED_HOSTS = allowed_hosts(HOSTS.split(","))
    settings.CSRF_TRUSTED_ORIGINS = csrf_trusted_origins(ORIGINS.split(","))
    return settings


def browser_login(host: str, origin: str, **headers):
    client = Client(enforce_csrf_checks=True)
    page = client.get("/login/", HTTP_HOST=host)
    assert page.status_code == 200
    token = client.cookies["csrftoken"].value
    response = client.post("/login/", {"username": "alice", "password": PASSWORD, "csrfmiddlewaretoken": token},
                           HTTP_HOST=host, HTTP_ORIGIN=origin, **headers)
    return client, response


def logged_in(client, host) -> bool:
    return client.get("/profil/", HTTP_HOST=host).status_code == 200


@pytest.mark.parametrize("host, origin", [
    ("localhost:8080", "http://localhost:8080"),  # the lab: the published port, passed on in Host
    ("10.0.0.5", "http://10.0.0.5"),
    ("localhost", "http://localhost:8080"),  # a proxy that drops the port from Host: trusted origin
])
def test_a_browser_post_from_a_trusted_origin_logs_in(alice, deployed, host, origin):
    client, r = browser_login(host, origin)
    assert r.status_code == 302 and "/login/" not in r["Location"], r.content[:300]
    assert logged_in(client, host)


@pytest.mark.parametrize("host, origin", [
    ("localhost:8080", "http://evil.example"),
    ("localhost:8080", "http://localhost:9090"),  # same name, another port: another origin
    ("localhost:8080", "https://localhost:8080"),  # another scheme
    ("10.0.0.5", "http://10.0.0.5.evil.example"),
    ("localhost:8080", "null"),  # a sandboxed page or a redirect chain
])
def test_a_browser_post_from_an_untrusted_origin_is_refused_in_french(alice, deployed, host, origin):
    client, r = browser_login(host, origin)
    assert r.status_code == 403
    body = r.content.decode()
    assert "Requête refusée par la protection CSRF" in body and "origine de confiance" in body
    assert r["Content-Type"].startswith("text/html")
    assert not logged_in(client, host)


def test_without_the_trusted_origins_a_port_dropping_proxy_fails(alice, deployed):
    deployed.CSRF_TRUSTED_ORIGINS = []
    _, r = browser_login("localhost", "http://localhost:8080")
    assert r.status_code == 403
    _, r = browser_login("localhost:8080", "http://localhost:8080")  # Host with the port: same origin
    assert r.status_code == 302


def test_a_host_not_allowed_is_400(alice, deployed):
    r = Client().get("/login/", HTTP_HOST="evil.example")
    assert r.status_code == 400


def test_fetch_callers_get_json_in_french(alice, deployed):
    client, r = browser_login("localhost:8080", "http://evil.example", HTTP_ACCEPT="application/json")
    assert r.status_code == 403 and r["Content-Type"] == "application/json"
    assert r.json()["code"] == "csrf" and "origine de confiance" in r.json()["error"]


def test_the_recorders_chunk_without_a_valid_token_is_json(alice, deployed):
    """The recorder sends Accept: application/json and X-CSRFToken: a stale token is JSON it can read."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    client.get("/", HTTP_HOST="localhost:8080")
    sid = Recording.objects.create(owner=alice, source="browser", mime_type="audio/webm").pk
    r = client.put(f"/api/sessions/{sid}/chunks/0/", data=b"\x1aE\xdf\xa3", content_type="audio/webm",
                   HTTP_HOST="localhost:8080", HTTP_ORIGIN="http://localhost:8080",
                   HTTP_ACCEPT="application/json", HTTP_X_CSRFTOKEN="stale" * 7)
    assert r.status_code == 403 and r.json()["code"] == "csrf"
    assert r.json()["error"].startswith("Requête refusée par la protection CSRF : le jeton CSRF")
    assert not Chunk.objects.filter(recording_id=sid).exists()
