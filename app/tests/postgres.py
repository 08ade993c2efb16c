"""A throwaway PostgreSQL cluster for the test run (BREFBOARD_TEST_POSTGRES=1).

Debian's postgresql package provides the binaries; the cluster lives in a
temporary directory, listens on a free loopback port, trusts local
connections, and is removed when the process that started it exits. Worker
processes inherit DATABASE_URL and use the same cluster.
"""
from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import tempfile


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql; scripts/test-app.sh does it)")
    return found[-1]


def _as_postgres(args: list[str]) -> None:
    """initdb and postgres refuse to run as root: run them as the postgres user when we are root."""
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)


def start_cluster() -> str:
    """Start a cluster, return its DATABASE_URL (database ``brefboard_test``)."""
    data = tempfile.mkdtemp(prefix="brefboard-pg-")
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _as_postgres([_bin("initdb"), "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"])
    _as_postgres([_bin("pg_ctl"), "-D", data, "-w", "-l", os.path.join(data, "log"), "-o",
                  f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off", "start"])
    owner = os.getpid()

    def stop() -> None:
        if os.getpid() == owner:
            subprocess.run((["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else [])
                           + [_bin("pg_ctl"), "-D", data, "-m", "immediate", "stop"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            shutil.rmtree(data, ignore_errors=True)

    atexit.register(stop)
    return f"postgres://postgres@127.0.0.1:{port}/brefboard_test"
