"""Proof against reality: every dashboard query and alert rule, asked of a real Prometheus
that scraped a real BrefBoard after real traffic.

Everything here is the real thing: gunicorn with 4 workers and the project's
multiprocess config, a prefork Celery worker on the transcription and
summaries queues with its metrics endpoint, Redis, node_exporter
(``/usr/bin/prometheus-node-exporter``) and Prometheus (``/usr/bin/prometheus``)
with every rule file of ``prometheus_rules/`` loaded, scraping every second
under the job names of ``grafana_dashboards/METRICS.md`` section 5. Traffic
goes over HTTP to gunicorn, as a browser's would: login, pages, 404s, a
refused upload, two espeak-ng recordings transcribed by Whisper (tiny.en) and
summarised (extractive: no LLM endpoint is configured).

Failures are produced, not allowlisted:

* 5xx and an unhandled exception: an upload while the test holds SQLite's
  write lock longer than gunicorn's lock timeout ("database is locked", the
  database-unavailable case the 5xx runbook names);
* a Whisper error: a recording whose stored audio rows the test overwrites
  with bytes that are not audio, after the web process accepted it and
  before the worker starts, so Whisper's own decoder fails on it; later
  re-transcribed, failing again.

The failures come in two rounds with a scrape between: a labelled series
is born at its first event with the value 1, which ``rate()`` cannot see, so
only the second round shows for exception classes, Whisper error types and
HTTP status codes (the first round is checked where the app starts the
series at 0: ``FIRST_EVENT``).

Then every panel query and every rule expression is sent to
``/api/v1/query``: all must be accepted; every panel query must return at
least one series with a finite value, except ``NO_DATA_HERE`` below; the
panels of ``SHOWS_EVENT`` must show the failures above. Every rule must
evaluate without error (``/api/v1/rules``), and the Whisper error-rate
alert's condition must hold (2 of 5 runs failed).

It lives with the app's tests (their conftest gives Redis, the test
database and espeak-ng audio) and takes about 20 s.

The queries come from ``python -m grafana_dashboards.queries``, run with
``.venv-dash`` (made by ``scripts/test-dashboards.sh``, which ``make test``
runs before the app tests). Without it the module is loaded from its source
with the committed dashboard JSON, so this test needs nothing beyond
``.venv-app``.
"""
from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import types
import urllib.parse
from pathlib import Path

import httpx
import pytest
import yaml
from django.conf import settings

from brefboard.recordings.models import AudioPart, Recording
from tests.helpers import APP_DIR, wait_for
from tests.monitoring.promtool import http_get
from tests.monitoring.test_gunicorn import free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

REPO = APP_DIR.parent
#: Every rule file Prometheus is deployed with (the role loads them all).
RULES = sorted((REPO / "prometheus_rules").glob("*.rules.yml"))
DASH_PYTHON = REPO / ".venv-dash" / "bin" / "python"
PASSWORD = "reality check passphrase"

#: Panels that cannot return data on this host, by (dashboard uid, panel title), and why.
NO_DATA_HERE = {
    # whisper_gpu_memory_bytes is exported only by CUDA workers on the openai-whisper
    # engine (METRICS.md); this host has no GPU and the worker runs faster-whisper on CPU.
    ("brefboard-whisper", "GPU memory (GPU hosts)"): "needs a CUDA worker",
    ("brefboard-whisper", "GPU memory used (max over GPUs)"): "needs a CUDA worker",
}

#: Panels that must show a non-zero value: the event they count happened in this test.
SHOWS_EVENT = {
    ("brefboard-http", "4xx ratio"): "404s and a 415",
    ("brefboard-http", "4xx by view and status"): "404s and a 415",
    ("brefboard-http", "5xx ratio"): "uploads while the database is locked",
    ("brefboard-http", "5xx by view and status"): "uploads while the database is locked",
    ("brefboard-http", "Views"): "5xx on the upload view (query C)",
    ("brefboard-overview", "Application errors by type"): "http_4xx, http_5xx, audio_save_error, transcription_failed",
    ("brefboard-overview", "Unhandled exceptions by class"): "OperationalError (database is locked)",
    ("brefboard-overview", "Recording and Whisper errors"): "unsupported_format; Whisper's InvalidDataError",
    ("brefboard-whisper", "Whisper error ratio"): "the damaged recording",
    ("brefboard-whisper", "Whisper errors by type"): "the damaged recording",
    ("brefboard-whisper", "Whisper errors by type (time range)"): "the damaged recording",
}

#: The first error of each kind with a fixed label value shows in increase(): those
#: series start at 0 (brefboard/monitoring/metrics.py). Exception classes, Whisper
#: error types and django-prometheus' status codes cannot start at 0, hence round 2.
FIRST_EVENT = [
    'sum(increase(django_error_total{type="http_4xx"}[5m]))',
    'sum(increase(django_error_total{type="http_5xx"}[5m]))',
    'sum(increase(django_error_total{type="audio_save_error"}[5m]))',
    'sum(increase(recording_errors_total{error_type="unsupported_format"}[5m]))',
]

NOT_AUDIO = b"BrefBoard test: these bytes replace a stored recording; not audio.\n" * 800


# --- Queries -----------------------------------------------------------------------------------

def _queries_module():
    """``grafana_dashboards.queries`` loaded from source, without the dashboard SDK.

    Only ``build.OUT_DIR`` is needed from the SDK-importing ``build`` module to
    list queries from the committed JSON; it is given under a private package
    name so nothing else in this process sees a partial ``grafana_dashboards``.
    """
    src = REPO / "grafana_dashboards"
    name = "_reality_grafana_dashboards"
    if f"{name}.queries" in sys.modules:
        return sys.modules[f"{name}.queries"]
    package = types.ModuleType(name)
    package.__path__ = [str(src)]
    sys.modules[name] = package
    build = types.ModuleType(f"{name}.build")
    build.OUT_DIR = src / "dashboards"
    sys.modules[f"{name}.build"] = build
    for sub in ("lint", "queries"):
        spec = importlib.util.spec_from_file_location(f"{name}.{sub}", src / f"{sub}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return sys.modules[f"{name}.queries"]


def list_queries() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(panel queries, rule expressions) as [(where, expr)], where = "uid / panel / ref"."""
    if DASH_PYTHON.exists():
        def run(*args):
            out = subprocess.run([str(DASH_PYTHON), "-m", "grafana_dashboards.queries", *args], cwd=REPO,
                                 capture_output=True, text=True, check=True, timeout=120).stdout
            return [tuple(line.split("\t", 1)) for line in out.splitlines() if line.strip()]

        panels = run()
        return panels, [q for q in run("--rules") if q not in panels]
    queries = _queries_module()
    return ([(q.where, q.expr) for q in queries.all_queries()],
            [(q.where, q.expr) for q in queries.rule_queries(REPO / "prometheus_rules")])


# --- Processes ---------------------------------------------------------------------------------

class Processes:
    """Started subprocesses, each in its own session, stopped in reverse order."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, argv: list[str], **kwargs) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "ab")
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **kwargs)
        log.close()
        self.procs.append((name, proc))
        return proc

    def log(self, name: str, tail: int = 3000) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")[-tail:]

    def check_alive(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited ({proc.returncode}):\n{self.log(name)}")

    def stop(self) -> None:
        for _name, proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for _name, proc in reversed(self.procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def prometheus_config(web: int, worker: int, node: int, prom: int) -> dict:
    def job(name, port):
        return {"job_name": name, "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}

    return {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(path) for path in RULES],
        "scrape_configs": [job("brefboard", web), job("brefboard-worker", worker), job("node", node),
                           job("prometheus", prom)],
    }


@pytest.fixture
def stack(django_db_setup, redis_server, tmp_path):
    """gunicorn, node_exporter and Prometheus running; the worker is started by the test."""
    for binary in ("prometheus", "prometheus-node-exporter"):
        if shutil.which(binary) is None:
            pytest.fail(f"{binary} is missing (Debian packages prometheus, prometheus-node-exporter): "
                        "scripts/test-app.sh installs them")
    redis_server.flushall()
    procs = Processes(tmp_path)
    ports = {name: free_port() for name in ("web", "worker", "node", "prom")}
    app_env = dict(os.environ, DJANGO_SETTINGS_MODULE="tests.django_settings", PYTHONPATH=str(APP_DIR),
                   BREFBOARD_METRICS_ALLOWED_CIDRS="127.0.0.1/32", LLM_BASE_URL="")
    web_dir, worker_dir = tmp_path / "prom-web", tmp_path / "prom-worker"
    web_dir.mkdir()
    worker_dir.mkdir()
    procs.start("gunicorn", [sys.executable, "-m", "gunicorn", "-c", "python:brefboard.monitoring.gunicorn",
                             "--workers", "4", "--bind", f"127.0.0.1:{ports['web']}", "brefboard.wsgi"],
                cwd=APP_DIR, env=dict(app_env, PROMETHEUS_MULTIPROC_DIR=str(web_dir),
                                      BREFBOARD_SQLITE_TIMEOUT="2"))  # the locked upload fails in 2 s
    procs.start("node_exporter", [shutil.which("prometheus-node-exporter"),
                                  f"--web.listen-address=127.0.0.1:{ports['node']}"])
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(prometheus_config(ports["web"], ports["worker"], ports["node"], ports["prom"])))
    procs.start("prometheus", [shutil.which("prometheus"), f"--config.file={config}",
                               f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                               f"--web.listen-address=127.0.0.1:{ports['prom']}"])

    def start_worker() -> None:
        procs.start("worker", [sys.executable, "-m", "celery", "-A", "brefboard", "worker",
                               "-Q", "transcribe.cpu,summaries,celery", "--pool", "prefork", "--concurrency", "1",
                               "-n", "reality@%h", "--without-gossip", "--without-mingle", "-l", "info"],
                    cwd=APP_DIR, env=dict(app_env, PROMETHEUS_MULTIPROC_DIR=str(worker_dir),
                                          BREFBOARD_WORKER_METRICS_ADDR="127.0.0.1",
                                          BREFBOARD_WORKER_METRICS_PORT=str(ports["worker"])))

    web = f"http://127.0.0.1:{ports['web']}"
    prom = f"http://127.0.0.1:{ports['prom']}"

    def ready():
        procs.check_alive()
        try:
            return http_get(web + "/metrics", timeout=30)[0] == 200 and http_get(prom + "/-/ready", timeout=5)[0] == 200
        except OSError:
            return False

    try:
        wait_for(ready, timeout=60, interval=0.3, what="gunicorn and Prometheus")
        yield types.SimpleNamespace(web=web, prom=prom, procs=procs, start_worker=start_worker)
    finally:
        procs.stop()


# --- Prometheus' HTTP API --------------------------------------------------------------------------

def prom_api(base: str, path: str, **params) -> dict:
    status, body = http_get(f"{base}/api/v1/{path}?{urllib.parse.urlencode(params)}", timeout=30)
    data = json.loads(body)
    assert status in (200, 400, 422), (status, body[:500])
    return data


def series(base: str, expr: str) -> tuple[int, int, float]:
    """(series returned, series with a finite value, largest finite value); asserts that
    Prometheus accepted ``expr``."""
    data = prom_api(base, "query", query=expr)
    assert data["status"] == "success", f"{expr}\n{data.get('errorType')}: {data.get('error')}"
    result = data["data"]["result"]
    if data["data"]["resultType"] == "scalar":
        result = [{"value": result}]
    values = [float(r["value"][1]) for r in result if math.isfinite(float(r["value"][1]))]
    return len(result), len(values), max(values, default=math.nan)


def scalar(base: str, expr: str) -> float:
    data = prom_api(base, "query", query=expr)
    result = data["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0


# --- Traffic ------------------------------------------------------------------------------------

class Browser:
    """A logged-in user over real HTTP: session cookie and CSRF token, as a browser."""

    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, trust_env=False, timeout=60, follow_redirects=False)

    def login(self, username: str, password: str) -> None:
        assert self.http.get("/login/").status_code == 200
        r = self.http.post("/login/", data={"username": username, "password": password,
                                            "csrfmiddlewaretoken": self.http.cookies["csrftoken"]})
        assert r.status_code == 302, r.text[:500]

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def post(self, path: str, **kwargs) -> httpx.Response:
        return self.http.post(path, headers={"Accept": "application/json",
                                             "X-CSRFToken": self.http.cookies["csrftoken"]}, **kwargs)

    def upload(self, path: Path, name: str | None = None, content_type: str = "audio/wav") -> httpx.Response:
        with open(path, "rb") as fh:
            return self.http.post("/upload/", data={"language": "en"},
                                  files={"audio": (name or path.name, fh, content_type)},
                                  headers={"Accept": "application/json",
                                           "X-CSRFToken": self.http.cookies["csrftoken"]})


def failures(browser: Browser, wav: Path, tmp: Path) -> None:
    """One of each failure the web process can be made to have: 404s, a refused upload, a 500."""
    assert browser.get("/recordings/999999/").status_code == 404  # not this user's (nor anyone's)
    assert browser.get("/no-such-page/").status_code == 404
    not_audio = tmp / "notes.txt"
    not_audio.write_text("meeting notes, not a recording\n" * 20)
    assert browser.upload(not_audio, content_type="text/plain").status_code == 415
    assert upload_while_database_locked(browser, wav).status_code == 500


def wait_job(browser: Browser, job: str, procs: Processes, timeout: float = 120) -> dict:
    def finished():
        procs.check_alive()
        data = browser.get(f"/api/jobs/{job}/").json()
        return data if data["status"] not in ("queued", "running") else None

    return wait_for(finished, timeout=timeout, interval=0.5, what=f"job {job}", state=lambda: procs.log("worker"))


def wait_summary(browser: Browser, recording: int, procs: Processes, timeout: float = 60) -> dict:
    def finished():
        data = browser.get(f"/api/library/{recording}/summary/").json()
        return data if data["status"] in ("done", "failed") else None

    return wait_for(finished, timeout=timeout, interval=0.5, what=f"summary of {recording}",
                    state=lambda: procs.log("worker"))


def upload_while_database_locked(browser: Browser, wav: Path) -> httpx.Response:
    """Hold SQLite's write lock (as a long write elsewhere would) across an upload."""
    db = sqlite3.connect(settings.DATABASES["default"]["NAME"], timeout=10, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        return browser.upload(wav, name="locked.wav")
    finally:
        db.execute("ROLLBACK")
        db.close()


# --- The test ------------------------------------------------------------------------------------

def test_every_dashboard_query_and_rule_against_a_real_prometheus(stack, english_wav, django_user_model,
                                                                  tmp_path, capsys):
    started = time.monotonic()
    panels, rules = list_queries()
    assert len(panels) > 40 and len(rules) >= 10, (len(panels), len(rules))
    listed = {tuple(where.split(" / ")[:2]) for where, _ in panels}
    for table in (NO_DATA_HERE, SHOWS_EVENT):
        assert set(table) <= listed, f"no such panel: {set(table) - listed}"

    django_user_model.objects.create_user("reality", "reality@example.org", PASSWORD)
    browser = Browser(stack.web)
    browser.login("reality", PASSWORD)
    for page in ("/", "/profil/", "/current_transcription/"):
        assert browser.get(page).status_code == 200, page

    # Prometheus holds the web's error counters at 0 before the first error (see FIRST_EVENT).
    wait_for(lambda: scalar(stack.prom, 'count(django_error_total{job="brefboard", type="http_5xx"})') >= 1,
             timeout=30, what="Prometheus to scrape the web's error counters at 0")
    # Round 1, web side only: the damaged recording must wait for the worker.
    failures(browser, english_wav, tmp_path)
    first = browser.upload(english_wav)
    assert first.status_code == 201, first.text
    damaged = browser.upload(english_wav, name="damaged.wav")
    assert damaged.status_code == 201, damaged.text
    rec = Recording.objects.get(pk=damaged.json()["recording"])
    AudioPart.objects.filter(recording=rec).delete()
    AudioPart.objects.create(recording=rec, index=0, data=NOT_AUDIO)

    stack.start_worker()
    assert wait_job(browser, first.json()["job"], stack.procs)["status"] == "done"
    assert wait_job(browser, damaged.json()["job"], stack.procs)["status"] == "failed"
    summaries = [wait_summary(browser, first.json()["recording"], stack.procs)]
    # Round 2 once Prometheus has scraped round 1: a labelled series is born at its
    # first event, so only a second one shows in rate() and increase().
    wait_for(lambda: scalar(stack.prom, "sum(whisper_errors_total)") >= 1
             and scalar(stack.prom, 'sum(django_error_total{type="http_5xx"})') >= 1, timeout=30,
             what="Prometheus to scrape round 1")
    first_seen = {expr: scalar(stack.prom, expr) for expr in FIRST_EVENT}
    assert all(v > 0 for v in first_seen.values()), f"a first error is invisible: {first_seen}"
    failures(browser, english_wav, tmp_path)
    again = browser.post(f"/recordings/{rec.pk}/retranscribe/")  # the same damaged audio, Whisper fails again
    assert again.status_code == 201, again.text
    second = browser.upload(english_wav)
    assert second.status_code == 201, second.text
    assert wait_job(browser, again.json()["id"], stack.procs)["status"] == "failed"
    assert wait_job(browser, second.json()["job"], stack.procs)["status"] == "done"
    summaries.append(wait_summary(browser, second.json()["recording"], stack.procs))
    assert [s["status"] for s in summaries] == ["done", "done"], summaries
    assert all(s["extractive"] for s in summaries), summaries  # no LLM endpoint: the offline summary
    for summary in summaries:
        pk = summary["recording"]
        for page in (f"/recordings/{pk}/", f"/library/{pk}/", f"/get_transcription/{pk}/",
                     f"/get_summary/{summary['id']}/", f"/library/{pk}/export/txt/"):
            assert browser.get(page).status_code == 200, page
    wait_for(lambda: scalar(stack.prom, "sum(django_summaries_generated_total)") >= 2
             and scalar(stack.prom, "sum(whisper_errors_total)") >= 2, timeout=30,
             what="Prometheus to scrape round 2")
    time.sleep(3)  # a few more scrapes and rule evaluations

    targets = prom_api(stack.prom, "targets")["data"]["activeTargets"]
    assert {t["labels"]["job"]: t["health"] for t in targets} == {
        "brefboard": "up", "brefboard-worker": "up", "node": "up", "prometheus": "up"}, targets

    rows, empty, invisible, failed = [], [], [], []
    for where, expr in panels + rules:
        is_rule = (where, expr) in rules
        try:
            count, finite, top = series(stack.prom, expr)
        except AssertionError as exc:
            failed.append(f"{where}: {exc}")
            continue
        rows.append((where, count, finite, top))
        key = tuple(where.split(" / ")[:2])
        if not is_rule and not finite and key not in NO_DATA_HERE:
            empty.append(f"{where}\t{expr}")
        if key in SHOWS_EVENT and not top > 0:
            invisible.append(f"{where} ({SHOWS_EVENT[key]}): {top}\t{expr}")
        if key in NO_DATA_HERE and count:
            failed.append(f"{where} is allowlisted ({NO_DATA_HERE[key]}) but returned {count} series")

    rule_health = [(r["name"], r["health"], r.get("lastError", ""))
                   for g in prom_api(stack.prom, "rules")["data"]["groups"] for r in g["rules"]]
    width = max(len(w) for w, *_ in rows)
    table = "\n".join(f"{w:<{width}}  {c:>3} series  {f:>3} finite  max {t:.4g}" for w, c, f, t in rows)
    with capsys.disabled():
        print(f"\n== queries sent to Prometheus after {time.monotonic() - started:.0f} s of traffic\n{table}")
        print(f"== {len(panels)} panel queries, {len(rules)} rule expressions; "
              f"allowlisted (no data expected here): {sorted(NO_DATA_HERE)}")

    assert not failed, "\n".join(failed)
    assert not empty, "panel queries that returned no data:\n" + "\n".join(empty)
    assert not invisible, "panels that do not show an event the test produced:\n" + "\n".join(invisible)
    assert len(rule_health) == len(rules) and all(h == "ok" for _, h, _ in rule_health), rule_health
    # Against reality, one alert condition is true here: 2 of 5 Whisper runs failed (> 10%).
    counts = {where.rsplit(" / ", 1)[1]: c for where, c, _, _ in rows if where.startswith("brefboard.rules.yml")}
    assert counts["WhisperErrorRateHigh"] >= 1, counts
