"""One set of answers at the limits: French error pages (400, 403, 404, 413, 500), JSON
for fetch()/API callers, the same 413 whatever the size, titles cleaned on every path,
French plurals, unfinished sessions without export links, numbers in attributes."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, RequestFactory
from django.urls import get_resolver

from brefboard.recordings.models import Chunk, Recording, TranscriptionJob
from tests.helpers import live_webm, split_bytes

pytestmark = pytest.mark.django_db


def test_404_is_a_french_page_for_a_browser_and_json_for_fetch(alice_client):
    for url in ("/recordings/999999/", "/no-such-page/"):
        page = alice_client.get(url)
        assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
        body = page.content.decode()
        assert "Page introuvable" in body and "Not Found" not in body and '<html lang="fr">' in body
        js = alice_client.get(url, HTTP_ACCEPT="application/json")
        assert js.status_code == 404 and js.json()["code"] == "not_found" and "n'existe pas" in js.json()["error"]
    # The recorder's API answers JSON whatever it asked for.
    api = alice_client.get("/api/sessions/999999/")
    assert api.status_code == 404 and api.json()["code"] == "not_found"
    assert alice_client.get("/api/jobs/not-a-uuid/").json()["code"] == "not_found"


def test_400_for_a_bad_host_is_french():
    page = Client().get("/login/", HTTP_HOST="evil.example")
    assert page.status_code == 400 and "Requête invalide" in page.content.decode()
    assert "Bad Request" not in page.content.decode()


@pytest.mark.parametrize("status,title", [(403, "Accès refusé"), (500, "Erreur du serveur")])
def test_403_and_500_handlers_are_french_pages_and_json(status, title):
    handler = get_resolver().resolve_error_handler(status)
    factory = RequestFactory()
    args = () if status == 500 else (Exception("x"),)
    html = handler(factory.get("/recordings/1/"), *args)
    assert html.status_code == status and title in html.content.decode()
    js = handler(factory.get("/recordings/1/", HTTP_ACCEPT="application/json"), *args)
    assert js.status_code == status and js["Content-Type"] == "application/json"
    assert handler(factory.get("/api/jobs/x/"), *args)["Content-Type"] == "application/json"


def test_over_the_limit_the_same_413_whatever_the_size(alice_client, english_wav, settings):
    size = english_wav.stat().st_size
    settings.BREFBOARD_MAX_UPLOAD_BYTES = size - 1000  # found too big once read
    answers = {}
    for name, limit in {"read": size - 1000, "declared": size // 4}.items():  # refused from Content-Length
        settings.BREFBOARD_MAX_UPLOAD_BYTES = limit
        with open(english_wav, "rb") as fh:
            form = alice_client.post("/upload/", {"audio": fh})
        with open(english_wav, "rb") as fh:
            fetch = alice_client.post("/upload/", {"audio": fh}, HTTP_ACCEPT="application/json")
        assert form.status_code == fetch.status_code == 413, name
        assert form["Content-Type"].startswith("text/html") and "Fichier trop volumineux" in form.content.decode()
        assert fetch.json()["code"] == "too_large"
        answers[name] = (fetch.json()["error"], form.content.decode())
        assert fetch.json()["error"] in form.content.decode()
    # The two limits differ, so the messages name them; otherwise the answers are the same.
    import re

    assert re.sub(r"\d+", "N", answers["read"][0]) == re.sub(r"\d+", "N", answers["declared"][0])
    pages = [re.sub(r'value="[^"]*"', "", re.sub(r"\d+", "N", answers[k][1])) for k in ("read", "declared")]
    assert pages[0] == pages[1]  # the same page, but for the CSRF token of the logout form
    assert not Recording.objects.exists()


def test_titles_are_cleaned_the_same_on_every_path(alice_client, english_wav, audio_dir):
    with open(english_wav, "rb") as fh:
        r = alice_client.post("/upload/", {"audio": fh, "title": "Point\r\nbudget\t 2026 "},
                              HTTP_ACCEPT="application/json")
    assert r.status_code == 201
    assert Recording.objects.get(pk=r.json()["recording"]).title == "Point budget 2026"
    r = alice_client.post("/api/sessions/", {"mime_type": "audio/webm", "title": "Réunion\r\nd'équipe"},
                          content_type="application/json")
    assert r.status_code == 201 and Recording.objects.get(pk=r.json()["id"]).title == "Réunion d'équipe"
    # A control character that is not whitespace: refused everywhere, with the same message.
    with open(english_wav, "rb") as fh:
        bad_upload = alice_client.post("/upload/", {"audio": fh, "title": "bip\x07"}, HTTP_ACCEPT="application/json")
    bad_session = alice_client.post("/api/sessions/", {"mime_type": "audio/webm", "title": "bip\x07"},
                                    content_type="application/json")
    rec = Recording.objects.filter(source="upload").first()
    form = alice_client.post(_edit_url(rec), {"title": "bip\x07", "transcript": ""})
    assert bad_upload.status_code == bad_session.status_code == 400
    assert bad_upload.json()["error"] == bad_session.json()["error"]
    assert form.status_code == 400 and bad_upload.json()["error"].replace("'", "&#x27;") in form.content.decode()
    # A file name that holds one is made a clean title, not refused.
    fake = SimpleUploadedFile("r\u00e9union\x01.wav", english_wav.read_bytes(), content_type="audio/wav")
    r = alice_client.post("/upload/", {"audio": fake}, HTTP_ACCEPT="application/json")
    assert r.status_code == 201 and Recording.objects.get(pk=r.json()["recording"]).title == "réunion"


def _edit_url(rec):
    from django.urls import reverse

    return reverse("library_edit", args=[rec.pk])


def test_fr_plural():
    from brefboard.recordings.templatetags.brefboard_fr import fr_plural

    forms = "morceau reçu,morceaux reçus"
    assert [fr_plural(n, forms) for n in (0, 1, 2, 10)] == [
        "0 morceau reçu", "1 morceau reçu", "2 morceaux reçus", "10 morceaux reçus"]


def test_the_library_marks_unfinished_sessions_without_export_links(alice_client, english_wav, audio_dir):
    stream = split_bytes(live_webm(english_wav, audio_dir / "lib.webm").read_bytes(), 4000)
    one = alice_client.post("/api/sessions/", {"mime_type": "audio/webm", "title": "Une"},
                            content_type="application/json").json()["id"]
    alice_client.put(f"/api/sessions/{one}/chunks/0/", data=stream[0], content_type="audio/webm")
    three = alice_client.post("/api/sessions/", {"mime_type": "audio/webm", "title": "Trois"},
                              content_type="application/json").json()["id"]
    for i in range(3):
        alice_client.put(f"/api/sessions/{three}/chunks/{i}/", data=stream[i], content_type="audio/webm")
    with open(english_wav, "rb") as fh:
        done = alice_client.post("/upload/", {"audio": fh, "title": "Finie"}, HTTP_ACCEPT="application/json")
    done_id = done.json()["recording"]
    page = alice_client.get("/profil/").content.decode()
    assert "1 morceau reçu" in page and "3 morceaux reçus" in page and "morceaus" not in page

    def item(pk):
        start = page.index(f'id="rec-{pk}"')
        return page[start:page.find("</li>", start)]

    for pk in (one, three):
        assert "inachevé" in item(pk) and "/export/" not in item(pk) and "/edit/" not in item(pk), item(pk)
    assert "inachevé" not in item(done_id)
    from django.urls import reverse

    assert alice_client.get(reverse("library_export", args=[one, "txt"])).status_code == 409
    detail = alice_client.get(reverse("library_detail", args=[one])).content.decode()
    assert "Enregistrement inachevé" in detail and "Exporter" not in detail
    assert Chunk.objects.filter(recording_id=three).count() == 3


def test_progress_is_machine_readable_in_attributes(alice_client, alice):
    rec = Recording.objects.create(owner=alice, source="upload", status="processing")
    TranscriptionJob.objects.create(recording=rec, queue="transcribe.cpu", status="running", progress=57.5)
    page = alice_client.get(f"/recordings/{rec.pk}/").content.decode()
    assert 'value="57.5"' in page and "57,5" not in page.split("<progress", 1)[1].split(">", 1)[0]


def test_the_proxy_can_serve_the_apps_own_413(alice_client, english_wav, settings):
    """nginx's error_page for its own 413 fetches /errors/413/ (GET, no body): the same answer."""
    settings.BREFBOARD_MAX_UPLOAD_BYTES = 1000
    with open(english_wav, "rb") as fh:
        app_json = alice_client.post("/upload/", {"audio": fh}, HTTP_ACCEPT="application/json")
    proxy_json = alice_client.get("/errors/413/", HTTP_ACCEPT="application/json")
    assert proxy_json.status_code == 413 and proxy_json.json() == app_json.json()
    assert alice_client.post("/errors/413/").status_code == 413
    anonymous = Client().get("/errors/413/")  # no login redirect: the answer is the 413 itself
    assert anonymous.status_code == 413 and "Fichier trop volumineux" in anonymous.content.decode()


def test_every_page_declares_the_site_icon_and_favicon_ico_leads_to_it():
    # Without either, browsers log a 404 for /favicon.ico on every page load.
    page = Client().get("/login/")
    assert 'rel="icon"' in page.content.decode() and "favicon.svg" in page.content.decode()
    ico = Client().get("/favicon.ico")  # no login needed: browsers ask it for any page
    assert ico.status_code == 301 and ico["Location"].endswith("brefboard/favicon.svg")
