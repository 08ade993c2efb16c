"""Upload of audio/video files, and the 4xx answers to bad input.

These tests do not start a worker: the job message goes to the real Redis and
stays there; what is checked is what the web side stored and answered.
"""
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from brefboard.recordings.models import AudioPart, Recording, TranscriptionJob
from brefboard.recordings.storage import recording_bytes
from tests.helpers import transcode

pytestmark = pytest.mark.django_db


def upload(client, path, name=None, **extra):
    with open(path, "rb") as fh:
        return client.post("/upload/", {"audio": fh, "language": "en", **extra}, HTTP_ACCEPT="application/json")


def test_upload_stores_the_file_and_queues_a_job(alice_client, alice, english_wav, redis_server,
                                                 django_capture_on_commit_callbacks):
    redis_server.flushall()
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(alice_client, english_wav)
    assert response.status_code == 201, response.content
    rec = Recording.objects.get(pk=response.json()["recording"])
    assert rec.owner == alice and rec.source == "upload"
    assert rec.status == Recording.Status.QUEUED
    assert rec.duration == pytest.approx(_wav_seconds(english_wav), abs=0.05)
    # Stored in the database in several parts, byte for byte.
    assert AudioPart.objects.filter(recording=rec).count() > 1
    assert recording_bytes(rec) == english_wav.read_bytes()
    job = TranscriptionJob.objects.get(pk=response.json()["job"])
    assert job.status == "queued" and job.queue == "transcribe.cpu" and job.language == "en"
    # The message really reached the broker's queue.
    assert redis_server.llen("transcribe.cpu") == 1


def test_upload_of_a_video_keeps_its_audio(alice_client, english_wav, tmp_path):
    video = transcode(english_wav, tmp_path / "meeting.mp4", "-f", "lavfi", "-i", "color=c=blue:s=160x120:r=10",
                      "-shortest", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac")
    response = upload(alice_client, video)
    assert response.status_code == 201, response.content
    rec = Recording.objects.get(pk=response.json()["recording"])
    assert rec.duration == pytest.approx(_wav_seconds(english_wav), abs=0.2)


def test_upload_form_redirects_to_the_recording_page(alice_client, english_wav):
    with open(english_wav, "rb") as fh:
        response = alice_client.post("/upload/", {"audio": fh, "title": "Point budget"})
    assert response.status_code == 302
    page = alice_client.get(response["Location"])
    assert page.status_code == 200
    assert "Point budget" in page.content.decode()


def test_non_audio_upload_is_415_and_stores_nothing(alice_client):
    fake = SimpleUploadedFile("notes.mp3", b"%PDF-1.4 this is not audio at all\n" * 50, content_type="audio/mpeg")
    response = alice_client.post("/upload/", {"audio": fake}, HTTP_ACCEPT="application/json")
    assert response.status_code == 415
    assert "audio" in response.json()["error"]
    assert Recording.objects.count() == 0 and AudioPart.objects.count() == 0


def test_truncated_webm_upload_is_400(alice_client, english_webm):
    data = english_webm.read_bytes()
    cut = SimpleUploadedFile("cut.webm", data[: len(data) // 2], content_type="audio/webm")
    response = alice_client.post("/upload/", {"audio": cut}, HTTP_ACCEPT="application/json")
    assert response.status_code == 400, response.content
    assert "tronqué" in response.json()["error"]
    assert Recording.objects.count() == 0


def test_empty_upload_is_400(alice_client):
    empty = SimpleUploadedFile("empty.wav", b"", content_type="audio/wav")
    response = alice_client.post("/upload/", {"audio": empty}, HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert Recording.objects.count() == 0


def test_upload_without_file_is_400(alice_client):
    response = alice_client.post("/upload/", {}, HTTP_ACCEPT="application/json")
    assert response.status_code == 400


def test_upload_over_the_size_limit_is_413_and_keeps_what_was_stored(alice_client, english_wav, settings):
    assert upload(alice_client, english_wav).status_code == 201
    settings.BREFBOARD_MAX_UPLOAD_BYTES = english_wav.stat().st_size // 2
    response = upload(alice_client, english_wav)
    assert response.status_code == 413
    assert Recording.objects.count() == 1  # the earlier upload is untouched
    assert recording_bytes(Recording.objects.get()) == english_wav.read_bytes()


def test_post_without_csrf_token_is_403(alice, english_wav):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = upload(client, english_wav)
    assert response.status_code == 403
    assert Recording.objects.count() == 0


@pytest.mark.parametrize("job_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_unknown_job_id_is_404(alice_client, job_id):
    assert alice_client.get(f"/api/jobs/{job_id}/").status_code == 404
    assert alice_client.post(f"/api/jobs/{job_id}/cancel/").status_code == 404


def test_another_users_items_are_404(alice_client, bob_client, english_wav):
    body = upload(alice_client, english_wav).json()
    rec, job = body["recording"], body["job"]
    for url in (f"/recordings/{rec}/", f"/recordings/{rec}/audio/", f"/get_transcription/{rec}/",
                f"/api/jobs/{job}/", f"/api/sessions/{rec}/"):
        assert bob_client.get(url).status_code == 404, url
        assert alice_client.get(url).status_code == 200, url
    for url in (f"/delete_transcription/{rec}/", f"/api/jobs/{job}/cancel/", f"/recordings/{rec}/retranscribe/"):
        assert bob_client.post(url).status_code == 404, url
    assert Recording.objects.filter(pk=rec).exists()
    assert TranscriptionJob.objects.get(pk=job).status == "queued"


def test_original_json_endpoints_keep_their_shapes(alice_client, english_wav):
    rec_id = upload(alice_client, english_wav, title="Budget").json()["recording"]
    Recording.objects.filter(pk=rec_id).update(transcript="hello world")
    assert alice_client.get(f"/get_transcription/{rec_id}/").json() == {"title": "Budget", "text": "hello world"}
    assert alice_client.post(f"/delete_transcription/{rec_id}/").json() == {"status": "success"}
    assert not Recording.objects.filter(pk=rec_id).exists()
    assert alice_client.get(f"/get_transcription/{rec_id}/").status_code == 404


def test_cancel_a_queued_job(alice_client, english_wav):
    job_id = upload(alice_client, english_wav).json()["job"]
    response = alice_client.post(f"/api/jobs/{job_id}/cancel/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert alice_client.post(f"/api/jobs/{job_id}/cancel/").status_code == 409


def test_profil_search_and_sort(alice_client, english_wav):
    first = upload(alice_client, english_wav, title="Budget annuel").json()["recording"]
    second = upload(alice_client, english_wav, title="Comité RH").json()["recording"]
    Recording.objects.filter(pk=second).update(transcript="recrutement et formation")
    page = alice_client.get("/profil/?search=recrutement").content.decode()
    assert "Comité RH" in page and "Budget annuel" not in page
    page = alice_client.get("/profil/?sort=asc").content.decode()
    assert page.index("Budget annuel") < page.index("Comité RH")
    assert first != second


def _wav_seconds(path) -> float:
    import wave

    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def test_the_stored_audio_is_served_to_its_owner(alice_client, english_wav):
    rec_id = upload(alice_client, english_wav).json()["recording"]
    r = alice_client.get(f"/recordings/{rec_id}/audio/")
    assert r.status_code == 200 and r["Content-Type"] == "audio/wav"
    assert b"".join(r.streaming_content) == english_wav.read_bytes()  # streamed from its parts


def test_upload_form_shows_the_refusal_on_a_page(alice_client):
    """Without Accept: application/json (the plain HTML form), the reason is shown on a page."""
    fake = SimpleUploadedFile("slides.mp4", b"\x00\x01not a video" * 100, content_type="video/mp4")
    response = alice_client.post("/upload/", {"audio": fake})
    assert response.status_code == 415
    assert "Fichier refusé" in response.content.decode() and Recording.objects.count() == 0


def test_unknown_language_code_is_400(alice_client, english_wav):
    with open(english_wav, "rb") as fh:
        response = alice_client.post("/upload/", {"audio": fh, "language": "klingon"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 400 and "langue" in response.json()["error"]
    assert Recording.objects.count() == 0
