"""A quality score for recorded audio, from the decoded samples.

The original exposed ``recording_quality`` without saying how it was made.
Here it combines three things a listener hears, each mapped to 0..1:

* level: RMS of the active part in dBFS; speech recorded well sits around
  -30..-12 dBFS, and a recording at -50 dBFS is barely audible;
* clipping: the share of samples at full scale (over 0.1 % is audible);
* signal to noise: the loudness of the loud frames (90th percentile of
  per-frame energy) over the quiet ones (10th percentile, the noise floor
  between words), in dB; 30 dB is clean, under 10 dB is hard to follow.

The score is their product, so any one bad aspect pulls it down.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
    """Quality of mono float samples in -1..1 (any rate; frames assume about 16 kHz)."""
    x = np.asarray(samples, dtype=np.float32)
    if x.size < FRAME:
        return Quality(rms_dbfs=-120.0, clipping_ratio=0.0, snr_db=0.0, score=0.0)
    usable = x[: x.size - x.size % FRAME].reshape(-1, FRAME)
    energy = np.mean(usable.astype(np.float64) ** 2, axis=1)
    loud, quiet = np.percentile(energy, 90), np.percentile(energy, 10)
    active = energy[energy >= np.percentile(energy, 50)]
    rms_dbfs = 10 * np.log10(float(np.mean(active)) + EPS)
    snr_db = 10 * np.log10((loud + EPS) / (quiet + EPS))
    clipping = float(np.mean(np.abs(x) >= 0.999))
    level_score = min(_ramp(rms_dbfs, -55.0, -30.0), _ramp(rms_dbfs, 0.0, -6.0))
    clip_score = _ramp(clipping, 0.01, 0.001)
    snr_score = _ramp(snr_db, 5.0, 30.0)
    score = level_score * clip_score * snr_score
    return Quality(round(rms_dbfs, 2), clipping, round(float(snr_db), 2), round(score, 4))
