#!/usr/bin/env python3
"""What the instrumentation costs: per request, and per scrape.

    .venv-app/bin/python bench/instrumentation.py              # defaults
    .venv-app/bin/python bench/instrumentation.py --rounds 30 --requests 200

(``scripts/test-app.sh`` builds ``.venv-app``; redis-server must be installed.)

1. Overhead per request. One process, prometheus_client in multiprocess mode
   (file-backed values, as under gunicorn), two WSGI handlers built from the
   same settings: "instrumented" (django-prometheus' Before/After middlewares,
   RequestMiddleware, ExceptionMiddleware, the real login view wrapped in
   ``@monitor_view``) and "bare" (those middlewares removed, the plain view).
   Rounds alternate between the two so that machine noise hits both alike;
   the ratio is the median instrumented time over the median bare time.

2. One scrape with 4 gunicorn workers. gunicorn with the project's hooks and
   4 workers, traffic on several views so that every worker has written its
   files, then ``/metrics`` scraped repeatedly: time per scrape (median, p95)
   and the number of series in it. Loopback only.
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
APP = REPO / "app"

RUN_DIR = tempfile.mkdtemp(prefix="brefboard-bench-instr-")
ENV = {
    "DJANGO_SECRET_KEY": "bench-only-secret",
    "DJANGO_DEBUG": "0",
    "DJANGO_ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
    "BREFBOARD_SECURE_COOKIES": "0",
    "BREFBOARD_SQLITE_PATH": os.path.join(RUN_DIR, "db.sqlite3"),
    "BREFBOARD_METRICS_ALLOWED_CIDRS": "127.0.0.1/32",
    "BREFBOARD_LOG_LEVEL": "ERROR",  # no "Not Found" lines for the 404s sent on purpose
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- 1. Overhead per request ----------------------------------------------------------------------

def urlpatterns_for_bench():
    """Two routes to the same real view (the login page): one monitored, one plain."""
    from django.contrib.auth import views as auth_views
    from django.urls import path

    from brefboard.monitoring.decorators import monitor_view

    login = auth_views.LoginView.as_view(template_name="accounts/login.html")
    return [
        path("instrumented/", monitor_view(login), name="bench_instrumented"),
        path("bare/", login, name="bench_bare"),
    ]


def handlers():
    """WSGI handlers by variant; middleware chains are fixed when a handler is built.

    "instrumented": every middleware of the settings; "django-prometheus only": ours
    removed (to tell its cost from ours); "bare": both removed.
    """
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import override_settings

    def without(*prefixes):
        return [m for m in settings.MIDDLEWARE if not m.startswith(prefixes)]

    built = {"instrumented": WSGIHandler()}
    with override_settings(MIDDLEWARE=without("brefboard.monitoring.")):
        built["django-prometheus only"] = WSGIHandler()
    with override_settings(MIDDLEWARE=without("django_prometheus.", "brefboard.monitoring.")):
        built["bare"] = WSGIHandler()
    return built


def call(handler, path: str) -> None:
    from django.test.client import RequestFactory

    environ = RequestFactory()._base_environ(PATH_INFO=path, REQUEST_METHOD="GET")  # noqa: SLF001
    status = []
    body = handler(environ, lambda s, h, exc_info=None: status.append(s))
    b"".join(body)
    if not status[0].startswith("200"):
        raise RuntimeError(f"{path}: {status[0]}")


def bench_overhead(rounds: int, requests: int) -> dict:
    os.environ.update(ENV)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(dir=RUN_DIR)  # before prometheus_client loads
    os.environ["DJANGO_SETTINGS_MODULE"] = "brefboard.settings"
    sys.path.insert(0, str(APP))
    import django
    from django.conf import settings

    django.setup()
    import brefboard.urls

    brefboard.urls.urlpatterns[:0] = urlpatterns_for_bench()
    assert "brefboard.monitoring.middleware.RequestMiddleware" in settings.MIDDLEWARE
    built = handlers()
    paths = {"instrumented": "/instrumented/", "django-prometheus only": "/bare/", "bare": "/bare/"}
    for _ in range(50):  # warm-up: templates compiled, metric files created
        for name, handler in built.items():
            call(handler, paths[name])
    # CPU time of this process per request: what the instrumentation costs, and far less
    # sensitive than wall time to other work on a shared machine.
    times = {name: [] for name in built}
    names = list(built)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:  # rotate the order
            handler, path = built[name], paths[name]
            started = time.process_time()
            for _ in range(requests):
                call(handler, path)
            times[name].append((time.process_time() - started) / requests)
    # The fastest round is the cost with the least interference; the median shows the spread.
    best = {name: min(t) * 1000 for name, t in times.items()}
    med = {name: statistics.median(t) * 1000 for name, t in times.items()}
    # Paired: each round's variants ran back to back, so a round's ratio cancels slow drifts
    # of the machine's load; the median of those ratios is the figure to quote.
    paired = statistics.median(i / b for i, b in zip(times["instrumented"], times["bare"]))
    paired_ours = statistics.median(i / d for i, d in zip(times["instrumented"], times["django-prometheus only"]))
    return {"ms": best, "median_ms": med, "ratio": paired, "ratio_best": best["instrumented"] / best["bare"],
            "ratio_ours": paired_ours}


# --- 2. One scrape with 4 gunicorn workers -------------------------------------------------------

def get(url: str) -> bytes:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=60) as r:
        return r.read()


def bench_scrape(scrapes: int, traffic: int) -> dict:
    env = dict(os.environ, **ENV, DJANGO_SETTINGS_MODULE="brefboard.settings", PYTHONPATH=str(APP))
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=APP, env=env, check=True)
    redis_port = free_port()
    redis = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", str(redis_port),
                              "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env["CELERY_BROKER_URL"] = f"redis://127.0.0.1:{redis_port}/0"
    env["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(dir=RUN_DIR)
    port = free_port()
    gunicorn = subprocess.Popen(
        [python, "-m", "gunicorn", "-c", "python:brefboard.monitoring.gunicorn", "--workers", "4",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "brefboard.wsgi"],
        cwd=APP, env=env, start_new_session=True, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                get(base + "/login/")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        for i in range(traffic):  # several views (and 404s, redirects) on every worker
            for path in ("/login/", "/inscription/", "/", "/profil/", "/no/such/page/"):
                try:
                    get(base + path)
                except urllib.error.HTTPError:
                    pass
        body = b""
        times = []
        for _ in range(scrapes):
            started = time.perf_counter()
            body = get(base + "/metrics")
            times.append(time.perf_counter() - started)
        lines = [ln for ln in body.decode().splitlines() if ln and not ln.startswith("#")]
        times.sort()
        return {
            "scrape_median_ms": statistics.median(times) * 1000,
            "scrape_p95_ms": times[int(0.95 * (len(times) - 1))] * 1000,
            "series": len(lines),
            "bytes": len(body),
            "files": len(os.listdir(env["PROMETHEUS_MULTIPROC_DIR"])),
        }
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)
        redis.terminate()
        redis.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=150)
    parser.add_argument("--requests", type=int, default=20, help="requests per round and variant")
    parser.add_argument("--scrapes", type=int, default=30)
    parser.add_argument("--traffic", type=int, default=40, help="rounds of requests before scraping")
    args = parser.parse_args()
    try:
        scrape = bench_scrape(args.scrapes, args.traffic)  # first: the overhead part imports Django here
        over = bench_overhead(args.rounds, args.requests)
    finally:
        shutil.rmtree(RUN_DIR, ignore_errors=True)
    print("Per request, login view, same process, multiprocess-mode values (CPU time, best / median round):")
    for name, ms in over["ms"].items():
        print(f"  {name:24s} {ms:.3f} ms / {over['median_ms'][name]:.3f} ms")
    print(f"  ratio instrumented/bare            {over['ratio']:.3f}  "
          f"(median of per-round ratios: overhead {100 * (over['ratio'] - 1):+.1f} %, aim <= 5 %; "
          f"best rounds {over['ratio_best']:.3f})")
    print(f"  ratio ours (vs django-prometheus)  {over['ratio_ours']:.3f}")
    print("One scrape of /metrics, gunicorn with 4 workers:")
    print(f"  median {scrape['scrape_median_ms']:.1f} ms, p95 {scrape['scrape_p95_ms']:.1f} ms (aim < 50 ms)")
    print(f"  {scrape['series']} series, {scrape['bytes']} bytes, {scrape['files']} multiprocess files")


if __name__ == "__main__":
    main()
