"""faster-whisper (CTranslate2) engine: the default on CPU hosts, int8.

On 2 CPU cores it runs the same tiny.en weights about twice as fast as
openai-whisper with half the memory, and needs no PyTorch.
"""
from __future__ import annotations

import logging

from . import pipeline
from .base import ProgressCallback, Segment, TranscriptResult


def resolve_device(device: str) -> str:
    """``auto`` becomes ``cuda`` when CTranslate2 sees a CUDA device, else ``cpu``."""
    if device in ("cpu", "cuda"):
        return device
    if device != "auto":
        raise ValueError(f"device must be auto, cpu or cuda, not {device!r}")
    import ctranslate2

    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"


log = logging.getLogger(__name__)


class FasterWhisperEngine:
    name = "faster-whisper"

    def __init__(self, model: str, *, device: str = "auto", compute_type: str | None = None,
                 cpu_threads: int = 0, temperature=pipeline.TEMPERATURES) -> None:
        """``cpu_threads``: CTranslate2's intra-op threads, 0 = its default (the caller passes
        ``BREFBOARD_CPU_THREADS``); ``temperature``: the fallback schedule
        (pipeline.TEMPERATURES); 0.0 alone turns the fallback off."""
        if cpu_threads < 0:
            raise ValueError(f"cpu_threads must be 0 (default) or more, not {cpu_threads}")
        from faster_whisper import WhisperModel

        self.device = resolve_device(device)
        self.compute_type = compute_type or ("float16" if self.device == "cuda" else "int8")
        self.model_name = model
        self.temperature = [temperature] if isinstance(temperature, (int, float)) else list(temperature)
        # local_files_only: model hubs are not reachable from workers; a name
        # must already be in the local cache, a path is used as is.
        self._model = WhisperModel(
            model,
            device=self.device,
            compute_type=self.compute_type,
            cpu_threads=cpu_threads,
            local_files_only=True,
        )
        # The temperature fallback made repeatable (see pipeline.DeterministicFallback).
        self._model.model = pipeline.DeterministicFallback(self._model.model)

    @property
    def multilingual(self) -> bool:
        return bool(self._model.model.is_multilingual)

    def transcribe(
        self,
        audio_path,
        *,
        language: str | None = None,
        beam_size: int = 5,
        on_progress: ProgressCallback | None = None,
    ) -> TranscriptResult:
        """Transcribe a file (or 16 kHz samples) through the shared pipeline (see pipeline.py)."""
        if not self.multilingual:
            language = "en"  # English-only weights (*.en) cannot do anything else
        prepared = pipeline.prepare(audio_path)
        if prepared.empty:  # silence, noise, a blip: nothing said, nothing invented
            if on_progress is not None:
                on_progress(1.0)
            return self._result("", language or "", prepared.duration, [])
        segments_iter, info = self._model.transcribe(
            prepared.speech,
            language=language or None,
            beam_size=beam_size,
            best_of=pipeline.DECODE["best_of"],
            temperature=self.temperature,
            compression_ratio_threshold=pipeline.DECODE["compression_ratio_threshold"],
            log_prob_threshold=pipeline.DECODE["log_prob_threshold"],
            no_speech_threshold=pipeline.DECODE["no_speech_threshold"],
            condition_on_previous_text=pipeline.DECODE["condition_on_previous_text"],
            vad_filter=False,  # done already, on the whole file, by pipeline.prepare
        )
        speech_seconds = prepared.speech_seconds
        fallbacks_before = self._model.model.fallbacks
        segments: list[Segment] = []
        # Segments come lazily as the model decodes; progress follows them.
        for seg in segments_iter:
            if pipeline.keep_segment(seg.text, float(seg.avg_logprob), float(seg.no_speech_prob)):
                segments.append(
                    Segment(
                        start=prepared.original_time(float(seg.start)),
                        end=prepared.original_time(float(seg.end), is_end=True),
                        text=seg.text.strip(),
                        avg_logprob=float(seg.avg_logprob),
                        no_speech_prob=float(seg.no_speech_prob),
                    )
                )
            if on_progress is not None and speech_seconds > 0:
                on_progress(min(1.0, seg.end / speech_seconds))
        if on_progress is not None:
            on_progress(1.0)
        log.info("transcribed %.1f s of speech out of %.1f s; %d fallback decodes", speech_seconds,
                 prepared.duration, self._model.model.fallbacks - fallbacks_before)
        return self._result(" ".join(s.text for s in segments if s.text).strip(), info.language,
                            prepared.duration, segments)

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
