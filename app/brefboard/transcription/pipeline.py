"""What every transcription goes through, whichever engine runs and however the audio came.

One path for an upload, a finished browser session and a live pass, on both
engines:

1. **Decode** (``load_audio``, through decode.py, the app's one decoder): PyAV,
   the first audio track, 16 kHz mono float32; video is demuxed only. An upload and the remuxed file of a browser
   session holding the same packets give the same samples.
2. **Voice activity** (``prepare``): Silero VAD (the ONNX model that ships in
   the faster-whisper wheel, run by onnxruntime: nothing is downloaded) finds
   the speech; only the speech, joined, is given to Whisper, and segment times
   are mapped back onto the recording's clock. No speech (silence, noise) or
   less than ``MIN_AUDIO_SECONDS`` of audio: an empty transcript, Whisper is
   not run at all (it invents "Thank you for watching!" over silence).
3. **Decoding settings** (``DECODE``): temperature 0 first (beam search, or
   greedy with beam 1); the fallback only when Whisper's own thresholds say the
   window failed (compression ratio, average log-probability), and made
   deterministic: the same audio gives the same text on every run.
4. **Segment checks** (``keep_segment``): a segment Whisper itself rates as
   probably silence (``no_speech_prob`` high and ``avg_logprob`` low) is
   dropped.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from . import decode

log = logging.getLogger(__name__)

SAMPLE_RATE = decode.SAMPLE_RATE
MIN_AUDIO_SECONDS = 1.0  # shorter files hold no sentence; Whisper only invents over them

# Whisper's thresholds (the values of its paper and of both libraries' defaults).
COMPRESSION_RATIO_THRESHOLD = 2.4
LOG_PROB_THRESHOLD = -1.0
NO_SPEECH_THRESHOLD = 0.6
TEMPERATURES: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
BEST_OF = 5
SEED = 0  # openai-whisper's sampling fallback draws from torch's generator, seeded per file

DECODE = {
    "temperatures": TEMPERATURES,
    "compression_ratio_threshold": COMPRESSION_RATIO_THRESHOLD,
    "log_prob_threshold": LOG_PROB_THRESHOLD,
    "no_speech_threshold": NO_SPEECH_THRESHOLD,
    # Off: a window's text fed to the next makes Whisper loop on its own mistakes.
    "condition_on_previous_text": False,
    "best_of": BEST_OF,
}

# Silero VAD: faster-whisper's defaults but for short blips (a click, a cough), left out.
VAD_PARAMETERS = {
    "threshold": 0.5,
    "min_speech_duration_ms": 250,
    "min_silence_duration_ms": 2000,
    "speech_pad_ms": 400,
}


def load_audio(source) -> np.ndarray:
    """Mono float32 samples at 16 kHz from a path (any file PyAV/FFmpeg decodes) or an array."""
    if isinstance(source, np.ndarray):
        return source.astype(np.float32, copy=False).reshape(-1)
    import av

    try:
        return decode.samples(source)  # the app's one decoder
    except decode.NoAudio:
        raise
    except av.error.FFmpegError as exc:
        raise ValueError(f"cannot decode audio from {source}: {exc}") from exc


PIPELINES = ("sequential", "batched")  # BREFBOARD_WHISPER_PIPELINE
BATCH_SECONDS = 30.0  # one Whisper window: the longest piece the batched pipeline decodes at once


def speech_chunks(samples: np.ndarray, max_region_seconds: float | None = None) -> list[dict] | None:
    """Silero VAD's speech regions (sample offsets ``start``/``end``); None if the VAD is not installed.

    ``max_region_seconds``: a longer region is split at its quietest pause (the
    VAD's own rule), so that each fits a Whisper window (the batched pipeline)."""
    try:
        from faster_whisper.vad import VadOptions, get_speech_timestamps
    except ImportError:
        log.warning("faster-whisper's VAD (and onnxruntime) are not installed: no voice activity detection")
        return None
    if len(samples) == 0:
        return []
    options = dict(VAD_PARAMETERS)
    if max_region_seconds is not None:
        options["max_speech_duration_s"] = max_region_seconds
    return get_speech_timestamps(samples, VadOptions(**options), sampling_rate=SAMPLE_RATE)


@dataclass
class Prepared:
    """The audio Whisper is given and how to put its times back on the recording's clock."""

    duration: float  # seconds of the whole recording
    speech: np.ndarray  # the speech regions, joined
    # (start in ``speech``, start in the recording, length), seconds, one per region
    regions: list[tuple[float, float, float]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return len(self.speech) == 0

    @property
    def speech_seconds(self) -> float:
        return len(self.speech) / SAMPLE_RATE

    def original_time(self, t: float, is_end: bool = False) -> float:
        """A time in ``speech`` → the same instant in the recording."""
        if not self.regions:
            return t
        for joined, start, length in self.regions:
            inside = t < joined + length or (is_end and t <= joined + length)
            if inside:
                return round(start + max(0.0, t - joined), 3)
        joined, start, length = self.regions[-1]
        return round(start + min(length, max(0.0, t - joined)), 3)


def prepare(source, max_region_seconds: float | None = None) -> Prepared:
    """Decode, then keep the speech (see the module's docstring); ``max_region_seconds``: see speech_chunks."""
    samples = load_audio(source)
    duration = len(samples) / SAMPLE_RATE
    if duration < MIN_AUDIO_SECONDS or not np.any(np.abs(samples) > 1e-4):
        return Prepared(duration, np.zeros(0, dtype=np.float32))  # too short, or digital silence
    chunks = speech_chunks(samples, max_region_seconds)
    if chunks is None:  # no VAD here: the whole file, the segment checks still apply
        return Prepared(duration, samples, [(0.0, 0.0, duration)])
    pieces, regions, joined = [], [], 0
    for c in chunks:
        piece = samples[c["start"]:c["end"]]
        if not len(piece):
            continue
        regions.append((joined / SAMPLE_RATE, c["start"] / SAMPLE_RATE, len(piece) / SAMPLE_RATE))
        pieces.append(piece)
        joined += len(piece)
    speech = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
    if len(speech) / SAMPLE_RATE < 0.3:  # a blip the VAD let through: nothing to say
        return Prepared(duration, np.zeros(0, dtype=np.float32))
    return Prepared(duration, speech, regions)


def batch_clips(prepared: Prepared, max_seconds: float = BATCH_SECONDS) -> list[dict]:
    """Cut ``prepared.speech`` into pieces of at most ``max_seconds`` (seconds, on the joined clock).

    Consecutive speech regions are packed into one piece while it fits, so a cut
    falls only where the VAD saw a pause; a region longer than a window (no VAD
    installed, or a region the VAD could not split) is cut every ``max_seconds``.
    """
    total = prepared.speech_seconds
    bounds = [joined for joined, _start, _length in prepared.regions] + [total]
    clips: list[dict] = []
    start = 0.0
    for i in range(1, len(bounds)):
        if bounds[i] - start > max_seconds + 1e-6 and bounds[i - 1] > start:
            clips.append({"start": start, "end": bounds[i - 1]})
            start = bounds[i - 1]
        while bounds[i] - start > max_seconds + 1e-6:  # one region longer than a window
            clips.append({"start": start, "end": start + max_seconds})
            start += max_seconds
    if total - start > 1e-6:
        clips.append({"start": start, "end": total})
    return clips


def keep_segment(text: str, avg_logprob: float, no_speech_prob: float) -> bool:
    """Whisper's own silence rule, applied to every segment (not only to whole windows)."""
    if not text.strip():
        return False
    return not (no_speech_prob > NO_SPEECH_THRESHOLD and avg_logprob < LOG_PROB_THRESHOLD)


class DeterministicFallback:
    """Wraps a CTranslate2 Whisper model so that faster-whisper's temperature fallback is repeatable.

    faster-whisper's fallback samples (``sampling_temperature`` > 0) from
    CTranslate2's random generator, which is per worker thread and seeded once
    per process: ``ctranslate2.set_random_seed`` before a file does not make a
    second run repeat the first. A window that needs the fallback then gets a
    different text on every run. Here each fallback level is a beam search
    (``best_of`` beams) with a repetition penalty that grows with the
    temperature — deterministic, and aimed at what the thresholds catch
    (loops, improbable text). Temperature 0 is passed through untouched.
    """

    def __init__(self, model) -> None:
        self._model = model
        self.fallbacks = 0  # windows decoded again above temperature 0 (tests, logs)

    def __getattr__(self, name):
        return getattr(self._model, name)

    def generate(self, features, prompts, **kwargs):
        temperature = kwargs.get("sampling_temperature", 0.0)
        if kwargs.get("sampling_topk", 1) != 1 and temperature > 0:
            self.fallbacks += 1
            kwargs["beam_size"] = max(2, int(kwargs.pop("num_hypotheses", BEST_OF)))
            kwargs["num_hypotheses"] = 1
            kwargs["sampling_topk"] = 1
            kwargs["sampling_temperature"] = 1.0
            kwargs["repetition_penalty"] = max(kwargs.get("repetition_penalty", 1.0), 1.0 + temperature)
            kwargs["no_repeat_ngram_size"] = max(kwargs.get("no_repeat_ngram_size", 0), 4)
        return self._model.generate(features, prompts, **kwargs)
