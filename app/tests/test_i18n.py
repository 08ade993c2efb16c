"""The interface in French and English: every page a user sees, in each language, with nothing
of the other left; the browser's language chooses, the switch overrides and is remembered; the
catalogues are complete (a string wrapped in the code but missing from locale/ fails here) and
their committed .mo files are what their .po files compile to.

Message ids are the French text (the original app's); locale/en holds the English, locale/fr
repeats the French. GNU gettext (scripts/test-app.sh installs it) runs makemessages and msgfmt
here; deployed hosts only read the committed .mo files."""
from __future__ import annotations

import gettext
import html
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client, RequestFactory
from django.urls import get_resolver
from django.utils import timezone

from brefboard.api import tokens as api_tokens
from brefboard.library.models import Summary
from brefboard.recordings.models import Recording
from tests.helpers import transcribed_without_worker

APP = Path(__file__).resolve().parents[1]
PACKAGE = APP / "brefboard"
LOCALE = PACKAGE / "locale"
CATALOGUES = sorted(LOCALE.glob("*/LC_MESSAGES/*.po"))

# User content made of words of neither language, so that whatever is left is the interface's.
TITLE, TITLE2 = "Zorblax Quimby", "Quimby Zorblax"
SEGMENTS = [(0.0, 2.0, "Blorp zint vosh."), (2.0, 4.0, "Krell dap mun.")]

# Words that only French text has (and every accented letter); words that only English text has.
FRENCH = re.compile(r"[àâçéèêëîïôûùüÿœæ«»]|\b(le|la|les|des|du|un|une|et|ou|pas|aucun|aucune|encore|vous|votre|vos|"
                    r"est|sont|pour|avec|sur|dans|depuis|mes|ici|jamais|fichier|accueil|profil|connexion|"
                    r"inscription|supprimer|modifier|enregistrer|enregistrement|réunion|chercher|résumé|langue|"
                    r"retour|annuler|ouvrir|statut|titre|texte|nom|jeton|jetons|morceaux)\b", re.IGNORECASE)
ENGLISH = re.compile(r"\b(the|and|of|your|yet|from|with|no|not|this|that|is|are|summary|transcript|delete|edit|"
                     r"save|log|sign|search|home|profile|back|cancel|open|status|title|text|name|token|tokens|"
                     r"never|recording|file|upload|language|page not found|server error|access denied|"
                     r"username|password|required)\b", re.IGNORECASE)


class _Visible(HTMLParser):
    """The text a user reads or hears: text nodes and the attributes shown or spoken (placeholder,
    aria-label, title, value of buttons); not scripts, styles, nor the language switch's
    own names (each language is named in itself: "Français", "English")."""

    SPOKEN = ("placeholder", "aria-label", "title", "aria-valuetext", "alt")

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "style") or (tag == "select" and attrs.get("id") == "language-select"):
            self.skip += 1
        for name in self.SPOKEN:
            if attrs.get(name):
                self.out.append(attrs[name])
        if tag == "title":
            self.out.append(" ")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "select") and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip:
            self.out.append(data)


def visible(body: str) -> str:
    parser = _Visible()
    parser.feed(body)
    text = " ".join(" ".join(parser.out).split())
    for user_text in [TITLE, TITLE2, "Plugh", "alice", "alice@example.org", "BrefBoard"] + [t for _, _, t in SEGMENTS]:
        text = text.replace(user_text, " ")
    # An API token's shown prefix is random: "bb_FxkO-la…" would read as the French "la".
    return re.sub(r"\bbb_[A-Za-z0-9_-]+…?", " ", text)


def leftovers(text: str, lang: str) -> list[str]:
    pattern = FRENCH if lang == "en" else ENGLISH
    return sorted({m.group(0).lower() for m in pattern.finditer(text)})


@pytest.fixture
def world(alice, alice_client, english_wav):
    """Alice's library as a user sees it: a transcribed recording with its summary, an unfinished
    one, an API token."""
    rec = transcribed_without_worker(alice_client, alice, english_wav, SEGMENTS, title=TITLE, language="auto")
    Recording.objects.filter(pk=rec.pk).update(language="")
    Summary.objects.create(recording=rec, status="done", method="extractive", text=SEGMENTS[0][2],
                           key_points=[SEGMENTS[1][2]], decisions=["Zint vosh."], action_items=["Krell mun."],
                           finished_at=timezone.now())
    unfinished = Recording.objects.create(owner=alice, source="browser", title=TITLE2)
    api_tokens.create(alice, "Plugh")
    rec.refresh_from_db()
    return rec, unfinished


def pages(rec, unfinished) -> list[str]:
    return ["/", f"/recordings/{rec.pk}/", "/profil/", f"/profil/?search={TITLE.split()[0]}",
            f"/library/{rec.pk}/", f"/library/{rec.pk}/edit/", f"/library/{rec.pk}/delete/",
            f"/library/{unfinished.pk}/", "/recordings/999999/", "/errors/413/"]


@pytest.mark.django_db
@pytest.mark.parametrize("lang", ["en", "fr"])
def test_every_page_is_in_the_browsers_language_only(lang, world, alice_client):
    rec, unfinished = world
    checked = 0
    for url in pages(rec, unfinished):
        r = alice_client.get(url, HTTP_ACCEPT_LANGUAGE=f"{lang}-XX,{lang};q=0.9")
        assert r.status_code in (200, 404, 413), (url, r.status_code)
        body = r.content.decode()
        assert f'<html lang="{lang}">' in body, url
        text = visible(body)
        assert len(text) > 20, (url, text)
        assert leftovers(text, lang) == [], (url, lang, text)
        checked += 1
    # The pages a visitor sees before logging in, and the error pages made by the handlers.
    anonymous = Client(HTTP_ACCEPT_LANGUAGE=lang)
    for url in ("/login/", "/inscription/"):
        text = visible(anonymous.get(url).content.decode())
        assert leftovers(text, lang) == [], (url, lang, text)
        checked += 1
    factory = RequestFactory(HTTP_ACCEPT_LANGUAGE=lang)
    from django.utils import translation
    with translation.override(lang):
        for status in (403, 500):
            handler = get_resolver().resolve_error_handler(status)
            response = handler(factory.get("/x/"), *(() if status == 500 else (Exception("x"),)))
            assert response.status_code == status
            text = visible(response.content.decode())
            assert leftovers(text, lang) == [], (status, lang, text)
            checked += 1
    assert checked == len(pages(rec, unfinished)) + 4


@pytest.mark.django_db
def test_english_pages_read_english(world, alice_client):
    """Not only no French: the English is there (a page that lost its text would pass the above)."""
    rec, _ = world
    en = {"HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.9"}
    assert "Record a meeting" in alice_client.get("/", **en).content.decode()
    detail = alice_client.get(f"/library/{rec.pk}/", **en).content.decode()
    for words in ("Summary", "Key points", "Decisions", "Action items", "Export", "Transcript", "Extractive summary"):
        assert words in detail, words
    assert "Page not found" in alice_client.get("/recordings/999999/", **en).content.decode()
    js = alice_client.get("/recordings/999999/", HTTP_ACCEPT="application/json", **en).json()
    assert js == {"error": "This page or item does not exist (or is not yours).", "code": "not_found"}
    assert "The file is larger than the maximum allowed size" in alice_client.get("/errors/413/", **en).content.decode()
    assert "Log in" in Client().get("/login/", **en).content.decode()
    # The scripts' strings come from the catalogue view the pages load (script-src 'self': no inline script).
    catalog = Client().get("/jsi18n/", **en).content.decode()
    assert '"Aucune occurrence": "No match"' in catalog and "/jsi18n/" in detail


@pytest.mark.django_db
def test_exports_headings_follow_the_recording_else_the_page(world, alice_client):
    rec, _ = world
    md = alice_client.get(f"/library/{rec.pk}/export/md/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "## Summary" in md and "## Key points" in md and "## Action items" in md and "## Transcript" in md
    md = alice_client.get(f"/library/{rec.pk}/export/md/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "## Résumé" in md and "## Points clés" in md and "## Transcription" in md
    Recording.objects.filter(pk=rec.pk).update(language="en")  # an English meeting: English headings
    txt = alice_client.get(f"/library/{rec.pk}/export/txt/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Summary\n" in txt and "Résumé" not in txt


@pytest.mark.django_db
def test_no_language_asked_is_french_and_the_switch_is_remembered():
    c = Client()
    page = c.get("/login/").content.decode()
    assert '<html lang="fr">' in page and "Se connecter" in page and 'action="/i18n/setlang/"' in page
    # Anonymous too (the login page has the switch): a plain form POST, CSRF checked, then a cookie.
    c = Client(enforce_csrf_checks=True)
    token = c.get("/login/").cookies["csrftoken"].value
    r = c.post("/i18n/setlang/", {"language": "en", "next": "/login/", "csrfmiddlewaretoken": token},
               HTTP_ACCEPT_LANGUAGE="fr")
    assert r.status_code == 302 and r["Location"] == "/login/" and r.cookies["django_language"].value == "en"
    page = c.get("/login/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()  # the choice beats the browser's
    assert '<html lang="en">' in page and "Log in" in page and "Se connecter" not in page
    assert Client(enforce_csrf_checks=True).post("/i18n/setlang/", {"language": "en"}).status_code == 403


# --- The catalogues ----------------------------------------------------------------------------------

def _gettext_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"GNU gettext's {name} is missing: scripts/test-app.sh installs the Debian package gettext")
    return path


def _entries(po: Path, *flags: str) -> list[str]:
    out = subprocess.run([_gettext_tool("msgattrib"), *flags, "--no-obsolete", "--no-wrap", str(po)],
                         capture_output=True, text=True, check=True).stdout
    return [m for m in re.findall(r'^msgid "(.*)"$', out, re.M) if m]


def test_catalogues_are_complete_and_nothing_is_fuzzy():
    assert {p.relative_to(LOCALE).as_posix() for p in CATALOGUES} == {
        f"{lang}/LC_MESSAGES/{domain}.po" for lang in ("en", "fr") for domain in ("django", "djangojs")}
    for po in CATALOGUES:
        assert _entries(po, "--untranslated") == [], f"{po}: untranslated"
        assert _entries(po, "--only-fuzzy") == [], f"{po}: fuzzy"


def test_every_string_in_the_code_is_in_the_catalogues(tmp_path):
    """makemessages over a copy of the package: a msgid it finds that a committed catalogue lacks
    (a new string, translated nowhere) fails, and so does one the catalogue has that the code lost."""
    _gettext_tool("xgettext")
    copy = tmp_path / "brefboard"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    # django-admin, not python -m django: from inside the package, brefboard/http.py would shadow http.
    admin = Path(sys.executable).parent / "django-admin"
    env = {**os.environ, "PYTHONPATH": str(APP), "DJANGO_SETTINGS_MODULE": "tests.django_settings"}
    for domain in ("django", "djangojs"):
        subprocess.run([str(admin), "makemessages", "-d", domain, "-l", "en", "-l", "fr", "--no-location",
                        "--no-obsolete", "--no-wrap"], cwd=copy, env=env, check=True, capture_output=True)
    for po in CATALOGUES:
        fresh = copy / "locale" / po.relative_to(LOCALE)
        new = _entries(fresh, "--untranslated")
        assert new == [], f"strings in the code without a translation in {po.relative_to(APP)}: {new}"
        committed = set(_entries(po, "--translated"))
        assert set(_entries(fresh, "--translated")) == committed, f"{po.relative_to(APP)} is not what the code has"


def test_committed_mo_files_are_their_po_files_compiled(tmp_path):
    for po in CATALOGUES:
        mo = po.with_suffix(".mo")
        assert mo.exists(), f"{mo} is missing: scripts/i18n.sh compile"
        fresh = tmp_path / "fresh.mo"
        subprocess.run([_gettext_tool("msgfmt"), "--check-format", "-o", str(fresh), str(po)], check=True)
        with fresh.open("rb") as a, mo.open("rb") as b:
            assert gettext.GNUTranslations(a)._catalog == gettext.GNUTranslations(b)._catalog, \
                f"{mo.relative_to(APP)} is stale: run scripts/i18n.sh compile"


def test_english_keeps_every_placeholder():
    """A translation that drops or renames %(name)s would fail at run time on that page only."""
    pattern = re.compile(r"%\(\w+\)[sd]")
    for po in CATALOGUES:
        with po.with_suffix(".mo").open("rb") as fh:
            catalog = gettext.GNUTranslations(fh)._catalog
        for key, text in catalog.items():
            msgid = key[0] if isinstance(key, tuple) else key
            if msgid:
                assert sorted(pattern.findall(html.unescape(text))) == sorted(pattern.findall(msgid)), (po, msgid, text)
