"""The recording's audio is streamed from its stored parts, by byte range (206) for players that seek."""
from __future__ import annotations

import io
import os
import tracemalloc

import pytest
from django.utils import timezone

from brefboard.http import parse_range
from brefboard.recordings import storage
from brefboard.recordings.models import AudioPart, Recording

pytestmark = pytest.mark.django_db


def stored(owner, data: bytes, settings, part_bytes: int) -> Recording:
    settings.BREFBOARD_AUDIO_PART_BYTES = part_bytes
    rec = Recording.objects.create(owner=owner, source=Recording.Source.UPLOAD, status=Recording.Status.DONE,
                                   audio_format="wav", finalized_at=timezone.now())
    rec.audio_bytes = storage.store_audio(rec, io.BytesIO(data))
    rec.save()
    return rec


def body(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.fixture
def noise() -> bytes:
    return os.urandom(10_000)


def test_the_whole_file_says_it_can_be_ranged(alice, alice_client, settings, noise):
    rec = stored(alice, noise, settings, part_bytes=1000)
    r = alice_client.get(f"/recordings/{rec.pk}/audio/")
    assert r.status_code == 200 and r["Accept-Ranges"] == "bytes"
    assert r["Content-Length"] == "10000" and "Content-Range" not in r
    assert body(r) == noise


@pytest.mark.parametrize("header, first, last", [
    ("bytes=0-0", 0, 0),
    ("bytes=0-", 0, 9999),
    ("bytes=999-1000", 999, 1000),  # across two stored parts
    ("bytes=1500-7499", 1500, 7499),  # across six
    ("bytes=9000-20000", 9000, 9999),  # past the end: up to the end
    ("bytes=-300", 9700, 9999),  # the last 300 bytes
])
def test_a_range_is_206_with_exactly_those_bytes(alice, alice_client, settings, noise, header, first, last):
    rec = stored(alice, noise, settings, part_bytes=1000)
    r = alice_client.get(f"/recordings/{rec.pk}/audio/", HTTP_RANGE=header)
    assert r.status_code == 206
    assert r["Content-Range"] == f"bytes {first}-{last}/10000"
    assert r["Content-Length"] == str(last - first + 1)
    assert body(r) == noise[first:last + 1]


def test_a_range_past_the_end_is_416(alice, alice_client, settings, noise):
    rec = stored(alice, noise, settings, part_bytes=1000)
    r = alice_client.get(f"/recordings/{rec.pk}/audio/", HTTP_RANGE="bytes=10000-")
    assert r.status_code == 416 and r["Content-Range"] == "bytes */10000"


def test_head_says_the_length_without_the_bytes(alice, alice_client, settings, noise):
    rec = stored(alice, noise, settings, part_bytes=1000)
    r = alice_client.head(f"/recordings/{rec.pk}/audio/")
    assert r.status_code == 200 and r["Content-Length"] == "10000" and body(r) == b""


def test_another_users_audio_is_a_404_ranged_or_not(alice, bob, client, settings, noise):
    rec = stored(alice, noise, settings, part_bytes=1000)
    client.force_login(bob)
    assert client.get(f"/recordings/{rec.pk}/audio/").status_code == 404
    assert client.get(f"/recordings/{rec.pk}/audio/", HTTP_RANGE="bytes=0-9").status_code == 404


@pytest.mark.parametrize("header", ["", "items=0-9", "bytes=0-1,5-9", "bytes=-", "bytes=a-b"])
def test_headers_that_are_not_one_byte_range_get_the_whole_file(header):
    assert parse_range(header, 100) is None


def test_a_reversed_range_is_refused():
    with pytest.raises(ValueError):
        parse_range("bytes=50-10", 100)


def test_serving_a_long_recording_holds_one_part_in_memory(alice, alice_client, settings):
    """64 MB stored in 4 MB parts: streaming it (and a seek near its end) allocates a few
    parts at most, not the file (the old view joined every part into one bytes object)."""
    size, part = 64 * 1024 * 1024, 4 * 1024 * 1024
    block = os.urandom(1024 * 1024)
    rec = stored(alice, block * (size // len(block)), settings, part_bytes=part)
    assert AudioPart.objects.filter(recording=rec).count() == 16
    tracemalloc.start()
    try:
        r = alice_client.get(f"/recordings/{rec.pk}/audio/")
        total = sum(len(piece) for piece in r.streaming_content)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        r = alice_client.get(f"/recordings/{rec.pk}/audio/", HTTP_RANGE=f"bytes={size - 10}-")
        tail = body(r)
        _, seek_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == size and tail == block[-10:]
    assert peak < 3 * part, f"streaming {size} bytes peaked at {peak} bytes"
    assert seek_peak < 3 * part, f"a seek peaked at {seek_peak} bytes"
