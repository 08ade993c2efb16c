"""Metrics read at scrape time: jobs waiting in the broker, jobs by state in the database.

They describe shared state (one Redis, one database), not a process, so they
are exported once, by the web ``/metrics`` view, from whichever gunicorn
worker answers the scrape, and never written to the multiprocess files.
A source that cannot be read leaves its metric out of that scrape (an absent
series, which the alert rules see) rather than failing the whole scrape.
"""
from __future__ import annotations

import json
import logging
import time

from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)

# Header stamped on every task message at publish time (see worker.py): lets the
# oldest waiting message tell its age, and the worker measure the time it waited.
SENT_AT_HEADER = "brefboard_sent_at"


def monitored_queues() -> list[str]:
    """The Celery queues BrefBoard sends to, unless BREFBOARD_METRICS_QUEUES names them."""
    from django.conf import settings

    configured = getattr(settings, "BREFBOARD_METRICS_QUEUES", [])
    if configured:
        return list(dict.fromkeys(configured))
    names = [
        settings.BREFBOARD_DEFAULT_QUEUE,
        settings.BREFBOARD_LIVE_QUEUE,
        getattr(settings, "BREFBOARD_SUMMARY_QUEUE", "") or "summaries",
        "celery",
    ]
    return list(dict.fromkeys(n for n in names if n))


class QueueCollector:
    """``brefboard_queue_jobs_waiting{queue}`` and ``brefboard_queue_oldest_job_age_seconds{queue}``.

    Kombu's Redis transport keeps a queue as a list named after it (LPUSH in,
    BRPOP out), so LLEN is the number waiting and the last element the oldest.
    """

    def __init__(self, redis_client, queues) -> None:
        self.redis = redis_client
        self.queues = list(queues)

    def describe(self):
        return []  # collected at scrape time only; nothing to check at registration

    def collect(self):
        waiting = GaugeMetricFamily(
            "brefboard_queue_jobs_waiting", "Jobs waiting in the broker queue.", labels=["queue"]
        )
        oldest = GaugeMetricFamily(
            "brefboard_queue_oldest_job_age_seconds", "Age of the oldest waiting job (0 when empty).",
            labels=["queue"],
        )
        try:
            pipe = self.redis.pipeline(transaction=False)
            for q in self.queues:
                pipe.llen(q)
                pipe.lindex(q, -1)
            replies = pipe.execute()
        except Exception as exc:  # noqa: BLE001 - the broker down must not break the scrape
            log.warning("queue metrics: broker unreadable (%s)", type(exc).__name__)
            return
        now = time.time()
        for i, q in enumerate(self.queues):
            length, last = replies[2 * i], replies[2 * i + 1]
            waiting.add_metric([q], float(length or 0))
            sent_at = _sent_at(last)
            oldest.add_metric([q], max(0.0, now - sent_at) if sent_at is not None else 0.0)
        yield waiting
        yield oldest


def _sent_at(raw) -> float | None:
    if not raw:
        return None
    try:
        value = json.loads(raw)["headers"].get(SENT_AT_HEADER)
        return float(value) if value is not None else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


# Job states on /metrics (fixed set) ← TranscriptionJob.status in the database.
JOB_STATES = {"queued": "pending", "running": "running", "done": "done", "failed": "failed", "cancelled": "cancelled"}


class JobsCollector:
    """``brefboard_jobs{state}``: transcription jobs by state, counted in the database."""

    def describe(self):
        return []

    def collect(self):
        from django.db import DatabaseError
        from django.db.models import Count

        from brefboard.recordings.models import TranscriptionJob

        family = GaugeMetricFamily("brefboard_jobs", "Transcription jobs by state.", labels=["state"])
        try:
            per_status = TranscriptionJob.objects.order_by().values("status").annotate(n=Count("pk"))
            rows = {row["status"]: row["n"] for row in per_status}
        except DatabaseError as exc:
            log.warning("job metrics: database unreadable (%s: %s)", type(exc).__name__, exc)
            return
        for status, state in JOB_STATES.items():
            family.add_metric([state], float(rows.get(status, 0)))
        yield family
