"""What a transcription job records, in the worker process that does the work.

Called from ``brefboard.recordings.tasks``. A metric must never fail a job:
measuring the recording is guarded, and everything else only reads values
the task already has.
"""
from __future__ import annotations

import logging
import math
import sys
import time

from django.utils import timezone

from . import audio_quality, metrics
from .decorators import monitor_whisper_processing

log = logging.getLogger(__name__)


def measure_recording(path: str) -> audio_quality.Quality | None:
    """``recording_quality`` (gauge) and ``recording_quality_score`` (histogram) from the decoded file."""
    try:
        quality = audio_quality.measure_file(path)
    except Exception as exc:  # noqa: BLE001 - the transcription says what is wrong with the file
        log.info("recording quality not measured: %s", type(exc).__name__)
        return None
    metrics.RECORDING_QUALITY.set(quality.score)
    metrics.RECORDING_QUALITY_SCORE.observe(quality.score)
    return quality


def transcribe(engine, path: str, **kwargs):
    """Run Whisper under ``@monitor_whisper_processing`` and record what its result tells."""
    started = time.perf_counter()
    result = monitor_whisper_processing(engine.transcribe)(path, **kwargs)
    seconds = time.perf_counter() - started
    if result.duration and result.duration > 0:
        metrics.AUDIO_DURATION.observe(result.duration)
        metrics.REALTIME_FACTOR.labels(device=engine.device or "cpu").observe(seconds / result.duration)
    quality = transcription_quality(result.segments)
    if quality is not None:
        metrics.TRANSCRIPTION_QUALITY.observe(quality)
    if engine.device == "cuda":
        gpu_memory()
    return result


def gpu_memory() -> None:
    """``whisper_gpu_memory_bytes{gpu,kind}`` from PyTorch (the openai-whisper engine).

    Read only if PyTorch is already loaded: CTranslate2 (faster-whisper) does not
    say how much it holds, and importing PyTorch just for this would cost more
    memory than it measures.
    """
    torch = sys.modules.get("torch")
    if torch is None:
        return
    try:
        if not torch.cuda.is_available():
            return
        for i in range(torch.cuda.device_count()):
            gpu = str(i)
            metrics.WHISPER_GPU_MEMORY.labels(gpu=gpu, kind="allocated").set(torch.cuda.memory_allocated(i))
            metrics.WHISPER_GPU_MEMORY.labels(gpu=gpu, kind="reserved").set(torch.cuda.memory_reserved(i))
            total = torch.cuda.get_device_properties(i).total_memory
            metrics.WHISPER_GPU_MEMORY.labels(gpu=gpu, kind="total").set(total)
    except Exception as exc:  # noqa: BLE001 - a driver hiccup must not fail the transcription
        log.info("GPU memory not read: %s", type(exc).__name__)


def transcription_quality(segments) -> float | None:
    """Duration-weighted mean of ``exp(avg_logprob) * (1 - no_speech_prob)``, in 0..1.

    ``exp(avg_logprob)`` is the mean per-token probability Whisper gave its
    own text; ``no_speech_prob`` says how likely the segment is silence it
    hallucinated words over. None when there is no segment to judge.
    """
    total = weighted = 0.0
    for s in segments:
        length = max(0.0, float(s.end) - float(s.start)) or 0.01
        p = math.exp(min(0.0, float(s.avg_logprob))) * (1.0 - min(1.0, max(0.0, float(s.no_speech_prob))))
        weighted += p * length
        total += length
    return weighted / total if total else None


def transcript_stored(job) -> None:
    """``brefboard_upload_to_transcript_seconds``: from the job's creation (upload or stop) to now."""
    if job.created_at:
        metrics.UPLOAD_TO_TRANSCRIPT.observe(max(0.0, (timezone.now() - job.created_at).total_seconds()))


def transcription_failed(exc: BaseException | None = None) -> None:
    """``django_error_total{type="transcription_failed"}``; unreadable audio also in ``recording_errors_total``."""
    metrics.ERRORS.labels(type=metrics.TRANSCRIPTION_FAILED).inc()
    kind = getattr(exc, "kind", None)
    if kind in {"not_audio", "corrupt", "truncated"}:
        metrics.RECORDING_ERRORS.labels(error_type=kind).inc()


# recording_errors_total{error_type} for a recording or upload refused by the web process,
# by the HTTP status the service chose (a fixed set, whatever the message says).
REJECTION_KINDS = {
    400: "invalid", 409: "conflict", 413: "too_large", 415: "unsupported_format", 422: "unreadable_audio",
}


def recording_rejected(status: int) -> None:
    metrics.RECORDING_ERRORS.labels(error_type=REJECTION_KINDS.get(status, "other")).inc()
