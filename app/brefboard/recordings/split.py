"""Long recordings split across workers: cut in silences, pieces transcribed in parallel, joined.

A job whose recording is longer than ``BREFBOARD_SPLIT_ABOVE_SECONDS`` does not run
the engine on the whole file. Its first task (``fan_out``, on the worker that took
the job) decodes the audio once, finds a cut at the quietest moment near each
piece boundary (every ``BREFBOARD_SPLIT_PIECE_SECONDS``), stores the pieces as
``JobPiece`` rows (offsets only: the audio stays where every worker host already
reads it, in the database) and sends one ``transcribe_piece`` message per piece on
the job's queue, so any free worker takes one. Each piece decodes its range
only (the packets before it are demuxed, not decoded), runs the engine, and stores
its segments with times shifted by its offset. The last piece to finish sends
``join_pieces``, which writes the transcript in order and completes the job
(the summary follows, as for a whole job).

Why not a Celery chord: a chord counts its finished tasks in a result backend,
and this app has none (job state lives in the database). The database counts
instead, under the job row's lock, so the callback survives a worker or broker
restart like everything else here.

Guarantees, as for a whole job (jobs.py): a piece is claimed (its own
``claim_token``) and only its holder may store its result; a pool process killed
mid-piece gives the message back (acks_late, reject_on_worker_lost) and another
process takes the piece over at once (the holder's process is gone), the other
pieces untouched; a piece silent for its lease is taken over when its message
comes back (the stuck-job check resends them with the job). Cancelling the job
revokes the waiting messages and the running pieces stop at their next beat.
No word lost or doubled at a cut: the cut is in the quietest 0.4 s found, pieces
do not overlap, and a segment is clamped to its piece.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Sum
from django.utils import timezone

from ..monitoring import jobs as job_metrics
from ..transcription import TranscriptResult, decode, pipeline
from ..transcription import Segment as EngineSegment
from . import jobs, storage
from .models import JobPiece, Recording, TranscriptionJob, claim_lease_seconds

log = logging.getLogger(__name__)

SAMPLE_RATE = pipeline.SAMPLE_RATE
FRAME_SECONDS = 0.02  # energy frames
QUIET_SECONDS = 0.4  # the quietest run of this length is where a cut goes
SEARCH_FRACTION = 0.2  # look for it within ± this fraction of a piece around the boundary
SEARCH_MAX_SECONDS = 30.0
PRE_ROLL_SECONDS = 1.0  # a piece decodes from this much earlier: the decoder settles in silence


def enabled_for(duration: float | None) -> bool:
    above = float(settings.BREFBOARD_SPLIT_ABOVE_SECONDS)
    return bool(above > 0 and duration and duration > above)


# --- Where to cut ----------------------------------------------------------------------------------

def cut_points(samples: np.ndarray, piece_seconds: float) -> list[float]:
    """Boundaries in seconds, 0 and the end included: about ``piece_seconds`` apart, each at
    the quietest ``QUIET_SECONDS`` (mean energy of 20 ms frames) near its even-split position."""
    duration = len(samples) / SAMPLE_RATE
    count = max(1, int(round(duration / max(1.0, piece_seconds))))
    if count == 1:
        return [0.0, duration]
    frame = int(FRAME_SECONDS * SAMPLE_RATE)
    frames = len(samples) // frame
    energy = np.square(samples[: frames * frame].astype(np.float64)).reshape(frames, frame).mean(axis=1)
    width = max(1, int(QUIET_SECONDS / FRAME_SECONDS))
    smooth = np.convolve(energy, np.ones(width) / width, mode="same")
    step = duration / count
    half = min(SEARCH_MAX_SECONDS, SEARCH_FRACTION * step)
    cuts = [0.0]
    for k in range(1, count):
        target = k * step
        lo = max(int((target - half) / FRAME_SECONDS), int(cuts[-1] / FRAME_SECONDS) + width)
        hi = min(int((target + half) / FRAME_SECONDS), frames - width)
        if hi <= lo:
            continue
        quietest = lo + int(np.argmin(smooth[lo:hi]))
        cuts.append(round(quietest * FRAME_SECONDS + FRAME_SECONDS / 2, 3))
    cuts.append(duration)
    return cuts


def piece_samples(path: str, start: float, end: float | None) -> np.ndarray:
    """The samples from ``start`` to ``end`` (None: the end) of ``path``, decoding only from
    ``PRE_ROLL_SECONDS`` before ``start``."""
    timeline: dict = {}
    want_from = max(0.0, start - PRE_ROLL_SECONDS)
    parts, got = [], 0
    need = None if end is None else int(round((end - want_from + 0.5) * SAMPLE_RATE))
    for part in decode.pieces(path, not_before=want_from if want_from > 0 else None, timeline=timeline):
        parts.append(part)
        got += len(part)
        if need is not None and got >= need:
            break
    audio = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
    first = timeline.get("first_kept") or 0.0
    lo = max(0, int(round((start - first) * SAMPLE_RATE)))
    hi = len(audio) if end is None else max(lo, int(round((end - first) * SAMPLE_RATE)))
    return np.clip(audio[lo:hi], -1.0, 1.0)


# --- The first task: plan and send -----------------------------------------------------------------

def fan_out(job: TranscriptionJob, progress: jobs.Progress, send) -> int:
    """Cut the job's recording into pieces (once) and ``send(piece)`` each one not done;
    returns how many were sent (0: every piece is done, the job is to be joined).

    Called by the job's task while it holds the claim. A job taken over (its
    first worker died, the stuck-job check resent it) keeps the pieces already
    done and resends the others; a piece a live worker holds ignores the copy."""
    existing = list(JobPiece.objects.filter(job=job))
    if not existing:
        rec = job.recording
        progress.stage("fetching_audio")
        with storage.audio_file(rec, suffix=rec.audio_suffix) as path:
            samples = pipeline.load_audio(path)
            job_metrics.measure_recording(samples)
        cuts = cut_points(samples, float(settings.BREFBOARD_SPLIT_PIECE_SECONDS))
        with transaction.atomic():
            if not JobPiece.objects.filter(job=job).exists():
                JobPiece.objects.bulk_create(
                    JobPiece(job=job, index=i, start=cuts[i], end=cuts[i + 1]) for i in range(len(cuts) - 1)
                )
        existing = list(JobPiece.objects.filter(job=job))
        log.info("job %s: %.0f s cut into %d pieces at %s", job.pk, cuts[-1], len(existing), cuts[1:-1])
    progress.stage("transcribing")
    pending = [p for p in existing if p.status != JobPiece.Status.DONE]
    for piece in pending:
        send(piece)
    return len(pending)


def revoke_pieces(job: TranscriptionJob, celery_app) -> None:
    """Cancelled: the waiting piece messages are dropped; running pieces stop at their next beat."""
    ids = [i for i in JobPiece.objects.filter(job=job).exclude(celery_task_id="").values_list("celery_task_id", flat=True)]
    JobPiece.objects.filter(job=job).exclude(status=JobPiece.Status.DONE).update(status=JobPiece.Status.CANCELLED)
    if ids:
        try:
            celery_app.control.revoke(ids)
        except Exception:  # noqa: BLE001 - the job's cancelled flag alone stops them
            pass


# --- A piece ------------------------------------------------------------------------------------------

def _job_running(job_id):
    return TranscriptionJob.objects.filter(pk=job_id, status=TranscriptionJob.Status.RUNNING)


def _piece_held(piece_id, token):
    return JobPiece.objects.filter(pk=piece_id, claim_token=token, status=JobPiece.Status.RUNNING)


def claim_piece(piece_id: int) -> tuple[JobPiece, uuid.UUID] | str:
    """Take the piece for this process; else why not: "join" (it is done and so are the
    others, yet the job is not: a join lost with its worker) or "skipped".

    Held while its holder's heartbeat is fresh, unless the holder is known dead
    (the pool child a SIGKILL took): then it is taken over at once."""
    stale = timezone.now() - timedelta(seconds=claim_lease_seconds())
    with transaction.atomic():
        piece = JobPiece.objects.select_for_update().filter(pk=piece_id).first()
        if piece is None or piece.status in (JobPiece.Status.DONE, JobPiece.Status.CANCELLED):
            return "join" if piece is not None and all_done(piece.job_id) else "skipped"
        if not _job_running(piece.job_id).exists():
            return "skipped"
        if piece.status == JobPiece.Status.RUNNING and piece.heartbeat_at:
            dead = jobs.holder_is_dead(piece.worker)
            if piece.heartbeat_at > stale and not dead:
                raise jobs.ClaimHeld(piece.worker)
            log.warning("piece %s of job %s: taking it over from %s", piece.index, piece.job_id, piece.worker)
        token = uuid.uuid4()
        piece.status = JobPiece.Status.RUNNING
        piece.claim_token = token
        piece.worker = jobs.worker_name()[:255]
        piece.heartbeat_at = timezone.now()
        piece.attempts += 1
        piece.progress = 0.0
        piece.save()
        return piece, token


class PieceHeartbeat(threading.Thread):
    """Refreshes the piece's claim and the job's heartbeat; notices cancellation."""

    def __init__(self, piece: JobPiece, token) -> None:
        super().__init__(daemon=True, name=f"heartbeat-piece-{piece.pk}")
        self.piece, self.token = piece, token
        self.stop_event = threading.Event()
        self.lost = threading.Event()

    def beat(self) -> bool:
        now = timezone.now()
        if _piece_held(self.piece.pk, self.token).update(heartbeat_at=now) == 0:
            return False
        return _job_running(self.piece.job_id).update(heartbeat_at=now) > 0

    def run(self) -> None:
        try:
            while not self.stop_event.wait(settings.BREFBOARD_HEARTBEAT_SECONDS):
                try:
                    if not self.beat():
                        self.lost.set()
                        return
                except DatabaseError:
                    log.warning("heartbeat for piece %s failed; will try again", self.piece.pk)
        finally:
            connection.close()

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=5)


def job_progress(job_id) -> float:
    """Percent of the job: the pieces' progress weighted by their length."""
    total = JobPiece.objects.filter(job_id=job_id).aggregate(
        done=Sum(F("progress") * (F("end") - F("start"))), length=Sum(F("end") - F("start"))
    )
    if not total["length"]:
        return 0.0
    return round(min(100.0, (total["done"] or 0.0) / total["length"]), 1)


class PieceProgress:
    """Engine progress → the piece row and the job's (the sum of the pieces), at most once a second."""

    def __init__(self, piece: JobPiece, token, heartbeat: PieceHeartbeat) -> None:
        self.piece, self.token, self.heartbeat = piece, token, heartbeat
        self.last = 0.0

    def __call__(self, fraction: float) -> None:
        if self.heartbeat.lost.is_set():
            raise jobs.JobCancelled()
        now = time.monotonic()
        if now - self.last < 1.0 and fraction < 1.0:
            return
        self.last = now
        stamp = timezone.now()
        if _piece_held(self.piece.pk, self.token).update(
            progress=round(100.0 * max(0.0, min(1.0, fraction)), 1), heartbeat_at=stamp
        ) == 0:
            raise jobs.JobCancelled()
        if _job_running(self.piece.job_id).update(progress=min(99.9, job_progress(self.piece.job_id)),
                                                  heartbeat_at=stamp) == 0:
            raise jobs.JobCancelled()


def run_piece(piece: JobPiece, progress: PieceProgress) -> TranscriptResult:
    job = piece.job
    rec = job.recording
    with storage.audio_file(rec, suffix=rec.audio_suffix) as path:
        last = not JobPiece.objects.filter(job_id=piece.job_id, index__gt=piece.index).exists()
        samples = piece_samples(path, piece.start, None if last else piece.end)
    engine = jobs.engine_for_worker()
    return job_metrics.transcribe(
        engine, samples, language=job.language or None, beam_size=settings.BREFBOARD_BEAM_SIZE, on_progress=progress
    )


def store_piece(piece: JobPiece, token, result: TranscriptResult) -> bool:
    """Store the piece's segments on the recording's clock; True when it was the last one
    (the caller sends the join then, after this commit)."""
    segments = []
    for s in result.segments:
        start = min(piece.end, piece.start + max(0.0, s.start))
        end = min(piece.end, max(start, piece.start + s.end))
        segments.append([round(start, 3), round(end, 3), s.text, s.avg_logprob, s.no_speech_prob])
    with transaction.atomic():
        job = TranscriptionJob.objects.select_for_update().filter(pk=piece.job_id).first()
        if job is None or job.status != TranscriptionJob.Status.RUNNING:
            return False
        if _piece_held(piece.pk, token).update(
            status=JobPiece.Status.DONE, progress=100.0, claim_token=None, segments=segments,
            text=result.text.strip(), language=result.language or "",
        ) == 0:
            return False
        left = JobPiece.objects.filter(job=job).exclude(status=JobPiece.Status.DONE).count()
        TranscriptionJob.objects.filter(pk=job.pk).update(progress=min(99.9, job_progress(job.pk)),
                                                          heartbeat_at=timezone.now())
        return left == 0


def release_piece(piece_id, token) -> None:
    _piece_held(piece_id, token).update(status=JobPiece.Status.QUEUED, claim_token=None)


def cancelled_piece(piece_id, token) -> None:
    _piece_held(piece_id, token).update(status=JobPiece.Status.CANCELLED, claim_token=None)


# --- The join -------------------------------------------------------------------------------------

def all_done(job_id) -> bool:
    """The job runs and every one of its pieces is done: it is to be joined."""
    return (_job_running(job_id).exists() and JobPiece.objects.filter(job_id=job_id).exists()
            and not JobPiece.objects.filter(job_id=job_id).exclude(status=JobPiece.Status.DONE).exists())


def joined_result(pieces: list[JobPiece]) -> TranscriptResult:
    """The pieces' segments in order, one transcript. A segment that repeats the previous
    one's text across a cut (Whisper heard the same words either side) is dropped."""
    segments: list[EngineSegment] = []
    for piece in pieces:
        for start, end, text, avg_logprob, no_speech_prob in piece.segments:
            if segments and start < segments[-1].end and text.strip() == segments[-1].text.strip():
                continue
            segments.append(EngineSegment(start, end, text, avg_logprob, no_speech_prob))
    languages = [p.language for p in pieces if p.language]
    language = max(set(languages), key=languages.count) if languages else ""
    text = " ".join(s.text.strip() for s in segments if s.text.strip())
    duration = pieces[-1].end if pieces else 0.0
    return TranscriptResult(text=text, language=language, duration=duration, segments=segments)


def join(job_id) -> tuple[str, TranscriptionJob | None]:
    """Complete the job from its pieces, once; ("done", job) or (why not, None)."""
    job = TranscriptionJob.objects.filter(pk=job_id).first()
    if job is None or job.status != TranscriptionJob.Status.RUNNING:
        return "skipped", None
    pieces = list(JobPiece.objects.filter(job=job).order_by("index"))
    if not pieces or any(p.status != JobPiece.Status.DONE for p in pieces):
        return "waiting", None
    result = joined_result(pieces)
    if settings.BREFBOARD_DIARIZATION and result.segments:
        # Speakers need the whole recording (one voice must get one number across pieces).
        rec = job.recording
        with storage.audio_file(rec, suffix=rec.audio_suffix) as path:
            result = jobs.with_speakers(result, pipeline.load_audio(path), rec.speaker_count)
    status = jobs.complete(job, job.claim_token, result)
    if status == "done":
        JobPiece.objects.filter(job=job).update(segments=[], text="")  # the Segment rows hold them now
    return status, job
