"""The web process' metrics middlewares.

``RequestMiddleware`` and ``ExceptionMiddleware`` (the original's) come first in
MIDDLEWARE, so that every request is counted, redirects to the login page
included; ``PrometheusMiddleware`` (django-prometheus' request families) comes
last, where django-prometheus' After middleware stood. Labels are bounded: the
resolver's view name (``unresolved`` for a 404 that matched no URL), the
method, the status, the exception's class name, a fixed error kind.
"""
from __future__ import annotations

import time

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import Http404

from . import metrics
from .decorators import TIMED, count_request, view_latency, view_name

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
            view_latency(view_name(request)).observe(time.perf_counter() - started)
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


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "OPTIONS", "CONNECT", "PATCH"})
INVALID_METHOD = "<invalid method>"
UNNAMED_VIEW = "<unnamed view>"


class PrometheusMiddleware:
    """django-prometheus' request metrics that the dashboards and rules read, for a
    fraction of what its ``PrometheusBeforeMiddleware``/``PrometheusAfterMiddleware`` pair costs.

    Records, with django-prometheus' names and labels (``metrics.HttpMetrics``):

    * ``django_http_requests_total_by_view_transport_method_total`` when the view is
      about to run (``process_view``: a middleware that answered first, such as the
      login redirect, is not counted here, as with django-prometheus);
    * ``django_http_responses_total_by_status_view_method_total`` and
      ``django_http_requests_latency_seconds_by_view_method`` for every response
      that passes it (``<unnamed view>`` when no URL matched);
    * ``django_http_exceptions_total_by_type_total`` for an exception a view raised.

    The pair wrote 20 values a request (each a lock and an mmap write in multiprocess
    mode) into 20 families, 16 of which nothing reads; this writes 4, keeps each
    labelled child once it is known (``metrics.Children``), and adds one middleware
    layer instead of two. Put it last in MIDDLEWARE, where the After middleware was.
    The latency is measured from here, so it is the view's time plus URL resolution;
    an exception is observed once (django-prometheus observed it twice, in
    ``process_exception`` and again in ``process_response``).
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        http = metrics.HttpMetrics.get_instance()
        self._requests = metrics.Children(http.requests_by_view_transport_method)
        self._responses = metrics.Children(http.responses_by_status_view_method)
        self._latency = metrics.Children(http.requests_latency_by_view_method)
        self._exceptions = metrics.Children(http.exceptions_by_type)

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        method = request.method if request.method in _METHODS else INVALID_METHOD
        match = getattr(request, "resolver_match", None)
        view = (match.view_name if match is not None else None) or UNNAMED_VIEW
        self._responses(str(response.status_code), view, method).inc()
        self._latency(view, method).observe(elapsed)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        method = request.method if request.method in _METHODS else INVALID_METHOD
        transport = "https" if request.is_secure() else "http"
        self._requests(request.resolver_match.view_name or UNNAMED_VIEW, transport, method).inc()

    def process_exception(self, request, exception):
        self._exceptions(type(exception).__name__).inc()
