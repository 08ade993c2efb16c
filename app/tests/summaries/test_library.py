"""The library (the original's `profil`), summaries as jobs, exports: through Django's
test client, the real database, a real Redis broker and the local OpenAI-compatible
server of fake_openai.py (the real LLM APIs are unreachable from the test hosts)."""
from __future__ import annotations

import io
import json

import pytest
from django.urls import reverse
from prometheus_client import REGISTRY
from pypdf import PdfReader

from brefboard.library import services
from brefboard.library.models import Summary
from brefboard.recordings.models import Recording, Segment, TranscriptionJob

from .fake_openai import SECRET, Reply

pytestmark = pytest.mark.django_db

XSS_TITLE = """<script>alert("title")</script> Budget "Q3" & l'équipe"""
XSS_TEXT = """Bonjour. <script>alert('transcript')</script> Le "budget" & <img src=x onerror=alert(1)> augmente."""
XSS_SUMMARY = """<script>alert("summary")</script> Résumé "formel"."""
PAYLOADS = ("<script>alert(", "<img src=x", "onerror=alert(1)>")

FR_TRANSCRIPT = (
    "Bonjour à tous. Nous faisons le point sur le budget du projet Hermès. "
    "Le budget a dépassé de dix pour cent les prévisions à cause des licences. "
    "Nous avons décidé de renégocier le contrat avec le fournisseur. "
    "Paul doit envoyer le nouveau planning avant le 15 mars."
)


def make_recording(owner, *, title="", transcript=FR_TRANSCRIPT, language="fr", segments=True, **kw):
    rec = Recording.objects.create(owner=owner, title=title, source=Recording.Source.UPLOAD,
                                   status=Recording.Status.DONE, transcript=transcript,
                                   language=language, **kw)
    if segments:
        job = TranscriptionJob.objects.create(recording=rec, status=TranscriptionJob.Status.DONE,
                                              queue="transcribe.cpu", completions=1)
        Segment.objects.create(recording=rec, job=job, index=0, start=0.0, end=2.0, text=transcript[:60])
        Segment.objects.create(recording=rec, job=job, index=1, start=2.0, end=5.5, text=transcript[60:120])
    return rec


def make_summary(rec, **kw):
    values = dict(status=Summary.Status.DONE, text="Résumé.", title="Titre", method="llm",
                  key_points=["Point"], decisions=["Décision"], action_items=["Action"])
    values.update(kw)
    return Summary.objects.create(recording=rec, **values)


def metric(name, labels=None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


@pytest.fixture
def llm(settings, fake_llm):
    """Point the app at the local server, with fast retries."""
    settings.LLM_BASE_URL = fake_llm.base_url
    settings.LLM_MODEL = "fake-model"
    settings.LLM_API_KEY = SECRET
    settings.LLM_MAX_RETRIES = "0"
    settings.LLM_TIMEOUT = "5"
    return fake_llm


@pytest.fixture
def no_llm(settings, monkeypatch):
    for name in services.LLM_SETTINGS:
        monkeypatch.delenv(name, raising=False)
        setattr(settings, name, "")


# --- Escaping --------------------------------------------------------------------------------


def pages_of(rec):
    return [
        reverse("profil"),
        reverse("profil") + "?search=script",
        reverse("profil") + "?search=" + "%3Cscript%3E",
        reverse("library_detail", args=[rec.pk]),
        reverse("library_edit", args=[rec.pk]),
        reverse("library_delete", args=[rec.pk]),
        reverse("recording_detail", args=[rec.pk]),
        reverse("home"),
    ]


def test_user_text_is_escaped_on_every_page(alice, alice_client):
    rec = make_recording(alice, title=XSS_TITLE, transcript=XSS_TEXT)
    make_summary(rec, text=XSS_SUMMARY, title=XSS_TITLE, key_points=[XSS_SUMMARY],
                 decisions=["<b>gras</b>"], action_items=['" onmouseover="x'])
    for url in pages_of(rec):
        response = alice_client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        for payload in PAYLOADS:
            assert payload not in body, (url, payload)
        assert "<b>gras</b>" not in body
        if "search" not in url:
            assert "&lt;script&gt;alert(" in body, url  # shown, as text
    detail = alice_client.get(reverse("library_detail", args=[rec.pk])).content.decode()
    assert "&quot;Q3&quot;" in detail and "l&#x27;équipe" in detail
    assert '" onmouseover="x' not in detail


def test_a_search_term_is_escaped_too(alice, alice_client):
    make_recording(alice, title="Budget")
    body = alice_client.get(reverse("profil"), {"search": '"><script>alert(1)</script>'}).content.decode()
    assert "<script>alert(1)" not in body and "&lt;script&gt;alert(1)" in body


def test_json_endpoints_are_json_and_exports_are_attachments(alice, alice_client):
    rec = make_recording(alice, title=XSS_TITLE, transcript=XSS_TEXT)
    summary = make_summary(rec, text=XSS_SUMMARY, title=XSS_TITLE)
    r = alice_client.get(reverse("get_summary", args=[summary.pk]))
    assert r["Content-Type"] == "application/json" and r.json() == {"title": XSS_TITLE, "text": XSS_SUMMARY}
    for fmt in ("pdf", "txt", "md", "srt", "vtt"):
        r = alice_client.get(reverse("library_export", args=[rec.pk, fmt]))
        assert r.status_code == 200, fmt
        disposition = r["Content-Disposition"]
        assert disposition.startswith("attachment; filename=") and "<" not in disposition and '"Q3' not in disposition
        assert r["X-Content-Type-Options"] == "nosniff"
        assert not r["Content-Type"].startswith("text/html")


# --- Owners only -----------------------------------------------------------------------------


def test_another_users_items_are_404_everywhere(alice, bob_client, alice_client):
    rec = make_recording(alice, title="À Alice")
    summary = make_summary(rec)
    get_urls = [
        reverse("library_detail", args=[rec.pk]),
        reverse("library_edit", args=[rec.pk]),
        reverse("library_delete", args=[rec.pk]),
        reverse("summary_status", args=[rec.pk]),
        reverse("get_summary", args=[summary.pk]),
        reverse("get_transcription", args=[rec.pk]),
        reverse("recording_detail", args=[rec.pk]),
    ] + [reverse("library_export", args=[rec.pk, fmt]) for fmt in ("pdf", "txt", "md", "srt", "vtt")]
    post_urls = [
        reverse("library_edit", args=[rec.pk]),
        reverse("library_delete", args=[rec.pk]),
        reverse("summary_regenerate", args=[rec.pk]),
        reverse("delete_summary", args=[summary.pk]),
        reverse("delete_transcription", args=[rec.pk]),
    ]
    for url in get_urls:
        assert bob_client.get(url).status_code == 404, url
    for url in post_urls:
        assert bob_client.post(url, {"title": "volé", "transcript": "volé"}).status_code == 404, url
    assert bob_client.delete(reverse("delete_summary", args=[summary.pk])).status_code == 404
    # nothing changed, and Bob's library does not list it
    rec.refresh_from_db()
    summary.refresh_from_db()
    assert rec.title == "À Alice" and rec.transcript == FR_TRANSCRIPT
    assert summary.status == Summary.Status.DONE and summary.request_id
    assert "À Alice" not in bob_client.get(reverse("profil")).content.decode()
    assert "À Alice" in alice_client.get(reverse("profil")).content.decode()
    # the same ids do not exist at all for Bob: a missing id looks the same
    assert bob_client.get(reverse("library_detail", args=[rec.pk + 1000])).status_code == 404


def test_anonymous_users_are_sent_to_login(client, alice):
    rec = make_recording(alice)
    for url in (reverse("profil"), reverse("library_detail", args=[rec.pk]),
                reverse("library_export", args=[rec.pk, "pdf"])):
        r = client.get(url)
        assert r.status_code == 302 and "login" in r["Location"], url


# --- The library page ------------------------------------------------------------------------


def test_search_over_titles_transcripts_and_summaries(alice, bob, alice_client):
    a = make_recording(alice, title="Comité budgétaire", transcript="On parle de chiffres.")
    b = make_recording(alice, title="Point hebdomadaire", transcript="Le BUDGET de l'équipe mobile.")
    c = make_recording(alice, title="Rétrospective", transcript="Rien à signaler.")
    make_summary(c, text="Décision sur le budget des licences.")
    make_recording(alice, title="Sans rapport", transcript="Autre sujet.")
    make_recording(bob, title="Budget de Bob", transcript="budget")
    page = alice_client.get(reverse("profil"), {"search": "budget"})
    found = {r.pk for r in page.context["page"].object_list}
    # case-insensitive, in transcripts and summaries; "budgétaire" is not "budget"
    assert found == {b.pk, c.pk} and a.pk not in found
    body = page.content.decode()
    assert "Budget de Bob" not in body and "Sans rapport" not in body
    assert alice_client.get(reverse("profil"), {"search": "Comité"}).context["page"].paginator.count == 1


def test_sort_by_date_and_title(alice, alice_client):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    b = make_recording(alice, title="bravo", created_at=now - timedelta(days=1))
    a = make_recording(alice, title="Alpha", created_at=now - timedelta(days=3))
    c = make_recording(alice, title="", created_at=now - timedelta(days=2))
    make_summary(c, title="charlie")  # untitled: sorted by its generated title

    def order(sort):
        return [r.pk for r in alice_client.get(reverse("profil"), {"sort": sort}).context["page"]]

    assert order("date_desc") == [b.pk, c.pk, a.pk]
    assert order("date_asc") == [a.pk, c.pk, b.pk]
    assert order("asc") == [a.pk, c.pk, b.pk]  # the original's values still work
    assert order("title_asc") == [a.pk, b.pk, c.pk]
    assert order("title_desc") == [c.pk, b.pk, a.pk]
    assert order("nonsense") == [b.pk, c.pk, a.pk]


def test_pagination(alice, alice_client):
    for i in range(25):
        make_recording(alice, title=f"Réunion {i:02d}", segments=False)
    first = alice_client.get(reverse("profil"))
    assert len(first.context["page"]) == 20 and first.context["page"].paginator.num_pages == 2
    assert 'rel="next"' in first.content.decode()
    second = alice_client.get(reverse("profil"), {"page": 2, "sort": "title_asc"})
    assert [r.title for r in second.context["page"]] == [f"Réunion {i:02d}" for i in range(20, 25)]
    assert alice_client.get(reverse("profil"), {"page": "abc"}).context["page"].number == 1
    assert alice_client.get(reverse("profil"), {"page": 99}).context["page"].number == 2


def test_edit_title_and_transcript(alice, alice_client):
    rec = make_recording(alice, title="Ancien")
    url = reverse("library_edit", args=[rec.pk])
    r = alice_client.post(url, {"title": "  Nouveau   titre ", "transcript": "Texte corrigé.\r\nDeuxième ligne."})
    assert r.status_code == 302 and r["Location"] == reverse("library_detail", args=[rec.pk])
    rec.refresh_from_db()
    assert rec.title == "Nouveau titre" and rec.transcript == "Texte corrigé.\nDeuxième ligne."


def test_bad_edits_are_400_and_lose_nothing(alice, alice_client):
    rec = make_recording(alice, title="Gardé")
    url = reverse("library_edit", args=[rec.pk])
    r = alice_client.post(url, {"title": "x" * 201, "transcript": "autre"})
    assert r.status_code == 400 and "200" in r.content.decode()
    r = alice_client.post(url, {"title": "ok", "transcript": "nul\x00"})
    assert r.status_code == 400
    rec.refresh_from_db()
    assert rec.title == "Gardé" and rec.transcript == FR_TRANSCRIPT


def test_delete_asks_for_confirmation(alice, alice_client):
    rec = make_recording(alice, title="À supprimer")
    make_summary(rec)
    url = reverse("library_delete", args=[rec.pk])
    page = alice_client.get(url)
    assert page.status_code == 200 and "Supprimer définitivement" in page.content.decode()
    assert Recording.objects.filter(pk=rec.pk).exists()  # a GET deletes nothing
    r = alice_client.post(url)
    assert r.status_code == 302 and r["Location"] == reverse("profil")
    assert not Recording.objects.filter(pk=rec.pk).exists()
    assert not Summary.objects.filter(recording_id=rec.pk).exists()


def test_original_json_endpoints_keep_their_shapes(alice, alice_client):
    rec = make_recording(alice, title="Réunion")
    summary = make_summary(rec, title="Titre généré", text="Le résumé.")
    assert alice_client.get(reverse("get_summary", args=[summary.pk])).json() == {
        "title": "Titre généré", "text": "Le résumé."}
    assert alice_client.get(reverse("delete_summary", args=[summary.pk])).status_code == 405
    assert alice_client.post(reverse("delete_summary", args=[summary.pk])).json() == {"status": "success"}
    assert not Summary.objects.filter(pk=summary.pk).exists()
    rec.refresh_from_db()
    assert rec.transcript == FR_TRANSCRIPT  # deleting a summary keeps the transcript
    assert alice_client.get(reverse("get_transcription", args=[rec.pk])).json() == {
        "title": "Réunion", "text": FR_TRANSCRIPT}


# --- Exports through the views ---------------------------------------------------------------


def test_pdf_export_of_a_recording(alice, alice_client):
    rec = make_recording(alice, title="Réunion d’été — œuvre")
    make_summary(rec, text="Synthèse : décisions prises, coût 12 €.")
    r = alice_client.get(reverse("library_export", args=[rec.pk, "pdf"]))
    assert r["Content-Type"] == "application/pdf"
    assert "filename*=UTF-8''R%C3%A9union%20d%E2%80%99%C3%A9t%C3%A9%20%E2%80%94%20%C5%93uvre.pdf" in r["Content-Disposition"]
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages).split())
    assert "Réunion d’été — œuvre" in text and "Synthèse : décisions prises, coût 12 €." in text
    assert "Le budget a dépassé de dix pour cent" in text


PDF_NOTE = "Export PDF indisponible : aucune police Unicode n&#x27;est installée sur le serveur"


def test_pdf_link_shown_when_a_unicode_font_is_found(alice, alice_client, settings, tmp_path):
    from brefboard.summaries.exports import find_font

    regular, _ = find_font({})  # the real one (fonts-dejavu-core), copied where the setting points
    fonts = tmp_path / "fonts"
    fonts.mkdir()
    (fonts / "DejaVuSans.ttf").write_bytes(open(regular, "rb").read())
    settings.BREFBOARD_PDF_FONT_DIRS = [str(fonts)]
    rec = make_recording(alice, title="Réunion")
    pdf_url = reverse("library_export", args=[rec.pk, "pdf"])
    for page in (reverse("library_detail", args=[rec.pk]), reverse("profil")):
        body = alice_client.get(page).content.decode()
        assert f'href="{pdf_url}"' in body and "Export PDF indisponible" not in body, page
    r = alice_client.get(pdf_url)
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    assert "Réunion" in PdfReader(io.BytesIO(r.content)).pages[0].extract_text()


def test_without_a_unicode_font_the_pages_say_so_and_hide_the_pdf_link(alice, alice_client, settings, tmp_path):
    settings.BREFBOARD_PDF_FONT_DIRS = [str(tmp_path / "no-fonts-here")]  # and no fontconfig either
    rec = make_recording(alice, title="Réunion")
    pdf_url = reverse("library_export", args=[rec.pk, "pdf"])
    for page in (reverse("library_detail", args=[rec.pk]), reverse("profil")):
        r = alice_client.get(page)
        body = r.content.decode()
        assert r.status_code == 200
        assert PDF_NOTE in body and "fonts-dejavu-core" in body, page
        assert pdf_url not in body, page
        assert reverse("library_export", args=[rec.pk, "txt"]) in body or page == reverse("profil")
    r = alice_client.get(pdf_url)  # asked for anyway: still a clear 503
    assert r.status_code == 503 and "fonts-dejavu-core" in r.content.decode()
    assert alice_client.get(reverse("library_export", args=[rec.pk, "txt"])).status_code == 200


def test_subtitles_from_stored_segments_and_409_without(alice, alice_client):
    import srt

    rec = make_recording(alice)
    subs = list(srt.parse(alice_client.get(reverse("library_export", args=[rec.pk, "srt"])).content.decode()))
    assert [(s.start.total_seconds(), s.end.total_seconds()) for s in subs] == [(0.0, 2.0), (2.0, 5.5)]
    bare = make_recording(alice, segments=False)
    r = alice_client.get(reverse("library_export", args=[bare.pk, "vtt"]))
    assert r.status_code == 409 and "segments" in r.content.decode()
    assert alice_client.get(f"/library/{rec.pk}/export/exe/").status_code == 404


# --- Summaries as jobs ------------------------------------------------------------------------


def run_pending(rec) -> str:
    summary = Summary.objects.get(recording=rec)
    return services.run_summary(summary.pk, str(summary.request_id))


def test_generated_summary_and_title_with_metrics(alice, alice_client, llm, django_capture_on_commit_callbacks):
    rec = make_recording(alice, title="")
    generated = metric("django_summaries_generated_total")
    timed = metric("django_summary_generation_seconds_count")
    with django_capture_on_commit_callbacks(execute=False):
        r = alice_client.post(reverse("summary_regenerate", args=[rec.pk]), HTTP_ACCEPT="application/json")
    assert r.status_code == 202 and r.json()["status"] == "queued"
    assert run_pending(rec) == "done"
    summary = Summary.objects.get(recording=rec)
    rec.refresh_from_db()
    assert summary.status == "done" and summary.method == "llm" and summary.model == "fake-model"
    assert summary.text == "Résumé formel de la réunion." and summary.key_points == ["Point A"]
    assert rec.title == "Réunion de test"  # the generated title, since the user gave none
    assert metric("django_summaries_generated_total") == generated + 1
    assert metric("django_summary_generation_seconds_count") == timed + 1
    # the prompts went out in French, with the key in the header only
    assert all("français" in q.system for q in llm.requests if "JSON" not in q.system)
    assert llm.requests[0].headers["Authorization"] == f"Bearer {SECRET}"
    page = alice_client.get(reverse("library_detail", args=[rec.pk])).content.decode()
    assert "Résumé formel de la réunion." in page and "Point A" in page and "extractif" not in page


def test_a_users_title_is_kept_but_a_generated_one_is_refreshed(alice, llm, django_capture_on_commit_callbacks):
    mine = make_recording(alice, title="Mon titre")
    with django_capture_on_commit_callbacks():
        services.request_summary(mine)
    run_pending(mine)
    mine.refresh_from_db()
    assert mine.title == "Mon titre"
    theirs = make_recording(alice, title="")
    with django_capture_on_commit_callbacks():
        services.request_summary(theirs)
    run_pending(theirs)
    llm.responder = lambda req: "Nouveau titre." if "10 mots" in req.system else "Résumé."
    with django_capture_on_commit_callbacks():
        services.request_summary(theirs)
    run_pending(theirs)
    theirs.refresh_from_db()
    assert theirs.title == "Nouveau titre"


def test_failure_is_shown_counted_and_the_transcript_kept(alice, alice_client, llm, django_capture_on_commit_callbacks):
    rec = make_recording(alice, title="Réunion")
    errors = metric("django_error_total", {"type": "summary_generation_error"})
    llm.push(Reply(status=500, raw=f'{{"error": "boom for {SECRET}"}}'.encode()))
    with django_capture_on_commit_callbacks():
        services.request_summary(rec)
    assert run_pending(rec) == "failed"
    summary = Summary.objects.get(recording=rec)
    assert summary.status == "failed" and summary.error_kind == "server_error"
    assert metric("django_error_total", {"type": "summary_generation_error"}) == errors + 1
    rec.refresh_from_db()
    assert rec.transcript == FR_TRANSCRIPT and rec.title == "Réunion"
    page = alice_client.get(reverse("library_detail", args=[rec.pk])).content.decode()
    assert "La génération du résumé a échoué" in page and "HTTP 500" in page
    assert "Régénérer le résumé" in page
    assert SECRET not in page and SECRET not in summary.error
    # regenerate after the endpoint recovers
    with django_capture_on_commit_callbacks():
        alice_client.post(reverse("summary_regenerate", args=[rec.pk]))
    assert run_pending(rec) == "done"


def test_rate_limit_then_success_within_one_job(alice, llm, settings, django_capture_on_commit_callbacks):
    settings.LLM_MAX_RETRIES = "2"
    rec = make_recording(alice)
    llm.push(Reply(status=429, headers={"Retry-After": "0"}))
    with django_capture_on_commit_callbacks():
        services.request_summary(rec)
    assert run_pending(rec) == "done"


def test_extractive_without_an_endpoint_and_the_page_says_so(alice, alice_client, no_llm, django_capture_on_commit_callbacks):
    rec = make_recording(alice)
    with django_capture_on_commit_callbacks():
        services.request_summary(rec)
    assert run_pending(rec) == "done"
    summary = Summary.objects.get(recording=rec)
    assert summary.method == "extractive" and summary.text
    assert all(sentence in FR_TRANSCRIPT for sentence in summary.text.split(". ") if sentence)
    page = alice_client.get(reverse("library_detail", args=[rec.pk])).content.decode()
    assert "Résumé extractif" in page and "aucun modèle n'est configuré" in page
    listing = alice_client.get(reverse("profil")).content.decode()
    assert "(extractif)" in listing
    pdf = alice_client.get(reverse("library_export", args=[rec.pk, "pdf"])).content
    assert "Résumé extractif" in " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)


def test_the_offline_job_cuts_units_on_the_recordings_segments(alice, alice_client, no_llm,
                                                               django_capture_on_commit_callbacks):
    """The summary job gives the extractive path the recording's segments: a pause
    between two segments without punctuation ends a unit (here, the decision's)."""
    first, second = "nous avons décidé de renégocier le contrat", "Paul va envoyer le planning d'ici vendredi"
    rec = make_recording(alice, transcript=f"Bonjour à tous {first} {second}", segments=False)
    job = TranscriptionJob.objects.create(recording=rec, status=TranscriptionJob.Status.DONE,
                                          queue="transcribe.cpu", completions=1)
    Segment.objects.create(recording=rec, job=job, index=0, start=0.0, end=4.0, text=f"Bonjour à tous {first}")
    Segment.objects.create(recording=rec, job=job, index=1, start=6.0, end=9.0, text=second)
    with django_capture_on_commit_callbacks():
        services.request_summary(rec)
    assert run_pending(rec) == "done"
    summary = Summary.objects.get(recording=rec)
    assert summary.decisions == ["Bonjour à tous nous avons décidé de renégocier le contrat."]
    assert summary.action_items == ["Paul : envoyer le planning (échéance : d'ici vendredi)"]
    page = alice_client.get(reverse("library_detail", args=[rec.pk])).content.decode()
    assert "Paul : envoyer le planning (échéance : d&#x27;ici vendredi)" in page


def test_a_half_configured_endpoint_fails_loudly(alice, settings, no_llm, django_capture_on_commit_callbacks):
    settings.LLM_BASE_URL = "http://127.0.0.1:9/v1"  # no model
    rec = make_recording(alice)
    with django_capture_on_commit_callbacks():
        services.request_summary(rec)
    assert run_pending(rec) == "failed"
    assert Summary.objects.get(recording=rec).error_kind == "not_configured"


def test_a_superseded_request_writes_nothing(alice, llm, django_capture_on_commit_callbacks):
    rec = make_recording(alice)
    with django_capture_on_commit_callbacks():
        old = services.request_summary(rec)
    old_id = str(old.request_id)
    with django_capture_on_commit_callbacks():
        services.request_summary(rec)
    assert services.run_summary(old.pk, old_id) == "skipped"
    assert llm.requests == []
    assert run_pending(rec) == "done"
    assert run_pending(rec) == "skipped"  # a re-delivered message is a no-op


def test_regenerate_needs_a_transcript(alice, alice_client):
    rec = make_recording(alice, transcript="", segments=False)
    r = alice_client.post(reverse("summary_regenerate", args=[rec.pk]), HTTP_ACCEPT="application/json")
    assert r.status_code == 409 and not Summary.objects.filter(recording=rec).exists()


def test_finished_transcription_queues_a_summary_on_the_real_broker(alice, redis_server,
                                                                    django_capture_on_commit_callbacks):
    """The transcription task asks for the summary once the job is done (no signal:
    a direct call); the message lands in Redis, in the `summaries` queue, once per transcript."""
    redis_server.delete("summaries")
    rec = make_recording(alice, segments=False)
    job = TranscriptionJob.objects.create(recording=rec, queue="transcribe.cpu", status=TranscriptionJob.Status.DONE)
    with django_capture_on_commit_callbacks(execute=True):
        services.summary_after_transcript(rec.pk, job.pk)
    summary = Summary.objects.get(recording=rec)
    assert summary.status == "queued" and summary.source_job == job.pk
    assert redis_server.llen("summaries") == 1
    message = json.loads(redis_server.lindex("summaries", 0))
    assert message["headers"]["task"] == "brefboard.library.tasks.summarize_recording"
    assert message["headers"]["argsrepr"] == repr([summary.pk, str(summary.request_id)])
    with django_capture_on_commit_callbacks(execute=True):
        services.summary_after_transcript(rec.pk, job.pk)  # asked again (a re-delivery): no second request
    assert redis_server.llen("summaries") == 1
    redis_server.delete("summaries")


def test_a_silent_recording_gets_no_summary(alice, redis_server, django_capture_on_commit_callbacks):
    redis_server.delete("summaries")
    rec = make_recording(alice, transcript="", segments=False)
    job = TranscriptionJob.objects.create(recording=rec, queue="transcribe.cpu", status=TranscriptionJob.Status.DONE)
    with django_capture_on_commit_callbacks(execute=True):
        services.summary_after_transcript(rec.pk, job.pk)
    assert not Summary.objects.filter(recording=rec).exists()
    assert redis_server.llen("summaries") == 0


def test_broker_down_is_shown_not_a_500(alice, alice_client, monkeypatch, django_capture_on_commit_callbacks):
    """The message goes to a real Redis URL where nothing listens (the discard
    port), through Celery's own ``connection=`` option: a real refusal."""
    from brefboard.celery import app
    from brefboard.library.tasks import summarize_recording

    real = summarize_recording.apply_async

    def to_a_dead_broker(args=None, kwargs=None, **options):
        with app.connection_for_write("redis://127.0.0.1:9/0") as conn:
            return real(args, kwargs, connection=conn, retry=False, **options)

    monkeypatch.setattr(summarize_recording, "apply_async", to_a_dead_broker)
    rec = make_recording(alice)
    errors = metric("django_error_total", {"type": "summary_generation_error"})
    with django_capture_on_commit_callbacks(execute=True):
        r = alice_client.post(reverse("summary_regenerate", args=[rec.pk]))
    assert r.status_code == 302
    summary = Summary.objects.get(recording=rec)
    assert summary.status == "failed" and summary.error_kind == "queue"
    assert metric("django_error_total", {"type": "summary_generation_error"}) == errors + 1
    assert "injoignable" in alice_client.get(reverse("library_detail", args=[rec.pk])).content.decode()
