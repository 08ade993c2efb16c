"""A transcript you can listen to, in headless Chromium (static/brefboard/player.js).

* A segment is a button: clicking it moves the audio to the segment's start, plays,
  and marks that segment (aria-current); focus stays on the button.
* While the audio plays, the mark follows into the next segment.
* From the library search (/profil/?search=word) the result link carries ?q=word:
  the detail page marks the word with <mark>, says "Occurrence 1 sur N" and the
  player stands at the hit's segment; the page's own search box marks and jumps,
  and → goes to the next hit.

The recording is a real espeak WAV uploaded through /upload/; its segments are
written as a transcription job writes them (no worker needed for the player).
BREFBOARD_SKIP_BROWSER=1 skips these tests.
"""
from __future__ import annotations

import pytest

from brefboard.recordings.models import Recording
from tests.helpers import chromium, log_in_as_alice, transcribed_without_worker, wait_for

SEGMENTS = [(0.0, 2.4, "The quarterly budget meeting"), (2.4, 4.6, "will begin at nine o'clock."),
            (4.6, 7.5, "Please bring the marketing report and the sales figures for the northern region.")]


@pytest.fixture
def transcribed(alice, alice_client, english_wav) -> Recording:
    rec = transcribed_without_worker(alice_client, alice, english_wav, SEGMENTS, title="Budget")
    assert rec.finalized_at is not None
    return rec


@pytest.fixture
def browser(english_wav):
    driver = chromium(english_wav)
    yield driver
    driver.quit()


def _state(b) -> dict:
    return b.execute_script(
        "const a = document.getElementById('player');"
        "const cur = Array.from(document.querySelectorAll('#segments li[aria-current=true]')).map(li => li.id);"
        "const marks = Array.from(document.querySelectorAll('#segments mark')).map("
        "  m => [m.closest('li').id, m.textContent, m.classList.contains('active')]);"
        "return {t: a.currentTime, paused: a.paused, current: cur, marks: marks,"
        " hits: document.getElementById('hits').textContent,"
        " focus: document.activeElement && document.activeElement.closest('li') ? document.activeElement.closest('li').id : null};")


def _severe(b) -> list[str]:
    return [e["message"] for e in b.get_log("browser") if e.get("level") == "SEVERE"]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_click_a_segment_plays_from_there_and_the_mark_follows(browser, live_server, transcribed):
    b = browser
    log_in_as_alice(b, live_server)
    b.get(f"{live_server.url}/recordings/{transcribed.pk}/")
    segs = b.find_elements("css selector", "#segments li button.seg")
    assert len(segs) == 3 and segs[0].is_displayed(), "the timed transcript is not shown by default"
    assert not _state(b)["current"]

    segs[1].click()
    wait_for(lambda: _state(b)["t"] >= 2.4 and not _state(b)["paused"], timeout=10,
             what="the player at segment 2, playing", state=lambda: _state(b))
    s = _state(b)
    assert s["t"] < 4.0, f"the player did not start at segment 2's start (2.4 s): {s}"
    assert s["current"] == ["seg-1"] and s["focus"] == "seg-1", s

    # Playing on: the mark moves to the third segment by itself.
    wait_for(lambda: _state(b)["current"] == ["seg-2"], timeout=10, what="the mark on segment 3",
             state=lambda: _state(b))
    assert _state(b)["t"] >= 4.6 and _state(b)["focus"] == "seg-1"  # the focus was not taken

    # The keyboard: Enter on the first segment's button goes back to 0.
    b.execute_script("document.getElementById('player').pause();")
    segs[0].send_keys("\n")
    wait_for(lambda: _state(b)["current"] == ["seg-0"] and _state(b)["t"] < 2.4, timeout=10,
             what="back at segment 1 by the keyboard", state=lambda: _state(b))
    assert not _severe(b), _severe(b)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_search_hit_is_marked_and_the_player_jumps_to_it(browser, live_server, transcribed):
    b = browser
    log_in_as_alice(b, live_server)
    b.get(f"{live_server.url}/profil/?search=marketing")
    link = b.find_element("css selector", f"#rec-{transcribed.pk} h2 a")
    assert link.get_attribute("href").endswith(f"/library/{transcribed.pk}/?q=marketing")
    link.click()
    wait_for(lambda: b.find_elements("css selector", "#segments mark"), timeout=10, what="the marked hit")
    wait_for(lambda: abs(_state(b)["t"] - 4.6) < 0.05, timeout=10, what="the player at the hit's segment",
             state=lambda: _state(b))
    s = _state(b)
    assert s["marks"] == [["seg-2", "marketing", True]] and s["current"] == ["seg-2"], s
    assert s["hits"] == "Occurrence 1 sur 1" and s["paused"], s  # it waits there, it does not play by itself

    # The page's own search box: two words, two hits; → goes to the second one.
    box = b.find_element("id", "transcript-q")
    assert box.get_attribute("value") == "marketing"
    box.clear()
    box.send_keys("Budget nine\n")
    wait_for(lambda: _state(b)["hits"] == "Occurrence 1 sur 2", timeout=5, what="two hits", state=lambda: _state(b))
    s = _state(b)
    assert s["marks"] == [["seg-0", "budget", True], ["seg-1", "nine", False]] and s["current"] == ["seg-0"], s
    assert s["t"] < 0.05 and "q=Budget+nine" in b.current_url
    b.find_element("id", "hit-next").click()
    wait_for(lambda: _state(b)["current"] == ["seg-1"] and abs(_state(b)["t"] - 2.4) < 0.05, timeout=5,
             what="the second hit", state=lambda: _state(b))
    assert _state(b)["hits"] == "Occurrence 2 sur 2"
    box.clear()
    box.send_keys("zzzz\n")
    wait_for(lambda: _state(b)["hits"] == "Aucune occurrence", timeout=5, what="no hit", state=lambda: _state(b))
    assert _state(b)["marks"] == []

    # #t= on the recording page moves the player there.
    b.get(f"{live_server.url}/recordings/{transcribed.pk}/#t=5.5")
    wait_for(lambda: abs(_state(b)["t"] - 5.5) < 0.05 and _state(b)["current"] == ["seg-2"], timeout=10,
             what="#t=5.5", state=lambda: _state(b))
    assert not _severe(b), _severe(b)
