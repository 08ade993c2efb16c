"""Moving audio between files and database rows.

Audio is split into rows of ``BREFBOARD_AUDIO_PART_BYTES`` so that neither the
web process nor a worker ever holds a whole long recording in one Python bytes
object, and PostgreSQL never stores one huge bytea value.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import ExitStack, contextmanager
from typing import BinaryIO, Iterator

from django.conf import settings

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


def recording_bytes(recording: Recording) -> bytes:
    """The whole finished file in memory (downloads of short files, tests)."""
    return b"".join(bytes(d) for d in recording.audio_parts.order_by("index").values_list("data", flat=True))
