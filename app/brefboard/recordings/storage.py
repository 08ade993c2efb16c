"""Moving audio between files and database rows.

Audio is split into rows of ``BREFBOARD_AUDIO_PART_BYTES`` so that neither the
web process nor a worker ever holds a whole long recording in one Python bytes
object, and PostgreSQL never stores one huge bytea value.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator

from django.conf import settings

from . import audio
from .models import AudioPart, Chunk, Recording


def store_audio(recording: Recording, fileobj: BinaryIO) -> int:
    """Write the whole file as AudioPart rows (caller holds the transaction). Returns bytes."""
    part_size = settings.BREFBOARD_AUDIO_PART_BYTES
    AudioPart.objects.filter(recording=recording).delete()
    total = 0
    index = 0
    while True:
        data = fileobj.read(part_size)
        if not data:
            break
        AudioPart.objects.create(recording=recording, index=index, data=data)
        total += len(data)
        index += 1
    return total


def missing_chunks(rec: Recording) -> list[int]:
    indexes = list(Chunk.objects.filter(recording=rec).order_by("index").values_list("index", flat=True))
    if not indexes:
        return []
    present = set(indexes)
    return [i for i in range(indexes[-1] + 1) if i not in present]


def _write_rows(rows: Iterator[bytes], fileobj: BinaryIO) -> None:
    for data in rows:
        fileobj.write(bytes(data))
    fileobj.flush()


@contextmanager
def audio_file(recording: Recording, suffix: str = "") -> Iterator[str]:
    """The finished audio of a recording as a temporary local file (worker side)."""
    ids = AudioPart.objects.filter(recording=recording).order_by("index").values_list("id", flat=True)
    with _tempfile(suffix) as (fh, path):
        # One row at a time: memory stays at one part whatever the length.
        _write_rows((AudioPart.objects.values_list("data", flat=True).get(id=pk) for pk in ids), fh)
        yield path


def stream_groups(recording: Recording, upto_index: int | None = None) -> tuple[list[list[int]], int]:
    """Chunk ids grouped by MediaRecorder stream, and how many chunks had to be left out.

    A chunk after a gap cannot be decoded (the bytes before it are missing and
    only a stream's first chunk has the header), so the rest of that stream is
    left out until the next chunk that starts a stream.
    """
    qs = Chunk.objects.filter(recording=recording).order_by("index")
    if upto_index is not None:
        qs = qs.filter(index__lte=upto_index)
    groups: list[list[int]] = []
    dropped = 0
    previous = None
    broken = False
    for pk, index, starts in qs.values_list("id", "index", "starts_stream"):
        if starts:
            groups.append([])
            broken = False
        elif previous is None or index != previous + 1 or broken:
            broken = True
        previous = index
        if broken or not groups:
            dropped += 1
            broken = True
            continue
        groups[-1].append(pk)
    return groups, dropped


@contextmanager
def chunk_streams(recording: Recording, upto_index: int | None = None, suffix: str = "") -> Iterator[list[str]]:
    """The browser chunks received so far as temporary files, one per MediaRecorder stream.

    Chunks of one stream concatenated form a playable file (only the first has
    the header); a resumed recording adds a stream, so there may be several.
    Chunks after a gap are left out (see ``stream_groups``).
    """
    groups, _ = stream_groups(recording, upto_index)
    with ExitStack() as stack:
        paths = []
        for ids in groups:
            fh, path = stack.enter_context(_tempfile(suffix))
            _write_rows((Chunk.objects.values_list("data", flat=True).get(id=pk) for pk in ids), fh)
            fh.close()
            paths.append(path)
        yield paths


@dataclass
class StreamPart:
    """A run of consecutive chunks: a stream from its start, or what follows a gap.

    A part after a gap has no header of its own: it is decoded with the header
    of its stream's first chunk (``header_from``) from the first point a demuxer
    can start at (the next WebM Cluster, MP4 fragment)."""

    indexes: list[int] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    stream: int = 0  # ordinal of the MediaRecorder stream it belongs to
    starts_stream: bool = True
    header_from: list[int] = field(default_factory=list)  # chunk ids of the stream's first part
    path: str = ""  # the part as a file, once written
    span: tuple[float, float] | None = None  # (first, end) on its stream's clock


def stream_parts(recording: Recording) -> list[StreamPart]:
    """Every stored chunk, in runs split at gaps and at stream starts."""
    parts: list[StreamPart] = []
    stream_head: list[int] | None = None
    stream = -1
    previous = None
    for pk, index, starts in (Chunk.objects.filter(recording=recording).order_by("index")
                              .values_list("id", "index", "starts_stream")):
        if starts:
            stream += 1
            parts.append(StreamPart(stream=stream, starts_stream=True))
            stream_head = parts[-1].ids
        elif not parts or index != previous + 1:
            # After a gap: the same stream's header if its start is known (a stream start
            # lost in the gap leaves the previous stream's, the same recorder settings).
            parts.append(StreamPart(stream=max(stream, 0), starts_stream=False,
                                    header_from=list(stream_head) if stream_head else []))
        parts[-1].indexes.append(index)
        parts[-1].ids.append(pk)
        previous = index
    return parts


def _rows(ids: list[int]) -> Iterator[bytes]:
    for pk in ids:  # one row at a time
        yield bytes(Chunk.objects.values_list("data", flat=True).get(id=pk))


def _header(ids: list[int], container_format: str, limit: int = 4 * 1024 * 1024) -> bytes | None:
    data = b""
    for row in _rows(ids):
        data += row
        found = audio.stream_header(data, container_format)
        if found or len(data) > limit:
            return found
    return None


def _write_after_gap(part: StreamPart, header: bytes, container_format: str, fh: BinaryIO) -> bool:
    """Header, then the part's bytes from the first point a demuxer can start at."""
    pending = b""
    synced = False
    for row in _rows(part.ids):
        if synced:
            fh.write(row)
            continue
        pending += row
        offset = audio.resync_offset(pending, container_format)
        if offset is not None:
            fh.write(header)
            fh.write(pending[offset:])
            synced = True
        else:
            pending = pending[-8:]  # a marker split across two chunks
    fh.flush()
    return synced


@contextmanager
def chunk_parts(recording: Recording, container_format: str, suffix: str = "") -> Iterator[list[StreamPart]]:
    """Every stored chunk as temporary files, one per ``StreamPart``, each decodable on
    its own; a part after a gap that cannot be made decodable has an empty ``path``."""
    parts = stream_parts(recording)
    headers: dict[tuple, bytes | None] = {}
    with ExitStack() as stack:
        for part in parts:
            fh, path = stack.enter_context(_tempfile(suffix))
            if part.starts_stream:
                _write_rows(_rows(part.ids), fh)
                ok = True
            else:
                key = tuple(part.header_from)
                if key not in headers:
                    headers[key] = _header(part.header_from, container_format) if key else None
                ok = headers[key] is not None and _write_after_gap(part, headers[key], container_format, fh)
            fh.close()
            part.path = path if ok else ""
        yield parts


@contextmanager
def _tempfile(suffix: str):
    fd, path = tempfile.mkstemp(prefix="brefboard-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh, path
    finally:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _part_sizes(recording: Recording) -> list[tuple[int, int]]:
    """(id, length) of each stored part, in order; the lengths from the database, not the data."""
    from django.db.models.functions import Length

    return list(AudioPart.objects.filter(recording=recording).order_by("index")
                .annotate(size=Length("data")).values_list("id", "size"))


def audio_size(recording: Recording) -> int:
    """Bytes of the finished file, as stored (the parts' lengths summed)."""
    return sum(size for _, size in _part_sizes(recording))


SEND_BYTES = 256 * 1024  # what the web server is handed at a time


def audio_range(recording: Recording, first: int, last: int) -> Iterator[bytes]:
    """The bytes ``first``..``last`` (inclusive) of the finished file, one stored part at a
    time: serving a long recording, or a player's seek into it, holds one part in memory."""
    sizes = _part_sizes(recording)
    offset = 0
    for pk, size in sizes:
        start, end = offset, offset + size - 1
        offset += size
        if end < first or start > last:
            continue
        data = memoryview(AudioPart.objects.values_list("data", flat=True).get(id=pk))
        stop = min(last, end) - start + 1
        for i in range(max(first, start) - start, stop, SEND_BYTES):
            yield bytes(data[i : min(i + SEND_BYTES, stop)])
        del data


def recording_bytes(recording: Recording) -> bytes:
    """The whole finished file in memory (downloads of short files, tests)."""
    return b"".join(bytes(d) for d in recording.audio_parts.order_by("index").values_list("data", flat=True))
