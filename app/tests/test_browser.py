"""The real page in a real browser: headless Chromium records from a fake microphone.

Chromium's fake capture device plays an espeak-ng WAV (16-bit PCM) as the
microphone. The test logs in through the login form, records about 20 seconds
on the home page (MediaRecorder, chunks sent as they come, live transcript),
stops, and reads the stored transcript back. The word error rate against the
spoken text is printed; 20% or lower with tiny.en.

Needs Debian's `chromium` and `chromium-driver` (scripts/test-app.sh installs
them); BREFBOARD_SKIP_BROWSER=1 skips it.
"""
import subprocess
import time

import pytest

from brefboard.recordings.models import Recording, TranscriptionJob
from tests.helpers import chromium, espeak, log_in_as_alice, wait_for, words

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SPOKEN = (
    "Good morning everyone. Today we review the project schedule and the budget. "
    "The design team will present the new website next week. "
    "Please send your comments to the manager before Friday."
)


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Levenshtein distance over words, divided by the reference length."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / max(1, len(ref))


@pytest.fixture
def microphone_wav(tmp_path):
    """The speech, then silence, at 48 kHz: Chromium loops the file, the silence keeps it from repeating."""
    speech = espeak(SPOKEN, tmp_path / "speech.wav", speed=150)
    out = tmp_path / "mic.wav"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(speech),
                    "-af", "adelay=1000,apad=whole_dur=60", "-ar", "48000", "-ac", "1", "-c:a", "pcm_s16le", str(out)],
                   check=True)
    return out


@pytest.fixture
def browser(microphone_wav):
    driver = chromium(microphone_wav)
    yield driver
    driver.quit()


def test_record_in_the_browser_and_get_the_transcript(browser, live_server, alice, start_worker):
    from selenium.webdriver.common.by import By

    start_worker()
    log_in_as_alice(browser, live_server)

    browser.find_element(By.ID, "start").click()
    started = time.monotonic()
    live = wait_for(lambda: browser.find_element(By.ID, "live-transcript").text.strip(), timeout=40,
                    what="the live transcript on the page", state=lambda: _page_state(browser))
    while time.monotonic() - started < 20:
        time.sleep(0.5)
    level = browser.execute_script("return window.brefboard.maxLevel")
    assert level > 0.01, f"the recorded audio is silence (max RMS {level})"
    browser.find_element(By.ID, "stop").click()

    wait_for(lambda: "/recordings/" in browser.current_url, timeout=60, what="the recording page after stop")
    rec = Recording.objects.get(owner=alice)
    assert rec.source == "browser" and 15 < rec.duration < 30, rec.duration
    job = wait_for(lambda: TranscriptionJob.objects.filter(recording=rec, status="done").first(), timeout=120,
                   what="the final transcript", state=lambda: list(rec.jobs.values("status", "stage", "error")))
    rec.refresh_from_db()
    wer = word_error_rate(SPOKEN, rec.transcript)
    print(f"\nbrowser recording: {rec.duration:.1f} s, max level {level:.3f}, live text {len(live)} chars, WER {wer:.1%}")
    print(f"transcript: {rec.transcript}")
    assert job.completions == 1
    assert {"schedule", "budget", "website", "manager", "friday"} <= set(words(rec.transcript)), rec.transcript
    assert wer <= 0.20, rec.transcript
    # The page shows the final transcript.
    browser.refresh()
    assert "website" in browser.find_element(By.ID, "transcript").text.lower()


def test_network_cut_then_reload_loses_nothing_acknowledged_or_kept(browser, live_server, alice, start_worker):
    """Chunk uploads fail (the chunk URLs are blocked through the DevTools protocol), the
    page is left, the network comes back: the reopened page sends the chunks kept in
    IndexedDB, and the recording finishes with no gap and its full length."""
    from selenium.webdriver.common.by import By

    start_worker()
    log_in_as_alice(browser, live_server)
    browser.find_element(By.ID, "start").click()
    wait_for(lambda: browser.execute_script("return window.brefboard.sent") >= 2, timeout=30, what="two chunks sent",
             state=lambda: _page_state(browser))
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/chunks/*"]})
    sent = browser.execute_script("return window.brefboard.sent")
    wait_for(lambda: browser.execute_script("return window.brefboard.produced") >= sent + 3, timeout=30,
             what="three chunks made during the cut")
    produced = browser.execute_script("return window.brefboard.produced")
    rec = Recording.objects.get(owner=alice)
    assert rec.chunk_count < produced  # the cut really kept chunks from the server
    browser.get("about:blank")  # the page is gone, with the chunks it could not send
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})

    browser.get(live_server.url + "/")
    wait_for(lambda: browser.find_element(By.ID, "resume").is_displayed(), timeout=30,
             what="the offer to resume or finish", state=lambda: _page_state(browser))
    recovered = browser.execute_script("return window.brefboard.recovered")
    rec.refresh_from_db()
    assert recovered >= 3 and rec.chunk_count >= produced, (recovered, rec.chunk_count, produced)
    browser.find_element(By.ID, "resume-finish").click()
    wait_for(lambda: "/recordings/" in browser.current_url, timeout=60, what="the recording page",
             state=lambda: _page_state(browser))
    rec.refresh_from_db()
    # Every chunk made, each a 3 s timeslice: nothing but the audio not yet emitted is lost.
    assert rec.duration == pytest.approx(3.0 * produced, abs=3.5), (rec.duration, produced)
    wait_for(lambda: TranscriptionJob.objects.filter(recording=rec, status="done").exists(), timeout=120,
             what="the transcript")
    rec.refresh_from_db()
    assert set(words(rec.transcript)) & {"morning", "schedule", "budget", "design", "website"}, rec.transcript


def test_resume_after_exactly_one_chunk_appends_the_new_stream(browser, live_server, alice):
    """The server holds chunk 0 only (the rest was lost with the browser's storage): "Reprendre"
    must number the new stream from 1. It once got next_index 0, re-sent index 0 with a new
    header, was refused with 409 and dropped the new stream's first chunk, header and all."""
    from selenium.webdriver.common.by import By

    log_in_as_alice(browser, live_server)
    browser.find_element(By.ID, "start").click()
    wait_for(lambda: browser.execute_script("return window.brefboard.sent") >= 1, timeout=30, what="chunk 0 sent",
             state=lambda: _page_state(browser))
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/chunks/*"]})
    browser.get(live_server.url + "/login/")  # the recorder is gone; clear what it kept
    browser.execute_async_script(
        "const done = arguments[0]; const r = indexedDB.deleteDatabase('brefboard');"
        " r.onsuccess = r.onerror = r.onblocked = () => done(true);")
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
    rec = Recording.objects.get(owner=alice)
    assert list(rec.chunks.values_list("index", flat=True)) == [0]

    browser.get(live_server.url + "/")
    wait_for(lambda: browser.find_element(By.ID, "resume").is_displayed(), timeout=30,
             what="the offer to resume", state=lambda: _page_state(browser))
    browser.find_element(By.ID, "resume-continue").click()
    wait_for(lambda: rec.chunks.count() >= 4, timeout=40, what="the resumed stream's chunks",
             state=lambda: _page_state(browser))
    # The new stream starts right after chunk 0, with its header: nothing refused.
    assert list(rec.chunks.filter(starts_stream=True).values_list("index", flat=True)) == [0, 1]
    browser.find_element(By.ID, "stop").click()
    wait_for(lambda: "/recordings/" in browser.current_url, timeout=60, what="the recording page after stop",
             state=lambda: _page_state(browser))
    rec.refresh_from_db()
    assert rec.status == Recording.Status.QUEUED and rec.missing_seconds == 0.0
    # Chunk 0 and the whole resumed stream: about 3 s a chunk, none refused.
    assert rec.duration == pytest.approx(3.0 * rec.chunk_count, abs=3.5), (rec.duration, rec.chunk_count)


def _page_state(browser) -> dict:
    """What the page and the server know, for a failure message."""
    from selenium.webdriver.common.by import By

    return {
        "status": browser.find_element(By.ID, "rec-status").text,
        "sent": browser.execute_script("return window.brefboard && window.brefboard.sent"),
        "produced": browser.execute_script("return window.brefboard && window.brefboard.produced"),
        "level": browser.execute_script("return window.brefboard && window.brefboard.maxLevel"),
        "recordings": list(Recording.objects.values("status", "chunk_count", "live_upto", "live_requested_at")),
        "console": browser.get_log("browser")[-10:],
    }
