"""A real Celery worker (prefork, children recycled) transcribes several recordings;
its metrics endpoint reports every one of them, exactly.

Real Redis, real `celery worker` subprocess, real Whisper (tiny.en), speech from
espeak-ng; numbers read over HTTP from the worker's endpoint, linted by promtool.
"""
from __future__ import annotations

import base64
import http.client
import os
import signal
import subprocess
import sys
import time

import pytest
from django.test import Client, override_settings

from brefboard.recordings.models import TranscriptionJob
from tests.helpers import APP_DIR, wait_for
from tests.monitoring.promtool import assert_promtool_clean, http_get, samples, value
from tests.monitoring.test_gunicorn import file_owners, free_port, stale_counts

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

PASSWORD = "worker-metrics-test-password"


def upload(client, path) -> str:
    with open(path, "rb") as fh:
        r = client.post("/upload/", {"audio": fh, "language": "en"}, HTTP_ACCEPT="application/json")
    assert r.status_code == 201, r.content
    return r.json()["job"]


@pytest.fixture
def metrics_worker(django_db_setup, redis_server, tmp_path):
    """`celery worker`, 2 prefork children each replaced after one task, metrics on a free port."""
    redis_server.flushall()
    port = free_port()
    log_path = tmp_path / "worker.log"
    metrics_dir = tmp_path / "prom"
    metrics_dir.mkdir()
    stale_counts(metrics_dir)  # a previous run's files: removed when the worker starts
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="tests.django_settings",
        PYTHONPATH=str(APP_DIR),
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        BREFBOARD_WORKER_METRICS_PORT=str(port),
        BREFBOARD_WORKER_METRICS_ADDR="127.0.0.1",
        BREFBOARD_METRICS_ALLOWED_CIDRS="127.0.0.1/32",
        BREFBOARD_METRICS_PASSWORD=PASSWORD,
    )
    log = open(log_path, "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "brefboard", "worker", "-Q", "transcribe.cpu,celery",
         "--pool", "prefork", "--concurrency", "2", "--max-tasks-per-child", "1", "-n", "metrics@%h",
         "--without-gossip", "--without-mingle", "-l", "info"],
        cwd=APP_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        wait_for(lambda: b" ready." in log_path.read_bytes() or proc.poll() is not None, timeout=90,
                 interval=0.2, what="the worker to start")
        assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
        yield f"http://127.0.0.1:{port}", log_path, metrics_dir
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


def test_worker_endpoint_counts_every_transcription(alice_client, english_wav, metrics_worker):
    base, log_path, metrics_dir = metrics_worker
    n = 3
    jobs = [upload(alice_client, english_wav) for _ in range(n)]

    def finished():
        states = list(TranscriptionJob.objects.filter(pk__in=jobs).values_list("status", flat=True))
        return all(s not in ("queued", "running") for s in states)

    wait_for(finished, timeout=300, interval=0.5, what="the transcriptions",
             state=lambda: log_path.read_text(errors="replace")[-2000:])
    assert set(TranscriptionJob.objects.filter(pk__in=jobs).values_list("status", flat=True)) == {"done"}

    status, text = http_get(base + "/metrics")
    assert status == 200, text
    parsed = samples(text)
    for name in ("django_transcription_duration_seconds_count", "whisper_processing_time_seconds_count",
                 "audio_duration_seconds_count", "recording_quality_score_count",
                 "brefboard_transcription_quality_count", "brefboard_upload_to_transcript_seconds_count"):
        assert value(parsed, name) == n, (name, value(parsed, name))
    assert value(parsed, "brefboard_transcription_realtime_factor_count", device="cpu") == n
    assert value(parsed, "brefboard_queue_wait_seconds_count", queue="transcribe.cpu") == n
    assert value(parsed, "whisper_errors_total") is None  # no failure, no series
    # Clean synthetic speech: a good recording, and Whisper is sure of its words.
    assert 0.5 < value(parsed, "recording_quality") <= 1.0
    quality_sum = value(parsed, "brefboard_transcription_quality_sum")
    assert 0.3 * n < quality_sum <= 1.0 * n
    # ~8 s of speech each time.
    assert 4 * n < value(parsed, "audio_duration_seconds_sum") < 20 * n
    assert_promtool_clean(text)
    # Each child did one task and left; its files were folded into the archives.
    # Left: the archive, the main process, at most the 2 live children.
    assert len(file_owners(metrics_dir)) <= 4, sorted(p.name for p in metrics_dir.glob("*.db"))


def test_worker_endpoint_access(metrics_worker):
    """Allowlisted loopback address: 200; another address: 401 without or with wrong credentials, 200 with good."""
    base, _, _ = metrics_worker
    port = int(base.rsplit(":", 1)[1])
    assert http_get(base + "/metrics")[0] == 200
    assert http_get(base + "/other")[0] == 404

    def from_outside(auth: str | None) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=("127.0.0.2", 0))
        conn.request("GET", "/metrics", headers={"Authorization": auth} if auth else {})
        status = conn.getresponse().status
        conn.close()
        return status

    def basic(user, password):
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    assert from_outside(None) == 401
    assert from_outside(basic("metrics", "nope")) == 401
    assert from_outside(basic("metrics", PASSWORD)) == 200


@override_settings(BREFBOARD_METRICS_ALLOWED_CIDRS=["127.0.0.1/32"])
def test_queue_and_job_state_metrics_at_scrape_time(alice_client, english_wav, redis_server):
    """No worker running: the jobs wait in Redis; /metrics reads LLEN and the job table."""
    redis_server.flushall()
    jobs = [upload(alice_client, english_wav) for _ in range(2)]
    time.sleep(1.1)
    parsed = samples(Client().get("/metrics").content.decode())
    assert value(parsed, "brefboard_queue_jobs_waiting", queue="transcribe.cpu") == 2
    assert value(parsed, "brefboard_queue_jobs_waiting", queue="summaries") == 0
    assert 1.0 <= value(parsed, "brefboard_queue_oldest_job_age_seconds", queue="transcribe.cpu") < 60
    assert value(parsed, "brefboard_queue_oldest_job_age_seconds", queue="summaries") == 0
    assert value(parsed, "brefboard_jobs", state="pending") == 2
    assert value(parsed, "brefboard_jobs", state="done") == 0
    assert value(parsed, "django_audio_recordings_total") >= 2  # counted when each recording was created
    TranscriptionJob.objects.filter(pk=jobs[0]).update(status="failed")
    parsed = samples(Client().get("/metrics").content.decode())
    assert value(parsed, "brefboard_jobs", state="failed") == 1
    assert value(parsed, "brefboard_jobs", state="pending") == 1
    redis_server.flushall()
