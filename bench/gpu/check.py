#!/usr/bin/env python3
"""The whole GPU check in one offline run: RTF, peak GPU memory and speed-up over the CPU.

    python3 bench/gpu/payload/check.py                   # on the GPU machine (see bench/gpu/README.md)
    python3 bench/gpu/payload/check.py --device cpu      # the same code on a machine without one (tests)

It reads the folder bench/gpu/prepare.sh built (``--payload``, default: the
folder this file is in), checks every piece against manifest.json's sha256,
joins the weights, and measures, each in a fresh subprocess (so each peak
GPU memory is its own), within ``--budget-s`` seconds (default 540: under 10
minutes with the start), what is left being printed as SKIPPED:

1. tiny.en (real weights, real speech) through the project's engines
   (``brefboard.transcription``): openai-whisper fp16 and, where CTranslate2
   is installed, faster-whisper float16 and int8_float16, sequential and
   batched; the RTF on the whole file, then the speed-up on a shorter clip
   against the same engine and pipeline on this machine's CPU (its CPU
   compute type: float32 for openai-whisper, int8 for faster-whisper);
2. random weights of large-v3's shape (built here from ``--seed``, nothing
   carried): openai-whisper's model decoding 30 s windows of the same speech,
   the end-of-text token suppressed so that every window decodes the same
   number of tokens (as many as the reference text has per 30 s): a timing of
   the large model's work, not of its transcript (random weights say nothing).

Every number printed is measured in this run; a part that cannot run here
prints SKIPPED and why. ``--json`` (default ``$OUT/gpu-check.json`` when OUT
is set) keeps every row.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import os
import shutil
import subprocess
import sys
import threading
import time
import wave
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The CPU bench's WER, not a copy: the payload carries bench/engines.py beside
# this file (build_payload.py); in the tree it is one directory up. Its
# top-level imports are the standard library only.
sys.path[:0] = [str(HERE), str(HERE.parent)]
from engines import word_error_rate  # noqa: E402
SAMPLE_RATE = 16000
WINDOW_S = 30.0

# openai-whisper's ModelDimensions of large-v3, and a small shape for tests on a CPU.
SHAPES = {
    "large-v3": dict(n_mels=128, n_audio_ctx=1500, n_audio_state=1280, n_audio_head=20, n_audio_layer=32,
                     n_vocab=51866, n_text_ctx=448, n_text_state=1280, n_text_head=20, n_text_layer=32),
    "tiny": dict(n_mels=80, n_audio_ctx=1500, n_audio_state=384, n_audio_head=6, n_audio_layer=4,
                 n_vocab=51864, n_text_ctx=448, n_text_state=384, n_text_head=6, n_text_layer=4),
}
CPU_COMPUTE = {"openai-whisper": "float32", "faster-whisper": "int8"}


def log(msg: str) -> None:
    print(msg, flush=True)


# --- the payload ---------------------------------------------------------------------------------------------

def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class PayloadError(RuntimeError):
    pass


def unpack(payload: Path, work: Path, cpu_seconds: float) -> dict:
    """Verify every carried file, join model.bin, extract the wheels, decode the speech; return paths."""
    manifest_path = payload / "manifest.json"
    if not manifest_path.exists():
        raise PayloadError(f"{manifest_path} is missing: build the payload with bench/gpu/prepare.sh")
    manifest = json.loads(manifest_path.read_text())
    work.mkdir(parents=True, exist_ok=True)
    m = manifest["model"]
    model_dir = work / m["dir"]
    model_dir.mkdir(exist_ok=True)
    whole = model_dir / m["file"]
    with open(whole, "wb") as out:
        for piece in m["pieces"]:
            data = (payload / m["dir"] / piece["file"]).read_bytes()
            if len(data) != piece["bytes"] or hashlib.sha256(data).hexdigest() != piece["sha256"]:
                raise PayloadError(f"{m['dir']}/{piece['file']} does not match manifest.json (size or sha256)")
            out.write(data)
    if sha256_file(whole) != m["whole"]["sha256"]:
        raise PayloadError(f"the joined {m['file']} does not match manifest.json's sha256")
    for other in m["others"] + manifest["wheels"] + [manifest["audio"]]:
        if sha256_file(payload / other["file"]) != other["sha256"]:
            raise PayloadError(f"{other['file']} does not match manifest.json's sha256")
    for other in m["others"]:
        shutil.copy(payload / other["file"], model_dir / Path(other["file"]).name)
    site = work / "site"
    shutil.rmtree(site, ignore_errors=True)
    for wheel in manifest["wheels"]:  # pure-Python wheels: a wheel is a zip of the installed tree
        with zipfile.ZipFile(payload / wheel["file"]) as z:
            z.extractall(site)
    import numpy as np

    with lzma.open(payload / manifest["audio"]["file"]) as f, wave.open(f) as w:
        if w.getframerate() != SAMPLE_RATE or w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise PayloadError("speech.wav.xz is not 16 kHz mono int16")
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    np.save(work / "speech.npy", samples)
    np.save(work / "clip.npy", samples[: int(cpu_seconds * SAMPLE_RATE)])
    src = payload / "src"
    if not src.is_dir():  # running from a checkout: the engines in app/
        src = HERE.parent.parent / "app"
    return {"manifest": manifest, "model": str(model_dir), "site": str(site), "src": str(src),
            "speech": str(work / "speech.npy"), "clip": str(work / "clip.npy"),
            "reference": (payload / manifest["audio"]["reference"]).read_text().strip()}


# --- children: one measurement each ---------------------------------------------------------------------------

class DeviceMemory:
    """Peak GPU memory of this process' work.

    PyTorch's own allocations: ``torch.cuda.max_memory_allocated``. CTranslate2
    allocates behind PyTorch's back, so for it the device's used memory
    (``torch.cuda.mem_get_info``) is sampled every 20 ms, less what was used before.
    """

    def __init__(self, device: str, sampled: bool):
        self.device, self.sampled = device, sampled
        self.peak = 0
        self._stop = threading.Event()
        if device != "cuda":
            return
        import torch

        torch.cuda.init()
        torch.cuda.reset_peak_memory_stats()
        if sampled:
            free, total = torch.cuda.mem_get_info()
            self.base = total - free
            self._thread = threading.Thread(target=self._poll, daemon=True)
            self._thread.start()

    def _poll(self) -> None:
        import torch

        while not self._stop.is_set():
            free, total = torch.cuda.mem_get_info()
            self.peak = max(self.peak, total - free - self.base)
            time.sleep(0.02)

    def result(self) -> float | None:
        if self.device != "cuda":
            return None
        import torch

        if self.sampled:
            self._stop.set()
            self._thread.join()
            return self.peak / 2**20
        return torch.cuda.max_memory_allocated() / 2**20


def child_engine(spec: dict) -> dict:
    import numpy as np

    threads = spec["threads"]
    audio = np.load(spec["audio"])
    mem = DeviceMemory(spec["device"], sampled=spec["engine"] == "faster-whisper")
    t0 = time.perf_counter()
    if spec["engine"] == "openai-whisper":
        import torch

        torch.set_num_threads(threads)
        from brefboard.transcription.openai_engine import OpenAIWhisperEngine

        engine = OpenAIWhisperEngine(spec["model"], device=spec["device"], compute_type=spec["compute_type"],
                                     pipeline_mode=spec["pipeline"])
    else:
        from brefboard.transcription.faster_engine import FasterWhisperEngine

        engine = FasterWhisperEngine(spec["model"], device=spec["device"], compute_type=spec["compute_type"],
                                     cpu_threads=threads, pipeline_mode=spec["pipeline"],
                                     batch_size=spec["batch_size"])
    load_s = time.perf_counter() - t0
    # one short pass first: CUDA kernels load and cuBLAS/cuDNN pick algorithms on first use
    t0 = time.perf_counter()
    engine.transcribe(audio[: 10 * SAMPLE_RATE], language="en", beam_size=spec["beam"])
    warmup_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = engine.transcribe(audio, language="en", beam_size=spec["beam"])
    transcribe_s = time.perf_counter() - t0
    return {"load_s": load_s, "warmup_s": warmup_s, "transcribe_s": transcribe_s, "duration": result.duration,
            "rtf": transcribe_s / result.duration, "peak_gpu_mib": mem.result(), "device": engine.device,
            "text": result.text}


def child_large(spec: dict) -> dict:
    """Random weights of a Whisper shape; ``windows`` 30 s windows decoded to exactly ``tokens`` tokens each."""
    import numpy as np
    import torch
    import whisper
    from whisper.tokenizer import get_tokenizer

    torch.set_num_threads(spec["threads"])
    device, dims = spec["device"], whisper.model.ModelDimensions(**SHAPES[spec["shape"]])
    mem = DeviceMemory(device, sampled=False)
    torch.manual_seed(spec["seed"])
    t0 = time.perf_counter()
    with torch.device(device):  # weights drawn where they live: no 6 GB copy from the host
        model = whisper.model.Whisper(dims).eval()
    build_s = time.perf_counter() - t0
    params = sum(p.numel() for p in model.parameters())
    multilingual = dims.n_vocab >= 51865
    tokenizer = get_tokenizer(multilingual, num_languages=dims.n_vocab - 51765 - int(multilingual),
                              language="en", task="transcribe")
    speech = np.load(spec["audio"])
    per_window = int(WINDOW_S * SAMPLE_RATE)
    mels = [whisper.log_mel_spectrogram(whisper.pad_or_trim(speech[i * per_window:(i + 1) * per_window]),
                                        n_mels=dims.n_mels) for i in range(spec["windows"])]
    mel = torch.stack(mels).to(device)
    fp16 = spec["compute_type"] == "float16"
    common = dict(language="en", fp16=fp16, without_timestamps=True,
                  suppress_tokens=[-1, tokenizer.eot])  # never ends early: the same work for any weights

    def decode(batch, sample_len, beam):
        opts = whisper.DecodingOptions(sample_len=sample_len, beam_size=beam if beam > 1 else None, **common)
        with torch.inference_mode():
            out = whisper.decode(model, batch, opts)
        if device == "cuda":
            torch.cuda.synchronize()
        return out if isinstance(out, list) else [out]

    decode(mel[:1], 4, spec["beam"])  # warm-up: kernels, cuBLAS handles
    t0 = time.perf_counter()
    decoded = []
    if spec["pipeline"] == "batched":
        decoded = decode(mel, spec["tokens"], spec["beam"])
    else:
        for i in range(spec["windows"]):
            decoded += decode(mel[i:i + 1], spec["tokens"], spec["beam"])
    total_s = time.perf_counter() - t0
    tokens = [len(d.tokens) for d in decoded]
    audio_s = spec["windows"] * WINDOW_S
    return {"build_s": build_s, "params": params, "transcribe_s": total_s, "duration": audio_s,
            "rtf": total_s / audio_s, "tokens_per_window": tokens, "peak_gpu_mib": mem.result(),
            "device": device}


def child_probe(_spec: dict) -> dict:
    info = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
    try:
        import torch

        info.update(torch=torch.__version__, torch_cuda_build=torch.version.cuda,
                    cuda=torch.cuda.is_available())
        if info["cuda"]:
            info["gpu"] = torch.cuda.get_device_name(0)
            info["gpu_mib"] = torch.cuda.get_device_properties(0).total_memory / 2**20
    except ImportError as exc:
        info.update(torch=None, cuda=False, torch_error=str(exc))
    try:
        import whisper

        info["whisper"] = getattr(whisper, "__version__", "?")
    except Exception as exc:  # noqa: BLE001 (reported, not hidden)
        info["whisper_error"] = f"{type(exc).__name__}: {exc}"
    try:
        import ctranslate2

        info["ctranslate2"] = ctranslate2.__version__
        info["ct2_cuda_devices"] = ctranslate2.get_cuda_device_count()
        import faster_whisper  # noqa: F401  (needs PyAV too)

        info["faster_whisper"] = faster_whisper.__version__
    except Exception as exc:  # noqa: BLE001
        info["faster_whisper_error"] = f"{type(exc).__name__}: {exc}"
    try:
        from faster_whisper.vad import get_speech_timestamps  # noqa: F401

        info["vad"] = True
    except Exception:  # noqa: BLE001
        info["vad"] = False
    return info


CHILDREN = {"engine": child_engine, "large": child_large, "probe": child_probe}


# --- the parent ---------------------------------------------------------------------------------------------------

class Budget:
    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()


class Skipped(Exception):
    pass


def run_child(kind: str, spec: dict, env: dict, budget: Budget, least_s: float) -> dict:
    left = budget.left()
    if left < least_s:
        raise Skipped(f"time budget: {left:.0f} s left, this part needs about {least_s:.0f} s")
    try:
        proc = subprocess.run([sys.executable, __file__, "--child", kind, json.dumps(spec)], env=env,
                              capture_output=True, text=True, timeout=left)
    except subprocess.TimeoutExpired:
        raise Skipped(f"time budget: stopped after {left:.0f} s, unfinished") from None
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
        raise RuntimeError(f"failed: {tail[0][:300]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def fmt(value, spec: str, missing: str = "-") -> str:
    return missing if value is None else format(value, spec)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--payload", type=Path, default=HERE, help="the folder prepare.sh built (default: here)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/brefboard-gpu-check"), help="where to unpack")
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda",
                        help="what is measured (cpu: the same code without a GPU, for tests)")
    parser.add_argument("--budget-s", type=float, default=540.0, help="stop starting parts after this (default 540)")
    parser.add_argument("--cpu-seconds", type=float, default=60.0,
                        help="length of the clip the CPU comparison runs on (default 60)")
    parser.add_argument("--beam", type=int, default=5, help="tiny.en beam size (default 5, the app's)")
    parser.add_argument("--batch-size", type=int, default=8, help="faster-whisper batched: pieces at once (8)")
    parser.add_argument("--large-shape", choices=sorted(SHAPES), default="large-v3",
                        help="shape of the random model (tiny: for tests on a CPU)")
    parser.add_argument("--large-windows", type=int, default=4, help="30 s windows timed on the device (default 4)")
    parser.add_argument("--large-tokens", type=int, default=0,
                        help="tokens decoded per window (default: the reference text's per 30 s)")
    parser.add_argument("--no-large", action="store_true", help="leave the random large model out")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="CPU threads (default all)")
    parser.add_argument("--json", type=Path,
                        default=Path(os.environ["OUT"]) / "gpu-check.json" if os.environ.get("OUT") else None)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        kind, spec = args.child
        print(json.dumps(CHILDREN[kind](json.loads(spec))))
        return 0

    started = time.monotonic()
    budget = Budget(args.budget_s)
    try:
        paths = unpack(args.payload.resolve(), args.work, args.cpu_seconds)
    except (PayloadError, OSError, KeyError) as exc:
        print(f"error: payload {args.payload}: {exc}", file=sys.stderr)
        return 2
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [paths["site"], paths["src"]] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])),
        PYTHONUNBUFFERED="1")
    probe = run_child("probe", {}, env, budget, 0)
    if args.device == "cuda" and not probe.get("cuda"):
        why = (f"PyTorch is not installed ({probe.get('torch_error')})" if probe.get("torch") is None else
               f"PyTorch {probe['torch']} sees none (torch.cuda.is_available() is False"
               + ("; it is a CPU-only build)" if not probe.get("torch_cuda_build") else ")"))
        print(f"error: --device cuda: no CUDA GPU here: {why}. Nothing was measured "
              f"(--device cpu runs the same code on the CPU).", file=sys.stderr)
        return 3
    manifest = paths["manifest"]
    audio_s = manifest["audio"]["seconds"]
    clip_s = min(args.cpu_seconds, audio_s)
    log(f"GPU check, payload built {manifest['built']} from {manifest['commit']}; device {args.device}"
        + (f": {probe['gpu']} ({probe['gpu_mib'] / 1024:.0f} GiB)" if probe.get("gpu") else "")
        + f"; {probe['cpus']} CPUs, Python {probe['python']}, PyTorch {probe.get('torch')}")
    log(f"speech: {audio_s:.0f} s (CPU comparison on the first {clip_s:.0f} s); voice activity detection "
        + ("on" if probe.get("vad") else "off (faster-whisper not installed: the engines get the whole file)")
        + f"; time budget {args.budget_s:.0f} s")

    rows: list[dict] = []
    cpu_cache: dict[tuple, dict | str] = {}

    def device_compute(engine: str, gpu_compute: str) -> str:
        if args.device == "cuda":
            return gpu_compute
        return {"float16": "float32", "int8_float16": "int8"}[gpu_compute]

    def engine_spec(engine, device, compute, pipeline, audio):
        return {"engine": engine, "device": device, "compute_type": compute, "pipeline": pipeline,
                "beam": args.beam, "batch_size": args.batch_size, "threads": args.threads,
                "model": paths["model"], "audio": paths[audio]}

    def cpu_reference(kind: str, key: tuple, spec: dict, least_s: float):
        if key not in cpu_cache:
            try:
                cpu_cache[key] = run_child(kind, spec, env, budget, least_s)
            except (Skipped, RuntimeError) as exc:
                cpu_cache[key] = f"CPU run {exc}"
        return cpu_cache[key]

    def add(row: dict) -> None:
        rows.append(row)
        if row.get("skipped"):
            log(f"  SKIPPED {row['label']}: {row['skipped']}")
        else:
            log(f"  done {row['label']}: RTF {row['rtf']:.4f}, peak GPU {fmt(row['peak_gpu_mib'], '.0f')} MiB, "
                f"speed-up over CPU {fmt(row.get('speedup'), '.1f')}, {time.monotonic() - started:.0f} s so far")

    # 1. tiny.en through the engines
    fw_missing = None
    if "faster_whisper" not in probe:
        fw_missing = ("faster-whisper/CTranslate2 not installed here "
                      f"({probe.get('faster_whisper_error', '?')}); ctranslate2's wheel (43 MB) and PyAV's (35 MB) "
                      "do not fit the 64 MiB one call carries beside the weights, and ctranslate2 4.8 loads "
                      "CUDA 12's cuBLAS (libcublas.so.12)")
    elif args.device == "cuda" and not probe.get("ct2_cuda_devices"):
        fw_missing = f"CTranslate2 {probe.get('ctranslate2')} sees no CUDA device"
    configs = [("openai-whisper", "float16", "sequential"), ("openai-whisper", "float16", "batched")]
    configs += [("faster-whisper", ct, pl) for ct in ("float16", "int8_float16") for pl in ("sequential", "batched")]
    for engine, gpu_compute, pipeline in configs:
        compute = device_compute(engine, gpu_compute)
        label = f"tiny.en {engine} {compute} {pipeline} beam {args.beam}"
        row = {"part": "tiny.en", "label": label, "engine": engine, "compute_type": compute, "pipeline": pipeline,
               "beam": args.beam, "device": args.device}
        if engine == "openai-whisper" and pipeline == "batched":
            add(dict(row, skipped="the openai-whisper engine has no batched pipeline (openai_engine.py: beam "
                                  "search over a batch fails inside openai-whisper 20250625)"))
            continue
        if engine == "faster-whisper" and fw_missing:
            add(dict(row, skipped=fw_missing))
            continue
        try:
            full = run_child("engine", engine_spec(engine, args.device, compute, pipeline, "speech"), env, budget, 30)
            dev_clip = run_child("engine", engine_spec(engine, args.device, compute, pipeline, "clip"), env, budget, 20)
        except (Skipped, RuntimeError) as exc:
            add(dict(row, skipped=str(exc)))
            continue
        cpu = cpu_reference("engine", (engine, pipeline),
                            engine_spec(engine, "cpu", CPU_COMPUTE[engine], pipeline, "clip"), 30)
        row.update(rtf=full["rtf"], duration=full["duration"], transcribe_s=full["transcribe_s"],
                   load_s=full["load_s"], peak_gpu_mib=full["peak_gpu_mib"],
                   wer=word_error_rate(paths["reference"], full["text"]), clip_rtf=dev_clip["rtf"],
                   clip_s=dev_clip["duration"], text_head=full["text"][:120])
        if isinstance(cpu, dict):
            row.update(cpu_rtf=cpu["rtf"], cpu_compute_type=CPU_COMPUTE[engine], speedup=cpu["rtf"] / dev_clip["rtf"])
        else:
            row.update(cpu_rtf=None, speedup=None, cpu_note=cpu)
        add(row)

    # 2. random weights of large-v3's shape
    if not args.no_large:
        windows_in_audio = int(audio_s // WINDOW_S)
        tokens = args.large_tokens
        if not tokens:  # what 30 s of this speech holds: words × ~1.3 tokens (BPE), timestamps not counted
            tokens = max(8, round(len(paths["reference"].split()) * 1.3 * WINDOW_S / audio_s))
        compute = "float16" if args.device == "cuda" else "float32"
        plan = [("sequential", 1, min(args.large_windows, windows_in_audio)),
                ("batched", 1, min(2 * args.large_windows, windows_in_audio)),
                ("sequential", 5, min(max(1, args.large_windows // 2), windows_in_audio))]
        for pipeline, beam, windows in plan:
            label = f"{args.large_shape} (random) {compute} {pipeline} beam {beam}, {windows} × 30 s"
            row = {"part": args.large_shape, "label": label, "engine": "openai-whisper (model only)",
                   "compute_type": compute, "pipeline": pipeline, "beam": beam, "device": args.device,
                   "windows": windows, "tokens": tokens}
            spec = {"shape": args.large_shape, "seed": args.seed, "device": args.device, "compute_type": compute,
                    "pipeline": pipeline, "beam": beam, "windows": windows, "tokens": tokens,
                    "threads": args.threads, "audio": paths["speech"]}
            if windows < 1:
                add(dict(row, skipped="the speech is shorter than one 30 s window"))
                continue
            try:
                out = run_child("large", spec, env, budget, 40)
            except (Skipped, RuntimeError) as exc:
                add(dict(row, skipped=str(exc)))
                continue
            # the CPU reference: one window, same beam (float32: PyTorch has no fp16 CPU path worth timing)
            cpu = cpu_reference("large", ("large", beam),
                                dict(spec, device="cpu", compute_type="float32", pipeline="sequential", windows=1),
                                60)
            row.update(rtf=out["rtf"], duration=out["duration"], transcribe_s=out["transcribe_s"],
                       peak_gpu_mib=out["peak_gpu_mib"], params=out["params"], build_s=out["build_s"],
                       tokens_per_window=out["tokens_per_window"])
            if isinstance(cpu, dict):
                row.update(cpu_rtf=cpu["rtf"], cpu_compute_type="float32", speedup=cpu["rtf"] / out["rtf"])
            else:
                row.update(cpu_rtf=None, speedup=None, cpu_note=cpu)
            add(row)

    # the table
    log("")
    header = (f"{'part':<20} {'engine':<27} {'compute':<12} {'pipeline':<10} {'beam':>4} {'RTF':>7} "
              f"{'peak GPU MiB':>12} {'CPU RTF':>8} {'speed-up':>8} {'WER':>6}")
    log(header)
    log("-" * len(header))
    for r in rows:
        if r.get("skipped"):
            log(f"{r['part']:<20} {r['engine']:<27} {r['compute_type']:<12} {r['pipeline']:<10} {r['beam']:>4} "
                f"SKIPPED: {r['skipped'][:90]}")
            continue
        log(f"{r['part']:<20} {r['engine']:<27} {r['compute_type']:<12} {r['pipeline']:<10} {r['beam']:>4} "
            f"{r['rtf']:>7.4f} {fmt(r['peak_gpu_mib'], '12.0f', f'{chr(45):>12}')} "
            f"{fmt(r.get('cpu_rtf'), '8.4f', f'{chr(45):>8}')} {fmt(r.get('speedup'), '7.1f', f'{chr(45):>7}')}"
            f"{'×' if r.get('speedup') is not None else ' '} {fmt(r.get('wer'), '6.1%', f'{chr(45):>6}')}")
    log(f"RTF: transcription seconds per audio second (model load and one 10 s warm-up pass excluded); "
        f"CPU RTF: the same engine and pipeline on this machine's {probe['cpus']} CPUs (openai-whisper float32, "
        f"faster-whisper int8) on the first {clip_s:.0f} s, speed-up = CPU RTF / device RTF on that clip; "
        f"random large model: every window decodes the same number of tokens, CPU on one window; "
        f"peak GPU: torch.cuda.max_memory_allocated (CTranslate2: device memory sampled).")
    log(f"finished in {time.monotonic() - started:.0f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"probe": probe, "manifest": {k: manifest[k] for k in ("built", "commit")},
                                         "device": args.device, "audio_s": audio_s, "clip_s": clip_s,
                                         "budget_s": args.budget_s, "rows": rows,
                                         "wall_s": time.monotonic() - started}, indent=1))
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
