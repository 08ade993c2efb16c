"""Browser recording sessions: numbered chunks, durable acks, gaps, resume, finalize.

The chunks are a real WebM/Opus stream (espeak-ng speech encoded by ffmpeg to
a pipe, as MediaRecorder writes it: no duration, no cues) cut at arbitrary
byte offsets, which is what MediaRecorder's timeslice produces.
"""
import pytest
from django.test import Client

from brefboard.recordings import audio
from brefboard.recordings.models import Chunk, Recording, TranscriptionJob
from brefboard.recordings.storage import recording_bytes
from tests.helpers import espeak, live_webm, split_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def stream_bytes(audio_dir, english_wav):
    return live_webm(english_wav, audio_dir / "live.webm").read_bytes()


def start(client, **body):
    r = client.post("/api/sessions/", {"mime_type": "audio/webm;codecs=opus", "language": "en", **body},
                    content_type="application/json")
    assert r.status_code == 201, r.content
    return r.json()["id"]


def put(client, sid, index, data, **params):
    query = "?stream_start=1" if params.get("stream_start") else ""
    return client.put(f"/api/sessions/{sid}/chunks/{index}/{query}", data=data, content_type="audio/webm")


def test_chunks_in_order_then_finish_gives_a_valid_file_with_duration(alice_client, stream_bytes, english_wav):
    sid = start(alice_client)
    chunks = split_bytes(stream_bytes, 4000)
    for i, c in enumerate(chunks):
        r = put(alice_client, sid, i, c)
        assert r.status_code == 200, r.content
        assert r.json() == {"index": i, "duplicate": False, "received": i + 1, "missing": []}
    r = alice_client.post(f"/api/sessions/{sid}/finish/")
    assert r.status_code == 200, r.content
    rec = Recording.objects.get(pk=sid)
    assert rec.status == Recording.Status.QUEUED and rec.finalized_at is not None
    assert r.json()["duration"] == pytest.approx(_seconds(english_wav), abs=0.1)
    assert not Chunk.objects.filter(recording=rec).exists()  # folded into the final file
    # The stored file is a real WebM with its duration written in the header now.
    final = rec.audio_parts.count() and recording_bytes(rec)
    path = _write(final)
    import av

    with av.open(path) as c:
        assert c.format.name.startswith("matroska") and c.duration / 1e6 == pytest.approx(rec.duration, abs=0.1)
    assert TranscriptionJob.objects.filter(recording=rec, status="queued").count() == 1


def test_a_resent_chunk_is_harmless_and_a_different_body_is_refused(alice_client, stream_bytes):
    sid = start(alice_client)
    chunks = split_bytes(stream_bytes, 4000)
    assert put(alice_client, sid, 0, chunks[0]).status_code == 200
    again = put(alice_client, sid, 0, chunks[0])
    assert again.status_code == 200 and again.json()["duplicate"] is True and again.json()["received"] == 1
    other = put(alice_client, sid, 0, chunks[1])
    assert other.status_code == 409
    assert bytes(Chunk.objects.get(recording_id=sid, index=0).data) == chunks[0]


def test_a_gap_is_reported_and_blocks_finish_until_filled(alice_client, stream_bytes, english_wav):
    sid = start(alice_client)
    chunks = split_bytes(stream_bytes, 3000)
    for i, c in enumerate(chunks):
        if i != 2:
            put(alice_client, sid, i, c)
    state = alice_client.get(f"/api/sessions/{sid}/").json()
    assert state["missing"] == [2] and state["received"] == len(chunks) - 1
    r = alice_client.post(f"/api/sessions/{sid}/finish/")
    assert r.status_code == 409 and r.json()["missing"] == [2]
    assert Chunk.objects.filter(recording_id=sid).count() == len(chunks) - 1  # nothing lost
    assert put(alice_client, sid, 2, chunks[2]).json()["missing"] == []
    r = alice_client.post(f"/api/sessions/{sid}/finish/")
    assert r.status_code == 200 and r.json()["duration"] == pytest.approx(_seconds(english_wav), abs=0.1)


def test_resume_after_reload_appends_a_second_stream(alice_client, stream_bytes, audio_dir, english_wav):
    """A reload starts a new MediaRecorder: its first chunk has its own header."""
    sid = start(alice_client)
    first = split_bytes(stream_bytes, 4000)
    for i, c in enumerate(first):
        put(alice_client, sid, i, c)
    unfinished = alice_client.get("/api/sessions/unfinished/").json()["sessions"]
    assert [s["id"] for s in unfinished] == [sid] and unfinished[0]["next_index"] == len(first)
    second_wav = espeak("Second part of the meeting after the reload.", audio_dir / "second.wav")
    second = split_bytes(live_webm(second_wav, audio_dir / "second.webm").read_bytes(), 4000)
    for j, c in enumerate(second):
        r = put(alice_client, sid, len(first) + j, c, stream_start=(j == 0))
        assert r.status_code == 200, r.content
    r = alice_client.post(f"/api/sessions/{sid}/finish/")
    assert r.status_code == 200, r.content
    assert r.json()["duration"] == pytest.approx(_seconds(english_wav) + _seconds(second_wav), abs=0.2)


def test_next_index_is_one_past_the_highest_chunk_from_zero_one_and_with_gaps(alice_client, stream_bytes, audio_dir):
    """Index 0 is falsy: "(max index or -1) + 1" once answered 0 after exactly one chunk,
    and a resumed stream then re-sent index 0, refused with 409, and was dropped."""
    sid = start(alice_client)
    chunks = split_bytes(stream_bytes, 3000)

    def state():
        return alice_client.get(f"/api/sessions/{sid}/").json()

    assert (state()["received"], state()["next_index"], state()["missing"]) == (0, 0, [])
    assert put(alice_client, sid, 0, chunks[0]).status_code == 200
    assert (state()["received"], state()["next_index"]) == (1, 1)
    assert alice_client.get("/api/sessions/unfinished/").json()["sessions"][0]["next_index"] == 1
    # A resumed stream (new header) goes where next_index says, and is taken.
    second = split_bytes(live_webm(espeak("Resumed after one chunk.", audio_dir / "one.wav"),
                                   audio_dir / "one.webm").read_bytes(), 3000)
    # Sent at a taken index it is refused, with what to renumber to.
    taken = put(alice_client, sid, 0, second[0], stream_start=True)
    assert taken.status_code == 409 and taken.json()["code"] == "index_taken" and taken.json()["next_index"] == 1
    assert put(alice_client, sid, state()["next_index"], second[0], stream_start=True).status_code == 200
    assert (state()["received"], state()["next_index"], state()["missing"]) == (2, 2, [])
    # Gaps: one past the highest index, not the count.
    assert put(alice_client, sid, 4, second[1]).status_code == 200
    assert (state()["received"], state()["next_index"], state()["missing"]) == (3, 5, [2, 3])
    assert alice_client.post(f"/api/sessions/{sid}/finish/").json()["missing"] == [2, 3]
    assert state()["next_index"] == 5  # a refused finish changes nothing


def test_empty_chunk_is_400(alice_client, stream_bytes):
    sid = start(alice_client)
    put(alice_client, sid, 0, stream_bytes[:4000])
    r = put(alice_client, sid, 1, b"")
    assert r.status_code == 400 and "vide" in r.json()["error"]
    assert Chunk.objects.filter(recording_id=sid).count() == 1


def test_truncated_webm_header_is_400(alice_client, stream_bytes):
    sid = start(alice_client)
    r = put(alice_client, sid, 0, stream_bytes[:60])
    assert r.status_code == 400, r.content
    assert not Chunk.objects.filter(recording_id=sid).exists()


def test_first_chunk_that_is_not_webm_is_415(alice_client):
    sid = start(alice_client)
    r = put(alice_client, sid, 0, b"GIF89a" + b"\0" * 500)
    assert r.status_code == 415


def test_chunk_for_another_users_session_is_404(alice_client, bob_client, stream_bytes):
    sid = start(alice_client)
    chunks = split_bytes(stream_bytes, 4000)
    put(alice_client, sid, 0, chunks[0])
    assert put(bob_client, sid, 1, chunks[1]).status_code == 404
    assert put(bob_client, sid, 0, chunks[1]).status_code == 404
    assert bob_client.post(f"/api/sessions/{sid}/finish/").status_code == 404
    assert bob_client.post(f"/api/sessions/{sid}/discard/").status_code == 404
    assert list(Chunk.objects.filter(recording_id=sid).values_list("index", flat=True)) == [0]
    assert bob_client.get("/api/sessions/unfinished/").json()["sessions"] == []


def test_chunk_after_finish_is_409_and_the_file_is_unchanged(alice_client, stream_bytes):
    sid = start(alice_client)
    chunks = split_bytes(stream_bytes, 4000)
    for i, c in enumerate(chunks):
        put(alice_client, sid, i, c)
    assert alice_client.post(f"/api/sessions/{sid}/finish/").status_code == 200
    before = recording_bytes(Recording.objects.get(pk=sid))
    r = put(alice_client, sid, len(chunks), chunks[-1])
    assert r.status_code == 409
    assert alice_client.post(f"/api/sessions/{sid}/finish/").status_code == 409
    assert recording_bytes(Recording.objects.get(pk=sid)) == before


def test_finish_without_chunks_is_400(alice_client):
    sid = start(alice_client)
    assert alice_client.post(f"/api/sessions/{sid}/finish/").status_code == 400


def test_chunk_without_csrf_token_is_403(alice, stream_bytes):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    sid = Recording.objects.create(owner=alice, source="browser", mime_type="audio/webm").pk
    assert put(client, sid, 0, stream_bytes[:4000]).status_code == 403
    assert not Chunk.objects.filter(recording_id=sid).exists()


def test_oversized_chunk_is_413(alice_client, stream_bytes, settings):
    settings.BREFBOARD_MAX_CHUNK_BYTES = 1000
    sid = start(alice_client)
    assert put(alice_client, sid, 0, stream_bytes[:4000]).status_code == 413


def test_current_transcription_shows_the_live_text(alice_client, bob_client, stream_bytes):
    sid = start(alice_client)
    Recording.objects.filter(pk=sid).update(live_text="bonjour à tous")
    assert alice_client.get("/current_transcription/").json() == {"transcription": "bonjour à tous", "recording": sid}
    assert bob_client.get("/current_transcription/").json() == {"transcription": "", "recording": None}


def test_live_audio_window_starts_where_the_last_pass_stopped(stream_bytes, english_wav, tmp_path):
    path = _write(stream_bytes, tmp_path / "s.webm")
    whole = audio.decode_mono16k([str(path)])
    tail = audio.decode_mono16k([str(path)], start=2.0)
    assert len(whole) / 16000 == pytest.approx(_seconds(english_wav), abs=0.1)
    assert len(tail) / 16000 == pytest.approx(len(whole) / 16000 - 2.0, abs=0.05)
    # The very samples of the whole decode from 2 s on, within 20 ms (Opus' pre-skip).
    import numpy as np

    b = tail[800:len(tail) - 800]
    best = max(np.corrcoef(whole[32000 + lag + 800:32000 + lag + 800 + len(b)], b)[0, 1] for lag in range(-320, 321))
    assert best > 0.99


def _seconds(wav) -> float:
    import wave

    with wave.open(str(wav)) as w:
        return w.getnframes() / w.getframerate()


def _write(data: bytes, path=None):
    import tempfile
    from pathlib import Path

    if path is None:
        path = Path(tempfile.mkstemp(suffix=".webm")[1])
    Path(path).write_bytes(data)
    return path


def test_safari_style_fragmented_mp4_chunks_finalize(alice_client, english_wav, tmp_path):
    """Safari's MediaRecorder gives fragmented MP4/AAC: header (ftyp+moov) in the first chunk only."""
    import subprocess

    mp4 = tmp_path / "safari.mp4"
    with open(mp4, "wb") as out:
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(english_wav), "-c:a", "aac",
                        "-b:a", "64k", "-f", "mp4", "-movflags", "frag_keyframe+empty_moov+default_base_moof",
                        "-frag_duration", "1000000", "-"], check=True, stdout=out)
    r = alice_client.post("/api/sessions/", {"mime_type": "audio/mp4", "language": "en"},
                          content_type="application/json")
    sid = r.json()["id"]
    for i, chunk in enumerate(split_bytes(mp4.read_bytes(), 5000)):
        assert alice_client.put(f"/api/sessions/{sid}/chunks/{i}/", data=chunk,
                                content_type="audio/mp4").status_code == 200
    r = alice_client.post(f"/api/sessions/{sid}/finish/")
    assert r.status_code == 200, r.content
    assert r.json()["duration"] == pytest.approx(_seconds(english_wav), abs=0.15)
    path = _write(recording_bytes(Recording.objects.get(pk=sid)), tmp_path / "final.m4a")
    assert audio.probe(str(path)).duration == pytest.approx(_seconds(english_wav), abs=0.15)


def test_finish_anyway_across_a_gap_keeps_both_streams_and_the_audio_after_the_gap(alice_client, stream_bytes,
                                                                                  audio_dir, english_wav):
    """The user gives up on a lost chunk: the stream goes on after the gap, and a resumed stream after it."""
    sid = start(alice_client)
    first = split_bytes(stream_bytes, 3000)
    keep = len(first) // 2
    for i, c in enumerate(first):
        if i != keep:
            put(alice_client, sid, i, c)
    second_wav = espeak("Second part of the meeting after the reload.", audio_dir / "second-gap.wav")
    second = split_bytes(live_webm(second_wav, audio_dir / "second-gap.webm").read_bytes(), 3000)
    for j, c in enumerate(second):
        put(alice_client, sid, len(first) + j, c, stream_start=(j == 0))
    assert alice_client.post(f"/api/sessions/{sid}/finish/").status_code == 409
    r = alice_client.post(f"/api/sessions/{sid}/finish/", {"allow_gaps": True}, content_type="application/json")
    assert r.status_code == 200, r.content
    duration, lost = r.json()["duration"], r.json()["missing_seconds"]
    both = _seconds(english_wav) + _seconds(second_wav)
    # One 3000-byte chunk of 32 kb/s Opus, and what precedes the next cluster: well under 3 s.
    assert 0.3 < lost < 3.0
    assert duration == pytest.approx(both - lost, abs=0.4)
    assert Recording.objects.get(pk=sid).missing_seconds == lost


def test_finish_across_a_gap_keeps_every_chunk_after_it(alice_client, stream_bytes, english_wav, tmp_path):
    """The issue: chunks 0, 2, 3; finishing with allow_gaps kept chunk 0 only and deleted 2 and 3."""
    chunks = split_bytes(stream_bytes, 3000)
    sid = start(alice_client)
    for i in (0, 2, 3):
        assert put(alice_client, sid, i, chunks[i]).status_code == 200
    r = alice_client.post(f"/api/sessions/{sid}/finish/", {"allow_gaps": True}, content_type="application/json")
    assert r.status_code == 200, r.content
    only_first = audio.probe(str(_write(chunks[0], tmp_path / "c0.webm")), strict=False).duration
    first_three = audio.probe(str(_write(b"".join(chunks[:4]), tmp_path / "c03.webm")), strict=False).duration
    duration, lost = r.json()["duration"], r.json()["missing_seconds"]
    assert duration > only_first + 0.3  # the audio after the gap is there
    assert 0.3 < lost < 2.5 and duration == pytest.approx(first_three - lost, abs=0.3)
    rec = Recording.objects.get(pk=sid)
    assert rec.missing_seconds == lost and not Chunk.objects.filter(recording=rec).exists()

    # Everything but one chunk in the middle: the whole recording less about that chunk.
    sid = start(alice_client)
    for i, c in enumerate(chunks):
        if i != 1:
            put(alice_client, sid, i, c)
    r = alice_client.post(f"/api/sessions/{sid}/finish/", {"allow_gaps": True}, content_type="application/json")
    duration, lost = r.json()["duration"], r.json()["missing_seconds"]
    assert 0.3 < lost < 2.5
    assert duration == pytest.approx(_seconds(english_wav) - lost, abs=0.3)
    page = alice_client.get(f"/recordings/{sid}/").content.decode()
    assert "Enregistrement incomplet" in page and "il manque environ" in page


def test_a_recording_without_gaps_has_nothing_missing(alice_client, stream_bytes):
    sid = start(alice_client)
    for i, c in enumerate(split_bytes(stream_bytes, 5000)):
        put(alice_client, sid, i, c)
    r = alice_client.post(f"/api/sessions/{sid}/finish/")
    assert r.status_code == 200 and r.json()["missing_seconds"] == 0.0
    assert "Enregistrement incomplet" not in alice_client.get(f"/recordings/{sid}/").content.decode()
