"""wrk, Debian's HTTP load generator, behind one function.

wrk is an event-loop client in C: one thread keeps many connections busy
while using far less CPU than the server it loads, which matters on a
2-core machine where the client shares the cores with the server. Its Lua
``done`` hook prints the latency percentiles as JSON, so nothing parses its
human-readable report.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

REPORT_LUA = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\nWRK_JSON {"requests": %d, "duration_s": %.6f, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_ms": {"p50": %.3f, "p90": %.3f, "p99": %.3f, "max": %.3f, "mean": %.3f}}\n',
    summary.requests, summary.duration / 1e6, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
    latency.max / 1e3, latency.mean / 1e3))
end
"""


def wrk(url: str, *, seconds: float, connections: int, threads: int = 1, headers: dict[str, str] | None = None,
        timeout_s: float = 10.0) -> dict:
    """Load ``url`` (loopback only) for ``seconds``; returns requests/s, latency percentiles (ms) and errors."""
    if not url.startswith(("http://127.0.0.1:", "http://localhost:")):
        raise ValueError(f"load only goes to loopback, not {url}")
    binary = shutil.which("wrk")
    if binary is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk; bench/run_all.sh does it)")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(REPORT_LUA)
    try:
        args = [binary, "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
                "--timeout", f"{timeout_s:.0f}s", "-s", script.name]
        for name, value in (headers or {}).items():
            args += ["-H", f"{name}: {value}"]
        proc = subprocess.run([*args, url], capture_output=True, text=True, timeout=seconds + timeout_s + 30)
    finally:
        Path(script.name).unlink(missing_ok=True)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout[-500:]}")
    out = json.loads(line[len("WRK_JSON "):])
    out["rps"] = out["requests"] / out["duration_s"] if out["duration_s"] else 0.0
    out["connections"] = connections
    return out
