"""Render the metrics of this process, or of every process sharing the multiprocess directory.

prometheus_client decides at import time whether values live in memory or in
files under PROMETHEUS_MULTIPROC_DIR; this module only has to pick the
matching collector. In multiprocess mode the per-process default registry
would show one random worker's numbers, so it is never exported there.
"""
from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client import multiprocess


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir") or None


def process_registry() -> CollectorRegistry:
    """Metrics of all the processes writing to the directory, or of this process alone."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def render(extra_collectors=()) -> tuple[bytes, str]:
    """(body, content type) of a scrape: the process metrics plus scrape-time collectors."""
    directory = multiprocess_dir()
    if directory:
        from .compaction import locked

        with locked(directory, exclusive=False):  # no fold of a dead process' files meanwhile (bounded wait)
            body = generate_latest(process_registry())
    else:
        body = generate_latest(REGISTRY)
    if extra_collectors:
        extra = CollectorRegistry(auto_describe=False)
        for collector in extra_collectors:
            extra.register(collector)
        body += generate_latest(extra)
    return body, CONTENT_TYPE_LATEST
