#!/usr/bin/env python
"""Which runtime for the voice encoder on a CPU worker: numpy, PyTorch (CPU wheel) or onnxruntime?

Runs Resemblyzer's encoder three ways on the same mel frames (a 2-voice espeak-ng
conversation cut in 1.6 s windows, as the worker cuts it) and prints, for each:
seconds per 100 windows (1 thread and the default), peak RSS of a fresh process
that loads it and embeds, and what it adds to a worker's install. It also checks
that app/brefboard/transcription/diarize.py (numpy, no PyTorch) gives the same
frames and embeddings as Resemblyzer itself (librosa + PyTorch).

Needs its own venv (PyTorch is never installed on a CPU worker):

    python3 -m venv .venv-diarbench
    .venv-diarbench/bin/pip install torch==2.13.0 resemblyzer librosa onnx onnxruntime==1.32.0
    .venv-diarbench/bin/python bench/diarization_runtime.py

The ONNX model is exported here, from the wheel's weights, into a temporary folder
(never committed). Not a test: timings depend on the machine and its load; compare
the rows of one run.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "app"))


def _dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


CHILD = {
    "numpy": """
import sys, time, numpy as np
sys.path.insert(0, {app!r})
from brefboard.transcription import diarize as d
mels = np.load({mels!r})
enc = d.VoiceEncoder({weights!r})
with d.blas_threads(1):
    enc.embed(mels)
""",
    "torch": """
import time, numpy as np, torch
torch.set_num_threads(1)
from resemblyzer import VoiceEncoder
mels = np.load({mels!r})
enc = VoiceEncoder("cpu", verbose=False)
with torch.no_grad():
    enc(torch.from_numpy(mels))
""",
    "onnxruntime": """
import numpy as np, onnxruntime as ort
mels = np.load({mels!r})
o = ort.SessionOptions(); o.intra_op_num_threads = 1; o.inter_op_num_threads = 1
s = ort.InferenceSession({onnx!r}, o, providers=["CPUExecutionProvider"])
s.run(None, {{"mels": mels}})
""",
}


def peak_rss_mb(kind: str, **paths) -> float:
    code = CHILD[kind].format(app=str(ROOT / "app"), **paths)
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss across execve from the forking parent.
    code += "\nprint([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1])"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return int(out.split()[-1]) / 1024


def best_of(fn, rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> int:
    import librosa
    import numpy as np
    import onnxruntime as ort
    import resemblyzer
    import torch
    from resemblyzer import VoiceEncoder, audio

    from brefboard.transcription import diarize as d
    from tests import conversations as cv

    work = Path(tempfile.mkdtemp(prefix="diar-runtime-"))
    wav_path = work / "two.wav"
    cv.conversation(cv.TWO_VOICES, wav_path)
    wav = librosa.load(str(wav_path), sr=16000)[0].astype(np.float32)
    wav = d.normalize_volume(wav)

    # 1. Same frames and embeddings as Resemblyzer.
    ref_mel = audio.wav_to_mel_spectrogram(wav)
    our_mel = d.mel_frames(wav)
    mel_err = float(np.max(np.abs(ref_mel - our_mel)) / np.max(np.abs(ref_mel)))
    step = int(d.WINDOW_STEP * 100)
    mels = np.stack([our_mel[i:i + 160] for i in range(0, len(our_mel) - 160, step)]).astype(np.float32)
    mels = np.concatenate([mels] * max(1, -(-100 // len(mels))))[:100]  # 100 windows
    np.save(work / "mels.npy", mels)
    weights = str(Path(resemblyzer.__file__).parent / "pretrained.pt")
    ref_enc = VoiceEncoder("cpu", verbose=False)
    ours = d.VoiceEncoder(weights)
    with torch.no_grad():
        ref_emb = ref_enc(torch.from_numpy(mels)).numpy()
    our_emb = ours.embed(mels)
    emb_err = float(np.max(np.abs(ref_emb - our_emb)))
    cos_min = float(np.min(np.sum(ref_emb * our_emb, axis=1)))

    # 2. ONNX export of the same network (what a worker would run with onnxruntime).
    onnx_path = work / "encoder.onnx"
    torch.onnx.export(ref_enc, (torch.from_numpy(mels[:2]),), str(onnx_path), input_names=["mels"],
                      output_names=["embeds"], dynamic_axes={"mels": {0: "n"}}, dynamo=False)
    o = ort.SessionOptions()
    o.intra_op_num_threads = 1
    o.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(onnx_path), o, providers=["CPUExecutionProvider"])
    onnx_err = float(np.max(np.abs(sess.run(None, {"mels": mels})[0] - ref_emb)))

    rows = {}
    torch.set_num_threads(1)
    with torch.no_grad():
        rows["torch"] = {"s_per_100_windows_1_thread": best_of(lambda: ref_enc(torch.from_numpy(mels)))}
    with d.blas_threads(1):
        rows["numpy"] = {"s_per_100_windows_1_thread": best_of(lambda: ours.embed(mels))}
    rows["numpy"]["s_per_100_windows_default_threads"] = best_of(lambda: ours.embed(mels))
    rows["onnxruntime"] = {"s_per_100_windows_1_thread": best_of(lambda: sess.run(None, {"mels": mels}))}
    paths = {"mels": str(work / "mels.npy"), "weights": weights, "onnx": str(onnx_path)}
    for kind in rows:
        rows[kind]["peak_rss_mb"] = round(peak_rss_mb(kind, **paths), 1)
    site = Path(torch.__file__).parent.parent
    rows["torch"]["install_mb"] = round(_dir_mb(Path(torch.__file__).parent) + sum(
        _dir_mb(site / p) for p in ("librosa", "scipy", "numba", "llvmlite", "sklearn", "webrtcvad.py") if (site / p).exists()), 1)
    rows["numpy"]["install_mb"] = round(_dir_mb(Path(resemblyzer.__file__).parent), 1)  # the weights: resemblyzer --no-deps
    rows["onnxruntime"]["install_mb"] = round(onnx_path.stat().st_size / 1e6, 1)  # onnxruntime is already there
    result = {"machine_load": os.getloadavg()[0], "mel_max_rel_error": mel_err, "embedding_max_abs_error": emb_err,
              "embedding_min_cosine": cos_min, "onnx_max_abs_error": onnx_err, "runtimes": rows,
              "torch_version": torch.__version__}
    for kind, row in rows.items():
        print(f"{kind:12s} " + "  ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
    print(f"numpy vs Resemblyzer: mel max relative error {mel_err:.2e}, embedding max abs error {emb_err:.2e} "
          f"(min cosine {cos_min:.6f}); ONNX vs PyTorch {onnx_err:.2e}")
    out = ROOT / "bench" / "results" / "diarization_runtime.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
