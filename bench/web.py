#!/usr/bin/env python
"""Library page (/profil/) under load, with and without instrumentation, as the library grows.

    .venv-app/bin/python bench/web.py                       # 100, 1,000, 10,000 transcriptions
    .venv-app/bin/python bench/web.py --sizes 1000 --seconds 3 --json bench/results/web.json

bench/stack.py starts the real app on loopback: a private PostgreSQL cluster,
Redis, gunicorn (``--workers``) behind Debian's nginx, twice: "instrumented"
(as deployed) and "bare" (bench/settings_bare.py). For each library size one
user gets that many finished transcriptions (bulk_create, half of them with a
summary) and logs in through the real login form; wrk then loads the first
page of the library (20 per page, newest first) and, with ``--search``, a
search over titles, transcripts and summaries.

Rounds alternate the two variants, so both see the same machine; the numbers
kept are medians over rounds, and the ratio instrumented/bare is computed
within each round. CPU time per request (gunicorn + nginx, and PostgreSQL
apart, from /proc) is reported too: on a shared machine it moves much less
than latency.
Not a test: it asserts nothing about speed.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402

from loadgen import wrk  # noqa: E402
from stack import APP, Stack, cookie_header, login  # noqa: E402

WORDS = (
    "budget projet équipe réunion décision planning fournisseur licence recrutement client livraison qualité "
    "risque sprint version délai contrat coût objectif indicateur développeur comité semaine priorité tests "
    "déploiement serveur le la les de du des et à pour avec sur dans nous vous on a est sont doit va"
).split()
PASSWORD = "bench-password-not-secret-123"


def django_setup(env: dict[str, str]) -> None:
    os.environ.update(env)
    sys.path.insert(0, str(APP))
    import django

    django.setup()


def seed(size: int, rng: random.Random) -> str:
    """One user with ``size`` finished transcriptions; returns the user name."""
    from django.contrib.auth import get_user_model

    from brefboard.library.models import Summary
    from brefboard.recordings.models import Recording

    username = f"bench{size}"
    user = get_user_model().objects.create_user(username, f"{username}@example.org", PASSWORD)
    now = datetime.now(timezone.utc)
    recs = [
        Recording(owner=user, title=f"Réunion {i} " + " ".join(rng.choices(WORDS, k=3)),
                  source=Recording.Source.BROWSER if i % 3 else Recording.Source.UPLOAD,
                  status=Recording.Status.DONE, created_at=now - timedelta(hours=i * 7 + rng.random()),
                  finalized_at=now - timedelta(hours=i * 7), mime_type="audio/webm", audio_format="matroska,webm",
                  duration=rng.uniform(300, 3600), transcript=" ".join(rng.choices(WORDS, k=rng.randint(200, 600))),
                  language="fr")
        for i in range(size)
    ]
    Recording.objects.bulk_create(recs, batch_size=1000)
    Summary.objects.bulk_create(
        [Summary(recording=r, status=Summary.Status.DONE, text=" ".join(rng.choices(WORDS, k=80)),
                 title=" ".join(rng.choices(WORDS, k=5)), method=Summary.Method.EXTRACTIVE, language="fr")
         for r in recs[::2]],
        batch_size=1000,
    )
    return username


def analyze() -> None:
    """Give the planner statistics on the freshly loaded tables, as a live database has.

    Without it the first minutes measure plans made blind, until autovacuum
    happens to analyze the tables in the middle of a run.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def measure(stack: Stack, variant: str, path: str, cookie: str, seconds: float, connections: int) -> dict:
    cpu0, db0 = stack.server_cpu_s(variant), stack.db_cpu_s()
    out = wrk(stack.url(variant, path), seconds=seconds, connections=connections, headers={"Cookie": cookie})
    out["server_cpu_ms_per_request"] = (stack.server_cpu_s(variant) - cpu0) * 1000 / max(out["requests"], 1)
    out["db_cpu_ms_per_request"] = (stack.db_cpu_s() - db0) * 1000 / max(out["requests"], 1)
    return out


def machine() -> dict:
    model = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                  if ln.startswith("model name")), platform.processor())
    mem_kib = int(next(ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines()
                       if ln.startswith("MemTotal")))
    return {"cpu": model, "cpus": os.cpu_count(), "memory_gib": round(mem_kib / 2**20, 1),
            "os": platform.platform(), "python": platform.python_version(), "loadavg_at_start": os.getloadavg()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="transcriptions in the library (comma-separated)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2: one per core here)")
    parser.add_argument("--connections", type=int, default=4, help="wrk connections")
    parser.add_argument("--seconds", type=float, default=3, help="wrk duration of each measurement")
    parser.add_argument("--rounds", type=int, default=5, help="alternations of the two variants")
    parser.add_argument("--search", default="budget", help="also time ?search=WORD ('' to skip)")
    parser.add_argument("--search-samples", type=int, default=3, help="sequential searches timed per size")
    parser.add_argument("--search-max-size", type=int, default=1000,
                        help="skip the search above this size (to keep the run short)")
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    paths = {"page": "/profil/"}

    started = time.time()
    info = machine()
    runs: list[dict] = []
    with Stack(workers=args.workers, database=args.database) as stack:
        django_setup(stack.process_env("instrumented"))
        rng = random.Random(9)
        t0 = time.perf_counter()
        users = {size: seed(size, rng) for size in sizes}
        analyze()
        print(f"seeded {sum(sizes)} transcriptions in {time.perf_counter() - t0:.1f} s "
              f"({args.database}, {args.workers} gunicorn workers per variant)", flush=True)
        cookies = {}
        for size, username in users.items():
            client = login(stack.url("instrumented"), username, PASSWORD)
            for variant in stack.variants:  # same database, same key: the session is valid on both
                r = client.get(stack.url(variant, "/profil/"))
                pages = math.ceil(size / 20)
                if r.status_code != 200 or f"sur {pages}" not in r.text:
                    raise RuntimeError(f"{variant}: /profil/ as {username}: HTTP {r.status_code}, "
                                       f"expected 'Page 1 sur {pages}'")
            cookies[size] = cookie_header(client)
            client.close()
        for variant in stack.variants:  # warm-up: imports, connections, template cache
            measure(stack, variant, "/profil/", cookies[sizes[0]], 1, args.connections)
        for rnd in range(args.rounds):
            order = list(stack.variants) if rnd % 2 == 0 else list(reversed(stack.variants))
            for size in sizes:
                for kind, path in paths.items():
                    for variant in order:
                        out = measure(stack, variant, path, cookies[size], args.seconds, args.connections)
                        out.update(round=rnd, size=size, kind=kind, variant=variant)
                        runs.append(out)
                        bad = out["errors"]["status"] + out["errors"]["timeout"] + out["errors"]["connect"]
                        print(f"round {rnd + 1} {kind:<6} {size:>6} {variant:<12} {out['rps']:7.1f} req/s  "
                              f"p50 {out['latency_ms']['p50']:7.1f} ms  p99 {out['latency_ms']['p99']:7.1f} ms  "
                              f"CPU web {out['server_cpu_ms_per_request']:5.1f} db {out['db_cpu_ms_per_request']:5.1f} ms/req"
                              + (f"  ERRORS {bad}" if bad else ""), flush=True)
        # the session must still be valid at the end, or wrk measured redirects to /login/
        for size in sizes:
            r = httpx.get(stack.url("instrumented", "/profil/"), headers={"Cookie": cookies[size]})
            if r.status_code != 200:
                raise RuntimeError(f"session of bench{size} lost during the run (HTTP {r.status_code})")
        searches = []
        if args.search:
            for size in [s for s in sizes if s <= args.search_max_size]:
                searches.append(time_search(stack, cookies[size], args.search, args.search_samples, size))

    summary = summarize(runs, sizes, list(paths))
    print_summary(summary)
    result = {"bench": "web", "date": datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds"),
              "machine": info, "params": {**vars(args), "json": str(args.json) if args.json else None},
              "runs": runs, "summary": summary, "search": searches, "wall_s": time.time() - started}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
    return 0


def time_search(stack: Stack, cookie: str, word: str, samples: int, size: int) -> dict:
    """A few sequential searches (one at a time, instrumented): wrk would only see timeouts."""
    times, statuses = [], []
    with httpx.Client(headers={"Cookie": cookie}, timeout=120) as client:
        for _ in range(samples):
            t0 = time.perf_counter()
            try:
                r = client.get(stack.url("instrumented", "/profil/"), params={"search": word})
                statuses.append(r.status_code)
            except httpx.TimeoutException:
                statuses.append(None)
            times.append((time.perf_counter() - t0) * 1000)
    # a 502/504 (gunicorn's worker timeout) is a result too: the search does not fit in a request
    ok = [t for t, st in zip(times, statuses) if st == 200]
    out = {"size": size, "word": word, "samples_ms": times, "statuses": statuses,
           "median_ms": statistics.median(ok) if ok else None, "failed": len(times) - len(ok)}
    print(f"search {word!r} over {size:>6} transcriptions: "
          + (f"median {out['median_ms']:.0f} ms" if ok else "no answer")
          + f" ({samples} sequential requests" + (f", {out['failed']} failed: {statuses})" if out["failed"] else ")"),
          flush=True)
    return out


def summarize(runs: list[dict], sizes: list[int], kinds: list[str]) -> list[dict]:
    rows = []
    for kind in kinds:
        for size in sizes:
            row = {"kind": kind, "size": size}
            for variant in ("instrumented", "bare"):
                rs = [r for r in runs if r["size"] == size and r["kind"] == kind and r["variant"] == variant]
                row[variant] = {
                    "rps": statistics.median(r["rps"] for r in rs),
                    "p50_ms": statistics.median(r["latency_ms"]["p50"] for r in rs),
                    "p99_ms": statistics.median(r["latency_ms"]["p99"] for r in rs),
                    "cpu_ms": statistics.median(r["server_cpu_ms_per_request"] for r in rs),
                    "db_cpu_ms": statistics.median(r.get("db_cpu_ms_per_request", 0.0) for r in rs),
                    "requests": sum(r["requests"] for r in rs),
                    "errors": sum(r["errors"]["status"] + r["errors"]["timeout"] + r["errors"]["connect"] for r in rs),
                }
            ratios = {}
            for key, get in (("p50", lambda r: r["latency_ms"]["p50"]), ("p99", lambda r: r["latency_ms"]["p99"]),
                             ("rps", lambda r: r["rps"]), ("cpu", lambda r: r["server_cpu_ms_per_request"])):
                per_round = []
                for rnd in sorted({r["round"] for r in runs}):
                    pair = {r["variant"]: get(r) for r in runs
                            if r["size"] == size and r["kind"] == kind and r["round"] == rnd}
                    if pair.get("bare"):
                        per_round.append(pair["instrumented"] / pair["bare"])
                ratios[key] = statistics.median(per_round) if per_round else None
            # CPU pooled over every round (total CPU / total requests): steadier than a median of ratios
            pooled = {}
            for variant in ("instrumented", "bare"):
                rs = [r for r in runs if r["size"] == size and r["kind"] == kind and r["variant"] == variant]
                pooled[variant] = (sum(r["server_cpu_ms_per_request"] * r["requests"] for r in rs)
                                   / max(sum(r["requests"] for r in rs), 1))
                row[variant]["cpu_ms_pooled"] = pooled[variant]
            ratios["cpu_pooled"] = pooled["instrumented"] / pooled["bare"] if pooled["bare"] else None
            row["ratio_instrumented_over_bare"] = ratios
            rows.append(row)
    return rows


def print_summary(rows: list[dict]) -> None:
    print()
    print(f"{'page':<7}{'size':>7} {'variant':<13}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms/req':>11}"
          f"{'DB CPU':>8}{'CPU pooled':>11}")
    for row in rows:
        for variant in ("instrumented", "bare"):
            v = row[variant]
            print(f"{row['kind']:<7}{row['size']:>7} {variant:<13}{v['rps']:>8.1f}{v['p50_ms']:>9.1f}"
                  f"{v['p99_ms']:>9.1f}{v['cpu_ms']:>11.1f}{v['db_cpu_ms']:>8.1f}{v['cpu_ms_pooled']:>11.2f}")
        r = {k: (f"{v:.2f}" if v is not None else "-") for k, v in row["ratio_instrumented_over_bare"].items()}
        print(f"{'':<7}{'':>7} {'ratio':<13}{r['rps']:>8}{r['p50']:>9}{r['p99']:>9}{r['cpu']:>11}{'':>8}"
              f"{r['cpu_pooled']:>11}")
    print("ratio: instrumented / bare, median of the per-round ratios; CPU: gunicorn + nginx per request; "
          "DB CPU: PostgreSQL per request")


if __name__ == "__main__":
    sys.exit(main())
