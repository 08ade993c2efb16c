"""Settings come from the environment: each case loads brefboard.settings in a fresh interpreter."""
import json
import os
import subprocess
import sys

from tests.helpers import APP_DIR


def load(env: dict) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "BREFBOARD_"))}
    code = ("import json, brefboard.settings as s; "
            "print(json.dumps({'db': s.DATABASES['default'], 'debug': s.DEBUG, 'queue': s.BREFBOARD_DEFAULT_QUEUE,"
            " 'broker': s.CELERY_BROKER_URL, 'acks_late': s.CELERY_TASK_ACKS_LATE,"
            " 'reject': s.CELERY_TASK_REJECT_ON_WORKER_LOST, 'prefetch': s.CELERY_WORKER_PREFETCH_MULTIPLIER}, default=str))")
    return subprocess.run([sys.executable, "-c", code], cwd=APP_DIR, env={**base, **env}, capture_output=True, text=True)


def test_postgresql_from_database_url():
    r = load({"DJANGO_SECRET_KEY": "k", "DATABASE_URL": "postgres://brefboard:p%40ss%3Aword@db.internal:5433/bref"})
    assert r.returncode == 0, r.stderr
    db = json.loads(r.stdout)["db"]
    assert db["ENGINE"].endswith("db.backends.postgresql")  # Django's, or django-prometheus' wrapper
    assert (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "bref", "brefboard", "p@ss:word", "db.internal", "5433")


def test_sqlite_without_database_url():
    r = load({"DJANGO_SECRET_KEY": "k", "BREFBOARD_SQLITE_PATH": "/var/lib/brefboard/db.sqlite3"})
    settings = json.loads(r.stdout)
    assert settings["db"]["ENGINE"].endswith("db.backends.sqlite3")
    assert settings["db"]["NAME"] == "/var/lib/brefboard/db.sqlite3"
    assert "synchronous=FULL" in settings["db"]["OPTIONS"]["init_command"]  # a committed chunk is on disk
    assert settings["debug"] is False


def test_celery_delivery_settings():
    s = json.loads(load({"DJANGO_SECRET_KEY": "k", "BREFBOARD_DEFAULT_QUEUE": "transcribe.gpu",
                         "CELERY_BROKER_URL": "redis://:pw@redis.internal:6379/1"}).stdout)
    assert (s["acks_late"], s["reject"], s["prefetch"]) == (True, True, 1)
    assert s["queue"] == "transcribe.gpu" and s["broker"] == "redis://:pw@redis.internal:6379/1"


def test_refuses_to_start_without_a_secret_key():
    r = load({})
    assert r.returncode != 0 and "DJANGO_SECRET_KEY" in r.stderr


def test_unknown_database_scheme_is_a_clear_error():
    r = load({"DJANGO_SECRET_KEY": "k", "DATABASE_URL": "mysql://x@y/z"})
    assert r.returncode != 0 and "unsupported scheme" in r.stderr
