"""The worker side of a transcription: claim, heartbeat, progress, run the engine, complete, fail.

Celery does not appear here: ``tasks.py`` holds the thin task adapters (retries,
acknowledgements) and calls into this module, which a test or a command can
call directly too. Imports run one way: tasks → jobs → storage / audio /
transcription; nothing here imports services or tasks.

Delivery guarantees come from two layers. Celery: the message is acknowledged
only after the task returns (acks_late), and put back if the worker process
dies (reject_on_worker_lost). The database: a worker claims the job row
before working and may write a result only while it holds the claim, so a
re-delivered message never produces a second transcript.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import replace
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from ..monitoring import jobs as job_metrics
from ..monitoring import metrics
from ..monitoring.decorators import measure_duration
from ..transcription import diarize, get_engine, pipeline
from . import audio, storage
from .models import Recording, Segment, TranscriptionJob, claim_lease_seconds

log = logging.getLogger(__name__)

# Failures worth another try: the database or the broker blinked.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, ConnectionError, TimeoutError)


class JobCancelled(Exception):
    """The user cancelled the job, or another worker took it over."""

    counts_as_whisper_error = False  # not a Whisper failure: keep it out of whisper_errors_total


class ClaimHeld(Exception):
    """Another live worker holds the job; try again after the lease would expire."""

def engine_for_worker():
    """The engine this worker was configured for, built once per process."""
    return get_engine(
        settings.BREFBOARD_ENGINE,
        settings.BREFBOARD_MODEL,
        settings.BREFBOARD_DEVICE,
        settings.BREFBOARD_COMPUTE_TYPE,
        cpu_threads=settings.BREFBOARD_CPU_THREADS,
        pipeline=settings.BREFBOARD_WHISPER_PIPELINE,
        batch_size=settings.BREFBOARD_WHISPER_BATCH_SIZE,
    )


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# --- The claim ---------------------------------------------------------------------------

def holder_is_dead(worker: str) -> bool:
    """Is the process named ``host:pid`` in a claim known to be gone? Only a process of this
    host can be checked (the pool child a SIGKILL or the OOM killer took: its parent
    re-queues the message at once, and another child of the same worker gets it)."""
    host, _, pid = (worker or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return True  # this very process: its earlier attempt is over
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:  # a killed child its parent has not reaped yet is a zombie: dead too
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return False


def claim_job(job_id: str) -> tuple[TranscriptionJob, uuid.UUID] | None:
    """Take the job for this process. None: nothing to do (finished or cancelled).

    A running job is held while its holder's heartbeat is fresh (three beats,
    ``claim_lease_seconds``) unless the holder is known dead (``holder_is_dead``):
    then it is taken over at once, and the page says so.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=claim_lease_seconds())
    with transaction.atomic():
        job = TranscriptionJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or not job.is_active:
            return None
        takeover = ""
        if job.status == TranscriptionJob.Status.RUNNING and job.heartbeat_at:
            dead = holder_is_dead(job.worker)
            if job.heartbeat_at > stale and not dead:
                raise ClaimHeld(job.worker)
            takeover = f"worker {job.worker} perdu — travail relancé"
            log.warning("job %s: taking it over from %s (%s)", job_id, job.worker,
                        "process gone" if dead else f"silent since {job.heartbeat_at:%H:%M:%S}")
        token = uuid.uuid4()
        now = timezone.now()
        job.status = TranscriptionJob.Status.RUNNING
        job.stage = "starting"
        job.attempts += 1
        job.claim_token = token
        job.worker = worker_name()[:255]
        job.heartbeat_at = now
        job.started_at = job.started_at or now
        job.stuck = False
        job.stuck_reason = takeover[:255]  # shown on the page while the job runs again
        job.error = ""
        job.save()
        Recording.objects.filter(pk=job.recording_id).update(status=Recording.Status.PROCESSING)
        return job, token


def _held(job_id, token):
    return TranscriptionJob.objects.filter(pk=job_id, claim_token=token, status=TranscriptionJob.Status.RUNNING)


def release_claim(job_id, token) -> None:
    """Give the job back to the queue (before a retry)."""
    _held(job_id, token).update(status=TranscriptionJob.Status.QUEUED, claim_token=None, stage="retrying")


class Heartbeat(threading.Thread):
    """Refreshes the claim while the engine works; notices cancellation."""

    def __init__(self, job_id, token) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{job_id}")
        self.job_id, self.token = job_id, token
        self.stop_event = threading.Event()
        self.lost = threading.Event()

    def run(self) -> None:
        try:
            while not self.stop_event.wait(settings.BREFBOARD_HEARTBEAT_SECONDS):
                try:
                    if _held(self.job_id, self.token).update(heartbeat_at=timezone.now()) == 0:
                        self.lost.set()
                        return
                except DatabaseError:
                    log.warning("heartbeat for job %s failed; will try again", self.job_id)
        finally:
            connection.close()  # this thread's own connection

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=5)


class Progress:
    """Engine progress → job row, at most once a second, and the cancel check."""

    def __init__(self, job_id, token, heartbeat: Heartbeat) -> None:
        self.job_id, self.token, self.heartbeat = job_id, token, heartbeat
        self.last = 0.0

    def stage(self, name: str) -> None:
        if _held(self.job_id, self.token).update(stage=name, heartbeat_at=timezone.now()) == 0:
            raise JobCancelled()

    def __call__(self, fraction: float) -> None:
        if self.heartbeat.lost.is_set():
            raise JobCancelled()
        now = time.monotonic()
        if now - self.last < 1.0 and fraction < 1.0:
            return
        self.last = now
        updated = _held(self.job_id, self.token).update(
            progress=round(100.0 * max(0.0, min(1.0, fraction)), 1), heartbeat_at=timezone.now()
        )
        if updated == 0:
            raise JobCancelled()

# --- Transcription -------------------------------------------------------------------------

def backoff(retries: int) -> int:
    return min(300, 5 * 2 ** retries)


def safe(fn, *args) -> None:
    try:
        fn(*args)
    except DatabaseError:
        log.exception("could not record the job's state")


@measure_duration(metrics.TRANSCRIPTION_DURATION)
def run_engine(job: TranscriptionJob, progress: Progress):
    rec = job.recording
    progress.stage("fetching_audio")
    with storage.audio_file(rec, suffix=rec.audio_suffix) as path:
        # Decoded once: the quality score and the engine are given the same samples.
        try:
            source = pipeline.load_audio(path)
        except ValueError:
            source = path  # the engine fails on it as it always did, counted as a Whisper error
        job_metrics.measure_recording(source)  # recording_quality, from the decoded audio
        progress.stage("loading_model")
        engine = engine_for_worker()
        TranscriptionJob.objects.filter(pk=job.pk).update(
            engine=engine.name, model=str(settings.BREFBOARD_MODEL)[:255], device=engine.device
        )
        progress.stage("transcribing")
        result = job_metrics.transcribe(  # engine.transcribe under @monitor_whisper_processing
            engine,
            source,
            language=job.language or None,
            beam_size=settings.BREFBOARD_BEAM_SIZE,
            on_progress=progress,
        )
        if result.segments and not isinstance(source, str):
            progress.stage("diarizing")
            result = with_speakers(result, source, rec.speaker_count)
        return result


def with_speakers(result, samples, speaker_count: int | None):
    """``result`` with each segment's speaker (diarize.py), when diarization is on and installed.

    Best effort: a transcript without speakers is still the transcript, so a failure here is
    logged and the segments are kept as they are."""
    if not settings.BREFBOARD_DIARIZATION:
        return result
    if not diarize.available():
        log.warning("diarization is on but the voice encoder's weights (the resemblyzer wheel) are not installed")
        return result
    started = time.monotonic()
    try:
        found = diarize.diarize(samples, speaker_count)
        numbers = diarize.assign(result.segments, found.turns)
    except Exception:
        log.exception("diarization failed; the transcript is stored without speakers")
        return result
    log.info("diarization: %d speakers, %d windows, %.1f s", found.speakers, found.windows, time.monotonic() - started)
    segments = [replace(s, speaker=n) for s, n in zip(result.segments, numbers)]
    return replace(result, segments=segments)


def complete(job: TranscriptionJob, token, result) -> str:
    """Store the transcript, once: only the holder of the current claim may."""
    with transaction.atomic():
        locked = TranscriptionJob.objects.select_for_update().get(pk=job.pk)
        if locked.claim_token != token or locked.status != TranscriptionJob.Status.RUNNING:
            return "cancelled"
        Segment.objects.filter(job=locked).delete()
        Segment.objects.bulk_create(
            Segment(
                recording_id=locked.recording_id,
                job=locked,
                index=i,
                start=s.start,
                end=s.end,
                text=s.text,
                avg_logprob=s.avg_logprob,
                no_speech_prob=s.no_speech_prob,
                speaker=getattr(s, "speaker", None),
            )
            for i, s in enumerate(result.segments)
        )
        # Older jobs' segments of this recording are superseded by this transcript.
        Segment.objects.filter(recording_id=locked.recording_id).exclude(job=locked).delete()
        rec = Recording.objects.select_for_update().get(pk=locked.recording_id)
        rec.transcript = result.text
        rec.language = result.language or locked.language
        if result.duration and not rec.duration:
            rec.duration = result.duration
        rec.status = Recording.Status.DONE
        rec.save()
        locked.status = TranscriptionJob.Status.DONE
        locked.stage = "done"
        locked.progress = 100.0
        locked.completions += 1
        locked.claim_token = None
        locked.finished_at = timezone.now()
        locked.save()
    return "done"


def fail(job: TranscriptionJob, token, message: str) -> None:
    with transaction.atomic():
        updated = _held(job.pk, token).update(
            status=TranscriptionJob.Status.FAILED,
            stage="failed",
            error=message,
            claim_token=None,
            finished_at=timezone.now(),
        )
        if updated:
            Recording.objects.filter(pk=job.recording_id).update(status=Recording.Status.FAILED)

# --- Live transcript while recording ---------------------------------------------------------

def live_pass(recording_id: int) -> str:
    """Transcribe the audio received since the last live pass and append it to ``live_text``.

    Best effort: a lost live pass only delays the live text; the final
    transcript, made from the whole file after stop, replaces it anyway.
    """
    Recording.objects.filter(pk=recording_id).update(live_requested_at=None)
    rec = Recording.objects.filter(pk=recording_id).first()
    if rec is None or rec.status != Recording.Status.RECORDING or rec.chunk_count == 0:
        return "skipped"
    start = rec.live_upto
    missing = storage.missing_chunks(rec)
    upto = (missing[0] - 1) if missing else None  # only the unbroken run from chunk 0
    if upto is not None and upto < 0:
        return "skipped"
    with storage.chunk_streams(rec, upto_index=upto, suffix=audio.container_for(rec.mime_type)[1]) as streams:
        pcm = audio.decode_mono16k(streams, start=start)
    seconds = len(pcm) / audio.WHISPER_RATE
    if seconds < settings.BREFBOARD_LIVE_MIN_SECONDS:
        return "waiting"
    # The samples themselves (no WAV written and decoded again), in range as a WAV would hold them.
    result = engine_for_worker().transcribe(np.clip(pcm, -1.0, 1.0), language=rec.language or None, beam_size=1)
    text = result.text.strip()
    with transaction.atomic():
        locked = Recording.objects.select_for_update().get(pk=recording_id)
        if locked.live_upto != start or locked.status != Recording.Status.RECORDING:
            return "superseded"  # another pass got there first
        locked.live_upto = start + seconds
        if text:
            locked.live_text = (locked.live_text + " " + text).strip()
        locked.save(update_fields=["live_upto", "live_text", "updated_at"])
    return "done"


