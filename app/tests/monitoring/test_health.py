"""/healthz: what a load balancer and the deploy ask before sending users to a host."""
from __future__ import annotations

import pytest
from django.db import connection

from brefboard.monitoring.health import running_release

pytestmark = pytest.mark.django_db


def test_healthy_without_login_and_never_cached(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok" and response.json()["database"] == "ok"
    assert "no-cache" in response["Cache-Control"]
    # Outside a deployed release (this checkout), the release is empty, not made up.
    assert response.json()["release"] == ""


def test_unreachable_database_answers_503(client, tmp_path):
    """A database the process cannot open (here: a SQLite file in a missing directory)."""
    if connection.vendor != "sqlite":
        pytest.skip("the unreachable database is made with SQLite")
    saved = connection.settings_dict["NAME"]
    connection.close()
    connection.settings_dict["NAME"] = str(tmp_path / "missing-dir" / "db.sqlite3")
    try:
        response = client.get("/healthz")
    finally:
        connection.close()
        connection.settings_dict["NAME"] = saved
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unreachable", "release": ""}


def test_only_get(client):
    assert client.post("/healthz").status_code == 405


def test_release_is_the_release_directory_the_code_came_from(tmp_path):
    release = tmp_path / "opt" / "releases" / "0a1b2c3d4e5f-web"
    code = release / "venv" / "lib" / "python3.11" / "site-packages" / "brefboard" / "monitoring"
    code.mkdir(parents=True)
    (code / "health.py").write_text("")
    # Through the "current" symlink, as the units start it: the real directory is named.
    (tmp_path / "opt" / "current").symlink_to(release)
    via_link = tmp_path / "opt" / "current" / "venv" / "lib" / "python3.11" / "site-packages" / "brefboard" / "monitoring" / "health.py"
    assert running_release(str(via_link)) == "0a1b2c3d4e5f-web"
    assert running_release("/home/someone/app/brefboard/monitoring/health.py") == ""
