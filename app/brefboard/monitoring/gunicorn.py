"""gunicorn settings for prometheus_client's multiprocess mode.

Use it as the configuration file (``gunicorn -c python:brefboard.monitoring.gunicorn
brefboard.wsgi``), or import its hooks from your own. Loaded by the master
before any worker exists and before the app is imported (do not set
``preload_app``: the app would import prometheus_client in the master first):

* PROMETHEUS_MULTIPROC_DIR is set (a fresh temporary directory when the
  service did not set one) so that every worker inherits it;
* ``on_starting`` empties it: files of a previous run would be summed in;
* ``child_exit`` calls ``mark_process_dead`` for each worker that leaves
  (recycled by ``max_requests``, killed by the timeout), dropping its live
  gauges, and folds its counters and histograms into archive files
  (``compaction.py``) so that recycling does not make every scrape slower.

Other settings come from the command line or GUNICORN_CMD_ARGS as usual.
"""
from __future__ import annotations

import os
import tempfile

if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="brefboard-gunicorn-metrics-")

# Imported now, after the directory is set: child_exit runs in the master's SIGCHLD
# handler, where a first import could interleave with another and find a half-built module.
from prometheus_client import multiprocess  # noqa: E402

from brefboard.monitoring.compaction import fold_dead_process  # noqa: E402


def on_starting(server) -> None:
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        if name.endswith(".db"):
            os.unlink(os.path.join(directory, name))


_to_fold: list[int] = []
_folding = False


def child_exit(server, worker) -> None:
    """Runs in the master's SIGCHLD handler, which another worker's exit can interrupt:
    a nested call only queues its pid (taking the lock again would wait on ourselves)."""
    global _folding
    multiprocess.mark_process_dead(worker.pid)
    # Its counters and histograms go to the archive files: the directory stays small.
    _to_fold.append(worker.pid)
    if _folding:
        return
    _folding = True
    try:
        while _to_fold:
            pid = _to_fold.pop()
            try:
                fold_dead_process(os.environ["PROMETHEUS_MULTIPROC_DIR"], pid)
            except Exception:  # noqa: BLE001 - never take the master down; the files stay, still counted
                server.log.exception("could not fold the metric files of worker %s", pid)
    finally:
        _folding = False
