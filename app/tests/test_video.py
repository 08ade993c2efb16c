"""Videos: whatever FFmpeg decodes to audio is taken, tracks of unequal length included.

An H.264 + AAC MP4 whose audio track (6.06 s) ends before its picture (7.96 s)
was refused as "tronqué" (its decoded audio was compared with the container's
duration, the longest track's). Files are made by ffmpeg here; libx264 where
this ffmpeg has it, MPEG-4 part 2 otherwise.
"""
import subprocess

import pytest

from brefboard.recordings.models import Recording, Segment, TranscriptionJob
from tests.helpers import espeak, wait_for, words

pytestmark = pytest.mark.django_db


def _video_codec() -> list[str]:
    encoders = subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
    if " libx264 " in encoders:
        return ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    return ["-c:v", "mpeg4"]


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def unequal_mp4(audio_dir):
    speech = espeak("The budget meeting will begin at nine. Please bring the marketing report.",
                    audio_dir / "video-speech.wav")
    path = audio_dir / "unequal.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=7.96", "-i", str(speech), "-t", "7.96",
           *_video_codec(), "-c:a", "aac", "-af", "apad,atrim=0:6.06", "-movflags", "+faststart", str(path))
    durations = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,duration", "-of",
                                "csv=p=0", str(path)], capture_output=True, text=True, check=True).stdout.split()
    kinds = dict(line.split(",")[:2] for line in durations)
    assert float(kinds["video"]) == pytest.approx(7.96, abs=0.05)
    assert float(kinds["audio"]) == pytest.approx(6.06, abs=0.05)
    return path


def upload(client, path):
    with open(path, "rb") as fh:
        return client.post("/upload/", {"audio": fh, "language": "en"}, HTTP_ACCEPT="application/json")


def test_a_video_whose_audio_ends_before_the_picture_is_accepted(alice_client, unequal_mp4):
    r = upload(alice_client, unequal_mp4)
    assert r.status_code == 201, r.content
    rec = Recording.objects.get(pk=r.json()["recording"])
    assert rec.duration == pytest.approx(6.06, abs=0.1)  # the audio's length: what is transcribed


def test_a_video_without_an_audio_track_is_refused_with_a_reason(alice_client, audio_dir):
    path = audio_dir / "silent-film.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=4", *_video_codec(), str(path))
    r = upload(alice_client, path)
    assert r.status_code == 415
    assert r.json()["error"] == "ce fichier ne contient pas de piste audio"
    assert not Recording.objects.exists()


def test_a_truncated_video_is_refused(alice_client, unequal_mp4, audio_dir):
    data = unequal_mp4.read_bytes()
    # The index at the front (faststart), the media cut: the audio stops short of the header's length.
    front = audio_dir / "cut-front.mp4"
    front.write_bytes(data[: len(data) * 6 // 10])
    r = upload(alice_client, front)
    assert r.status_code == 400 and "tronqué" in r.json()["error"], r.content
    # The index at the end (a plain MP4 write) never arrived.
    late = audio_dir / "index-last.mp4"
    ffmpeg("-i", str(unequal_mp4), "-c", "copy", "-movflags", "0", str(late))
    cut = audio_dir / "cut-index.mp4"
    cut.write_bytes(late.read_bytes()[: late.stat().st_size * 6 // 10])
    r = upload(alice_client, cut)
    assert r.status_code == 400 and "tronqué" in r.json()["error"], r.content
    assert not Recording.objects.exists()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_unequal_video_is_transcribed(alice_client, unequal_mp4, start_worker):
    start_worker()
    r = upload(alice_client, unequal_mp4)
    assert r.status_code == 201, r.content
    job = wait_for(lambda: (j := TranscriptionJob.objects.get(pk=r.json()["job"])).status not in ("queued", "running")
                   and j, timeout=120, what="the video's transcription")
    assert job.status == "done", job.error
    rec = Recording.objects.get(pk=job.recording_id)
    assert {"budget", "meeting", "marketing", "report"} <= set(words(rec.transcript)), rec.transcript
    assert all(s.end <= 6.06 + 0.5 for s in Segment.objects.filter(recording=rec))
