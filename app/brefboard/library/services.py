"""The library's work, out of the views: ask for a summary, make it, search, export.

``run_summary`` is the body of the Celery task (tasks.py) and can be called
directly; everything the user sees about a failure is in ``Summary.error``,
and the transcript is never touched by a failure.
"""
from __future__ import annotations

import logging
import os
import time
import uuid
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Func, Q, QuerySet, TextField, Value
from django.db.models.functions import Coalesce, Lower, NullIf
from django.utils import timezone

from brefboard.recordings.models import Recording
from brefboard.summaries import exports
from brefboard.summaries.exports import ExportDocument, ExportError
from brefboard.summaries.generate import generate_summary
from brefboard.summaries.llm import ChatClient, LLMConfig, LLMError

from ..monitoring import metrics
from . import search_index
from .models import Summary

log = logging.getLogger(__name__)

LLM_SETTINGS = ("LLM_BASE_URL", "LLM_MODEL", "LLM_API_KEY", "LLM_API_KEY_FILE", "LLM_TIMEOUT",
                "LLM_MAX_RETRIES", "LLM_CONTEXT_TOKENS", "LLM_MAX_OUTPUT_TOKENS", "LLM_TEMPERATURE")


def summary_queue() -> str:
    return getattr(settings, "BREFBOARD_SUMMARY_QUEUE", "") or os.environ.get(
        "BREFBOARD_SUMMARY_QUEUE", "summaries"
    )


def llm_settings() -> dict[str, Any]:
    """``LLM_*`` from Django settings when defined there, else from the environment."""
    return {name: getattr(settings, name, None) or os.environ.get(name) for name in LLM_SETTINGS}


def llm_client() -> ChatClient | None:
    """The configured client, or ``None`` (extractive fallback) when no endpoint is set.

    Raises ``LLMNotConfigured`` for a half-done configuration (a URL but no
    model): silently falling back would hide the mistake.
    """
    config = LLMConfig.from_mapping(llm_settings())
    return ChatClient(config) if config else None


def llm_configured() -> bool:
    return bool(llm_settings().get("LLM_BASE_URL"))


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
    from .tasks import summarize_recording

    try:
        summarize_recording.apply_async(args=[summary_id, request_id], queue=summary_queue())
    except Exception as exc:  # broker down: say so on the page instead of a 500
        log.exception("could not queue summary %s", summary_id)
        metrics.ERRORS.labels(type=metrics.SUMMARY_ERROR_TYPE).inc()
        Summary.objects.filter(pk=summary_id, request_id=request_id).update(
            status=Summary.Status.FAILED,
            error=f"La file d'attente des résumés est injoignable ({type(exc).__name__}).",
            error_kind="queue",
            finished_at=timezone.now(),
        )


# --- Making it (the task's body) ---------------------------------------------------------------

def run_summary(summary_id: int, request_id: str) -> str:
    """Generate the summary of request ``request_id``; returns the final state.

    A job found ``running`` is taken again: its worker died and the broker
    re-delivered the message. Should both run, the first to finish writes and
    the other finds the row no longer running and writes nothing.
    """
    claimed = Summary.objects.filter(
        pk=summary_id, request_id=request_id, status__in=Summary.ACTIVE
    ).update(status=Summary.Status.RUNNING, started_at=timezone.now())
    if not claimed:
        return "skipped"  # superseded, deleted, or already done by an earlier delivery
    summary = Summary.objects.select_related("recording").get(pk=summary_id)
    rec = summary.recording
    started = time.perf_counter()
    client = None
    try:
        client = llm_client()
        result = generate_summary(rec.transcript, language=rec.language or None, client=client)
    except LLMError as exc:
        return _failed(summary_id, request_id, str(exc), exc.kind)
    except Exception as exc:  # a bug must not leave the job "running" forever
        log.exception("summary %s failed", summary_id)
        return _failed(summary_id, request_id, f"Erreur interne ({type(exc).__name__}).", "internal")
    finally:
        if client is not None:
            client.close()
    seconds = time.perf_counter() - started

    with transaction.atomic():
        current = Summary.objects.select_for_update().filter(pk=summary_id, request_id=request_id).first()
        if current is None or current.status != Summary.Status.RUNNING:
            return "superseded"
        previous_title = current.title
        current.status = Summary.Status.DONE
        current.text = result.summary
        current.title = result.title[:200]
        current.key_points = result.key_points
        current.decisions = result.decisions
        current.action_items = result.action_items
        current.structured_valid = result.structured_valid
        current.language = result.language
        current.method = result.method
        current.model = result.model[:255]
        current.chunks = result.chunks
        current.finished_at = timezone.now()
        current.seconds = seconds
        current.save()
        # The generated title becomes the recording's, unless the user wrote one.
        locked = Recording.objects.select_for_update().get(pk=rec.pk)
        if not locked.title or (previous_title and locked.title == previous_title):
            locked.title = current.title
            locked.save(update_fields=["title", "updated_at"])
    metrics.SUMMARY_GENERATION_SECONDS.observe(seconds)
    metrics.SUMMARIES_GENERATED.inc()
    return "done"


def _failed(summary_id: int, request_id: str, message: str, kind: str) -> str:
    metrics.ERRORS.labels(type=metrics.SUMMARY_ERROR_TYPE).inc()
    Summary.objects.filter(pk=summary_id, request_id=request_id).update(
        status=Summary.Status.FAILED,
        error=message[:2000],
        error_kind=kind[:32],
        finished_at=timezone.now(),
    )
    log.warning("summary %s failed (%s)", summary_id, kind)
    return "failed"


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


def search_config() -> str:
    return getattr(settings, "BREFBOARD_SEARCH_CONFIG", "") or os.environ.get(
        "BREFBOARD_SEARCH_CONFIG", "french"
    )


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
    """Why no PDF can be made, in French for the pages; empty when it can."""
    return "" if pdf_fonts() else exports.PDF_UNAVAILABLE


def export_document(rec: Recording) -> ExportDocument:
    summary = getattr(rec, "summary", None)
    done = summary is not None and summary.status == Summary.Status.DONE
    return ExportDocument(
        title=rec.display_title,
        created=timezone.localtime(rec.created_at),
        transcript=rec.transcript,
        summary=summary.text if done else "",
        segments=list(rec.segments.values("start", "end", "text")),
        language=(rec.language or (summary.language if summary else "") or "fr")[:2],
        key_points=list(summary.key_points) if done else [],
        decisions=list(summary.decisions) if done else [],
        action_items=list(summary.action_items) if done else [],
        extractive=done and summary.is_extractive,
    )
