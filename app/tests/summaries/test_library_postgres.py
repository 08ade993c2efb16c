"""Library search on a real PostgreSQL: full-text (French stemming, websearch
syntax, ranking), which SQLite cannot show.

The test starts a private PostgreSQL cluster (initdb into a temporary folder,
loopback port, fsync off) and runs Django against it in a child process,
since the rest of the suite runs on SQLite. It is skipped only when the
PostgreSQL server binaries are not installed (Debian's ``postgresql``
package; scripts/test-app.sh installs it for CI)."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

APP_DIR = Path(__file__).resolve().parents[2]


def _pg_bindir() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres():
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not installed (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="brefboard-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root
        shutil.chown(root, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    data, log = root / "data", root / "server.log"

    def run(*cmd: str) -> None:
        subprocess.run(as_user + list(cmd), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=120)

    run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
        "--locale=C.UTF-8")
    run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o",
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off", "start")
    try:
        run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "brefboard")
        yield f"postgres://postgres@127.0.0.1:{port}/brefboard"
    finally:
        subprocess.run(as_user + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


SCRIPT = textwrap.dedent(
    """
    import json
    import django

    django.setup()
    from django.test.utils import setup_test_environment

    setup_test_environment()  # response.context, as under the test runner
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.contrib.auth import get_user_model

    call_command("migrate", verbosity=0)
    from brefboard.recordings.models import Recording
    from brefboard.library.models import Summary
    from brefboard.library import services

    User = get_user_model()
    alice = User.objects.create_user("alice", "a@example.org", "pw-alice-123456")
    bob = User.objects.create_user("bob", "b@example.org", "pw-bob-123456")

    def rec(owner, title, transcript, summary=None):
        r = Recording.objects.create(owner=owner, title=title, transcript=transcript, source="upload",
                                     status="done", language="fr")
        if summary:
            Summary.objects.create(recording=r, status="done", text=summary, title="")
        return r.pk

    ids = {
        "adjective": rec(alice, "Comité budgétaire", "On parle de chiffres."),
        "plural": rec(alice, "Point hebdomadaire", "Les budgets de l'équipe mobile augmentent."),
        "summary": rec(alice, "Rétrospective", "Rien à signaler.", summary="Décision sur le budget des licences."),
        "licences": rec(alice, "Licences", "Le budget des licences logicielles."),
        "title": rec(alice, "Budget annuel", "Autre sujet."),
        "bob": rec(bob, "Budget de Bob", "budget"),
    }

    def found(q, sort="relevance"):
        return [r.pk for r in services.library(alice, q, sort)]

    c = Client()
    c.force_login(alice)
    page = c.get("/profil/", {"search": "budget", "sort": "relevance"})
    print(json.dumps({
        "vendor": connection.vendor,
        "ids": ids,
        "budget": found("budget"),
        "budget_minus_licences": found("budget -licences"),
        "phrase": found('"budget des licences"'),
        "accents": found("rétrospective"),
        "by_title": found("budget", "title_asc"),
        "page_status": page.status_code,
        "page_ids": [r.pk for r in page.context["page"]],
        "page_has_relevance": "Pertinence" in page.content.decode(),
    }))
    """
)


def test_full_text_search_on_postgresql(postgres):
    env = dict(os.environ, DATABASE_URL=postgres, DJANGO_SETTINGS_MODULE="brefboard.settings",
               DJANGO_SECRET_KEY="test-only", DJANGO_ALLOWED_HOSTS="testserver", PYTHONPATH=str(APP_DIR),
               BREFBOARD_SEARCH_CONFIG="french")
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=APP_DIR, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    ids = out["ids"]
    assert out["vendor"] == "postgresql"
    # stemming: "budgets" matches "budget"; the adjective "budgétaire" does not; Bob's never
    assert set(out["budget"]) == {ids["plural"], ids["summary"], ids["licences"], ids["title"]}
    assert out["budget"][0] == ids["title"]  # a title hit ranks first
    assert out["budget_minus_licences"] == [ids["title"], ids["plural"]]
    assert set(out["phrase"]) == {ids["summary"], ids["licences"]}
    assert out["accents"] == [ids["summary"]]
    # Budget annuel, Licences, Point hebdomadaire, Rétrospective
    assert out["by_title"] == [ids["title"], ids["licences"], ids["plural"], ids["summary"]]
    assert out["page_status"] == 200 and out["page_has_relevance"]
    assert out["page_ids"] == out["budget"]
