"""``RequestMiddleware`` and ``ExceptionMiddleware`` of the original.

Both sit between django-prometheus' Before and After middlewares (settings).
Labels are bounded: the resolver's view name (``unresolved`` for a 404 that
matched no URL), the exception's class name, a fixed error kind.
"""
from __future__ import annotations

import time

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import Http404

from . import metrics
from .decorators import TIMED, count_request, view_name

_STARTED = "_brefboard_view_started"


class RequestMiddleware:
    """Counts requests per view and measures each view's latency.

    Views decorated with ``@monitor_view`` / ``@count_requests`` are counted
    by the decorator and skipped here (one count per request either way).
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        count_request(request)  # "unresolved" when no URL matched
        started = getattr(request, _STARTED, None)  # None: no view ran (a middleware answered)
        if started is not None and not getattr(request, TIMED, False):
            setattr(request, TIMED, True)
            metrics.VIEW_LATENCY.labels(view_name=view_name(request)).observe(time.perf_counter() - started)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        setattr(request, _STARTED, time.perf_counter())
        return None


HANDLED = (Http404, PermissionDenied, SuspiciousOperation)

# Views that store audio: an unhandled exception there lost (or failed to keep) a recording.
AUDIO_SAVING_VIEWS = frozenset({"upload", "session_chunk", "session_finish"})


class ExceptionMiddleware:
    """Counts unhandled exceptions by class, HTTP errors by kind (4xx, 5xx), and
    ``django_error_total{type="audio_save_error"}`` for a crash in a view that stores audio."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        status = getattr(response, "status_code", 200)
        if status >= 500:
            metrics.ERRORS.labels(type=metrics.HTTP_SERVER_ERROR).inc()
        elif status >= 400:
            metrics.ERRORS.labels(type=metrics.HTTP_CLIENT_ERROR).inc()
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, HANDLED):
            return None  # Django turns these into 404/403/400: counted as http_4xx, not as crashes
        metrics.EXCEPTIONS.labels(type=type(exception).__name__).inc()
        if view_name(request) in AUDIO_SAVING_VIEWS:
            metrics.ERRORS.labels(type=metrics.AUDIO_SAVE_ERROR).inc()
        return None  # Django's own handling goes on (500 page, logging)
