"""Celery task: generate a recording's summary and title on the ``summaries`` queue.

Same engine and guarantees as transcription (acks_late, re-queued if the
worker dies); the ``request_id`` makes a re-delivered message a no-op. The
LLM client already retries 429/5xx/timeouts within a deadline, so the task
itself does not retry: a failure is shown on the page with a button to try
again, and counted in ``django_error_total{type="summary_generation_error"}``.
"""
from __future__ import annotations

from celery import shared_task
from django.db import close_old_connections

from . import jobs


@shared_task(
    name="brefboard.library.tasks.summarize_recording",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def summarize_recording(summary_id: int, request_id: str) -> str:
    close_old_connections()
    try:
        return jobs.run_summary(summary_id, request_id)
    finally:
        close_old_connections()
