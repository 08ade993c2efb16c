"""Speakers, on the deployed site (the workers' diarization, app/brefboard/transcription/diarize.py).

A conversation of two espeak-ng voices (en-us and en+f3, six turns) is uploaded
through the page's upload form in Chromium, the number of speakers left to the
worker to estimate; then, as a user:
* the recording page shows two speakers (the « Intervenants » form, one field
  each) and every segment carries one of their labels;
* renaming the first one (the form, a plain POST with its CSRF token) changes its
  label on the page;
* the new name is in the TXT export (``Name: text`` turns) and the VTT export
  (``<v Name>`` voice spans).
Read-write (the recording is deleted at the end of the run).
"""
from __future__ import annotations

import pytest

from support import pages, site, speech

pytestmark = pytest.mark.writes

NEW_NAME = "Alice Martin"


@pytest.fixture(scope="module")
def diarized(cfg, user_browser, audio_dir, created) -> int:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    b = user_browser
    wav = speech.conversation(audio_dir, "two-voices")
    b.go("/")
    form = b.wait(lambda: b.driver.find_element(By.CSS_SELECTOR, "form[action$='/upload/']"), 20, "the upload form")
    form.find_element(By.CSS_SELECTOR, "input[type=file][name=audio]").send_keys(str(wav))
    Select(form.find_element(By.NAME, "language")).select_by_value("en")  # the voices speak English
    form.find_element(By.CSS_SELECTOR, "input[name=title]").send_keys("Two voices")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    try:
        b.wait(lambda: site.recording_id(b.path) or b.text("h1") in ("Fichier refusé",), 120,
               "the recording page after the upload")
    except AssertionError:
        pass
    rid = site.recording_id(b.path)
    if rid is None:
        raise AssertionError(site.refusal(b, f"upload of {wav.name}", r"^/upload/"))
    created.recordings.add(rid)
    pages.wait_for_transcript(b, cfg.transcript_timeout)
    return rid


def _speakers(b) -> dict:
    return b.js("return {fields: Array.from(document.querySelectorAll('#speakers-form input[name^=speaker-]'))"
                ".map(i => [i.name, i.value]),"
                " labels: Array.from(document.querySelectorAll('#segments li')).map("
                "   li => (li.querySelector('.speaker') || {}).textContent || '')};")


def test_two_voices_two_speakers_renamed_into_the_exports(cfg, user_browser, diarized):
    from selenium.webdriver.common.by import By

    b, rid = user_browser, diarized
    b.go(f"/recordings/{rid}/")
    state = _speakers(b)
    b.shot("speakers")
    assert [name for name, _ in state["fields"]] == ["speaker-0", "speaker-1"], \
        f"two speakers expected on the page (the rename form), found {state}"
    assert state["labels"] and all(state["labels"]), f"a segment has no speaker label: {state['labels']}"
    assert len(set(state["labels"])) == 2, f"both speakers should speak in the segments: {state['labels']}"

    field = b.driver.find_element(By.CSS_SELECTOR, "#speakers-form input[name=speaker-0]")
    field.clear()
    field.send_keys(NEW_NAME)
    b.driver.find_element(By.CSS_SELECTOR, "#speakers-form button[type=submit]").click()
    b.wait(lambda: any(NEW_NAME in label for label in _speakers(b)["labels"]), 30,
           "the new name on the segments", state=lambda: _speakers(b))
    assert dict(_speakers(b)["fields"])["speaker-0"] == NEW_NAME
    b.check("the recording page after renaming")

    s = b.http(referer=b.driver.current_url)
    txt = s.get(cfg.url(f"/library/{rid}/export/txt/"), timeout=120)
    assert txt.status_code == 200, f"TXT export answered {txt.status_code}"
    assert f"{NEW_NAME}: " in txt.text, f"the TXT export does not name {NEW_NAME}: {txt.text[-1500:]!r}"
    vtt = s.get(cfg.url(f"/library/{rid}/export/vtt/"), timeout=120)
    assert vtt.status_code == 200, f"VTT export answered {vtt.status_code}"
    assert f"<v {NEW_NAME}>" in vtt.text, f"the VTT export has no <v {NEW_NAME}> voice span: {vtt.text[:1500]!r}"

