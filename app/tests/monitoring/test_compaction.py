"""Folding a dead process' files keeps every value: checked on real multiprocess files
written by separate Python processes and read back by prometheus_client's collector."""
from __future__ import annotations

import os
import subprocess
import sys

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from brefboard.monitoring.compaction import fold_dead_process
from tests.helpers import APP_DIR
from tests.monitoring.promtool import samples, value

WRITER = """
import os, sys
from prometheus_client import Counter, Gauge, Histogram
c = Counter("bench_requests", "r", ["view"])
h = Histogram("bench_seconds", "s", buckets=(1, 5))
g = Gauge("bench_last", "l", multiprocess_mode="mostrecent")
m = Gauge("bench_peak", "p", multiprocess_mode="max")
n = int(sys.argv[1])
c.labels("a").inc(n)
h.observe(n)
g.set(n)
m.set(n)
print(os.getpid())
"""


def run_writer(directory, n: int) -> int:
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(directory))
    out = subprocess.run([sys.executable, "-c", WRITER, str(n)], env=env, cwd=APP_DIR, check=True,
                         capture_output=True, text=True)
    return int(out.stdout.strip())


def read(directory) -> dict:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))
    return samples(generate_latest(registry).decode())


def test_fold_keeps_sums_peaks_and_latest(tmp_path):
    pids = [run_writer(tmp_path, n) for n in (3, 7, 2)]
    before = read(tmp_path)
    for pid in pids:
        assert fold_dead_process(str(tmp_path), pid) == 4  # counter, histogram, two gauges
    after = read(tmp_path)
    assert sorted(p.name for p in tmp_path.glob("*.db")) == [
        "counter_archive.db", "gauge_max_archive.db", "gauge_mostrecent_archive.db", "histogram_archive.db"]
    assert value(after, "bench_requests_total", view="a") == 12 == value(before, "bench_requests_total", view="a")
    assert value(after, "bench_seconds_count") == 3 and value(after, "bench_seconds_sum") == 12
    assert value(after, "bench_seconds_bucket", le="5.0") == 2  # 3 and 2; 7 is above
    assert value(after, "bench_peak") == 7
    assert value(after, "bench_last") == 2  # the last one written
    assert before == after
    # A process that comes later adds to the archive.
    fold_dead_process(str(tmp_path), run_writer(tmp_path, 1))
    assert value(read(tmp_path), "bench_requests_total", view="a") == 13
    assert fold_dead_process(str(tmp_path), 999999999) == 0  # nothing of that pid: nothing done
