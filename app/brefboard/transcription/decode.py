"""The app's one audio decoder: PyAV, the first audio track, 16 kHz mono float32, piece by piece.

Every reader of samples goes through ``pieces``: the engines (``pipeline.load_audio``),
the live transcript (``recordings.audio.decode_mono16k``) and the quality score
(``monitoring.audio_quality``), so they all hear the same samples. Video streams are
demuxed, never decoded. It yields as it decodes: a caller that only measures holds one
frame at a time, not the hour of audio (230 MB of samples).
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

SAMPLE_RATE = 16_000  # what Whisper models are trained on


class NoAudio(ValueError):
    """The file has no audio track."""


def pieces(path, *, offset: float = 0.0, not_before: float | None = None, timeline: dict | None = None,
           tolerant: bool = False) -> Iterator[np.ndarray]:
    """The samples of ``path`` in pieces, in order, in -1..1.

    ``offset``: where the file starts on the caller's clock (files played one
    after the other); packets before ``not_before`` on that clock are demuxed but
    not decoded, so taking the tail of a long file stays cheap. ``timeline``, when
    given, receives ``first_kept`` (the time of the first decoded packet, None if
    none) and ``end`` (the end of the last packet). A damaged packet (a cut tail)
    is skipped, the rest still counts; ``tolerant`` skips any packet FFmpeg fails
    on (an unfinished browser stream). Raises ``NoAudio`` and PyAV's errors otherwise.
    """
    import av

    skip = (av.error.FFmpegError,) if tolerant else (av.error.InvalidDataError,)
    if timeline is not None:
        timeline.update(first_kept=None, end=offset)
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    with av.open(str(path), metadata_errors="ignore") as container:
        if not container.streams.audio:
            raise NoAudio(f"{path} has no audio stream")
        first_pts: float | None = None
        for packet in container.demux(container.streams.audio[0]):
            t_rec = None
            if packet.pts is not None:
                t = float(packet.pts * packet.time_base)
                first_pts = t if first_pts is None else first_pts
                t_rec = offset + t - first_pts
                if timeline is not None:
                    timeline["end"] = max(timeline["end"], t_rec + float((packet.duration or 0) * packet.time_base))
                if not_before is not None and t_rec < not_before:
                    continue
            try:
                frames = packet.decode()  # the last packet (no pts) flushes the decoder
            except skip:
                continue
            for frame in frames:
                if timeline is not None and timeline["first_kept"] is None and t_rec is not None:
                    timeline["first_kept"] = t_rec
                for out in resampler.resample(frame):
                    yield _floats(out)
        for out in resampler.resample(None):  # what the resampler holds back
            yield _floats(out)


def _floats(frame) -> np.ndarray:
    return frame.to_ndarray().reshape(-1).astype(np.float32) / 32768.0


def samples(path, **kwargs) -> np.ndarray:
    """All of ``pieces`` joined (an empty array when nothing decodes)."""
    parts = list(pieces(path, **kwargs))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
