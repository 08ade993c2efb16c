"""The one interface every transcription engine implements.

A new engine is one new module exposing a class that satisfies ``Engine``.
Engines are built once per worker process and reused for every job.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol


@dataclass(frozen=True)
class Segment:
    start: float  # seconds from the start of the audio
    end: float
    text: str
    avg_logprob: float = 0.0  # what Whisper reports; feeds "transcription quality"
    no_speech_prob: float = 0.0
    speaker: int | None = None  # 0, 1, … from diarize.py; None: not diarized


@dataclass
class TranscriptResult:
    text: str
    language: str
    duration: float  # seconds of audio
    segments: list[Segment] = field(default_factory=list)
    engine: str = ""
    model: str = ""
    device: str = ""


ProgressCallback = Callable[[float], None]  # fraction 0.0..1.0 of the audio done


class Engine(Protocol):
    name: str  # "faster-whisper" | "openai-whisper"
    device: str  # "cpu" | "cuda" (resolved, never "auto")

    def transcribe(
        self,
        audio_path: str,
        *,
        language: str | None = None,  # None: detect
        beam_size: int = 5,
        on_progress: ProgressCallback | None = None,
    ) -> TranscriptResult: ...
