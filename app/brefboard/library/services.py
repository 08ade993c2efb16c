"""The library's work, out of the views: ask for a summary, search, export.

Making the summary is the worker's side (jobs.py, run by the Celery task in
tasks.py). Imports run one way: views → services → tasks → jobs.
"""
from __future__ import annotations

import logging
import time
import uuid

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Func, Q, QuerySet, TextField, Value
from django.db.models.functions import Coalesce, Lower, NullIf
from django.utils import timezone
from django.utils.translation import get_language

from brefboard.recordings.models import Recording
from brefboard.summaries import exports
from brefboard.summaries.exports import ExportDocument, ExportError
from brefboard.transcription import diarize

from ..monitoring import metrics
from . import search_index, tasks
from .jobs import LLM_SETTINGS, run_summary  # noqa: F401 - the worker's side; tests call them from here
from .models import Summary

log = logging.getLogger(__name__)

def llm_configured() -> bool:
    return bool(settings.LLM_BASE_URL)


# --- Asking for a summary ---------------------------------------------------------------------

def request_summary(rec: Recording, *, source_job: uuid.UUID | None = None) -> Summary:
    """(Re)queue the summary of ``rec``; the new request supersedes any older one."""
    with transaction.atomic():
        summary, _ = Summary.objects.select_for_update().get_or_create(recording=rec)
        summary.status = Summary.Status.QUEUED
        summary.request_id = uuid.uuid4()
        summary.requested_at = timezone.now()
        summary.started_at = summary.finished_at = None
        summary.error = summary.error_kind = ""
        if source_job is not None:
            summary.source_job = source_job
        summary.save()
        request_id = str(summary.request_id)
        summary_id = summary.pk
        transaction.on_commit(lambda: _send(summary_id, request_id))
    return summary


def _send(summary_id: int, request_id: str) -> None:
    try:
        tasks.summarize_recording.apply_async(args=[summary_id, request_id], queue=settings.BREFBOARD_SUMMARY_QUEUE)
    except Exception as exc:  # broker down: say so on the page instead of a 500
        log.exception("could not queue summary %s", summary_id)
        metrics.ERRORS.labels(type=metrics.SUMMARY_ERROR_TYPE).inc()
        Summary.objects.filter(pk=summary_id, request_id=request_id).update(
            status=Summary.Status.FAILED,
            error=f"La file d'attente des résumés est injoignable ({type(exc).__name__}).",
            error_kind="queue",
            finished_at=timezone.now(),
        )


def summary_after_transcript(recording_id: int, job_id: uuid.UUID) -> None:
    """Ask for the summary of a transcript just stored by job ``job_id`` (called by the
    transcription task once the transcript is committed), once per transcript; an empty
    transcript (silence) gets none. Never raises: the transcript is stored already."""
    try:
        if Summary.objects.filter(recording_id=recording_id, source_job=job_id).exists():
            return  # already asked for this transcript
        recording = Recording.objects.filter(pk=recording_id).first()
        if recording is not None and recording.transcript.strip():
            request_summary(recording, source_job=job_id)
    except Exception:
        log.exception("could not ask for the summary of recording %s", recording_id)
        metrics.ERRORS.labels(type=metrics.SUMMARY_ERROR_TYPE).inc()


# --- Search and sort ---------------------------------------------------------------------------

SORTS = {
    "date_desc": ("-created_at",),
    "date_asc": ("created_at",),
    "title_asc": ("sort_title", "-created_at"),
    "title_desc": ("-sort_title", "-created_at"),
    # the original's ?sort= values
    "desc": ("-created_at",),
    "asc": ("created_at",),
}


def library(user, search: str = "", sort: str = "date_desc") -> QuerySet[Recording]:
    """The user's recordings, searched over titles, transcripts and summaries.

    PostgreSQL: full-text search (``websearch`` syntax, stemming in
    ``BREFBOARD_SEARCH_CONFIG``, French by default), ranked, against the
    stored vectors and their GIN index (``SearchDocument``, search_index.py).
    Elsewhere (SQLite): a case-insensitive substring match.
    """
    qs = (
        Recording.objects.filter(owner=user)
        .select_related("summary")
        .annotate(sort_title=Lower(Coalesce(NullIf("title", Value("")), "summary__title", Value(""))))
    )
    search = search.strip()[:200]
    if search:
        if connection.vendor == "postgresql":
            from django.contrib.postgres.search import SearchQuery, SearchRank

            # The configuration the stored vectors were built with (search_index.py),
            # not the setting read here: the query's stemming always matches theirs.
            config = Func(function=search_index.CONFIG_FUNCTION, output_field=TextField())
            query = SearchQuery(search, search_type="websearch", config=config)
            qs = qs.filter(search_document__vector=query).annotate(
                rank=SearchRank(F("search_document__vector"), query))
            if sort == "relevance":
                return qs.order_by("-rank", "-created_at")
        else:
            qs = qs.filter(
                Q(title__icontains=search)
                | Q(transcript__icontains=search)
                | Q(summary__title__icontains=search)
                | Q(summary__text__icontains=search)
            )
    return qs.order_by(*SORTS.get(sort, SORTS["date_desc"]))


# --- Exports ------------------------------------------------------------------------------------

PDF_FONT_CACHE_SECONDS = 60.0  # a font installed (or removed) later is seen within a minute
_pdf_font_cache: dict[tuple, tuple[float, tuple[str, str] | None]] = {}


def pdf_fonts() -> tuple[str, str] | None:
    """The (regular, bold) Unicode font files PDF exports use, or ``None``: no PDF can be made.

    The Django setting ``BREFBOARD_PDF_FONT_DIRS`` (a list of folders), when
    set, replaces the whole search (the default folders and fontconfig); else
    ``BREFBOARD_PDF_FONT_DIR``, Debian's folder and the usual ones, then fc-match.
    Cached briefly: the library page asks on every view.
    """
    pinned = getattr(settings, "BREFBOARD_PDF_FONT_DIRS", None)
    dirs = tuple(pinned) if pinned is not None else tuple(exports.font_dirs())
    key = (dirs, pinned is None)
    now = time.monotonic()
    hit = _pdf_font_cache.get(key)
    if hit is not None and now - hit[0] < PDF_FONT_CACHE_SECONDS:
        return hit[1]
    try:
        found: tuple[str, str] | None = exports.find_font(dirs=dirs, fontconfig=pinned is None)
    except ExportError:
        found = None
    _pdf_font_cache[key] = (now, found)
    return found


def pdf_unavailable() -> str:
    """Why no PDF can be made, in the page's language; empty when it can."""
    return "" if pdf_fonts() else str(exports.PDF_UNAVAILABLE)


def speaker_transcript(rec: Recording) -> str:
    """The transcript with its speakers' names, one paragraph per turn (``Name: text``), when the
    recording was diarized; else the transcript as stored."""
    segments = rec.speaker_segments()
    if not any(s["speaker"] for s in segments):
        return rec.transcript
    return diarize.turns_text(segments)


def export_document(rec: Recording) -> ExportDocument:
    summary = getattr(rec, "summary", None)
    done = summary is not None and summary.status == Summary.Status.DONE
    return ExportDocument(
        title=rec.display_title,
        created=timezone.localtime(rec.created_at),
        transcript=speaker_transcript(rec),
        summary=summary.text if done else "",
        segments=rec.speaker_segments(),
        # Headings in the recording's language; the page's when it is not known.
        language=(rec.language or (summary.language if summary else "") or get_language() or "fr")[:2],
        key_points=list(summary.key_points) if done else [],
        decisions=list(summary.decisions) if done else [],
        action_items=list(summary.action_items) if done else [],
        extractive=done and summary.is_extractive,
    )
