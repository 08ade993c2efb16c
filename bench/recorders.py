#!/usr/bin/env python
"""How many browsers recording at once one web host carries: chunk-ack latency against recorders.

    .venv-app/bin/python bench/recorders.py                    # K = 1, 2, 4 ... until p99 > 1 s
    .venv-app/bin/python bench/recorders.py --max-recorders 64 --step-seconds 12 --json bench/results/recorders.json

The app runs as deployed (bench/stack.py: PostgreSQL with fsync on, Redis,
gunicorn ``--workers`` behind nginx, instrumentation on, live transcript on:
each stored chunk may queue a live pass, no worker consumes it). K simulated
recorders each start a recording session and PUT a real WebM/Opus stream
(espeak-ng speech encoded by ffmpeg at 32 kbit/s, cut every ``--interval``
seconds of audio as MediaRecorder's timeslice does) to
``/api/sessions/<id>/chunks/<n>/``, one chunk every ``--interval`` seconds,
in order, as recorder.js does: a chunk is sent once the previous one is
acknowledged. The ack latency is from sending the PUT to its 200 (the chunk is
committed by then). The first chunk of each session (the one FFmpeg
checks) is sent during set-up and reported apart: in a meeting of an hour it
is one chunk in 1,200. K doubles until the p99 passes ``--threshold-ms`` or a
request fails, then ``--refine`` steps bisect between the last good K and the
first degraded one; "carried" is the largest K still under the threshold.

Each recorder is its own user; sessions are created with Django's session
store rather than K password logins (PBKDF2 would dominate the setup time).
The client (asyncio + httpx) shares the 2 cores with the server: at high K its
own CPU time is part of what degrades. Not a test: it asserts nothing.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402

from stack import Stack  # noqa: E402
from web import django_setup, machine  # noqa: E402

TEXT = ("The quarterly budget meeting began with a review of the marketing report. Sales in the northern region "
        "grew while the southern region stayed flat. The team agreed to hire two engineers. ") * 6


def make_chunks(seconds_per_chunk: float, total_seconds: float) -> list[bytes]:
    """A MediaRecorder-like WebM/Opus stream (written to a pipe: no cues, no duration), cut by bytes."""
    with tempfile.TemporaryDirectory(prefix="bench-rec-") as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), TEXT], check=True)
        stream = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-stream_loop", "-1", "-i", str(wav),
                                 "-t", str(total_seconds), "-c:a", "libopus", "-b:a", "32k", "-ar", "48000",
                                 "-f", "webm", "-"], check=True, capture_output=True).stdout
    n = max(1, round(total_seconds / seconds_per_chunk))
    size = -(-len(stream) // n)
    return [stream[i:i + size] for i in range(0, len(stream), size)]


def make_users(count: int) -> list[str]:
    """``count`` users, each with a logged-in session; returns their session cookies."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore

    User = get_user_model()
    hashed = make_password(secrets.token_urlsafe(16))  # nobody logs in with it
    users = User.objects.bulk_create([User(username=f"rec{i}", email=f"rec{i}@example.org", password=hashed)
                                      for i in range(count)])
    cookies = []
    for user in users:
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        csrf = secrets.token_hex(16)  # 32 characters: Django's unmasked CSRF secret, echoed in the header
        cookies.append({settings.SESSION_COOKIE_NAME: session.session_key, settings.CSRF_COOKIE_NAME: csrf})
    return cookies


def _headers(cookies: dict) -> dict:
    return {"X-CSRFToken": cookies["csrftoken"], "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}


async def open_session(client: httpx.AsyncClient, cookies: dict, first: bytes, sem: asyncio.Semaphore,
                       first_latencies: list[float], errors: list[str]) -> int | None:
    """Start a session and store its first chunk (the one FFmpeg checks): set-up, timed apart."""
    async with sem:
        r = await client.post("/api/sessions/", json={"mime_type": "audio/webm;codecs=opus", "language": "en"},
                              headers=_headers(cookies))
        if r.status_code != 201:
            errors.append(f"start: HTTP {r.status_code} {r.text[:200]}")
            return None
        sid = r.json()["id"]
        sent = time.perf_counter()
        r = await client.put(f"/api/sessions/{sid}/chunks/0/", content=first,
                             headers={**_headers(cookies), "Content-Type": "audio/webm"})
        if r.status_code != 200:
            errors.append(f"chunk 0: HTTP {r.status_code} {r.text[:200]}")
            return None
        first_latencies.append((time.perf_counter() - sent) * 1000)
        return sid


async def recorder(client: httpx.AsyncClient, cookies: dict, sid: int, chunks: list[bytes], count: int,
                   interval: float, start: float, latencies: list[float], errors: list[str]) -> None:
    """Chunks 1..count, one every ``interval`` s; the next is sent only after the previous ack."""
    for i in range(1, count + 1):
        await asyncio.sleep(max(0.0, start + (i - 1) * interval - time.perf_counter()))
        sent = time.perf_counter()
        try:
            r = await client.put(f"/api/sessions/{sid}/chunks/{i}/", content=chunks[i],
                                 headers={**_headers(cookies), "Content-Type": "audio/webm"})
        except httpx.HTTPError as exc:
            errors.append(f"chunk {i}: {type(exc).__name__}")
            continue
        if r.status_code != 200:
            errors.append(f"chunk {i}: HTTP {r.status_code} {r.text[:200]}")
            continue
        latencies.append((time.perf_counter() - sent) * 1000)


async def step(base: str, cookies: list[dict], chunks: list[bytes], interval: float, seconds: float,
               server_cpu_s) -> dict:
    k = len(cookies)
    latencies: list[float] = []
    first_latencies: list[float] = []
    errors: list[str] = []
    count = min(len(chunks) - 1, max(2, round(seconds / interval)))
    limits = httpx.Limits(max_connections=k + 4, max_keepalive_connections=k + 4)
    sem = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=base, timeout=30.0, limits=limits) as client:
        sids = await asyncio.gather(*[open_session(client, c, chunks[0], sem, first_latencies, errors)
                                      for c in cookies])
        rng = random.Random(k)
        t0 = time.perf_counter() + 0.2
        cpu0 = server_cpu_s()
        await asyncio.gather(*[
            recorder(client, c, sid, chunks, count, interval, t0 + rng.uniform(0, interval), latencies, errors)
            for c, sid in zip(cookies, sids) if sid is not None])
        wall = time.perf_counter() - t0
        cpu = server_cpu_s() - cpu0

        async def discard(c: dict, sid: int) -> None:  # next step starts from the same database size
            async with sem:
                await client.post(f"/api/sessions/{sid}/discard/", headers=_headers(c))

        await asyncio.gather(*[discard(c, sid) for c, sid in zip(cookies, sids) if sid is not None])

    def pct(values: list[float], p: float) -> float | None:
        v = sorted(values)
        return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))] if v else None

    return {"recorders": k, "chunks": len(latencies), "errors": len(errors), "error_samples": errors[:5],
            "p50_ms": pct(latencies, 50), "p90_ms": pct(latencies, 90), "p99_ms": pct(latencies, 99),
            "max_ms": max(latencies, default=None), "mean_ms": statistics.fmean(latencies) if latencies else None,
            "first_chunk_p50_ms": pct(first_latencies, 50), "first_chunk_max_ms": max(first_latencies, default=None),
            "chunks_per_s": len(latencies) / wall, "offered_per_s": k / interval,
            "server_cpu_ms_per_chunk": cpu * 1000 / max(len(latencies), 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2: one per core here)")
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between chunks (recorder.js: 3)")
    parser.add_argument("--step-seconds", type=float, default=15.0, help="how long each K records")
    parser.add_argument("--max-recorders", type=int, default=256)
    parser.add_argument("--threshold-ms", type=float, default=1000.0, help="p99 ack latency that counts as degraded")
    parser.add_argument("--refine", type=int, default=2,
                        help="extra steps bisecting between the last good K and the first degraded one")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()

    # one socket per recorder: lift the soft limit on open files to the hard one
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < args.max_recorders + 256:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    started = time.time()
    info = machine()
    chunks = make_chunks(args.interval, args.step_seconds + 3 * args.interval)
    print(f"{len(chunks)} chunks of ~{statistics.fmean(map(len, chunks)) / 1024:.1f} KiB "
          f"(WebM/Opus 32 kbit/s, {args.interval:g} s each)", flush=True)
    steps: list[dict] = []
    with Stack(workers=args.workers, variants=("instrumented",)) as stack:
        django_setup(stack.process_env("instrumented"))
        all_cookies = make_users(args.max_recorders)

        def run_step(k: int) -> bool:
            out = asyncio.run(step(stack.url("instrumented"), all_cookies[:k], chunks, args.interval,
                                   args.step_seconds, lambda: stack.server_cpu_s("instrumented")))
            out["degraded"] = out["errors"] > 0 or out["p99_ms"] is None or out["p99_ms"] > args.threshold_ms
            steps.append(out)
            print(f"K={k:>4}: {out['chunks']:>5} acks, {out['chunks_per_s']:6.1f}/s (offered {out['offered_per_s']:.1f}/s)"
                  f"  p50 {out['p50_ms'] or 0:7.1f} ms  p99 {out['p99_ms'] or 0:7.1f} ms  errors {out['errors']}"
                  f"  (first chunk p50 {out['first_chunk_p50_ms'] or 0:.0f} ms)"
                  + ("  DEGRADED" if out["degraded"] else ""), flush=True)
            if out["errors"]:
                print("   e.g. " + "; ".join(out["error_samples"][:3]))
            return out["degraded"]

        k, good, bad = 1, 0, None
        while k <= args.max_recorders:
            if run_step(k):
                bad = k
                break
            good, k = k, k * 2
        # narrow the knee between the last good K and the first degraded one
        for _ in range(args.refine):
            if bad is None or bad - good <= 1:
                break
            mid = (good + bad) // 2
            if run_step(mid):
                bad = mid
            else:
                good = mid
    steps.sort(key=lambda s: s["recorders"])
    # the largest K under the threshold below which every tried K was under it too
    carried = 0
    for s in steps:
        if s["degraded"]:
            break
        carried = s["recorders"]
    print(f"one web host ({args.workers} gunicorn workers, this machine) carries {carried} recorders "
          f"with p99 ack <= {args.threshold_ms:.0f} ms"
          + ("" if any(s["degraded"] for s in steps) else f" (not degraded up to --max-recorders {args.max_recorders})"))
    result = {"bench": "recorders", "date": datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds"),
              "machine": info, "params": {**vars(args), "json": str(args.json) if args.json else None},
              "chunk_bytes_mean": statistics.fmean(map(len, chunks)), "steps": steps, "carried": carried,
              "degraded_reached": any(s["degraded"] for s in steps), "wall_s": time.time() - started}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
