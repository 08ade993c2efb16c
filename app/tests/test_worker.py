"""End to end through a real Redis and real `celery worker` processes.

The database is committed (transactional tests) because the worker is another
process reading the same SQLite file, as a remote worker reads PostgreSQL.
"""
import time

import pytest

from brefboard.recordings.models import Recording, Segment, TranscriptionJob
from tests.helpers import live_webm, split_bytes, wait_for, words

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def upload(client, path, language="en"):
    with open(path, "rb") as fh:
        r = client.post("/upload/", {"audio": fh, "language": language}, HTTP_ACCEPT="application/json")
    assert r.status_code == 201, r.content
    return r.json()


def job_of(body) -> TranscriptionJob:
    return TranscriptionJob.objects.get(pk=body["job"])


def test_upload_is_transcribed_by_a_worker(alice_client, english_wav, start_worker):
    start_worker()
    body = upload(alice_client, english_wav)
    seen = []

    def done():
        j = job_of(body)
        seen.append((j.status, j.stage, j.progress))
        return j.status not in ("queued", "running")

    wait_for(done, timeout=120, interval=0.3, what="the transcription")
    job = job_of(body)
    assert job.status == "done", job.error
    assert job.progress == 100.0 and job.stage == "done" and job.completions == 1
    assert job.engine == "faster-whisper" and job.device == "cpu"
    rec = Recording.objects.get(pk=body["recording"])
    assert rec.status == "done" and rec.language == "en"
    assert {"budget", "meeting", "marketing", "report", "sales"} <= set(words(rec.transcript)), rec.transcript
    segments = list(Segment.objects.filter(recording=rec))
    assert segments and all(a.end <= b.start + 0.01 for a, b in zip(segments, segments[1:]))
    # The page and the original's JSON endpoint show it.
    assert "marketing" in alice_client.get(f"/recordings/{rec.pk}/").content.decode().lower()
    assert "budget" in alice_client.get(f"/get_transcription/{rec.pk}/").json()["text"].lower()
    status = alice_client.get(f"/api/jobs/{job.pk}/").json()
    assert status["status"] == "done" and status["progress"] == 100.0


def test_worker_killed_mid_transcription_the_job_completes_once(alice_client, medium_english_wav, start_worker):
    """SIGKILL the whole worker while it transcribes; a new worker finishes the job, once.

    Both recovery paths deliver the job again, so the new worker gets it twice:
    Redis gives the unacknowledged message back (the visibility timeout, 8 s
    here, has passed when the new worker starts and looks), and the stuck-job
    check, seeing the dead worker's heartbeat go stale (5 s), sends it again.
    The first delivery takes the job over; the other finds it held or done.
    """
    from brefboard.recordings.tasks import detect_stuck_jobs

    worker = start_worker(name="first")
    body = upload(alice_client, medium_english_wav)
    wait_for(lambda: job_of(body).stage == "transcribing", timeout=120, interval=0.1,
             what="the transcription to be under way", state=lambda: (job_of(body).as_dict(), worker.output()[-3000:]))
    time.sleep(1.0)  # inside Whisper's decoding of the first window
    worker.kill()
    job = job_of(body)
    assert job.status == "running" and job.progress < 100 and job.completions == 0
    wait_for(lambda: detect_stuck_jobs()["running"] == 1, timeout=30, interval=0.5, what="the job to be found stuck")
    assert job_of(body).stuck
    # Redis re-delivers only messages older than the visibility timeout when a worker looks.
    time.sleep(max(0.0, 9.0 - (time.time() - job.started_at.timestamp())))
    second = start_worker(name="second")
    wait_for(lambda: job_of(body).status == "done", timeout=180, interval=0.5, what="the job to complete",
             state=lambda: (job_of(body).as_dict(), second.output()[-3000:]))
    job = job_of(body)
    assert job.attempts == 2 and job.completions == 1 and not job.stuck
    rec = Recording.objects.get(pk=body["recording"])
    assert {"budget", "marketing", "northern"} <= set(words(rec.transcript)), rec.transcript
    indexes = list(Segment.objects.filter(recording=rec).values_list("index", flat=True))
    assert indexes == list(range(len(indexes)))  # one set of segments, not two
    # Both deliveries reached the new worker: one did the work, the other changed nothing.
    wait_for(lambda: second.output().count("transcribe_recording[") >= 4, timeout=30, interval=0.5,
             what="the second delivery to be handled", state=lambda: second.output()[-3000:])
    assert job_of(body).completions == 1


def test_a_transient_database_error_is_retried_and_the_job_completes_once(alice_client, medium_english_wav,
                                                                         start_worker, settings):
    """The database refuses writes for a while (another connection holds SQLite's write lock
    longer than the worker's lock timeout): the job gives its claim back, retries, and finishes."""
    import sqlite3

    db = settings.DATABASES["default"]
    if not db["ENGINE"].endswith("sqlite3"):
        pytest.skip("the write lock used here is SQLite's")
    worker = start_worker()
    body = upload(alice_client, medium_english_wav)
    # faster-whisper reports segments a 30 s window at a time: the progress write at the
    # end of this file's only window is the write that meets the lock.
    wait_for(lambda: job_of(body).stage == "transcribing", timeout=120, interval=0.1,
             what="the transcription to be under way", state=lambda: job_of(body).as_dict())
    blocker = sqlite3.connect(db["NAME"], timeout=30, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # holds the write lock
    try:
        wait_for(lambda: "Retry in" in worker.output() or "database is locked" in worker.output(),
                 timeout=60, what="the worker to hit the locked database", state=lambda: worker.output()[-2000:])
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    wait_for(lambda: job_of(body).status == "done", timeout=180, interval=0.5, what="the job to complete",
             state=lambda: (job_of(body).as_dict(), worker.output()[-2000:]))
    job = job_of(body)
    assert job.completions == 1 and job.attempts >= 2
    assert "Retry in" in worker.output()  # it went through Celery's retry, not a lucky wait
    assert {"budget", "marketing"} <= set(words(Recording.objects.get(pk=body["recording"]).transcript))


def test_cancel_stops_a_running_job(alice_client, medium_english_wav, start_worker):
    start_worker()
    body = upload(alice_client, medium_english_wav)
    wait_for(lambda: job_of(body).stage == "transcribing", timeout=120, interval=0.2, what="the job to start")
    r = alice_client.post(f"/api/jobs/{body['job']}/cancel/", HTTP_ACCEPT="application/json")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    time.sleep(8)  # long enough for the worker to have finished had it not stopped
    job = job_of(body)
    assert job.status == "cancelled" and job.completions == 0
    rec = Recording.objects.get(pk=body["recording"])
    assert rec.transcript == "" and rec.status == "cancelled"
    assert not Segment.objects.filter(recording=rec).exists()


def test_browser_session_gets_a_live_transcript_then_the_final_one(alice_client, english_wav, audio_dir, start_worker):
    worker = start_worker()
    stream = live_webm(english_wav, audio_dir / "live-worker.webm").read_bytes()
    r = alice_client.post("/api/sessions/", {"mime_type": "audio/webm", "language": "en"},
                          content_type="application/json")
    sid = r.json()["id"]
    for i, chunk in enumerate(split_bytes(stream, 2500)):
        assert alice_client.put(f"/api/sessions/{sid}/chunks/{i}/", data=chunk,
                                content_type="audio/webm").status_code == 200
        time.sleep(0.3)  # chunks arrive over time, as from a browser
    live = wait_for(lambda: alice_client.get("/current_transcription/").json()["transcription"],
                    timeout=60, what="a live transcript")
    assert set(words(live)) & {"budget", "meeting", "quarterly", "marketing", "report", "sales"}, live
    body = alice_client.post(f"/api/sessions/{sid}/finish/").json()
    wait_for(lambda: job_of(body).status == "done", timeout=120, what="the final transcript")
    rec = Recording.objects.get(pk=sid)
    assert {"budget", "meeting", "marketing", "report"} <= set(words(rec.transcript)), rec.transcript
    # Several live passes and the final job, one worker process: the model was loaded once.
    assert worker.output().count("loaded transcription engine") == 1, worker.output()[-3000:]


def test_stuck_running_job_is_reported_and_requeued(alice, redis_server, settings):
    """No worker here: a job whose worker went silent is flagged and its message sent again."""
    from datetime import timedelta

    from django.utils import timezone

    from brefboard.recordings.tasks import detect_stuck_jobs

    redis_server.flushall()
    rec = Recording.objects.create(owner=alice, source="upload", status="processing")
    silent = TranscriptionJob.objects.create(recording=rec, queue="transcribe.cpu", status="running",
                                             worker="gone:1", heartbeat_at=timezone.now() - timedelta(minutes=10))
    alive = TranscriptionJob.objects.create(recording=rec, queue="transcribe.cpu", status="running",
                                            worker="here:2", heartbeat_at=timezone.now())
    waiting = TranscriptionJob.objects.create(recording=rec, queue="transcribe.gpu", celery_task_id="sent-long-ago",
                                              created_at=timezone.now() - timedelta(hours=3))
    assert detect_stuck_jobs() == {"running": 1, "queued": 1, "unsent": 0}
    silent.refresh_from_db(), alive.refresh_from_db(), waiting.refresh_from_db()
    assert silent.stuck and "gone:1" in silent.stuck_reason
    assert not alive.stuck
    assert waiting.stuck and "transcribe.gpu" in waiting.stuck_reason
    assert redis_server.llen("transcribe.cpu") == 1  # the silent job's message, sent again
    # Reported once: the next check (here the management command) finds nothing new.
    from django.core.management import call_command

    call_command("detect_stuck_jobs")
    assert redis_server.llen("transcribe.cpu") == 1
    # The page shows it.
    from django.test import Client

    client = Client()
    client.force_login(alice)
    assert client.get(f"/api/jobs/{silent.pk}/").json()["stuck"] is True


def test_a_job_whose_message_never_left_is_sent_by_the_stuck_check(alice, redis_server):
    """The broker was down at upload time: the committed job row is enough to send it later."""
    from datetime import timedelta

    from django.utils import timezone

    from brefboard.recordings.tasks import detect_stuck_jobs

    redis_server.flushall()
    rec = Recording.objects.create(owner=alice, source="upload", status="queued")
    job = TranscriptionJob.objects.create(recording=rec, queue="transcribe.cpu", stage="waiting_for_broker",
                                          created_at=timezone.now() - timedelta(minutes=1))
    assert detect_stuck_jobs()["unsent"] == 1
    job.refresh_from_db()
    assert job.celery_task_id and redis_server.llen("transcribe.cpu") == 1
    assert detect_stuck_jobs()["unsent"] == 0  # sent once
