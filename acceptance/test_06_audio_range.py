"""A recording's audio through the deployed web server: byte ranges (206) and a player that seeks.

The app streams the stored file by range instead of loading it whole, and
nginx passes the ``Range`` request and the 206 on; the page's <audio> element
then seeks without fetching the whole file. Read-write: the file is an espeak
WAV uploaded with the browser's cookies (deleted at the end of the run).
"""
from __future__ import annotations

import re

import pytest

from support import site, speech

pytestmark = pytest.mark.writes


@pytest.fixture(scope="module")
def uploaded(cfg, user_browser, passages, audio_dir, created) -> tuple[int, bytes, float]:
    wav = speech.synthesize(passages["upload"], cfg.language, audio_dir, "range")
    body = wav.read_bytes()
    rid = site.upload(cfg, user_browser, wav, created)
    return rid, body, speech.wav_seconds(wav)


def test_a_range_request_answers_206_with_those_bytes(cfg, user_browser, uploaded):
    rid, body, _ = uploaded
    s = user_browser.http(referer=cfg.url(f"/recordings/{rid}/"))
    url = cfg.url(f"/recordings/{rid}/audio/")
    whole = s.get(url, timeout=60)
    assert whole.status_code == 200 and whole.headers.get("Accept-Ranges") == "bytes"
    assert whole.content == body  # an upload is stored as it came
    size = len(body)
    for first, last in ((0, 0), (100, 1099), (size // 2, size // 2 + 4095), (size - 10, size - 1)):
        r = s.get(url, headers={"Range": f"bytes={first}-{last}"}, timeout=60)
        assert r.status_code == 206, (first, last, r.status_code)
        assert r.headers["Content-Range"] == f"bytes {first}-{last}/{size}"
        assert int(r.headers["Content-Length"]) == last - first + 1
        assert r.content == body[first:last + 1]
    r = s.get(url, headers={"Range": "bytes=-16"}, timeout=60)
    assert r.status_code == 206 and r.content == body[-16:]
    r = s.get(url, headers={"Range": f"bytes={size}-"}, timeout=60)
    assert r.status_code == 416 and r.headers["Content-Range"] == f"bytes */{size}"


def test_the_page_player_seeks(cfg, user_browser, uploaded):
    from selenium.webdriver.common.by import By

    rid, _, seconds = uploaded
    b = user_browser
    b.go(f"/recordings/{rid}/")
    player = b.wait(lambda: b.driver.find_element(By.CSS_SELECTOR, "audio[src]"), 20, "the audio player")
    b.js("arguments[0].preload = 'metadata'; arguments[0].load();", player)
    duration = b.wait(lambda: b.js("const a = arguments[0]; return a.readyState >= 1 && isFinite(a.duration)"
                                   " ? a.duration : null;", player), 30, "the player's metadata")
    assert duration == pytest.approx(seconds, abs=0.1)
    target = round(duration * 0.6, 2)
    b.js("arguments[0].currentTime = arguments[1];", player, target)
    b.wait(lambda: b.js("const a = arguments[0]; return !a.seeking && a.readyState >= 1;", player), 30,
           "the seek to finish")
    held = b.js("return arguments[0].currentTime;", player)
    assert held == pytest.approx(target, abs=0.25), f"asked {target} s, the player is at {held} s"
    # The player may seek: the server said it takes ranges, and the file is seekable to its end.
    seekable_end = b.js("const s = arguments[0].seekable; return s.length ? s.end(s.length - 1) : 0;", player)
    assert seekable_end == pytest.approx(duration, abs=0.5)
    assert re.search(r"/recordings/\d+/audio/", player.get_attribute("src"))
