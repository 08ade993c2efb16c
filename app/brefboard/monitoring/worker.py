"""Metrics of the Celery workers: an HTTP endpoint per worker, queue timings per task.

Transcriptions run in prefork pool children, each its own process: their
values go to files under PROMETHEUS_MULTIPROC_DIR and the worker's main
process serves the sum of them all, on
``BREFBOARD_WORKER_METRICS_ADDR:BREFBOARD_WORKER_METRICS_PORT`` (0 = no
endpoint), behind the same access policy as the web ``/metrics``.

Connected to Celery's signals when ``brefboard.celery`` is imported, i.e. in
every process that loads the Celery app. prometheus_client decides when it is
first imported (during Django's setup, before Celery's first signal) whether
values go to files, so PROMETHEUS_MULTIPROC_DIR must be in the worker's
environment and exist when it starts (systemd: ``RuntimeDirectory=``). One
directory per worker service: files of earlier runs are removed at start.
"""
from __future__ import annotations

import logging
import os
import threading
import time

from celery import signals

from .collectors import SENT_AT_HEADER

log = logging.getLogger(__name__)
_server = None


def _empty(directory: str, keep_pid: int) -> None:
    """Remove the files of earlier runs; this process' own (already open) files stay."""
    for name in os.listdir(directory):
        if name.endswith(".db") and not name.endswith(f"_{keep_pid}.db"):
            os.unlink(os.path.join(directory, name))


@signals.celeryd_init.connect
def _check_directory(sender=None, instance=None, conf=None, **kwargs) -> None:
    """In the worker's main process, before the pool forks: a clean multiprocess directory.

    Django (and so prometheus_client) is set up before Celery sends any signal, so the
    directory cannot be chosen here: it comes from the environment, like gunicorn's.
    """
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory or not os.path.isdir(directory):
        log.warning("PROMETHEUS_MULTIPROC_DIR is not set to an existing directory: the metrics of the "
                    "pool's children (every task) will not be exported")
        return
    _empty(directory, os.getpid())


@signals.worker_ready.connect
def _start_endpoint(sender=None, **kwargs) -> None:
    """Serve the worker's metrics from its main process (the pool children have no port)."""
    global _server
    port = int(os.environ.get("BREFBOARD_WORKER_METRICS_PORT", "9808") or 0)
    if not port or _server is not None:
        return
    addr = os.environ.get("BREFBOARD_WORKER_METRICS_ADDR", "127.0.0.1")
    try:
        _server = serve(addr, port)
    except OSError as exc:  # port taken (another worker on this host): the worker still works
        log.error("worker metrics endpoint not started on %s:%s: %s", addr, port, exc)
        return
    log.info("worker metrics on http://%s:%s/metrics", addr, _server.server_port)


def serve(addr: str, port: int):
    """Start the metrics HTTP server in a daemon thread; returns the server."""
    from wsgiref.simple_server import make_server

    from prometheus_client.exposition import ThreadingWSGIServer, _SilentHandler

    server = make_server(addr, port, metrics_app, ThreadingWSGIServer, handler_class=_SilentHandler)
    threading.Thread(target=server.serve_forever, name="metrics-endpoint", daemon=True).start()
    return server


def metrics_app(environ, start_response):
    """WSGI app: ``/metrics`` for allowed clients, 401/403/404 otherwise."""
    from . import access, exposition

    if environ.get("PATH_INFO", "/") not in ("/metrics", "/metrics/"):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]
    verdict = access.Policy.from_settings().check(environ.get("REMOTE_ADDR"), environ.get("HTTP_AUTHORIZATION"))
    if verdict == access.UNAUTHORIZED:
        start_response("401 Unauthorized", [("Content-Type", "text/plain"), ("WWW-Authenticate", access.REALM)])
        return [b"authentication required\n"]
    if verdict != access.ALLOWED:
        start_response("403 Forbidden", [("Content-Type", "text/plain")])
        return [b"forbidden\n"]
    body, content_type = exposition.render()
    start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


@signals.worker_process_shutdown.connect
def _child_exit(pid=None, exitcode=None, **kwargs) -> None:
    """A pool child is leaving: drop its live gauges, fold its counters and histograms into the archives."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        from prometheus_client import multiprocess

        from .compaction import fold_dead_process

        multiprocess.mark_process_dead(pid or os.getpid())
        try:
            fold_dead_process(directory, pid or os.getpid())  # its work is done: nothing more is written
        except Exception:  # noqa: BLE001 - the files stay and are still counted
            log.exception("could not fold this process' metric files")


@signals.before_task_publish.connect
def _stamp_sent_at(headers=None, **kwargs) -> None:
    """Every message says when it was sent: queue age and wait time are measured from it."""
    if headers is not None and SENT_AT_HEADER not in headers:
        headers[SENT_AT_HEADER] = time.time()


@signals.task_prerun.connect
def _observe_queue_wait(task=None, **kwargs) -> None:
    """``brefboard_queue_wait_seconds{queue}``: first delivery only (a retry's countdown is not waiting)."""
    request = getattr(task, "request", None)
    if request is None or request.retries or getattr(request, "eta", None):
        return
    sent_at = getattr(request, SENT_AT_HEADER, None) or (getattr(request, "headers", None) or {}).get(SENT_AT_HEADER)
    queue = (getattr(request, "delivery_info", None) or {}).get("routing_key")
    if sent_at is None or not queue:
        return
    from . import metrics

    try:
        metrics.QUEUE_WAIT.labels(queue=queue).observe(max(0.0, time.time() - float(sent_at)))
    except (TypeError, ValueError):
        pass
