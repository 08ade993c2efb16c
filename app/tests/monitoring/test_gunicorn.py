"""The web process under gunicorn with 4 workers: counts are exact, across worker recycling.

Real gunicorn, real HTTP on loopback, real multiprocess files; the numbers
are read back from ``/metrics`` with prometheus_client's parser and the
exposition is linted by promtool.
"""
from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import APP_DIR, wait_for
from tests.monitoring.promtool import assert_promtool_clean, http_get, samples, value

# Committed data (transactional): gunicorn's workers are other processes reading the file.
pytestmark = pytest.mark.django_db(transaction=True)

WORKERS = 4
MAX_REQUESTS = 5  # each worker is replaced after 5 requests: the test sees many generations


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stale_counts(directory: Path) -> None:
    """Files a previous run would leave: 1000 requests to the login view, from a dead process."""
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(directory))
    code = ("from brefboard.monitoring import metrics; "
            "metrics.REQUESTS.labels(view_name='login').inc(1000); "
            "metrics.TRANSCRIPTION_DURATION.observe(5)")
    subprocess.run([sys.executable, "-c", code], env=env, cwd=APP_DIR, check=True)
    assert any(directory.glob("counter_*.db"))


def file_owners(directory: Path) -> set[str]:
    """The pids (or "archive") that own multiprocess files: `counter_123.db` → "123"."""
    return {p.name[:-3].rsplit("_", 1)[1] for p in directory.glob("*.db")}


@pytest.fixture
def gunicorn(django_db_setup, tmp_path):
    """gunicorn with the project's hooks, 4 sync workers recycled every MAX_REQUESTS requests."""
    metrics_dir = tmp_path / "prom"
    metrics_dir.mkdir()
    stale_counts(metrics_dir)
    port = free_port()
    log_path = tmp_path / "gunicorn.log"
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="tests.django_settings",
        PYTHONPATH=str(APP_DIR),
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        BREFBOARD_METRICS_ALLOWED_CIDRS="127.0.0.1/32",
    )
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:brefboard.monitoring.gunicorn",
             "--workers", str(WORKERS), "--max-requests", str(MAX_REQUESTS), "--max-requests-jitter", "0",
             "--bind", f"127.0.0.1:{port}", "--log-level", "info", "brefboard.wsgi"],
            cwd=APP_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"

    def up():
        if proc.poll() is not None:
            raise AssertionError("gunicorn exited:\n" + log_path.read_text(errors="replace")[-3000:])
        try:
            # /metrics, not the view the test counts; a generous timeout so that no
            # probe is abandoned client-side yet answered (and counted) later.
            return http_get(base + "/metrics", timeout=60)[0] == 200
        except OSError:
            return False

    try:
        wait_for(up, timeout=60, interval=0.3, what="gunicorn to answer")
        yield base, log_path, metrics_dir
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_request_count_exact_with_4_workers_and_recycling(gunicorn):
    base, log_path, metrics_dir = gunicorn
    n = 57
    for _ in range(n):
        status, _body = http_get(base + "/login/")
        assert status == 200
    time.sleep(0.5)  # let the last recycled worker go
    status, text = http_get(base + "/metrics")
    assert status == 200, text
    parsed = samples(text)
    # The stale 1000 from the previous run's files were emptied at start: exactly what was sent.
    assert value(parsed, "django_request_count_total", view_name="login") == n
    assert value(parsed, "django_view_latency_seconds_count", view_name="login") == n
    # django-prometheus' own counter agrees (it runs in multiprocess mode too).
    assert value(parsed, "django_http_requests_total_by_view_transport_method_total",
                 view="login", transport="http", method="GET") == n
    # Workers really were replaced, several times over.
    booted = len(re.findall(r"Booting worker with pid", log_path.read_text(errors="replace")))
    assert booted >= WORKERS + n // MAX_REQUESTS // 2, booted
    # Dead workers' files were folded into the archives: one set of files per live worker.
    assert len(file_owners(metrics_dir)) <= WORKERS + 1, sorted(p.name for p in metrics_dir.glob("*.db"))
    # DB metrics from django-prometheus' database backend, summed over workers.
    assert any(name == "django_db_new_connections_total" for name, _ in parsed), "no DB metrics"
    # Scrape-time collectors: job states from the database, queue lengths from Redis.
    assert value(parsed, "brefboard_jobs", state="pending") is not None
    assert value(parsed, "brefboard_queue_jobs_waiting", queue="transcribe.cpu") is not None
    assert_promtool_clean(text)


def test_metrics_refused_to_an_address_outside_the_allowlist(gunicorn):
    """Over real HTTP: 127.0.0.1 is in the allowlist, 127.0.0.2 (also loopback on Linux) is not."""
    base, _, _ = gunicorn
    port = int(base.rsplit(":", 1)[1])
    assert http_get(base + "/metrics")[0] == 200
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=("127.0.0.2", 0))
    conn.request("GET", "/metrics")
    response = conn.getresponse()
    body = response.read().decode()
    conn.close()
    assert response.status == 403, body
    assert "django_request_count" not in body
