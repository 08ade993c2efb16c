"""faster-whisper (CTranslate2) engine: the default on CPU hosts, int8.

On 2 CPU cores it runs the same tiny.en weights about twice as fast as
openai-whisper with half the memory, and needs no PyTorch.

Two pipelines (``BREFBOARD_WHISPER_PIPELINE``), both after the same decode and
VAD (pipeline.prepare):

- ``sequential``: ``WhisperModel.transcribe`` over the joined speech, window
  after window, each window starting where the last timestamp ended, with the
  temperature fallback;
- ``batched``: faster-whisper's ``BatchedInferencePipeline``: the speech is cut
  at VAD pauses into pieces of at most 30 s (pipeline.batch_clips) and
  ``batch_size`` pieces are encoded and decoded at once. No window is decoded
  twice and the matrix products are larger, so it needs fewer CPU seconds per
  audio second (docs/benchmarks.md); faster-whisper decodes a batch at
  temperature 0 only (no fallback).
"""
from __future__ import annotations

import dataclasses
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


GAP_SECONDS = 1.5  # speech left at a piece's end that the batched pipeline decodes again
MAX_PASSES = 3


class _KeepLastSegment:
    """The ``WhisperModel`` as the batched pipeline sees it, with no text dropped at a piece's end.

    faster-whisper splits a window's tokens at its timestamps and leaves out the
    text after the last complete pair: the sequential path decodes that text again
    in the next window (it seeks back), but a batched piece has no next window, so
    that text would be lost, or decoded again by the next pass only when it is longer
    than GAP_SECONDS. Here it becomes one more segment, ending where the piece ends.
    """

    def __init__(self, model) -> None:
        self._model = model

    def __getattr__(self, name):
        return getattr(self._model, name)

    def _split_segments_by_timestamps(self, tokenizer, tokens, time_offset, segment_size, segment_duration, seek):
        segments, seek_out, single_ending = self._model._split_segments_by_timestamps(
            tokenizer=tokenizer, tokens=tokens, time_offset=time_offset, segment_size=segment_size,
            segment_duration=segment_duration, seek=seek)
        used = sum(len(s["tokens"]) for s in segments)
        tail = list(tokens[used:])
        begin = tokenizer.timestamp_begin
        if any(t < begin for t in tail):
            start = segments[-1]["end"] if segments else time_offset
            if tail[0] >= begin:
                start = time_offset + (tail[0] - begin) * self._model.time_precision
            segments.append(dict(seek=seek, start=start, end=max(start, time_offset + segment_duration),
                                 tokens=tail))
        return segments, seek_out, single_ending


class FasterWhisperEngine:
    name = "faster-whisper"

    def __init__(self, model: str, *, device: str = "auto", compute_type: str | None = None,
                 cpu_threads: int = 0, temperature=pipeline.TEMPERATURES, pipeline_mode: str = "sequential",
                 batch_size: int = 8) -> None:
        """``cpu_threads``: CTranslate2's intra-op threads, 0 = its default (the caller passes
        ``BREFBOARD_CPU_THREADS``); ``temperature``: the fallback schedule
        (pipeline.TEMPERATURES); 0.0 alone turns the fallback off; ``pipeline_mode``:
        ``sequential`` or ``batched`` (see the module's docstring), ``batch_size``: pieces
        of speech decoded at once in ``batched``."""
        if cpu_threads < 0:
            raise ValueError(f"cpu_threads must be 0 (default) or more, not {cpu_threads}")
        if pipeline_mode not in pipeline.PIPELINES:
            raise ValueError(f"pipeline must be one of {', '.join(pipeline.PIPELINES)}, not {pipeline_mode!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be 1 or more, not {batch_size}")
        from faster_whisper import BatchedInferencePipeline, WhisperModel

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
        self.pipeline_mode = pipeline_mode
        self.batch_size = batch_size
        self._batched = BatchedInferencePipeline(_KeepLastSegment(self._model)) if pipeline_mode == "batched" else None

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
        batched = self._batched is not None
        # batched: every VAD region fits one window, so pieces are cut at pauses only
        prepared = pipeline.prepare(audio_path, pipeline.BATCH_SECONDS if batched else None)
        if prepared.empty:  # silence, noise, a blip: nothing said, nothing invented
            if on_progress is not None:
                on_progress(1.0)
            return self._result("", language or "", prepared.duration, [])
        common = dict(
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
        if batched:
            segments_iter, info = self._transcribe_batched(prepared, common)
        else:
            segments_iter, info = self._model.transcribe(prepared.speech, **common)
        speech_seconds = prepared.speech_seconds
        fallbacks_before = self._model.model.fallbacks
        segments: list[Segment] = []
        # Segments come lazily as the model decodes; progress follows them.
        for seg in (sorted(segments_iter, key=lambda seg: seg.start) if batched else segments_iter):
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
        log.info("transcribed %.1f s of speech out of %.1f s (%s); %d fallback decodes", speech_seconds,
                 prepared.duration, self.pipeline_mode, self._model.model.fallbacks - fallbacks_before)
        return self._result(" ".join(s.text for s in segments if s.text).strip(), info.language,
                            prepared.duration, segments)

    def _transcribe_batched(self, prepared: pipeline.Prepared, common: dict):
        """The batched pipeline over ``prepared``'s pieces, then again over what it left out.

        Whisper often ends a full 30 s window early (an end-of-text token with the
        last sentence undecoded): the sequential path goes on from the last
        timestamp, a batch has no next window. A piece whose segments stop more than
        ``GAP_SECONDS`` before its end has that rest decoded again, batched too, until
        nothing is left out (at most ``MAX_PASSES``). Segments are on the joined-speech
        clock, in no particular order (the caller sorts them).
        """
        fps = self._model.frames_per_second

        def first_frame(clip: dict) -> int:  # a piece's number, as faster-whisper gives it in seg.seek
            return int(int(clip["start"] * pipeline.SAMPLE_RATE) / pipeline.SAMPLE_RATE * fps)

        clips = pipeline.batch_clips(prepared)
        found, info = [], None
        for _ in range(MAX_PASSES):
            segments_iter, pass_info = self._batched.transcribe(
                prepared.speech, clip_timestamps=clips, batch_size=self.batch_size,
                without_timestamps=False,  # segments of a sentence or two, as sequential gives
                **common)
            info = info or pass_info
            ends = {first_frame(clip): clip["end"] for clip in clips}
            covered = {}  # piece -> last end
            for seg in segments_iter:
                # Whisper's last timestamp can overshoot its piece (26.0 s in a 25.7 s
                # piece): past the piece is the next speech region, which on the
                # recording's clock lies after the pause, so a segment would stretch
                # over the whole pause. A segment ends at the latest where its piece does.
                limit = ends.get(seg.seek)
                if limit is not None and seg.end > limit:
                    seg = dataclasses.replace(seg, end=limit)
                found.append(seg)
                covered[seg.seek] = max(covered.get(seg.seek, 0.0), float(seg.end))
            rest = []
            for clip in clips:
                end = covered.get(first_frame(clip), clip["start"])
                if clip["end"] - end > GAP_SECONDS:
                    rest.append({"start": end, "end": clip["end"]})
            if not rest:
                break
            clips = rest
        return found, info

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
