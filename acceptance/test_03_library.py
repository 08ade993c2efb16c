"""Upload a file, then the library: summary and title, search, every export, delete.

Read-write: the recording is an MP3 of espeak speech uploaded through the home
page's form, with no title (the app then names it after the file; the summary's
title is shown as "Titre proposé"). Read-only:
the newest transcribed recording of the given account, and nothing is changed.
Downloads are made with requests and the browser's cookies, user agent and
Referer, as the browser sends them when a user follows the link.
"""
from __future__ import annotations

import io
import re

import pytest

from support import pages, site, speech
from support.subtitles import parse_cues

EXPORTS = ("pdf", "txt", "md", "srt", "vtt")


@pytest.fixture(scope="module")
def target(cfg, user_browser) -> dict:
    """The recording the library tests read: filled by the upload test, or found in a read-only run."""
    found: dict = {}
    if cfg.read_only:
        found.update(_newest_transcribed(user_browser))
    return found


def _newest_transcribed(b) -> dict:
    from selenium.webdriver.common.by import By

    b.go("/profil/?sort=date_desc")
    ids = [int(el.get_attribute("id").removeprefix("rec-"))
           for el in b.driver.find_elements(By.CSS_SELECTOR, "li.recording[id^='rec-']")
           if "Transcrit" in el.text]
    for rid in ids[:5]:
        b.go(f"/recordings/{rid}/")
        text = b.text("#transcript").strip()
        if text and text != pages.NO_TRANSCRIPT:
            longest = sorted({w for w in speech.words(text) if len(w) >= 5}, key=len, reverse=True)[:5]
            return {"id": rid, "transcript": text, "found": longest, "duration": pages.recording_duration(b),
                    "has_segments": bool(b.driver.find_elements(By.CSS_SELECTOR, "ol.segments li"))}
    return {}


def need(target: dict, cfg) -> int:
    if "id" not in target:
        if cfg.read_only:
            pytest.skip("read-only run: this account has no transcribed recording to read")
        pytest.fail("no recording to read: the upload test did not produce one")
    return target["id"]


@pytest.mark.writes
def test_upload_a_file_and_get_the_transcript(user_browser, cfg, passages, audio_dir, created, target):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    b = user_browser
    passage = passages["upload"]
    audio = speech.to_mp3(speech.synthesize(passage, cfg.language, audio_dir, "upload"))
    b.go("/")
    form = b.wait(lambda: b.driver.find_element(By.CSS_SELECTOR, "form[action$='/upload/']"), 20, "the upload form")
    form.find_element(By.CSS_SELECTOR, "input[type=file][name=audio]").send_keys(str(audio))
    Select(form.find_element(By.NAME, "language")).select_by_value(cfg.language)
    b.shot("upload-form")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    try:
        b.wait(lambda: site.recording_id(b.path) or b.text("h1") in ("Fichier refusé",) or "CSRF" in b.text("body"),
               120, "the recording page after the upload")
    except AssertionError:
        pass
    rid = site.recording_id(b.path)
    if rid is None:
        raise AssertionError(site.refusal(b, f"upload of {audio.name}", r"^/upload/"))
    created.recordings.add(rid)
    transcript = pages.wait_for_transcript(b, cfg.transcript_timeout)
    created.events.add("transcribed")
    b.shot("upload-transcript")
    found = speech.check_transcript(passage, transcript, f"uploaded recording {rid}")
    segments = b.driver.find_elements(By.CSS_SELECTOR, "ol.segments li")
    assert segments, "the recording page lists no timed segments"
    target.update(id=rid, transcript=transcript, found=found, duration=pages.recording_duration(b),
                  has_segments=True)
    created.facts["upload"] = f"id {rid} ({audio.name}, {target['duration']} s): {transcript!r}"


def _summary_state(b) -> dict:
    return {"status": b.js("const s = document.getElementById('summary'); return s && s.dataset.status"),
            "text": b.text("#summary")[:300]}


def test_summary_and_title_on_the_detail_page(user_browser, cfg, target, created):
    b = user_browser
    rid = need(target, cfg)
    b.go(f"/library/{rid}/")

    def settled():
        status = _summary_state(b)["status"]
        if status in ("done", "failed"):
            return status
        if status is None and cfg.read_only:
            return "none"
        return None

    status = b.wait(settled, cfg.transcript_timeout, "the summary (the page reloads itself when it is ready)",
                    state=lambda: _summary_state(b), every=1.0)
    b.shot("library-detail")
    if status == "none":
        pytest.skip("read-only run: this recording has no summary")
    assert status == "done", f"the summary failed: {b.text('#summary .error')!r}"
    created.events.add("summarised")
    text = b.text("#summary .summary-text").strip()
    extractive = bool(b.text("#summary .notice.extractive"))
    method = ("extractive fallback (" + b.text("#summary .notice.extractive") + ")") if extractive else \
        "LLM (no extractive notice on the page)"
    created.facts["summary method"] = method
    assert not (cfg.expect_llm and extractive), (
        f"an LLM summary was expected (--expect-llm), the page shows the extractive fallback: "
        f"{b.text('#summary .notice.extractive')!r}")
    sections = b.js("""
        const out = {};
        for (const h of document.querySelectorAll('#summary h3')) {
          const ul = h.nextElementSibling;
          out[h.textContent.trim()] = ul ? Array.from(ul.querySelectorAll('li')).map(li => li.textContent.trim()) : [];
        }
        return out;""")
    m = re.search(r"Titre proposé : (.+)", b.text("#summary"))
    title = m.group(1).strip() if m else ""
    h1 = b.text("main h1").strip()
    created.facts["summary"] = {"page title": h1, "proposed title": title, "text": text, "sections": sections}

    assert text, "the summary is empty"
    assert title, "the page proposes no title (no 'Titre proposé : ...')"
    assert h1, "the detail page has no title"
    transcript_words = speech.words(target["transcript"])
    summary_words = speech.words(text)
    if extractive:  # sentences picked from the transcript
        share = len(summary_words & transcript_words) / max(1, len(summary_words))
        assert share >= 0.8, f"an extractive summary is made of the transcript's sentences; only {share:.0%} of its " \
                             f"words are in the transcript: {text!r}"
    else:
        assert len(summary_words & transcript_words) >= 3, f"the summary shares almost nothing with the transcript: {text!r}"
    assert speech.words(title) & transcript_words, f"the proposed title {title!r} has no word of the transcript"
    if not cfg.read_only:  # the uploaded meeting has a decision and an action item
        listed = " ".join(" ".join(v) for k, v in sections.items() if k in ("Décisions", "Actions"))
        assert listed, f"the meeting had a decision and an action item; the summary lists neither: {sections}"
        assert speech.words(listed) & {speech.fold(w) for w in target["found"]}, (
            f"the decisions and actions mention none of the meeting's words {target['found']}: {sections}")


def _search_word(target: dict, passages) -> str:
    mic = {speech.fold(w) for w in passages["mic"].expected}
    words = [w for w in target["found"] if speech.fold(w) not in mic] or list(target["found"])
    return max(words, key=len)


def test_search_the_library(user_browser, cfg, target, passages, created):
    from selenium.webdriver.common.by import By

    b = user_browser
    rid = need(target, cfg)

    def search(word: str):
        b.go("/profil/")
        box = b.wait(lambda: b.driver.find_element(By.CSS_SELECTOR, "form.library-search input[name=search]"), 20,
                     "the search box")
        box.clear()
        box.send_keys(word)
        b.driver.find_element(By.CSS_SELECTOR, "form.library-search button[type=submit]").click()
        b.wait(lambda: "search=" in b.path and f"« {word} »" in b.text("main"), 20, f"the results for {word!r}")
        return b.driver.find_elements(By.ID, f"rec-{rid}")

    word = _search_word(target, passages)
    hits = search(word)
    b.shot("search-results")
    created.facts["search"] = f"{word!r}: {b.text('main p')!r}"
    assert hits, f"searching {word!r} (a word of its transcript) does not list recording {rid}: {b.text('main')[:500]!r}"
    nonsense = "zqxj" + cfg.run_id.replace("-", "")
    assert not search(nonsense), f"searching the nonsense {nonsense!r} still lists recording {rid}: the search filters nothing"
    assert "Aucun résultat." in b.text("main"), f"no 'Aucun résultat.' for {nonsense!r}: {b.text('main')[:300]!r}"


# --- Exports ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def export_links(user_browser, cfg, target) -> dict:
    from selenium.webdriver.common.by import By

    rid = need(target, cfg)
    b = user_browser
    b.go(f"/library/{rid}/")
    links = {}
    for a in b.driver.find_elements(By.CSS_SELECTOR, "main a[href*='/export/']"):
        m = re.search(r"/export/([a-z0-9]+)/?$", a.get_attribute("href"))
        if m:
            links[m.group(1)] = a.get_attribute("href")
    notice = b.text("main .pdf-unavailable")
    b.check("the detail page")
    return {"links": links, "referer": b.driver.current_url, "notice": notice}


def download(user_browser, export_links, fmt: str):
    links = export_links["links"]
    if fmt not in links:
        said = f"; the page says {export_links['notice']!r}" if export_links["notice"] else ""
        pytest.fail(f"the detail page has no {fmt.upper()} export link (links: {sorted(links)}){said}")
    r = user_browser.http(referer=export_links["referer"]).get(links[fmt], timeout=120, allow_redirects=False)
    assert r.status_code == 200, (f"{fmt.upper()} export {links[fmt]} answered {r.status_code}: "
                                  f"{r.text[:300]!r}")
    assert r.content, f"the {fmt.upper()} export is empty"
    disposition = r.headers.get("Content-Disposition", "")
    assert "attachment" in disposition and f".{fmt}" in disposition, \
        f"the {fmt.upper()} export is not a download named *.{fmt}: Content-Disposition {disposition!r}"
    return r


def has_transcript_word(text: str, target: dict) -> list[str]:
    got = speech.words(text)
    return [w for w in target["found"] if speech.fold(w) in got]


def test_every_export_link_is_one_the_suite_checks(export_links, target):
    links = set(export_links["links"])
    assert links <= set(EXPORTS), f"export links the suite does not know: {sorted(links - set(EXPORTS))}"
    wanted = {"pdf", "txt", "md"} | ({"srt", "vtt"} if target.get("has_segments") else set())
    said = f"; the page says {export_links['notice']!r}" if export_links["notice"] else ""
    assert wanted <= links, f"the detail page lacks the export links {sorted(wanted - links)}{said}"


def test_export_pdf(user_browser, export_links, target):
    from pypdf import PdfReader

    r = download(user_browser, export_links, "pdf")
    assert r.headers.get("Content-Type", "").startswith("application/pdf"), r.headers.get("Content-Type")
    assert r.content.startswith(b"%PDF-"), f"not a PDF: {r.content[:40]!r}"
    reader = PdfReader(io.BytesIO(r.content))
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    assert has_transcript_word(text, target), f"the PDF's text has none of the transcript's words {target['found']}: " \
                                              f"{text[:500]!r}"


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_export_subtitles(user_browser, export_links, target, fmt):
    if not target.get("has_segments"):
        pytest.skip("read-only run: this recording has no timed segments, so no subtitles to export")
    r = download(user_browser, export_links, fmt)
    cues = parse_cues(r.content.decode("utf-8"), fmt)
    text = " ".join(c[2] for c in cues)
    assert has_transcript_word(text, target), f"the {fmt.upper()} cues have none of the transcript's words: {text!r}"
    if target.get("duration"):
        assert cues[-1][1] <= target["duration"] + 2, \
            f"the last {fmt.upper()} cue ends at {cues[-1][1]} s, after the recording's {target['duration']} s"


@pytest.mark.parametrize("fmt", ["txt", "md"])
def test_export_text(user_browser, export_links, target, fmt):
    r = download(user_browser, export_links, fmt)
    body = r.content.decode("utf-8")
    assert body.strip(), f"the {fmt.upper()} export is blank"
    assert has_transcript_word(body, target), f"the {fmt.upper()} export has none of the transcript's words: {body[:400]!r}"
    if fmt == "md":
        assert body.startswith("# "), f"the Markdown export does not start with a title: {body[:80]!r}"


# --- Delete -------------------------------------------------------------------------------------

@pytest.mark.writes
def test_delete_through_the_ui(user_browser, cfg, target, created):
    from selenium.webdriver.common.by import By

    b = user_browser
    rid = need(target, cfg)
    b.go(f"/library/{rid}/")
    b.driver.find_element(By.CSS_SELECTOR, f"main a[href$='/library/{rid}/delete/']").click()
    b.wait(lambda: b.path == f"/library/{rid}/delete/" and b.text("main h1").startswith("Supprimer"), 20,
           "the confirmation page")
    b.shot("delete-confirm")
    b.driver.find_element(By.CSS_SELECTOR, "main form button.danger").click()
    try:
        b.wait(lambda: b.path.startswith("/profil/"), 30, "the library after deleting")
    except AssertionError:
        raise AssertionError(site.refusal(b, f"delete of recording {rid}", rf"^/library/{rid}/delete/")) from None
    created.recordings.discard(rid)
    assert "supprimé" in b.text("ul.messages"), f"no confirmation message: {b.text('main')[:300]!r}"
    assert not b.driver.find_elements(By.ID, f"rec-{rid}"), f"recording {rid} is still listed after deleting it"
    b.shot("library-after-delete")
    for path in (f"/library/{rid}/", f"/recordings/{rid}/"):
        b.expect_response(rf"^{re.escape(path)}$", {404}, "the test opens the page of the recording it has just deleted")
        b.go(path)
        doc = b.last_document(rf"^{re.escape(path)}$")
        assert doc and doc[2] == 404, f"{path} of the deleted recording answered {doc and doc[2]}, not 404"
    r = b.http().get(cfg.url(f"/library/{rid}/export/txt/"), timeout=30, allow_redirects=False)
    assert r.status_code == 404, f"the TXT export of the deleted recording answered {r.status_code}"
