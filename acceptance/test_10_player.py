"""A transcript you can listen to, on the deployed site (static/brefboard/player.js).

A WAV of the upload meeting is uploaded with the browser's cookies and
transcribed by the site's worker; then, on its pages, as a user:
* clicking a segment plays the audio from the segment's start and marks that
  segment (aria-current); playing on, the mark follows into the next segment;
  the browser fetched the audio by byte ranges (206 answers);
* from the library search (/profil/?search=word), the result's link carries
  ?q=word: the detail page marks the word (<mark>), says "Occurrence 1 sur N" and
  the player stands at the first hit's segment.
Read-write (the recording is deleted at the end of the run).
"""
from __future__ import annotations

import re

import pytest

from support import pages, site, speech

pytestmark = pytest.mark.writes


@pytest.fixture(scope="module")
def transcribed(cfg, user_browser, passages, audio_dir, created) -> dict:
    b = user_browser
    wav = speech.synthesize(passages["upload"], cfg.language, audio_dir, "player")
    rid = site.upload(cfg, b, wav, created)
    b.go(f"/recordings/{rid}/")
    pages.wait_for_transcript(b, cfg.transcript_timeout)
    segments = _segments(b)
    assert len(segments) >= 2, f"the meeting came back as {len(segments)} segment(s), the test needs two: {segments}"
    return {"id": rid, "segments": segments}


def _segments(b) -> list[dict]:
    return b.js("return Array.from(document.querySelectorAll('#segments li')).map(li => ({id: li.id,"
                " start: parseFloat(li.dataset.start), end: parseFloat(li.dataset.end),"
                " text: li.querySelector('.seg-text').textContent}));")


def _words(text: str) -> list[str]:
    """Words as player.js reads them (an apostrophe or a hyphen inside is part of the word), folded."""
    return re.findall(r"[^\W_][\w'’-]*", speech.fold(text))


def _state(b) -> dict:
    return b.js(
        "const a = document.getElementById('player');"
        "return {t: a.currentTime, paused: a.paused, ready: a.readyState,"
        " current: Array.from(document.querySelectorAll('#segments li[aria-current=true]')).map(li => li.id),"
        " marks: Array.from(document.querySelectorAll('#segments mark')).map(m => [m.closest('li').id, m.textContent]),"
        " hits: (document.getElementById('hits') || {}).textContent};")


def test_click_a_segment_to_hear_it_and_the_mark_follows(user_browser, transcribed):
    from selenium.webdriver.common.by import By

    b, rid, segs = user_browser, transcribed["id"], transcribed["segments"]
    b.go(f"/recordings/{rid}/")
    buttons = b.driver.find_elements(By.CSS_SELECTOR, "#segments li button.seg")
    assert len(buttons) == len(segs) and buttons[-1].is_displayed(), "the timed transcript is not shown"

    # The last segment: the player moves to its start and plays.
    last = segs[-1]
    buttons[-1].click()
    b.wait(lambda: not _state(b)["paused"] and _state(b)["t"] >= last["start"] - 0.05, 20,
           f"the player playing from {last['start']} s", state=lambda: _state(b))
    s = _state(b)
    assert s["t"] < last["start"] + 2, f"clicked the segment at {last['start']} s, the player is at {s['t']} s"
    assert s["current"] == [last["id"]], s
    b.shot("player-last-segment")

    # The first segment, played on: the mark moves to the second one by itself.
    buttons[0].click()
    b.wait(lambda: _state(b)["t"] < segs[1]["start"] and _state(b)["current"] == [segs[0]["id"]], 20,
           "the player back at the first segment", state=lambda: _state(b))
    b.wait(lambda: _state(b)["current"] == [segs[1]["id"]], segs[1]["start"] - segs[0]["start"] + 10,
           "the mark on the second segment while playing", state=lambda: _state(b))
    assert _state(b)["t"] >= segs[1]["start"] - 0.1 and not _state(b)["paused"]
    b.js("document.getElementById('player').pause();")

    # The audio came by byte ranges.
    b.collect()
    ranged = [h for h in b.history if re.match(rf"RESPONSE 206 GET \S*/recordings/{rid}/audio/", h)]
    assert ranged, "the player's audio requests got no 206 (byte range) answer: " + "; ".join(
        h for h in b.history if "/audio/" in h)


def test_a_search_hit_is_marked_and_the_player_jumps_to_it(user_browser, transcribed):
    from selenium.webdriver.common.by import By

    b, rid, segs = user_browser, transcribed["id"], transcribed["segments"]
    # A word of a later segment, so that the jump is visible.
    word = next((w for i in range(len(segs) - 1, 0, -1)
                 for w in sorted(_words(segs[i]["text"]), key=len, reverse=True) if w.isalpha() and len(w) >= 5), None)
    assert word, f"no word of five letters in the segments after the first: {segs}"
    b.go(f"/profil/?search={word}")
    link = b.wait(lambda: b.driver.find_element(By.CSS_SELECTOR, f"#rec-{rid} h2 a"), 20,
                  f"recording {rid} in the library's results for {word!r}")
    assert link.get_attribute("href").endswith(f"/library/{rid}/?q={word}"), link.get_attribute("href")
    link.click()
    b.wait(lambda: _state(b)["marks"], 20, f"{word!r} marked on the detail page", state=lambda: _state(b))
    first = next(i for i, s in enumerate(segs) if any(w.startswith(word) for w in _words(s["text"])))
    b.wait(lambda: abs(_state(b)["t"] - segs[first]["start"]) < 0.1, 20,
           f"the player at the first hit's segment ({segs[first]['start']} s)", state=lambda: _state(b))
    s = _state(b)
    assert s["current"] == [segs[first]["id"]] and s["marks"][0][0] == segs[first]["id"], s
    assert all(speech.fold(text).startswith(word) for _, text in s["marks"]), s
    assert re.fullmatch(rf"Occurrence 1 sur {len(s['marks'])}", s["hits"]), s
    b.shot("player-search-hit")
