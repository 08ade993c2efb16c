"""A quality score for recorded audio, from the decoded samples.

The original exposed ``recording_quality`` without saying how it was made.
Here it combines three things a listener hears, each mapped to 0..1:

* level: RMS of the louder half of the 25 ms frames, in dBFS; speech recorded
  well sits around -30..-12 dBFS, and a recording at -50 dBFS is barely audible;
* clipping: the share of samples at full scale (over 0.1 % is audible);
* signal to noise: the loudness of the loud frames (90th percentile of
  per-frame energy) over the quiet ones (10th percentile, the noise floor
  between words), in dB; 30 dB is clean, under 10 dB is hard to follow.

The score is their product, so any one bad aspect pulls it down. A file is
measured as it is decoded, in constant memory (an hour of 16 kHz audio would
be 230 MB of samples; its frame energies are 1 MB).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

RATE = 16000
FRAME = 400  # 25 ms at 16 kHz
EPS = 1e-10


@dataclass(frozen=True)
class Quality:
    rms_dbfs: float
    clipping_ratio: float
    snr_db: float
    score: float


def _ramp(value: float, bad: float, good: float) -> float:
    """0 at ``bad``, 1 at ``good``, linear between (either direction)."""
    t = (value - bad) / (good - bad)
    return float(min(1.0, max(0.0, t)))


def measure(samples: np.ndarray) -> Quality:
    """Quality of mono float samples in -1..1 at 16 kHz."""
    return measure_chunks([samples])


def measure_chunks(chunks: Iterable[np.ndarray]) -> Quality:
    """Quality of a stream of mono float chunks at 16 kHz, in constant memory."""
    energies: list[np.ndarray] = []
    carry = np.zeros(0, dtype=np.float32)
    clipped = total = 0
    for chunk in chunks:
        chunk = np.asarray(chunk, dtype=np.float32).reshape(-1)
        clipped += int(np.count_nonzero(np.abs(chunk) >= 0.999))
        total += chunk.size
        x = np.concatenate([carry, chunk]) if carry.size else chunk
        usable = x.size - x.size % FRAME
        if usable:
            frames = x[:usable].reshape(-1, FRAME)
            energies.append(np.einsum("ij,ij->i", frames, frames, dtype=np.float64) / FRAME)
        carry = x[usable:]
    if not energies:
        return Quality(rms_dbfs=-120.0, clipping_ratio=0.0, snr_db=0.0, score=0.0)
    energy = np.concatenate(energies)
    loud, middle, quiet = np.percentile(energy, [90, 50, 10])
    rms_dbfs = 10 * np.log10(float(np.mean(energy[energy >= middle])) + EPS)
    snr_db = 10 * np.log10((loud + EPS) / (quiet + EPS))
    clipping = clipped / total
    level_score = min(_ramp(rms_dbfs, -55.0, -30.0), _ramp(rms_dbfs, 0.0, -6.0))
    clip_score = _ramp(clipping, 0.01, 0.001)
    snr_score = _ramp(snr_db, 5.0, 30.0)
    score = level_score * clip_score * snr_score
    return Quality(round(float(rms_dbfs), 2), clipping, round(float(snr_db), 2), round(score, 4))


def decoded_chunks(path: str) -> Iterator[np.ndarray]:
    """The first audio stream of ``path`` as 16 kHz mono float chunks, from the app's one
    decoder (transcription/decode.py), frame by frame."""
    from brefboard.transcription import decode

    yield from decode.pieces(path)


def measure_file(path) -> Quality:
    """Quality of a file, decoded as it is measured; or of samples already decoded (the
    worker decodes a recording once for the score and the engine), in 30 s views."""
    if isinstance(path, np.ndarray):
        step = RATE * 30
        return measure_chunks(path[i:i + step] for i in range(0, len(path), step))
    return measure_chunks(decoded_chunks(path))
