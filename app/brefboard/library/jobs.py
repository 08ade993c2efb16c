"""The worker's side of a summary: generate it and store it, once per request.

``run_summary`` is the body of the Celery task (tasks.py) and can be called
directly; everything the user sees about a failure is in ``Summary.error``,
and the transcript is never touched by a failure. Nothing here imports the
services or the tasks: services → tasks → jobs.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from brefboard.recordings.models import Recording
from brefboard.summaries.generate import generate_summary
from brefboard.summaries.llm import ChatClient, LLMConfig, LLMError
from brefboard.transcription import diarize

from ..monitoring import metrics
from .models import Summary

log = logging.getLogger(__name__)

LLM_SETTINGS = ("LLM_BASE_URL", "LLM_MODEL", "LLM_API_KEY", "LLM_API_KEY_FILE", "LLM_TIMEOUT",
                "LLM_MAX_RETRIES", "LLM_CONTEXT_TOKENS", "LLM_MAX_OUTPUT_TOKENS", "LLM_TEMPERATURE")


def llm_settings() -> dict[str, Any]:
    """``LLM_*`` as settings.py read them from the environment (once, at start)."""
    return {name: getattr(settings, name, "") for name in LLM_SETTINGS}


def llm_client() -> ChatClient | None:
    """The configured client, or ``None`` (extractive fallback) when no endpoint is set.

    Raises ``LLMNotConfigured`` for a half-done configuration (a URL but no
    model): silently falling back would hide the mistake.
    """
    config = LLMConfig.from_mapping(llm_settings())
    return ChatClient(config) if config else None


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
        # A language model is given the turns with the speakers' names (who decided what); the
        # extractive fallback picks sentences, so it keeps the plain transcript and its segments.
        segments = rec.speaker_segments()
        named = client is not None and any(s["speaker"] for s in segments)
        result = generate_summary(diarize.turns_text(segments) if named else rec.transcript,
                                  language=rec.language or None, client=client, segments=segments, speakers=named)
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
