"""The summary metrics of the original BrefBoard, shared with whoever else defines them.

The instrumentation app defines the same metrics in ``brefboard.monitoring.metrics``
(the original kept them all in one ``metrics.py``); prometheus_client refuses a
second metric with the same name in a registry, so this module imports that
module first if it exists, reuses any metric already registered under the
same name, and only defines what is missing (when the library runs alone).

Names on ``/metrics`` (see grafana_dashboards/METRICS.md):
``django_summary_generation_seconds`` (histogram),
``django_summaries_generated_total`` (counter) and
``django_error_total{type="summary_generation_error"}`` (counter).
"""
from __future__ import annotations

import importlib

from prometheus_client import REGISTRY, Counter, Histogram

try:  # the shared metrics module, when the instrumentation app is there
    importlib.import_module("brefboard.monitoring.metrics")
except ImportError:
    pass


def _registered(name: str):
    return REGISTRY._names_to_collectors.get(name)  # noqa: SLF001 (no public lookup exists)


def _get_or_create(cls, name: str, documentation: str, **kwargs):
    existing = _registered(name)
    if existing is not None:
        return existing
    return cls(name, documentation, **kwargs)


# Summaries take seconds (extractive) to minutes (a long transcript, a busy GPU).
SUMMARY_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, float("inf"))

SUMMARY_GENERATION_SECONDS = _get_or_create(
    Histogram,
    "django_summary_generation_seconds",
    "Time to generate a summary and its title (successful generations).",
    buckets=SUMMARY_BUCKETS,
)
SUMMARIES_GENERATED = _get_or_create(
    Counter, "django_summaries_generated", "Summaries generated."
)
ERRORS = _get_or_create(
    Counter, "django_error", "Application errors by kind.", labelnames=["type"]
)
SUMMARY_ERROR_TYPE = "summary_generation_error"
