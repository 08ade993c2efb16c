"""The four decorators of the original: ``monitor_view``, ``count_requests``,
``measure_duration`` and ``monitor_whisper_processing``.

A view is counted once per request whichever of the decorators and
``RequestMiddleware`` see it: the first to count marks the request, the
others then leave it alone. So decorating a view never doubles its numbers.
"""
from __future__ import annotations

import functools
import time

from . import metrics

COUNTED = "_brefboard_counted"  # request attribute: django_request_count already incremented
TIMED = "_brefboard_timed"  # request attribute: django_view_latency_seconds already observed
UNRESOLVED = "unresolved"

# Labelled children kept once known: these run on every request.
_requests = metrics.Children(metrics.REQUESTS)
view_latency = metrics.Children(metrics.VIEW_LATENCY)


def view_name(request, func=None) -> str:
    """The label for a view: the URL pattern's name (bounded), never the path itself."""
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match.view_name or match._func_path  # noqa: SLF001 (Django's own fallback)
    if func is not None:
        return f"{func.__module__}.{func.__qualname__}"
    return UNRESOLVED


def count_request(request, func=None) -> None:
    """Increment ``django_request_count_total`` for this request, once."""
    if getattr(request, COUNTED, False):
        return
    setattr(request, COUNTED, True)
    _requests(view_name(request, func)).inc()


def count_requests(func):
    """Count every call of the view in ``django_request_count_total{view_name}``."""

    @functools.wraps(func)
    def wrapper(request, *args, **kwargs):
        count_request(request, func)
        return func(request, *args, **kwargs)

    return wrapper


def monitor_view(func):
    """Count the view and time it into ``django_view_latency_seconds{view_name}``."""

    @functools.wraps(func)
    def wrapper(request, *args, **kwargs):
        count_request(request, func)
        if getattr(request, TIMED, False):
            return func(request, *args, **kwargs)
        setattr(request, TIMED, True)
        started = time.perf_counter()
        try:
            return func(request, *args, **kwargs)
        finally:
            view_latency(view_name(request, func)).observe(time.perf_counter() - started)

    return wrapper


def measure_duration(histogram):
    """Time any function into ``histogram`` (successful or not)."""

    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with histogram.time():
                return func(*args, **kwargs)

        return wrapper

    return decorate


def monitor_whisper_processing(func):
    """Time a Whisper call into ``whisper_processing_time_seconds``; count its failures
    by exception class in ``whisper_errors_total{error_type}`` and re-raise.

    Failed runs are timed too, so ``_count`` is every run and errors/count a failure ratio.
    An exception whose class sets ``counts_as_whisper_error = False`` (a job the user
    cancelled mid-transcription) is re-raised without being counted as an error:
    it says nothing about Whisper's health and must not feed WhisperErrorRateHigh.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            if getattr(exc, "counts_as_whisper_error", True):
                metrics.WHISPER_ERRORS.labels(error_type=type(exc).__name__).inc()
            raise
        finally:
            metrics.WHISPER_PROCESSING.observe(time.perf_counter() - started)

    return wrapper
