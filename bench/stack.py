"""A private BrefBoard web stack on loopback, for the web benchmarks.

PostgreSQL (a throwaway cluster, fsync on as in production: a chunk's ack
waits for the commit), Redis (the broker the chunk endpoint queues live
passes to), gunicorn running the real app, and Debian's nginx in front, every
one of them listening on 127.0.0.1 only, with its files in one temporary
directory that is removed on exit. Nothing here is exposed beyond the host.

Two gunicorn "variants" can run side by side on the same database, so that a
benchmark alternates between them within one run:

* ``instrumented``: the app as deployed (monitoring middlewares,
  django-prometheus database/cache wrappers, gunicorn in prometheus_client's
  multiprocess mode via ``brefboard.monitoring.gunicorn``);
* ``bare``: the same code with ``bench/settings_bare.py`` (middlewares and
  wrappers removed) and no multiprocess mode. The ``@monitor_view``
  decorators stay (they are in the views' code), but without the
  multiprocess directory they only touch in-memory counters.
"""
from __future__ import annotations

import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"
BENCH = ROOT / "bench"
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 60.0, proc: subprocess.Popen | None = None, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what or proc.args[0]} exited with {proc.returncode} before listening on {port}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what or 'service'} did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


def pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed (bench/run_all.sh installs Debian's postgresql)")
    return found[-1]


def _as_postgres(args: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@dataclass
class Stack:
    """Start with ``with Stack(...) as stack:``; everything stops and is removed on exit."""

    workers: int = 2
    database: str = "postgres"  # or "sqlite"
    variants: tuple[str, ...] = ("instrumented", "bare")
    live: bool = True
    work: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="brefboard-bench-web-")))
    procs: list[subprocess.Popen] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=dict)  # variant -> nginx port
    servers: dict[str, list[int]] = field(default_factory=dict)  # variant -> gunicorn and nginx master pids
    env: dict[str, str] = field(default_factory=dict)
    _pg_data: str | None = None

    # --- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> "Stack":
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self) -> None:
        redis_port = free_port()
        self._spawn(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                     "--appendonly", "no"], "redis")
        wait_port(redis_port, 20, what="redis-server")
        self.env = {
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(32),  # throwaway, never written anywhere
            "BREFBOARD_SECURE_COOKIES": "0",  # plain HTTP on loopback
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
            "BREFBOARD_LIVE_ENABLED": "1" if self.live else "0",
            "BREFBOARD_LOG_LEVEL": "WARNING",
            "PYTHONPATH": f"{APP}{os.pathsep}{BENCH}",
        }
        if self.database == "postgres":
            self.env["DATABASE_URL"] = self._start_postgres()
        else:
            self.env["BREFBOARD_SQLITE_PATH"] = str(self.work / "db.sqlite3")
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=APP,
                       env=self.process_env("instrumented"), check=True)
        for variant in self.variants:
            self.ports[variant] = self._start_web(variant)

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs.clear()
        if self._pg_data:
            subprocess.run(_as_postgres([pg_bin("pg_ctl"), "-D", self._pg_data, "-m", "immediate", "stop"]),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self._pg_data = None
        shutil.rmtree(self.work, ignore_errors=True)

    # --- pieces ----------------------------------------------------------------------------
    def process_env(self, variant: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        env.update(self.env)
        env["DJANGO_SETTINGS_MODULE"] = "brefboard.settings" if variant == "instrumented" else "settings_bare"
        return env

    def _spawn(self, args: list[str], name: str, **kwargs) -> subprocess.Popen:
        with open(self.work / f"{name}.log", "ab") as log:  # the child keeps its own descriptor
            proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **kwargs)
        self.procs.append(proc)
        return proc

    def log(self, name: str) -> str:
        path = self.work / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def _start_postgres(self) -> str:
        data = self.work / "pg"
        data.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.work, "postgres", "postgres")
            shutil.chown(data, "postgres", "postgres")
        port = free_port()
        subprocess.run(_as_postgres([pg_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                                     "-E", "UTF8", "--no-sync"]), check=True, stdout=subprocess.DEVNULL)
        # fsync stays on (the default): the chunk endpoint's ack waits for a durable commit.
        subprocess.run(_as_postgres([pg_bin("pg_ctl"), "-D", str(data), "-w", "-l", str(data / "log"), "-o",
                                     f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c max_connections=200",
                                     "start"]), check=True, stdout=subprocess.DEVNULL)
        self._pg_data = str(data)
        subprocess.run([pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "brefboard"],
                       check=True)
        return f"postgres://postgres@127.0.0.1:{port}/brefboard"

    def _start_web(self, variant: str) -> int:
        gport, nport = free_port(), free_port()
        args = [str(VENV_BIN / "gunicorn"), "brefboard.wsgi", "-w", str(self.workers), "-b", f"127.0.0.1:{gport}",
                "--chdir", str(APP), "--timeout", "60"]  # no access log, as nginx: not what we measure
        env = self.process_env(variant)
        if variant == "instrumented":
            multiproc = self.work / "prom-multiproc"
            multiproc.mkdir(exist_ok=True)
            env["PROMETHEUS_MULTIPROC_DIR"] = str(multiproc)
            args[2:2] = ["-c", "python:brefboard.monitoring.gunicorn"]
        proc = self._spawn(args, f"gunicorn-{variant}", env=env)
        wait_port(gport, 60, proc, f"gunicorn ({variant})")
        prefix = self.work / f"nginx-{variant}"
        prefix.mkdir()
        (prefix / "nginx.conf").write_text(nginx_conf(prefix, nport, gport))
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        ngx = self._spawn([nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log"),
                           "-g", "daemon off;"], f"nginx-{variant}")
        wait_port(nport, 20, ngx, f"nginx ({variant})")
        self.servers[variant] = [proc.pid, ngx.pid]
        return nport

    def server_cpu_s(self, variant: str) -> float:
        """CPU seconds used so far by this variant's gunicorn and nginx (masters and workers).

        Steadier than latency on a shared machine: other people's load makes a
        request wait, but hardly changes the CPU it costs.
        """
        return sum(_cpu_s(master, reaped=True) + sum(_cpu_s(pid) for pid in _children(master))
                   for master in self.servers[variant])

    def db_cpu_s(self) -> float:
        """CPU seconds used so far by PostgreSQL (postmaster and backends; 0 with SQLite, which runs in gunicorn).

        Shared by the variants: a benchmark reads it around the load of one variant at a time.
        """
        if not self._pg_data:
            return 0.0
        try:
            postmaster = int((Path(self._pg_data) / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return 0.0
        return _cpu_s(postmaster, reaped=True) + sum(_cpu_s(pid) for pid in _children(postmaster))

    def url(self, variant: str, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.ports[variant]}{path}"


def _children(pid: int) -> list[int]:
    found = []
    for task in glob.glob(f"/proc/{pid}/task/*/children"):
        try:
            found += [int(c) for c in Path(task).read_text().split()]
        except OSError:
            pass
    return found


def _cpu_s(pid: int, reaped: bool = False) -> float:
    """utime + stime of ``pid``; with ``reaped``, plus that of its children that exited and were waited for.

    Masters are read with ``reaped`` so that a worker or backend that exits
    mid-measurement moves its time to the master instead of losing it.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if reaped else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def nginx_conf(prefix: Path, port: int, upstream_port: int) -> str:
    """A minimal reverse proxy like the role's: loopback only, no access log (it would be disk I/O we do not study)."""
    user = "user root root;\n" if os.geteuid() == 0 else ""
    # each client connection holds an upstream one too: room for --full's thousand recorders
    return f"""{user}worker_processes 1;
worker_rlimit_nofile 8192;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    client_max_body_size 10m;
    upstream app {{ server 127.0.0.1:{upstream_port}; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://app;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_read_timeout 60s;
        }}
    }}
}}
"""


def login(base_url: str, username: str, password: str) -> httpx.Client:
    """Log in through the real form (CSRF token included); the client then carries the session cookie."""
    client = httpx.Client(base_url=base_url, timeout=30.0)
    try:
        page = client.get("/login/")
        page.raise_for_status()
        token = client.cookies.get("csrftoken")
        r = client.post("/login/", data={"username": username, "password": password, "csrfmiddlewaretoken": token},
                        follow_redirects=False)
        if r.status_code != 302 or "sessionid" not in client.cookies:
            raise RuntimeError(f"login as {username} failed: HTTP {r.status_code}")
    except BaseException:
        client.close()
        raise
    return client


def cookie_header(client: httpx.Client) -> str:
    return "; ".join(f"{name}={value}" for name, value in client.cookies.items())
