"""The same audio gives the same transcript whichever way it came, on every run.

Through a real Redis and a real `celery worker`: a passage recorded through the
session API (a MediaRecorder-like WebM/Opus stream cut into chunks, with the
live passes running meanwhile) and the same stream uploaded whole, then the
upload transcribed again. And a file with nothing said in it completes with an
empty transcript and a plain note on the page.
"""
import re
import subprocess
import time

import pytest

from brefboard.recordings.models import Recording, Segment, TranscriptionJob
from tests.helpers import espeak, live_webm, split_bytes, wait_for, words

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

PASSAGE = (
    "Good morning everyone. Today we review the schedule for the new website. "
    "The design team finished the first mockups last week, and the developers start on Monday. "
    "We still need a decision on the budget before Friday, because the launch date depends on it. "
    "Please send your questions to the project manager."
)


def done(job_id) -> TranscriptionJob:
    def finished():
        j = TranscriptionJob.objects.get(pk=job_id)
        return j if j.status not in ("queued", "running") else None

    job = wait_for(finished, timeout=180, interval=0.5, what=f"job {job_id}")
    assert job.status == "done", job.error
    return job


def transcript_of(job: TranscriptionJob):
    rec = Recording.objects.get(pk=job.recording_id)
    return rec.transcript, [(s.start, s.end, s.text) for s in Segment.objects.filter(job=job).order_by("index")]


def test_chunked_session_and_upload_of_the_same_audio_give_the_same_transcript(alice_client, audio_dir,
                                                                               start_worker):
    worker = start_worker()
    # Speech in a noisy room: windows fail Whisper's log-probability threshold and go to
    # the temperature fallback, which sampled at random and gave each path its own text.
    clean = espeak(PASSAGE, audio_dir / "passage.wav")
    wav = audio_dir / "passage-noisy.wav"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(clean), "-f", "lavfi", "-i",
                    "anoisesrc=color=white:amplitude=0.15:seed=1", "-filter_complex",
                    "[0:a]aresample=48000,volume=0.5[a];[1:a]aresample=48000[n];"
                    "[a][n]amix=inputs=2:duration=first:normalize=0", "-ac", "1", str(wav)], check=True)
    stream = live_webm(wav, audio_dir / "passage.webm")
    data = stream.read_bytes()

    r = alice_client.post("/api/sessions/", {"mime_type": "audio/webm;codecs=opus", "language": "en"},
                          content_type="application/json")
    sid = r.json()["id"]
    for i, chunk in enumerate(split_bytes(data, 3000)):
        assert alice_client.put(f"/api/sessions/{sid}/chunks/{i}/", data=chunk,
                                content_type="audio/webm").status_code == 200
        time.sleep(0.1)  # live passes run meanwhile, as while recording
    session_job = done(alice_client.post(f"/api/sessions/{sid}/finish/").json()["job"])

    with open(stream, "rb") as fh:
        r = alice_client.post("/upload/", {"audio": fh, "language": "en"}, HTTP_ACCEPT="application/json")
    assert r.status_code == 201, r.content
    upload_job = done(r.json()["job"])

    session_text, session_segments = transcript_of(session_job)
    upload_text, upload_segments = transcript_of(upload_job)
    assert len(set(words(upload_text)) & set(words(PASSAGE))) >= 8, upload_text
    assert len(upload_segments) >= 2
    fallbacks = [int(n) for n in re.findall(r"; (\d+) fallback decodes", worker.output())]
    assert fallbacks and max(fallbacks) > 0, "no window needed the fallback: the audio proves nothing"
    assert session_text == upload_text
    assert session_segments == upload_segments

    # The same upload once more: the same text, the same segments.
    rec_id = upload_job.recording_id
    r = alice_client.post(f"/recordings/{rec_id}/retranscribe/", {"language": "en"}, HTTP_ACCEPT="application/json")
    assert r.status_code == 201, r.content
    again = done(r.json()["id"])
    assert transcript_of(again) == (upload_text, upload_segments)


def test_an_upload_with_no_speech_completes_with_an_empty_transcript_and_a_note(alice_client, audio_dir,
                                                                                start_worker):
    start_worker()
    files = {}
    for name, source in {"silence": "anullsrc=r=48000:cl=stereo", "noise": "anoisesrc=color=white:amplitude=0.1:seed=5"}.items():
        path = audio_dir / f"upload-{name}.webm"
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", source, "-t", "6",
                        "-c:a", "libopus", str(path)], check=True)
        files[name] = path
    short = audio_dir / "upload-short.wav"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i",
                    str(espeak("Thank you.", audio_dir / "thanks.wav")), "-t", "0.1", str(short)], check=True)
    files["short"] = short
    for name, path in files.items():
        with open(path, "rb") as fh:
            r = alice_client.post("/upload/", {"audio": fh, "language": "auto"}, HTTP_ACCEPT="application/json")
        assert r.status_code == 201, (name, r.content)
        job = done(r.json()["job"])
        rec = Recording.objects.get(pk=job.recording_id)
        assert rec.status == "done" and rec.transcript == "", (name, rec.transcript)
        assert not Segment.objects.filter(recording=rec).exists(), name
        page = alice_client.get(f"/recordings/{rec.pk}/").content.decode()
        assert "Aucune parole détectée" in page, name
        assert "pas encore de transcription" not in page
