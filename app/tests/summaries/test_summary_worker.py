"""End to end through the real engine: a `celery worker -Q summaries` process,
the real Redis broker, the test database, and the local OpenAI-compatible
server (fake_openai.py) standing in for Mistral's API, which the test hosts
cannot reach."""
from __future__ import annotations

import pytest
from django.urls import reverse

from brefboard.library.models import Summary
from brefboard.recordings.models import Recording

from ..helpers import wait_for
from .fake_openai import SECRET, Reply

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

TRANSCRIPT = (
    "Good morning everyone. We are reviewing the launch plan of the mobile app. "
    "The launch slips by two weeks because of the payment provider. "
    "We agreed to move the launch to June. Anna will update the roadmap by Friday."
)


def test_regenerate_runs_on_a_summaries_worker(alice, alice_client, fake_llm, start_worker, monkeypatch, tmp_path):
    monkeypatch.setenv("LLM_BASE_URL", fake_llm.base_url)
    monkeypatch.setenv("LLM_MODEL", "fake-model")
    key_file = tmp_path / "llm.key"
    key_file.write_text(SECRET)
    monkeypatch.setenv("LLM_API_KEY_FILE", str(key_file))
    monkeypatch.setenv("LLM_MAX_RETRIES", "3")
    fake_llm.push(Reply(status=503, headers={"Retry-After": "1"}))  # the worker must wait and retry

    worker = start_worker(queues="summaries", name="summaries")
    rec = Recording.objects.create(owner=alice, source=Recording.Source.UPLOAD, status=Recording.Status.DONE,
                                   transcript=TRANSCRIPT, language="en")
    r = alice_client.post(reverse("summary_regenerate", args=[rec.pk]), HTTP_ACCEPT="application/json")
    assert r.status_code == 202

    def finished():
        s = Summary.objects.get(recording=rec)
        return s if s.status in ("done", "failed") else None

    summary = wait_for(finished, timeout=60, what="the summary job")
    assert summary.status == "done", (summary.error, worker.output()[-2000:])
    assert summary.method == "llm" and summary.language == "en"
    assert len(fake_llm.requests) == 4  # 503, then summary, structured part, title
    assert all(q.headers.get("Authorization") == f"Bearer {SECRET}" for q in fake_llm.requests)
    assert all("in English" in q.system for q in fake_llm.requests[1:])
    rec.refresh_from_db()
    assert rec.title == "Réunion de test"
    assert SECRET not in worker.output()
    page = alice_client.get(reverse("library_detail", args=[rec.pk])).content.decode()
    assert "Résumé formel de la réunion." in page


def test_upload_transcribed_then_summarised_without_an_llm(alice_client, english_wav, start_worker, monkeypatch):
    """The whole pipeline on real workers: upload, Whisper on the transcription
    queue, then the summary job the finished transcript asks for on the
    summaries queue; no endpoint configured, so the summary is extractive and
    every page and export says so."""
    import srt

    from brefboard.library import services

    for name in services.LLM_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    start_worker(queues="transcribe.cpu,summaries", name="pipeline")
    with open(english_wav, "rb") as fh:
        body = alice_client.post("/upload/", {"audio": fh, "language": "en"}, HTTP_ACCEPT="application/json").json()
    rec_id = body["recording"]

    def summarised():
        s = Summary.objects.filter(recording_id=rec_id).first()
        return s if s is not None and s.status in ("done", "failed") else None

    summary = wait_for(summarised, timeout=300, interval=0.5, what="transcription then summary")
    rec = Recording.objects.get(pk=rec_id)
    assert summary.status == "done", summary.error
    assert summary.method == "extractive" and summary.language == "en"
    assert str(summary.source_job) == body["job"]
    assert summary.text and all(w in rec.transcript for w in summary.text.split()[:5])
    assert rec.title and len(rec.title.split()) <= 10  # generated, as the upload had none
    page = alice_client.get(reverse("library_detail", args=[rec_id])).content.decode()
    assert "Résumé extractif" in page
    subs = list(srt.parse(alice_client.get(reverse("library_export", args=[rec_id, "srt"])).content.decode()))
    assert subs and subs[-1].end.total_seconds() <= (rec.duration or 0) + 1
