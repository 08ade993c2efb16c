"""What the views ask for, kept out of the views so tasks and commands reuse it.

Each function either does all of its work or raises ``ServiceError`` (with the
HTTP status the view should answer) having changed nothing already stored.
"""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import audio, split, storage, tasks
from .audio import CONTAINERS, container_for  # noqa: F401 - the recorder's formats, here since the start
from .models import Chunk, Recording, TranscriptionJob
from .storage import missing_chunks

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """A refusal a user can act on: its message, HTTP status, and ``field``, the input it is about
    (e.g. "language"; None for the file or the request as a whole)."""

    def __init__(self, message: str, status: int = 400, field: str | None = None, **extra) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field
        self.extra = extra


def default_language() -> str:
    lang = settings.BREFBOARD_LANGUAGE.strip().lower()
    return "" if lang in ("", "auto") else lang


def normalize_language(value: str | None) -> str:
    if value is None:
        return default_language()
    value = value.strip().lower()
    if value in ("", "auto"):
        return ""
    if not (2 <= len(value) <= 3 and value.isalpha()):
        raise ServiceError(_("langue inconnue (code ISO attendu, ex. fr, en, ou auto)"), field="language")
    return value


MAX_SPEAKERS = 8  # diarize.MAX_SPEAKERS: what the clustering can tell apart
SPEAKER_NAME_MAX = 60


def normalize_speaker_count(value) -> int | None:
    """The number of speakers the user gave ("" or "auto": estimated); 1..MAX_SPEAKERS."""
    if value is None or str(value).strip().lower() in ("", "auto", "0"):
        return None
    try:
        count = int(str(value).strip())
    except ValueError:
        count = -1
    if not 1 <= count <= MAX_SPEAKERS:
        raise ServiceError(_("nombre d'intervenants invalide (de 1 à %(max)s, ou vide pour l'estimer)")
                           % {"max": MAX_SPEAKERS}, field="speakers")
    return count


def rename_speakers(rec: Recording, names: dict[int, str]) -> None:
    """Give speakers names (``{number: name}``); an empty name goes back to « Intervenant n ».

    Names are cleaned like titles (one line, no control character) and flow into the
    page, every export and the summary's prompt."""
    known = {n for n, _name in rec.speakers()}
    current = list(rec.speaker_names or [])
    for number, name in names.items():
        if number not in known:
            raise ServiceError(_("intervenant inconnu"), status=404, field="speakers")
        name = clean_title(name)
        if len(name) > SPEAKER_NAME_MAX:
            raise ServiceError(_("nom d'intervenant trop long (%(max)s caractères au plus)")
                               % {"max": SPEAKER_NAME_MAX}, field="speakers")
        current += [""] * (number + 1 - len(current))
        current[number] = name
    Recording.objects.filter(pk=rec.pk).update(speaker_names=current, updated_at=timezone.now())
    rec.speaker_names = current


TITLE_MAX = 200


def clean_title(value) -> str:
    """Titles, the same on every path: whitespace runs (CR LF and tabs included) become one
    space, and other control characters are refused (400)."""
    title = " ".join(str(value or "").split())
    if any(unicodedata.category(ch) == "Cc" for ch in title):
        raise ServiceError(_("Le titre ne peut pas contenir de caractères de contrôle."))
    return title[:TITLE_MAX]


# --- Upload -------------------------------------------------------------------

def create_upload(owner, uploaded_file, *, title: str = "", language: str | None = None,
                  speakers=None) -> Recording:
    """Check an uploaded file by decoding it, store it, and queue its transcription."""
    speaker_count = normalize_speaker_count(speakers)
    if uploaded_file.size == 0:
        raise ServiceError(_("le fichier est vide"))
    if uploaded_file.size > settings.BREFBOARD_MAX_UPLOAD_BYTES:
        raise ServiceError(_("le fichier dépasse la taille maximale autorisée"), status=413)
    language = normalize_language(language)
    title = clean_title(title)
    path = _local_path(uploaded_file)
    try:
        info = audio.probe(path)
    except audio.InvalidAudio as exc:
        raise ServiceError(str(exc), status=415 if exc.kind == "not_audio" else 400) from exc
    finally:
        if path != getattr(uploaded_file, "temporary_file_path", lambda: None)():
            os.unlink(path)
    name = os.path.basename(uploaded_file.name or "audio")[:255]
    with transaction.atomic():
        rec = Recording.objects.create(
            owner=owner,
            title=title or clean_title("".join(ch if unicodedata.category(ch) != "Cc" else " "
                                               for ch in os.path.splitext(name)[0])),
            source=Recording.Source.UPLOAD,
            status=Recording.Status.READY,
            mime_type=(uploaded_file.content_type or "")[:100],
            original_filename=name,
            audio_format=info.format[:32],
            duration=info.duration,
            finalized_at=timezone.now(),
            speaker_count=speaker_count,
        )
        uploaded_file.seek(0)
        rec.audio_bytes = storage.store_audio(rec, uploaded_file)
        rec.save(update_fields=["audio_bytes"])
        enqueue_transcription(rec, language)
    return rec


def _local_path(uploaded_file) -> str:
    """A path PyAV can open: Django's temp file for big uploads, else a copy of the memory one."""
    if hasattr(uploaded_file, "temporary_file_path"):
        return uploaded_file.temporary_file_path()
    fd, path = tempfile.mkstemp(prefix="brefboard-upload-")
    with os.fdopen(fd, "wb") as fh:
        for piece in uploaded_file.chunks():
            fh.write(piece)
    uploaded_file.seek(0)
    return path


# --- Browser recording sessions --------------------------------------------------

@dataclass
class ChunkAck:
    index: int
    duplicate: bool
    received: int
    missing: list[int]

    def as_dict(self) -> dict:
        return {"index": self.index, "duplicate": self.duplicate, "received": self.received, "missing": self.missing}


def start_session(owner, *, mime_type: str, title: str = "", language: str | None = None,
                  speakers=None) -> Recording:
    language = normalize_language(language)
    speaker_count = normalize_speaker_count(speakers)
    title = clean_title(title)
    mime_type = (mime_type or "audio/webm").strip()[:100]
    rec = Recording.objects.create(
        owner=owner,
        title=title,
        source=Recording.Source.BROWSER,
        status=Recording.Status.RECORDING,
        mime_type=mime_type,
        language=language,  # requested language until the transcript says otherwise
        speaker_count=speaker_count,
    )
    return rec


def next_chunk_index(rec: Recording) -> int:
    """The index a resumed stream's first chunk must take: one past the highest
    stored index (not the count: with gaps they differ), 0 when nothing is stored.
    Index 0 is falsy: it must not be mistaken for "no chunk"."""
    highest = Chunk.objects.filter(recording=rec).order_by("-index").values_list("index", flat=True).first()
    return 0 if highest is None else highest + 1


def add_chunk(rec: Recording, index: int, data: bytes, *, stream_start: bool = False) -> ChunkAck:
    """Store chunk ``index`` durably; only then may the view acknowledge it.

    The row is committed before returning (the database fsyncs its log on
    commit: PostgreSQL always, SQLite with synchronous=FULL). Sending the same
    chunk again is harmless; a different body for a stored index is refused.
    """
    if rec.status != Recording.Status.RECORDING:
        raise ServiceError(_("cet enregistrement est déjà terminé"), status=409)
    if index < 0 or index > 1_000_000:
        raise ServiceError(_("numéro de morceau invalide"))
    if not data:
        raise ServiceError(_("morceau vide"))
    if len(data) > settings.BREFBOARD_MAX_CHUNK_BYTES:
        raise ServiceError(_("morceau trop gros"), status=413)
    digest = hashlib.sha256(data).hexdigest()
    existing = Chunk.objects.filter(recording=rec, index=index).values_list("sha256", flat=True).first()
    if existing is not None:
        if existing != digest:
            # code/next_index let a client that numbered a new stream from a stale
            # state renumber its chunks instead of dropping them.
            raise ServiceError(_("ce morceau a déjà été reçu avec un autre contenu"), status=409,
                               code="index_taken", next_index=next_chunk_index(rec))
        return ChunkAck(index, True, rec.chunk_count, missing_chunks(rec))
    stream_start = stream_start or index == 0
    if stream_start:
        _check_first_chunk(rec, data)
    try:
        with transaction.atomic():
            locked = Recording.objects.select_for_update().get(pk=rec.pk)
            if locked.status != Recording.Status.RECORDING:
                raise ServiceError(_("cet enregistrement est déjà terminé"), status=409)
            Chunk.objects.create(
                recording=locked, index=index, data=data, size=len(data), sha256=digest, starts_stream=stream_start
            )
            locked.chunk_count = Chunk.objects.filter(recording=locked).count()
            locked.save(update_fields=["chunk_count", "updated_at"])
    except IntegrityError:
        # The same chunk raced in on another connection: treat as a resend.
        return add_chunk(rec, index, data, stream_start=stream_start)
    rec.refresh_from_db()
    tasks.queue_live_pass(rec)  # a new chunk: the live transcript can go on
    return ChunkAck(index, False, rec.chunk_count, missing_chunks(rec))


def _check_first_chunk(rec: Recording, data: bytes) -> None:
    if not audio.is_container_start(data):
        raise ServiceError(_("le premier morceau doit commencer par un en-tête WebM ou MP4"), status=415)
    fd, path = tempfile.mkstemp(prefix="brefboard-chunk0-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        audio.check_first_chunk(path)
    except audio.InvalidAudio as exc:
        raise ServiceError(str(exc)) from exc
    finally:
        os.unlink(path)


def finalize(rec: Recording, *, language: str | None = None, allow_gaps: bool = False) -> TranscriptionJob:
    """Turn the chunks into one valid audio file with its duration, and queue the transcript.

    Refused with 409 while chunks are missing (the client resends them and
    finishes again), unless ``allow_gaps``: the user gave up on the missing
    chunks. Every received chunk is kept then: the audio after a gap is decoded
    on its own (its stream's header, from the next point a demuxer can start
    at) and joined to what came before; ``Recording.missing_seconds`` says how
    much is lost. On corrupt data the chunks stay stored and nothing changes.
    """
    if rec.status != Recording.Status.RECORDING:
        raise ServiceError(_("cet enregistrement est déjà terminé"), status=409)
    if rec.chunk_count == 0:
        raise ServiceError(_("aucun morceau reçu : rien à finaliser"))
    missing = missing_chunks(rec)
    if missing and not allow_gaps:
        raise ServiceError(_("des morceaux manquent"), status=409, missing=missing)
    fmt, suffix = container_for(rec.mime_type)
    with storage.chunk_parts(rec, fmt, suffix=suffix) as parts:
        raw, missing_seconds = _usable_parts(parts)
        fd, final_path = tempfile.mkstemp(prefix="brefboard-final-", suffix=suffix)
        os.close(fd)
        try:
            try:
                audio.remux(raw, final_path, fmt)
                info = audio.probe(final_path, strict=False)  # a crashed browser leaves a cut tail
            except audio.InvalidAudio as exc:
                raise ServiceError(str(exc), status=422) from exc
            with transaction.atomic():
                locked = Recording.objects.select_for_update().get(pk=rec.pk)
                if locked.status != Recording.Status.RECORDING:
                    raise ServiceError(_("cet enregistrement est déjà terminé"), status=409)
                with open(final_path, "rb") as fh:
                    locked.audio_bytes = storage.store_audio(locked, fh)
                locked.duration = info.duration
                locked.missing_seconds = round(missing_seconds, 1) if missing else 0.0
                locked.audio_format = info.format[:32]
                locked.status = Recording.Status.READY
                locked.finalized_at = timezone.now()
                if not locked.title:
                    locked.title = _("Réunion du %(date)s") % {"date": f"{timezone.localtime(locked.created_at):%d/%m/%Y %H:%M}"}
                locked.save()
                # The remuxed file now holds every chunk: the raw chunks can go.
                Chunk.objects.filter(recording=locked).delete()
                lang = normalize_language(language) if language is not None else locked.language
                job = enqueue_transcription(locked, lang)
        finally:
            os.unlink(final_path)
    rec.refresh_from_db()
    return job


def _usable_parts(parts: list[storage.StreamPart]) -> tuple[list[str], float]:
    """The files to join, in order, and the seconds of audio the gaps cost.

    A part after a gap is kept only if it decodes on its own. A gap inside one
    stream is measured on that stream's clock (the timestamps go on across the
    missing bytes); elsewhere (a stream's tail or start lost, a part that would
    not decode) it is estimated from the seconds a received chunk holds.
    """
    for part in parts:
        if not part.path:
            continue
        if not part.starts_stream:
            try:
                audio.probe(part.path, strict=False)
            except audio.InvalidAudio:
                log.warning("chunks %s after a gap do not decode: left out", part.indexes)
                part.path = ""
                continue
        part.span = audio.packet_span(part.path)
    kept = [p for p in parts if p.path]
    timed = [p for p in kept if p.span]
    per_chunk = (sum(p.span[1] - p.span[0] for p in timed) / sum(len(p.indexes) for p in timed)) if timed else 0.0
    missing = 0.0
    unknown = 0  # chunks lost (or left out) since the last kept part
    last_index, last_kept = -1, None
    for part in parts:
        unknown += part.indexes[0] - last_index - 1
        last_index = part.indexes[-1]
        if not part.path:
            unknown += len(part.indexes)
            continue
        same_stream = (last_kept is not None and not part.starts_stream and part.stream == last_kept.stream
                       and part.span and last_kept.span)
        if same_stream:
            missing += max(0.0, part.span[0] - last_kept.span[1])
        else:
            missing += unknown * per_chunk
        unknown = 0
        last_kept = part
    missing += unknown * per_chunk
    return [p.path for p in kept], missing


# --- Jobs ------------------------------------------------------------------------------

def enqueue_transcription(rec: Recording, language: str) -> TranscriptionJob:
    """Create the job row and send the Celery message once the row is committed."""
    job = TranscriptionJob.objects.create(
        recording=rec, queue=settings.BREFBOARD_DEFAULT_QUEUE, language=language or ""
    )
    Recording.objects.filter(pk=rec.pk).update(status=Recording.Status.QUEUED)

    def send() -> None:
        # The row is committed: if the broker is down now, the recording is safe and
        # the stuck-job check sends the message later (celery_task_id stays empty).
        try:
            result = tasks.transcribe_recording.apply_async(args=[str(job.id)], queue=job.queue, retry=False)
        except Exception:  # noqa: BLE001 - any broker failure; the job row says the rest
            log.exception("broker unreachable: job %s will be sent by the stuck-job check", job.id)
            TranscriptionJob.objects.filter(pk=job.pk).update(stage="waiting_for_broker")
            return
        TranscriptionJob.objects.filter(pk=job.pk).update(celery_task_id=result.id or "sent")

    transaction.on_commit(send)
    return job


def cancel_job(job: TranscriptionJob) -> TranscriptionJob:
    """Mark the job cancelled; a running worker sees it at its next heartbeat and stops."""
    from ..celery import app as celery_app

    with transaction.atomic():
        locked = TranscriptionJob.objects.select_for_update().get(pk=job.pk)
        if not locked.is_active:
            raise ServiceError(_("ce travail est déjà terminé"), status=409, job=locked.as_dict())
        locked.status = TranscriptionJob.Status.CANCELLED
        locked.stage = "cancelled"
        locked.finished_at = timezone.now()
        locked.save()
        Recording.objects.filter(pk=locked.recording_id).update(status=Recording.Status.CANCELLED)
    if locked.celery_task_id:
        try:
            celery_app.control.revoke(locked.celery_task_id)
        except Exception:  # noqa: BLE001 - the database flag alone is enough to stop it
            pass
    split.revoke_pieces(locked, celery_app)  # a long recording's pieces (split.py), if any
    return locked


def retranscribe(rec: Recording, language: str | None) -> TranscriptionJob:
    if rec.finalized_at is None:
        raise ServiceError(_("l'enregistrement n'est pas terminé"), status=409)
    if rec.jobs.filter(status__in=TranscriptionJob.ACTIVE).exists():
        raise ServiceError(_("une transcription est déjà en cours"), status=409)
    with transaction.atomic():
        return enqueue_transcription(rec, normalize_language(language))
