"""Everything the app asks of PyAV (FFmpeg): check, remux and cut audio.

Kept in one module so the rest of the app never touches FFmpeg directly.
"""
from __future__ import annotations

import wave
from dataclasses import dataclass

import av
import av.logging
import numpy as np

from django.utils.translation import gettext as _

from ..transcription import decode

WHISPER_RATE = decode.SAMPLE_RATE

# The first bytes of the containers MediaRecorder produces.
EBML_MAGIC = b"\x1a\x45\xdf\xa3"  # WebM / Matroska (Chrome, Firefox)


CONTAINERS = {"webm": ("webm", ".webm"), "mp4": ("mp4", ".m4a"), "ogg": ("ogg", ".ogg")}


def container_for(mime_type: str) -> tuple[str, str]:
    """FFmpeg muxer name and file suffix for a MediaRecorder MIME type."""
    base = (mime_type or "audio/webm").split(";")[0].strip().lower()
    if base.endswith("mp4") or base.endswith("aac") or base.endswith("m4a"):
        return CONTAINERS["mp4"]
    if base.endswith("ogg"):
        return CONTAINERS["ogg"]
    return CONTAINERS["webm"]


class InvalidAudio(ValueError):
    """The bytes are not audio PyAV can decode (or are cut short).

    ``kind``: "not_audio" (answer 415), "truncated" or "corrupt" (answer 400).
    """

    def __init__(self, message: str, kind: str = "corrupt") -> None:
        super().__init__(message)
        self.kind = kind


def _enable_error_logs() -> None:
    """PyAV silences FFmpeg by default; errors are needed to see a truncated file."""
    if av.logging.get_level() is None or av.logging.get_level() < av.logging.ERROR:
        av.logging.set_level(av.logging.ERROR)


_enable_error_logs()


@dataclass(frozen=True)
class AudioInfo:
    format: str
    duration: float
    sample_rate: int
    channels: int


def probe(path: str, *, strict: bool = True) -> AudioInfo:
    """Decode every audio packet of ``path``: the only honest test that it is usable.

    Container headers lie (a cut file still has its header, and FFmpeg's
    demuxers stop quietly at the cut), so the whole audio stream is decoded
    while FFmpeg's own error messages are captured: "File ended prematurely"
    means truncated. ``strict=False`` accepts a cut tail (a browser that died
    mid-chunk). Video streams are only demuxed, never decoded. Raises
    InvalidAudio with a message fit for the user.
    """
    try:
        container = av.open(path, metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        if "moov atom not found" in str(exc) or _looks_like_mp4(path):
            # An MP4/MOV whose index (written last) never arrived: a cut upload.
            raise InvalidAudio(_("le fichier est tronqué : son index MP4 (moov) manque"), kind="truncated") from exc
        raise InvalidAudio(_("ce fichier n'est pas un fichier audio ou vidéo lisible"), kind="not_audio") from exc
    with container, av.logging.Capture(True) as logs:
        if not container.streams.audio:
            raise InvalidAudio(_("ce fichier ne contient pas de piste audio"), kind="not_audio")
        stream = container.streams.audio[0]
        samples = 0
        rate = stream.codec_context.sample_rate or 0
        try:
            for packet in container.demux(stream):
                for frame in packet.decode():
                    samples += frame.samples
                    rate = frame.sample_rate or rate
        except av.error.FFmpegError as exc:
            raise InvalidAudio(_("le fichier audio est tronqué ou corrompu"), kind="corrupt") from exc
        if samples == 0 or rate == 0:
            raise InvalidAudio(_("le fichier ne contient aucun son décodable"), kind="corrupt")
        decoded = samples / rate
        declared = _declared_audio_seconds(container, stream)
        if strict:
            cut = any(level <= av.logging.ERROR and "prematurely" in (message or "") for level, _, message in logs)
            if cut or (declared > 1.0 and decoded < 0.9 * declared - 0.5):
                raise InvalidAudio(_("le fichier audio est tronqué ou corrompu"), kind="truncated")
        return AudioInfo(
            format=container.format.name,
            duration=decoded,
            sample_rate=rate,
            channels=stream.codec_context.channels or 0,
        )


def _declared_audio_seconds(container, stream) -> float:
    """What the header says the audio track lasts, to tell a cut file; 0 when it does not say.

    The audio track's own duration, never the container's alone: a video's
    audio track may end before its picture (a camera that starts sound late,
    an edit), and the container's duration is the longest track's. Only a
    file holding nothing but the audio track may be judged by the container's.
    """
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if len(container.streams) == 1 and container.duration:
        return container.duration / 1_000_000
    return 0.0


def _looks_like_mp4(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
    except OSError:
        return False
    return head[4:8] == b"ftyp"


# Where a stream's media data starts again after missing bytes: the next WebM
# Cluster (its element ID) or the next fragmented-MP4 "moof" box (Safari).
WEBM_CLUSTER_ID = b"\x1f\x43\xb6\x75"
MP4_FRAGMENT = b"moof"


def resync_offset(data: bytes, container_format: str) -> int | None:
    """Offset in ``data`` (bytes from the middle of a stream) of the first point a
    demuxer can start from given the stream's header: a WebM Cluster or an MP4
    ``moof`` box (the 4 size bytes before its type). ``None`` if there is none."""
    if container_format == "mp4":
        start = 4
        while True:
            i = data.find(MP4_FRAGMENT, start)
            if i < 0:
                return None
            if int.from_bytes(data[i - 4 : i], "big") >= 16:  # a plausible box size
                return i - 4
            start = i + 1
    i = data.find(WEBM_CLUSTER_ID)
    return None if i < 0 else i


def stream_header(data: bytes, container_format: str) -> bytes | None:
    """The initialization part of a stream (WebM EBML header, Segment and Tracks up
    to the first Cluster; MP4 ftyp + moov up to the first moof) from its first
    bytes; ``None`` when ``data`` does not reach the first media data."""
    i = resync_offset(data, container_format)
    return data[:i] if i else None


def packet_span(path: str) -> tuple[float, float] | None:
    """(first timestamp, end) of the audio packets of ``path`` in seconds, on the
    stream's own clock (demuxed, not decoded); ``None`` without packets."""
    try:
        with av.open(path, metadata_errors="ignore") as container:
            if not container.streams.audio:
                return None
            first: float | None = None
            end = 0.0
            for packet in container.demux(container.streams.audio[0]):
                if packet.pts is None:
                    continue
                t = float(packet.pts * packet.time_base)
                first = t if first is None else min(first, t)
                end = max(end, t + float((packet.duration or 0) * packet.time_base))
    except av.error.FFmpegError:
        return None
    return None if first is None else (first, end)


def is_container_start(data: bytes) -> bool:
    """Does a first chunk start like a WebM or an MP4 file?"""
    return data.startswith(EBML_MAGIC) or data[4:8] == b"ftyp"


def check_first_chunk(path: str) -> None:
    """The first chunk carries the container header: it must open and show an audio stream."""
    try:
        with av.open(path, metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise InvalidAudio(_("le premier morceau ne contient pas de piste audio"))
    except av.error.FFmpegError as exc:
        raise InvalidAudio(_("le premier morceau est tronqué ou n'est pas du WebM/MP4")) from exc


def remux(sources: list[str], dst: str, container_format: str) -> None:
    """Copy the audio packets of ``sources``, one after the other, into a fresh ``dst``.

    No re-encoding. MediaRecorder's WebM has no duration and no cues (it is
    written as a live stream); FFmpeg's muxer writes both, so players can seek
    and show the length. Several sources (a recording resumed after a reload)
    are joined by shifting each one's timestamps to follow the previous one.
    """
    if not sources:
        raise InvalidAudio(_("aucune donnée audio à finaliser"))
    try:
        with av.open(dst, "w", format=container_format) as out:
            out_stream = None
            offset = 0  # in the output stream's time base
            for src in sources:
                with av.open(src, metadata_errors="ignore") as inp:
                    if not inp.streams.audio:
                        raise InvalidAudio(_("aucune piste audio à finaliser"))
                    in_stream = inp.streams.audio[0]
                    if out_stream is None:
                        out_stream = out.add_stream_from_template(in_stream)
                    end = offset
                    first = None
                    for packet in inp.demux(in_stream):
                        if packet.dts is None or packet.pts is None:
                            continue  # the flush packet at the end of the stream
                        if first is None:
                            first = packet.pts
                        shift = offset - first
                        packet.pts += shift
                        packet.dts += shift
                        end = max(end, packet.pts + (packet.duration or 0))
                        packet.stream = out_stream
                        out.mux(packet)
                    offset = end
            if out_stream is None:
                raise InvalidAudio(_("aucune piste audio à finaliser"))
    except av.error.FFmpegError as exc:
        raise InvalidAudio(_("l'enregistrement ne peut pas être finalisé (données corrompues)")) from exc


def decode_mono16k(sources: list[str] | str, start: float = 0.0) -> np.ndarray:
    """Audio from ``start`` seconds to the end, as Whisper wants it (16 kHz mono float32).

    ``sources`` are played one after the other. Packets well before ``start``
    are demuxed but not decoded, so taking the tail of a long recording stays
    cheap. A packet cut short at the end of an unfinished stream is skipped.
    Decoded by the app's one decoder (transcription/decode.py).
    """
    if isinstance(sources, str):
        sources = [sources]
    preroll = 0.5  # Opus needs a few packets before the first good frame
    pieces: list[np.ndarray] = []
    offset = 0.0  # where the current source starts on the recording's clock
    for src in sources:
        timeline: dict = {}
        kept = decode.samples(src, offset=offset, not_before=start - preroll, timeline=timeline, tolerant=True)
        first_kept = timeline["first_kept"]
        if first_kept is not None and first_kept < start:
            kept = kept[int((start - first_kept) * WHISPER_RATE):]  # drop the preroll
        pieces.append(kept)
        offset = timeline["end"]
    if not pieces:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(pieces).astype(np.float32)


def write_wav(path: str, audio: np.ndarray, rate: int = WHISPER_RATE) -> None:
    """16-bit mono WAV: the plainest file every engine reads."""
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(path, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm.tobytes())
