"""Transcription engines behind one small interface (see base.py).

``get_engine`` builds an engine once per process and hands the same instance to
every later job: loading Whisper weights costs seconds and hundreds of MB, a
job must not pay that again. Engine modules are imported lazily so that a CPU
worker never imports PyTorch and a GPU worker never needs CTranslate2.
"""
from __future__ import annotations

import logging
import threading
import time

from .base import Engine, ProgressCallback, Segment, TranscriptResult

__all__ = ["Engine", "ProgressCallback", "Segment", "TranscriptResult", "get_engine", "ENGINE_NAMES"]

ENGINE_NAMES = ("faster-whisper", "openai-whisper")

log = logging.getLogger(__name__)
_engines: dict[tuple, Engine] = {}
_lock = threading.Lock()


def get_engine(name: str, model: str, device: str = "auto", compute_type: str = "", *,
               cpu_threads: int = 0, pipeline: str = "sequential", batch_size: int = 8) -> Engine:
    """Return the process-wide engine for these parameters, building it on first use.

    Every parameter is part of the cache key: the engine is given what it needs
    (``cpu_threads``: CTranslate2's threads, 0 = its default; ``pipeline``: sequential or
    batched, ``batch_size``: pieces decoded at once when batched) and reads no setting itself.
    """
    key = (name, model, device, compute_type, cpu_threads, pipeline, batch_size)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            started = time.monotonic()
            engine = _build(name, model, device, compute_type, cpu_threads, pipeline, batch_size)
            _engines[key] = engine
            log.info("loaded transcription engine %s (model %s) on %s in %.1f s",
                     name, model, engine.device, time.monotonic() - started)
        return engine


def _build(name: str, model: str, device: str, compute_type: str, cpu_threads: int = 0,
           pipeline: str = "sequential", batch_size: int = 8) -> Engine:
    if name == "faster-whisper":
        from .faster_engine import FasterWhisperEngine

        return FasterWhisperEngine(model, device=device, compute_type=compute_type or None, cpu_threads=cpu_threads,
                                   pipeline_mode=pipeline, batch_size=batch_size)
    if name == "openai-whisper":
        from . import openai_engine

        engine_cls = getattr(openai_engine, "OpenAIWhisperEngine")
        kwargs = {"device": device, "pipeline_mode": pipeline}
        if compute_type:
            kwargs["compute_type"] = compute_type
        return engine_cls(model, **kwargs)
    raise ValueError(f"unknown transcription engine {name!r}; expected one of {ENGINE_NAMES}")


def clear_engines() -> None:
    """Forget built engines (tests; a worker never needs this)."""
    with _lock:
        _engines.clear()
