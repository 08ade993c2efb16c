"""Fold the metric files of a process that has ended into one archive file per type.

In multiprocess mode every process writes its own files and a scrape reads
them all. Counters and histograms of a dead process must keep counting (they
cannot be deleted), so with gunicorn's ``max_requests`` or Celery's
``--max-tasks-per-child`` the directory grows by a few files per recycled
process, and each scrape reads more of them. Folding a dead process' values
into ``<type>_archive.db`` (summed; max, min or most recent for such gauges)
keeps the directory at about one set of files per live process.

A scrape and a fold exclude each other with a lock file beside the data:
a scrape must not see the archive updated but the dead file still there
(double counts), nor the dead file gone before the archive has its values
(a counter going down, which Prometheus reads as a reset).
"""
from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager

from prometheus_client.mmap_dict import MmapedDict

LOCK_NAME = ".fold.lock"  # not *.db: prometheus_client reads only those
ARCHIVE = "archive"
# File prefix (before "_<pid>.db") → how two values of one series combine.
COMBINE = {
    "counter": "sum",
    "histogram": "sum",
    "summary": "sum",
    "gauge_sum": "sum",
    "gauge_max": "max",
    "gauge_min": "min",
    "gauge_mostrecent": "mostrecent",
}


@contextmanager
def locked(directory: str, exclusive: bool, timeout: float = 5.0):
    """Hold the directory's lock; yields whether it was obtained within ``timeout``.

    Bounded on purpose: a scrape that cannot get the lock reads anyway, and a
    fold that cannot get it leaves the files for later; nothing ever hangs.
    """
    fd = os.open(os.path.join(directory, LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        mode = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
        while True:
            try:
                fcntl.flock(fd, mode)
                yield True
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    yield False
                    return
                time.sleep(0.005)
    finally:
        os.close(fd)  # releases the lock


def _combine(how: str, old, new):
    if old is None:
        return new
    (v1, t1), (v2, t2) = old, new
    if how == "sum":
        return v1 + v2, max(t1, t2)
    if how == "max":
        return (v1, t1) if v1 >= v2 else (v2, t2)
    if how == "min":
        return (v1, t1) if v1 <= v2 else (v2, t2)
    return old if t1 >= t2 else new  # mostrecent


def fold_dead_process(directory: str, pid: int) -> int:
    """Fold the files of ``pid`` (which must have ended) into the archives; returns files folded."""
    folded = 0
    with locked(directory, exclusive=True) as held:
        if not held:
            return 0  # a scrape is stuck reading: fold at the next exit instead
        for prefix, how in COMBINE.items():
            dead = os.path.join(directory, f"{prefix}_{pid}.db")
            if not os.path.exists(dead):
                continue
            archive = os.path.join(directory, f"{prefix}_{ARCHIVE}.db")
            merged: dict[str, tuple[float, float]] = {}
            for path in (archive, dead):
                if os.path.exists(path):
                    for key, value, timestamp, _pos in MmapedDict.read_all_values_from_file(path):
                        merged[key] = _combine(how, merged.get(key), (value, timestamp))
            tmp = archive + ".tmp"
            if os.path.exists(tmp):
                os.unlink(tmp)
            out = MmapedDict(tmp)
            try:
                for key, (value, timestamp) in merged.items():
                    out.write_value(key, value, timestamp)
            finally:
                out.close()
            os.replace(tmp, archive)
            os.unlink(dead)
            folded += 1
    return folded
