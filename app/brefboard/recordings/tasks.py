"""Celery tasks: thin adapters over jobs.py (the worker side) for transcription, the
live transcript and the stuck-job check.

What a task adds is Celery's: the name, acks_late and reject_on_worker_lost, the
retries and their countdowns. The work itself (claim, heartbeat, progress,
engine, complete, fail) is in ``jobs``. Imports run one way: services → tasks →
jobs → storage / audio / transcription.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import Q
from django.utils import timezone

from ..library.services import summary_after_transcript
from ..monitoring import jobs as job_metrics
from . import audio, jobs, split
from .jobs import TRANSIENT_ERRORS, ClaimHeld, JobCancelled  # noqa: F401 - JobCancelled: tests, metrics
from .models import Recording, TranscriptionJob, claim_lease_seconds

log = logging.getLogger(__name__)


@shared_task(
    bind=True,
    name="brefboard.recordings.tasks.transcribe_recording",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
)
def transcribe_recording(self, job_id: str) -> str:
    """Transcribe the recording of job ``job_id``; returns the final job status."""
    close_old_connections()
    try:
        claimed = jobs.claim_job(job_id)
    except ClaimHeld as held:
        # Usually a re-delivery while the first worker is still at it; wait out its lease.
        log.info("job %s held by %s; checking again later", job_id, held)
        # Once the lease would have run out: a holder that died silently is taken over then.
        raise self.retry(countdown=claim_lease_seconds() + 1, max_retries=100_000)
    except TRANSIENT_ERRORS as exc:
        raise self.retry(exc=exc, countdown=jobs.backoff(self.request.retries), max_retries=8)
    if claimed is None:
        return "skipped"
    job, token = claimed
    heartbeat = jobs.Heartbeat(job.pk, token)
    heartbeat.start()
    progress = jobs.Progress(job.pk, token, heartbeat)
    try:
        if split.enabled_for(job.recording.duration):
            # A long recording: pieces for any free worker (split.py); the last one joins them.
            if split.fan_out(job, progress, send_piece) == 0:
                join_pieces.apply_async(args=[str(job.pk)], queue=job.queue)
            return "split"
        result = jobs.run_engine(job, progress)
        status = jobs.complete(job, token, result)
        if status == "done":
            job_metrics.transcript_stored(job)
            # Committed: the summary is asked for now (summaries queue), once per transcript.
            summary_after_transcript(job.recording_id, job.pk)
        return status
    except JobCancelled:
        log.info("job %s cancelled or taken over; stopping", job_id)
        return "cancelled"
    except audio.InvalidAudio as exc:
        job_metrics.transcription_failed(exc)
        jobs.fail(job, token, f"audio illisible : {exc}")
        return "failed"
    except TRANSIENT_ERRORS as exc:
        jobs.safe(jobs.release_claim, job.pk, token)
        if self.request.retries >= 8:
            job_metrics.transcription_failed(exc)
            jobs.safe(jobs.fail, job, token, f"erreur passagère répétée : {exc.__class__.__name__}")
            return "failed"
        raise self.retry(exc=exc, countdown=jobs.backoff(self.request.retries), max_retries=8)
    except Exception as exc:
        log.exception("job %s failed", job_id)
        job_metrics.transcription_failed(exc)
        jobs.safe(jobs.fail, job, token, f"{exc.__class__.__name__}: {exc}"[:2000])
        return "failed"
    finally:
        heartbeat.stop()


def send_piece(piece) -> None:
    result = transcribe_piece.apply_async(args=[piece.pk], queue=piece.job.queue)
    type(piece).objects.filter(pk=piece.pk).update(celery_task_id=result.id or "sent")


@shared_task(
    bind=True,
    name="brefboard.recordings.tasks.transcribe_piece",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
)
def transcribe_piece(self, piece_id: int) -> str:
    """Transcribe one piece of a split job (split.py); the last piece done sends the join."""
    close_old_connections()
    try:
        claimed = split.claim_piece(piece_id)
    except ClaimHeld as held:
        log.info("piece %s held by %s; checking again later", piece_id, held)
        raise self.retry(countdown=claim_lease_seconds() + 1, max_retries=100_000)
    except TRANSIENT_ERRORS as exc:
        raise self.retry(exc=exc, countdown=jobs.backoff(self.request.retries), max_retries=8)
    if isinstance(claimed, str):
        if claimed == "join":
            job = TranscriptionJob.objects.get(pieces__pk=piece_id)  # a join lost with its worker
            join_pieces.apply_async(args=[str(job.pk)], queue=job.queue)
        return claimed
    piece, token = claimed
    heartbeat = split.PieceHeartbeat(piece, token)
    heartbeat.start()
    try:
        result = split.run_piece(piece, split.PieceProgress(piece, token, heartbeat))
        if split.store_piece(piece, token, result):
            join_pieces.apply_async(args=[str(piece.job_id)], queue=piece.job.queue)
        return "done"
    except JobCancelled:
        log.info("piece %s of job %s cancelled or taken over; stopping", piece.index, piece.job_id)
        jobs.safe(split.cancelled_piece, piece.pk, token)
        return "cancelled"
    except TRANSIENT_ERRORS as exc:
        jobs.safe(split.release_piece, piece.pk, token)
        raise self.retry(exc=exc, countdown=jobs.backoff(self.request.retries), max_retries=8)
    except Exception as exc:
        # One piece failing fails the job: the user gets the error, as for a whole job.
        log.exception("piece %s of job %s failed", piece.index, piece.job_id)
        job_metrics.transcription_failed(exc)
        job = piece.job
        jobs.safe(jobs.fail, job, job.claim_token, f"{exc.__class__.__name__}: {exc}"[:2000])
        return "failed"
    finally:
        heartbeat.stop()


@shared_task(name="brefboard.recordings.tasks.join_pieces", acks_late=True, reject_on_worker_lost=True)
def join_pieces(job_id: str) -> str:
    """Write a split job's transcript from its pieces, in order, and ask for its summary."""
    close_old_connections()
    status, job = split.join(job_id)
    if status == "done":
        job_metrics.transcript_stored(job)
        summary_after_transcript(job.recording_id, job.pk)
    return status


@shared_task(name="brefboard.recordings.tasks.live_transcribe", acks_late=True, ignore_result=True)
def live_transcribe(recording_id: int) -> str:
    """The live pass (``jobs.live_pass``): best effort, never retried."""
    close_old_connections()
    return jobs.live_pass(recording_id)


LIVE_RETRY_SECONDS = 30


def queue_live_pass(rec: Recording) -> None:
    """Ask for a live pass unless one is already waiting for this recording."""
    if not settings.BREFBOARD_LIVE_ENABLED:
        return
    now = timezone.now()
    waiting = Q(live_requested_at__isnull=True) | Q(live_requested_at__lt=now - timedelta(seconds=LIVE_RETRY_SECONDS))
    if Recording.objects.filter(waiting, pk=rec.pk).update(live_requested_at=now):
        transaction.on_commit(
            lambda: live_transcribe.apply_async(args=[rec.pk], queue=settings.BREFBOARD_LIVE_QUEUE)
        )


# --- Stuck jobs -------------------------------------------------------------------------------

@shared_task(name="brefboard.recordings.tasks.detect_stuck_jobs")
def detect_stuck_jobs() -> dict:
    """Report jobs whose worker went silent or that no worker picked up, and requeue them.

    Also sends the message of jobs created while the broker was unreachable.

    A running job whose heartbeat is older than BREFBOARD_STUCK_AFTER_SECONDS
    lost its worker (killed, host down). Its message may be gone too (Redis
    re-delivered it to a worker that saw a fresh lease), so send it again:
    the claim makes a duplicate harmless.
    """
    close_old_connections()
    now = timezone.now()
    silent = now - timedelta(seconds=settings.BREFBOARD_STUCK_AFTER_SECONDS)
    waiting = now - timedelta(seconds=settings.BREFBOARD_QUEUED_STUCK_AFTER_SECONDS)
    found = {"running": 0, "queued": 0, "unsent": 0}
    # stuck=False: each loss is reported and requeued once (a new claim clears the flag).
    for job in TranscriptionJob.objects.filter(
        status=TranscriptionJob.Status.RUNNING, heartbeat_at__lt=silent, stuck=False
    ):
        reason = f"plus de nouvelles du worker {job.worker} depuis {job.heartbeat_at:%H:%M:%S}"
        TranscriptionJob.objects.filter(pk=job.pk, heartbeat_at=job.heartbeat_at).update(
            stuck=True, stuck_reason=reason[:255]
        )
        transcribe_recording.apply_async(args=[str(job.pk)], queue=job.queue)
        found["running"] += 1
    # Jobs whose message never reached the broker (it was down at upload time): send now.
    unsent_before = now - timedelta(seconds=settings.BREFBOARD_HEARTBEAT_SECONDS * 3)
    for job in TranscriptionJob.objects.filter(
        status=TranscriptionJob.Status.QUEUED, celery_task_id="", attempts=0, created_at__lt=unsent_before
    ):
        result = transcribe_recording.apply_async(args=[str(job.pk)], queue=job.queue)
        TranscriptionJob.objects.filter(pk=job.pk, celery_task_id="").update(celery_task_id=result.id or "sent")
        found["unsent"] += 1
    for job in TranscriptionJob.objects.filter(status=TranscriptionJob.Status.QUEUED, created_at__lt=waiting, stuck=False):
        TranscriptionJob.objects.filter(pk=job.pk).update(
            stuck=True, stuck_reason=f"aucun worker n'a pris ce travail (file {job.queue})"[:255]
        )
        found["queued"] += 1
    if any(found.values()):
        log.warning("stuck jobs: %s", found)
    return found
