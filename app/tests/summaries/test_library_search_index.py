"""The library's stored search vectors on a real PostgreSQL (search_index.py).

The vectors are kept by database triggers, so these tests write through every
path the app and its neighbours use (the edit and delete views, ``save()``,
``QuerySet.update()``, ``bulk_create()``, raw SQL, two concurrent
transactions) and read back what PostgreSQL stored, comparing it with the
vector computed from the texts on the spot, as the search did at each request
before there was a stored one. Each test runs Django in a child process
against a private cluster (the ``postgres`` fixture of
test_library_postgres.py); skipped only when the PostgreSQL server binaries
are not installed (scripts/test-app.sh installs them).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from tests.summaries.test_library_postgres import APP_DIR, postgres  # noqa: F401 (fixture)

PRELUDE = textwrap.dedent(
    """
    import json
    import os
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model
    from brefboard.recordings.models import Recording
    from brefboard.library.models import SearchDocument, Summary
    from brefboard.library import search_index, services

    User = get_user_model()

    def sql(query, params=()):
        with connection.cursor() as cursor:
            cursor.execute(query, params)
            return cursor.fetchone()[0] if cursor.description else None

    def lexemes(pk):
        # the stored vector's words (without positions and weights)
        if not SearchDocument.objects.filter(pk=pk).exists():
            return None
        return sorted(sql("SELECT tsvector_to_array(vector) FROM library_searchdocument WHERE recording_id = %s",
                          [pk]))

    def fresh(pk):
        # the stored vector equals the one computed now from the texts (the former search expression)
        return sql(
            "SELECT d.vector = setweight(to_tsvector(library_search_config(), coalesce(r.title, '')), 'A')"
            " || setweight(to_tsvector(library_search_config(), coalesce(s.title, '')), 'A')"
            " || setweight(to_tsvector(library_search_config(), coalesce(s.text, '')), 'B')"
            " || setweight(to_tsvector(library_search_config(), coalesce(r.transcript, '')), 'C')"
            " FROM recordings_recording r JOIN library_searchdocument d ON d.recording_id = r.id"
            " LEFT JOIN library_summary s ON s.recording_id = r.id WHERE r.id = %s", [pk])

    def found(user, q):
        return [r.pk for r in services.library(user, q, "relevance")]
    """
)

FOLLOWS_EDITS = PRELUDE + textwrap.dedent(
    """
    import threading
    import psycopg
    from django.test import Client

    carol = User.objects.create_user("carol", "c@example.org", "pw-carol-123456")
    out = {}
    rec = Recording.objects.create(owner=carol, title="Réunion des girafes", transcript="Les éléphants dansent.",
                                   source="upload", status="done", language="fr")
    out["created"] = lexemes(rec.pk)
    out["created_fresh"] = fresh(rec.pk)

    c = Client()
    c.force_login(carol)
    # the edit view (ModelForm.save: every column in the UPDATE)
    r = c.post(f"/library/{rec.pk}/edit/", {"title": "Comité des zèbres", "transcript": "Les hippopotames chantent."})
    out["edit_status"] = r.status_code
    out["edited"] = lexemes(rec.pk)
    out["edited_found"] = [found(carol, "zèbre"), found(carol, "girafe"), found(carol, "hippopotame"),
                           found(carol, "éléphant")]

    # an unrelated write (status, live text) leaves the stored vector alone: same row version
    before = sql("SELECT xmin::text FROM library_searchdocument WHERE recording_id = %s", [rec.pk])
    Recording.objects.filter(pk=rec.pk).update(status="processing", live_text="bla")
    rec.refresh_from_db()
    rec.save()  # a full save() with unchanged texts
    out["untouched"] = before == sql("SELECT xmin::text FROM library_searchdocument WHERE recording_id = %s",
                                     [rec.pk])

    # QuerySet.update(): no save(), no signal
    Recording.objects.filter(pk=rec.pk).update(transcript="Les crocodiles nagent.")
    out["updated"] = lexemes(rec.pk)

    # the summary: created, changed with update(), deleted by its view
    summary = Summary.objects.create(recording=rec, status="done", text="Décision sur les tortues.",
                                     title="Tortues et lézards")
    out["summary_created"] = lexemes(rec.pk)
    out["summary_created_fresh"] = fresh(rec.pk)
    Summary.objects.filter(pk=summary.pk).update(text="Décision sur les pingouins.")
    out["summary_updated"] = lexemes(rec.pk)
    out["summary_updated_found"] = [found(carol, "pingouin"), found(carol, "tortue -lézard")]
    r = c.post(f"/delete_summary/{summary.pk}/")
    out["summary_delete_status"] = r.status_code
    out["summary_deleted"] = lexemes(rec.pk)

    # bulk_create (the benchmark's path), then a summary moved to another recording
    recs = Recording.objects.bulk_create([
        Recording(owner=carol, title=f"Lot {w}", transcript=w, source="upload", status="done")
        for w in ("castor", "loutre")])
    out["bulk"] = [lexemes(r.pk) for r in recs]
    moved = Summary.objects.create(recording=recs[0], status="done", text="Le hérisson.", title="")
    Summary.objects.filter(pk=moved.pk).update(recording=recs[1])
    out["moved"] = [lexemes(r.pk) for r in recs]

    # a huge transcript (more distinct words than a tsvector holds) is stored anyway
    import random
    rnd = random.Random(7)
    letters = "bcdfghjklmnpqrstvwxz"
    huge = " ".join("".join(rnd.choice(letters) for _ in range(12)) for _ in range(120_000))
    big = Recording.objects.create(owner=carol, title="Gros", transcript=huge, source="upload", status="done")
    big.refresh_from_db()
    out["huge_kept"] = big.transcript == huge
    out["huge_words"] = sql("SELECT length(vector) FROM library_searchdocument WHERE recording_id = %s", [big.pk])

    # deletions: the view (Django's collector), then raw SQL
    r = c.post(f"/library/{rec.pk}/delete/")
    out["delete_status"] = r.status_code
    out["deleted"] = SearchDocument.objects.filter(pk=rec.pk).exists()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM library_summary WHERE recording_id = %s", [recs[1].pk])
        cursor.execute("DELETE FROM recordings_recording WHERE id = %s", [recs[1].pk])
    out["raw_deleted"] = SearchDocument.objects.filter(pk=recs[1].pk).exists()

    # two transactions at once: one renames the recording, the other rewrites its summary
    target = Recording.objects.create(owner=carol, title="Ancien titre", transcript="x", source="upload",
                                      status="done")
    Summary.objects.create(recording=target, status="done", text="Ancien résumé.", title="")
    dsn = os.environ["DATABASE_URL"]
    first, second = psycopg.connect(dsn), psycopg.connect(dsn)
    first.execute("UPDATE recordings_recording SET title = 'Flamants roses' WHERE id = %s", [target.pk])
    blocked = threading.Thread(target=lambda: (
        second.execute("UPDATE library_summary SET text = 'Les manchots.' WHERE recording_id = %s", [target.pk]),
        second.commit()))
    blocked.start()
    blocked.join(1.0)
    out["second_waited"] = blocked.is_alive()  # on the first one's lock on the document
    first.commit()
    blocked.join(30)
    first.close(); second.close()
    out["concurrent"] = lexemes(target.pk)
    out["concurrent_fresh"] = fresh(target.pk)

    # another configuration: every vector rebuilt, the query follows
    Recording.objects.create(owner=carol, title="Running meetings", transcript="", source="upload", status="done")
    out["french_run"] = found(carol, "run")
    out["reconfigured"] = search_index.configure(connection, "english")
    out["config"] = search_index.installed_config(connection)
    out["english_run"] = found(carol, "run")
    out["all_fresh"] = sql("SELECT count(*) FROM recordings_recording") == sql(
        "SELECT count(*) FROM library_searchdocument")
    # (the huge transcript has no vector computed on the spot: to_tsvector refuses it, as the former search did)
    out["all_fresh"] = out["all_fresh"] and all(
        fresh(pk) for pk in Recording.objects.exclude(pk=big.pk).values_list("pk", flat=True))
    out["again"] = search_index.configure(connection, "english")
    try:
        search_index.configure(connection, "klingon")
    except ValueError as exc:
        out["bad_config"] = str(exc)
    search_index.configure(connection, "french")
    print(json.dumps(out))
    """
)

EXPLAIN = PRELUDE + textwrap.dedent(
    """
    import random

    dave = User.objects.create_user("dave", "d@example.org", "pw-dave-123456")
    rnd = random.Random(3)
    words = ["réunion", "projet", "client", "équipe", "planning", "serveur", "réseau", "contrat"]
    recs = Recording.objects.bulk_create([
        Recording(owner=dave, title=f"Réunion {i}", source="upload", status="done",
                  transcript=" ".join(rnd.choices(words, k=50)) + (" budget" if i % 300 == 0 else ""))
        for i in range(3000)])
    Summary.objects.bulk_create([Summary(recording=r, status="done", text="Un résumé.", title="")
                                 for r in recs[::2]])
    sql("ANALYZE")  # statistics, as a live database has them (no VACUUM: the index has no pending list)
    qs = services.library(dave, "budget", "relevance")
    plan = qs.explain()
    count_plan = services.library(dave, "budget", "date_desc").explain()
    print(json.dumps({"plan": plan, "count_plan": count_plan, "sql": str(qs.query), "found": len(qs),
                      "expected": 10}))
    """
)


def _run(postgres_url: str, script: str) -> dict:
    env = dict(os.environ, DATABASE_URL=postgres_url, DJANGO_SETTINGS_MODULE="brefboard.settings",
               DJANGO_SECRET_KEY="test-only", DJANGO_ALLOWED_HOSTS="testserver", PYTHONPATH=str(APP_DIR),
               BREFBOARD_SEARCH_CONFIG="french")
    proc = subprocess.run([sys.executable, "-c", script], cwd=APP_DIR, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_stored_vector_follows_every_write(postgres):  # noqa: F811
    out = _run(postgres, FOLLOWS_EDITS)
    assert {"giraf", "éleph", "réunion"} <= set(out["created"]) and out["created_fresh"]
    # the edit view: new title and transcript in, old ones out
    assert out["edit_status"] == 302
    assert {"zebr", "hippopotam"} <= set(out["edited"]) and not {"giraf", "éleph"} & set(out["edited"])
    rec_found = out["edited_found"]
    assert rec_found[0] == rec_found[2] != [] and rec_found[1] == rec_found[3] == []
    assert out["untouched"]
    assert "crocodil" in out["updated"] and "hippopotam" not in out["updated"]
    assert {"tortu", "lézard", "crocodil"} <= set(out["summary_created"]) and out["summary_created_fresh"]
    assert "pingouin" in out["summary_updated"] and "tortu" in out["summary_updated"]  # title kept
    pingouin, tortue_not_lezard = out["summary_updated_found"]
    assert len(pingouin) == 1 and tortue_not_lezard == []
    assert out["summary_delete_status"] == 200
    assert "pingouin" not in out["summary_deleted"] and "crocodil" in out["summary_deleted"]
    assert out["bulk"] == [["castor", "lot"], ["lot", "loutr"]]
    assert out["moved"] == [["castor", "lot"], ["hérisson", "lot", "loutr"]]
    assert out["huge_kept"] and out["huge_words"] > 10_000
    assert out["delete_status"] == 302 and out["deleted"] is False and out["raw_deleted"] is False
    # the second writer waited for the first and built its vector from both texts
    assert out["second_waited"]
    assert {"flam", "ros", "manchot"} <= set(out["concurrent"]) and out["concurrent_fresh"]
    assert out["french_run"] == [] and len(out["english_run"]) == 1
    assert out["reconfigured"] is True and out["config"] == "english" and out["all_fresh"]
    assert out["again"] is False
    assert "klingon" in out["bad_config"]


def test_search_uses_the_gin_index(postgres):  # noqa: F811
    """EXPLAIN of the library's search query shows the GIN index, by the planner's own choice.

    No ``enable_seqscan = off``: 3,000 recordings, 10 of them with the word,
    are enough for the planner to prefer the index to reading every stored
    vector, so the test shows both that the index can serve the query (the
    stored column, the configuration folded to a constant, the ``@@``
    operator GIN supports; the former query computed its vectors on the fly,
    which no index can serve) and that it is chosen. bench/web.py's 10,000
    make the same choice (docs/benchmarks.md).
    """
    out = _run(postgres, EXPLAIN)
    assert out["found"] == out["expected"]
    assert "to_tsvector" not in out["sql"]
    for plan in (out["plan"], out["count_plan"]):
        assert "library_searchdocument_vector_gin" in plan, plan
        assert "Seq Scan on library_searchdocument" not in plan, plan
