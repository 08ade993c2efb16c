"""The offline (extractive) summary of a short meeting, read in the browser.

On a host with no language model: upload a short espeak meeting whose one
long sentence holds a decision and an action (Whisper writes it as one
comma- or "and"-joined run), then on /library/<id>/ the Décisions section
shows the decision, the Actions section shows the action with its owner and
due date, and no sentence appears in two sections (summary text, Points
clés, Décisions, Actions). Skipped with --expect-llm (the host then
summarises with a model, whose wording this test cannot predict) and in
read-only runs (it uploads).
"""
from __future__ import annotations

import re

import pytest

from support import pages, site, speech

MEETINGS = {
    "en": {
        "text": ("Welcome everyone, today is about the customer newsletter. "
                 "After some discussion, we decided to keep the monthly schedule, "
                 "and Maria will send the first draft by Friday."),
        "decision": ("monthly", "schedule"),
        # A name tiny.en hears from espeak-ng: it wrote "Peter" as "bigger".
        "owner": "maria",
        "due": "friday",
    },
    "fr": {
        "text": ("Bonjour à tous, aujourd'hui on parle de la lettre d'information. "
                 "Après discussion, nous avons décidé de garder le rythme mensuel, "
                 "et Pierre enverra le premier brouillon d'ici vendredi."),
        "decision": ("rythme", "mensuel"),
        "owner": "pierre",
        "due": "vendredi",
    },
}
SECTIONS_JS = """
    const root = document.getElementById('summary');
    const out = {text: (root.querySelector('.summary-text') || {textContent: ''}).textContent.trim()};
    for (const h of root.querySelectorAll('h3')) {
      const ul = h.nextElementSibling;
      out[h.textContent.trim()] = ul ? Array.from(ul.querySelectorAll('li')).map(li => li.textContent.trim()) : [];
    }
    return out;"""


def _pieces(sections: dict) -> list[tuple[str, str]]:
    """(section, sentence) for every sentence of every section, folded."""
    out = []
    for name, value in sections.items():
        items = re.split(r"(?<=[.!?])\s+", value) if name == "text" else value
        out += [(name, " ".join(speech.fold(i).split()).rstrip(".")) for i in items if i.strip()]
    return out


@pytest.mark.writes
def test_offline_summary_lists_the_decision_and_the_action(user_browser, cfg, audio_dir, created):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    if cfg.expect_llm:
        pytest.skip("--expect-llm: the host summarises with a model, not the offline path this test reads")
    meeting = MEETINGS[cfg.language]
    passage = speech.Passage(meeting["text"], (*meeting["decision"], meeting["owner"], meeting["due"]), 3)
    b = user_browser
    audio = speech.to_mp3(speech.synthesize(passage, cfg.language, audio_dir, "offline-summary"))

    b.go("/")
    form = b.wait(lambda: b.driver.find_element(By.CSS_SELECTOR, "form[action$='/upload/']"), 20, "the upload form")
    form.find_element(By.CSS_SELECTOR, "input[type=file][name=audio]").send_keys(str(audio))
    Select(form.find_element(By.NAME, "language")).select_by_value(cfg.language)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    try:
        b.wait(lambda: site.recording_id(b.path), 120, "the recording page after the upload")
    except AssertionError:
        pass
    rid = site.recording_id(b.path)
    if rid is None:
        raise AssertionError(site.refusal(b, f"upload of {audio.name}", r"^/upload/"))
    created.recordings.add(rid)
    transcript = pages.wait_for_transcript(b, cfg.transcript_timeout)
    speech.check_transcript(passage, transcript, f"uploaded recording {rid}")

    b.go(f"/library/{rid}/")

    def settled():
        status = b.js("const s = document.getElementById('summary'); return s && s.dataset.status")
        return status if status in ("done", "failed") else None

    status = b.wait(settled, cfg.transcript_timeout, "the summary (the page reloads itself when it is ready)",
                    every=1.0)
    b.shot("offline-summary")
    assert status == "done", f"the summary failed: {b.text('#summary .error')!r}"
    if not b.text("#summary .notice.extractive"):
        pytest.skip("this host summarises with a language model (no extractive notice): run with --expect-llm")
    sections = b.js(SECTIONS_JS)
    created.facts["offline summary"] = {"transcript": transcript, "sections": sections}

    decisions = [speech.fold(d) for d in sections.get("Décisions", [])]
    assert any(all(w in d for w in meeting["decision"]) for d in decisions), (
        f"the decision ({' '.join(meeting['decision'])}) is not in Décisions: {sections}; transcript {transcript!r}")
    actions = [speech.fold(a) for a in sections.get("Actions", [])]
    assert any(meeting["owner"] in a and meeting["due"] in a for a in actions), (
        f"no action with its owner ({meeting['owner']}) and due date ({meeting['due']}) in Actions: {sections}; "
        f"transcript {transcript!r}")

    pieces = _pieces(sections)
    repeated = [(a, b_, text) for i, (a, text) in enumerate(pieces) for b_, other in pieces[i + 1:]
                if a != b_ and (text == other or (len(text) > 20 and (text in other or other in text)))]
    assert not repeated, f"the same sentence in two sections: {repeated}; sections {sections}"
