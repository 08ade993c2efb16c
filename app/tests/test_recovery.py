"""Recovery drills with a real worker: a pool process SIGKILLed mid-transcription, a
broker restart while a job runs. Times are measured and printed; the bound is the
issue's (back on another process within 30 s), not a benchmark."""
import os
import signal
import time

import pytest

from brefboard.recordings.models import Recording, Segment
from tests.helpers import job_of, upload_json, wait_for, words

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def upload(client, path):
    return upload_json(client, path, language="en")


def test_a_killed_pool_process_gives_its_job_back_in_seconds(alice_client, long_english_wav, start_worker):
    """SIGKILL the pool child (not the worker): its parent re-queues the message, another
    child finds the holder's process gone and takes the job over at once, without waiting
    for the dead claim's lease; the page says the worker was lost and the job relaunched."""
    # Production timings in the worker: a 10 s heartbeat (a 30 s lease) and 120 s before a
    # silent job counts as stuck. Waiting out the dead claim took those 120 s (the issue: 123 s).
    worker = start_worker(env={"BREFBOARD_HEARTBEAT_SECONDS": "10", "BREFBOARD_STUCK_AFTER_SECONDS": "120"})
    body = upload(alice_client, long_english_wav)
    wait_for(lambda: job_of(body).stage == "transcribing", timeout=120, interval=0.1,
             what="the transcription to be under way", state=lambda: worker.output()[-2000:])
    job = job_of(body)
    host, _, pid = job.worker.rpartition(":")
    assert int(pid) != worker.proc.pid  # the pool child, not the worker's main process
    time.sleep(1.0)
    os.kill(int(pid), signal.SIGKILL)
    killed = time.monotonic()
    notices = []

    def taken_over():
        j = job_of(body)
        status = alice_client.get(f"/api/jobs/{j.pk}/").json()
        if status["notice"]:
            notices.append(status["notice"])
        return j.attempts == 2 and j.worker != job.worker and j

    again = wait_for(taken_over, timeout=30, interval=0.2, what="another process to take the job over",
                     state=lambda: (job_of(body).as_dict(), worker.output()[-3000:]))
    resumed_after = time.monotonic() - killed
    print(f"\njob back on {again.worker} {resumed_after:.1f} s after the SIGKILL of {job.worker}")
    assert resumed_after < 30
    page = alice_client.get(f"/recordings/{body['recording']}/").content.decode()
    if again.status == "running":
        assert "perdu" in page and "relancé" in page, page
    assert any("perdu" in n for n in notices) or "relancé" in page
    wait_for(lambda: job_of(body).status == "done", timeout=180, interval=0.5, what="the job to complete",
             state=lambda: (job_of(body).as_dict(), worker.output()[-3000:]))
    done = job_of(body)
    assert done.completions == 1 and done.attempts == 2 and not done.stuck and done.notice == ""
    rec = Recording.objects.get(pk=body["recording"])
    assert {"budget", "marketing", "northern"} <= set(words(rec.transcript)), rec.transcript
    indexes = list(Segment.objects.filter(recording=rec).values_list("index", flat=True))
    assert indexes == list(range(len(indexes)))  # exactly one transcript's segments


def test_a_broker_restart_does_not_kill_the_running_job(alice_client, long_english_wav, start_worker, redis_server):
    """Redis goes away and comes back while Whisper runs: the job goes on and finishes at its
    first attempt (Celery used to cancel acks_late tasks on the lost connection)."""
    worker = start_worker()
    body = upload(alice_client, long_english_wav)
    wait_for(lambda: job_of(body).stage == "transcribing", timeout=120, interval=0.1,
             what="the transcription to be under way", state=lambda: worker.output()[-2000:])
    first = job_of(body).worker
    redis_server.brefboard_restart(down_seconds=2.0)
    wait_for(lambda: job_of(body).status not in ("queued", "running"), timeout=180, interval=0.5,
             what="the job to finish", state=lambda: (job_of(body).as_dict(), worker.output()[-3000:]))
    job = job_of(body)
    assert job.status == "done", (job.as_dict(), worker.output()[-3000:])
    assert job.attempts == 1 and job.completions == 1 and job.worker == first
    assert "Connection to broker lost" in worker.output()  # the restart really reached the worker
    assert {"budget", "marketing"} <= set(words(Recording.objects.get(pk=body["recording"]).transcript))
