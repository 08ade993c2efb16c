"""Record with the (fake) microphone on the home page, reload mid-recording, resume, stop.

How the page behaves (app/brefboard/static/brefboard/recorder.js): MediaRecorder
emits a chunk every 3 s, each sent and acknowledged in order; after a reload
the page asks /api/sessions/unfinished/ and shows ``#resume`` ("Un
enregistrement inachevé a été retrouvé (N morceaux reçus)") with Reprendre /
Terminer et transcrire / Abandonner. Reprendre starts a new MediaRecorder
stream numbered from the session's ``next_index``. The live transcript
(``#live-transcript``) is polled every 3 s while recording; Arrêter finishes
the session and opens /recordings/<id>/, which reloads itself when the
transcript is there.

Chromium's fake microphone plays the WAV once per capture: the reload closes
the capture, and the resumed stream opens it again (from the start, as
Chromium's file source does).
"""
import time

import pytest

from support import pages, speech

pytestmark = pytest.mark.writes

RECORDING = "Enregistrement en cours…"


def recorder_state(b) -> dict:
    return {
        "status": b.text("#rec-status"),
        "resume": b.text("#resume") if b.js("return !document.getElementById('resume').hidden") else None,
        "sent": b.js("return window.brefboard && window.brefboard.sent"),
        "produced": b.js("return window.brefboard && window.brefboard.produced"),
        "level": b.js("return window.brefboard && window.brefboard.maxLevel"),
        "live": b.text("#live-transcript")[:200],
    }


def open_recorder(b, account, created):
    from selenium.webdriver.common.by import By

    b.go("/")
    b.wait(lambda: b.driver.find_element(By.ID, "start").is_enabled(), 20, "the recorder's start button")
    time.sleep(1.0)  # the page asks for unfinished sessions as it loads
    if b.driver.find_element(By.ID, "resume").is_displayed():
        if not account.created:
            pytest.fail("this account already has an unfinished recording (the page offers to resume it): "
                        "finish or discard it before running the suite")
        b.driver.find_element(By.ID, "resume-discard").click()  # ours, left by a failed test of this run
        b.wait(lambda: not b.driver.find_element(By.ID, "resume").is_displayed(), 20, "the discarded offer to go")
        b.check("discarding an unfinished recording left by an earlier test")


def start_recording(b, created) -> int:
    from selenium.webdriver.common.by import By

    b.driver.find_element(By.ID, "start").click()
    b.wait(lambda: b.text("#rec-status") == RECORDING, 20, f"the status {RECORDING!r}", state=lambda: recorder_state(b))
    sid = b.js("const s = window.brefboard.session(); return s && s.id")
    assert sid, "recording, but the page has no session"
    created.recordings.add(int(sid))
    return int(sid)


def reload_and_read_offer(b, sid: int) -> dict:
    """Reload mid-recording; the page must offer to resume, and the server must say where to go on."""
    from selenium.webdriver.common.by import By

    b.driver.refresh()
    b.wait(lambda: b.driver.find_element(By.ID, "resume").is_displayed(), 30, "the offer to resume after the reload",
           state=lambda: recorder_state(b))
    b.shot("resume-offer")
    answer = b.fetch_json("/api/sessions/unfinished/")  # what the page itself has just read
    assert answer["status"] == 200, f"GET /api/sessions/unfinished/ answered {answer}"
    sessions = {s["id"]: s for s in answer["body"]["sessions"]}
    assert sid in sessions, f"the recording {sid} is not among the unfinished sessions: {answer['body']}"
    s = sessions[sid]
    state = b.fetch_json(f"/api/sessions/{sid}/")  # what the page asks again when the user resumes
    assert state["status"] == 200, f"GET /api/sessions/{sid}/ answered {state}"
    for key in ("received", "next_index", "missing"):
        assert state["body"][key] == s[key], (
            f"/api/sessions/{sid}/ and /api/sessions/unfinished/ disagree on {key}: {state['body'][key]} vs {s[key]}")
    info = b.text("#resume-info")
    # French plural: "1 morceau reçu", "3 morceaux reçus" (0 and 1 take the singular).
    noun = "morceau reçu" if s["received"] <= 1 else "morceaux reçus"
    assert f"{s['received']} {noun}" in info, f"the offer says {info!r}, the server has {s['received']} chunks"
    return s


def check_resume_point(s: dict) -> None:
    assert not s["missing"], f"the server misses chunks {s['missing']} of a session whose chunks were all acknowledged"
    assert s["next_index"] == s["received"], (
        f"after {s['received']} acknowledged chunk(s) (indexes 0..{s['received'] - 1}) the server answers "
        f"next_index {s['next_index']} for session {s['id']}: resuming would number the new stream's first chunk "
        f"{s['next_index']}, a chunk the server already holds with other bytes (refused, 409), and the resumed audio "
        f"would be lost")


def resume(b):
    from selenium.webdriver.common.by import By

    b.driver.find_element(By.ID, "resume-continue").click()
    started = time.monotonic()
    b.wait(lambda: b.text("#rec-status") == RECORDING, 20, f"the status {RECORDING!r} after resuming",
           state=lambda: recorder_state(b))
    return started


def stop_and_wait_transcript(b, cfg, sid: int) -> tuple[str, float]:
    from selenium.webdriver.common.by import By

    b.driver.find_element(By.ID, "stop").click()
    stopped = time.monotonic()
    b.wait(lambda: b.path.startswith(f"/recordings/{sid}/"), 90, f"the page of recording {sid} after stopping",
           state=lambda: recorder_state(b))
    text = pages.wait_for_transcript(b, cfg.transcript_timeout)
    return text, stopped


def test_record_reload_resume_live_and_final_transcript(user_browser, cfg, account, passages, mic_wav, created):
    b = user_browser
    passage = passages["mic"]
    speech_seconds = speech.wav_seconds(mic_wav)
    open_recorder(b, account, created)
    b.shot("recorder")
    sid = start_recording(b, created)

    # Mid-recording: three chunks (about 9 s) acknowledged, then the user reloads the page.
    b.wait(lambda: b.js("return window.brefboard.sent") >= 3, 40, "three chunks acknowledged",
           state=lambda: recorder_state(b))
    b.shot("recording")
    offer = reload_and_read_offer(b, sid)
    check_resume_point(offer)
    restored = b.text("#live-transcript").strip()  # the page shows the session's live text again
    resumed = resume(b)

    # The passage again (the capture restarted), watching the live transcript grow.
    live, live_at = restored, None
    deadline = resumed + speech_seconds + 1.5
    while time.monotonic() < deadline + 45:  # past the passage only while no new live text came
        text = b.text("#live-transcript").strip()
        if text and text != live:
            live = text
            if live_at is None:
                live_at = time.monotonic() - resumed
                b.shot("live-transcript")
        time.sleep(0.5)
        if live_at is not None and time.monotonic() >= deadline:
            break
    level = b.js("return window.brefboard.maxLevel")
    b.shot("recording-after-resume")
    assert "refusé" not in b.text("#rec-status"), f"the page says {b.text('#rec-status')!r}"
    transcript, stopped = stop_and_wait_transcript(b, cfg, sid)
    created.events.add("transcribed")
    second_stream = stopped - resumed
    b.shot("recording-detail")
    duration = pages.recording_duration(b)

    created.facts["recording"] = (f"id {sid}: {duration} s stored, reload after {offer['received']} chunks, "
                                  f"live text {len(restored)} chars at the reload, new live text "
                                  f"{live_at and round(live_at, 1)} s into the resumed stream, "
                                  f"final transcript {transcript!r}")
    assert level > 0.01, f"the fake microphone gave silence (max RMS {level})"
    found = speech.check_transcript(passage, transcript, f"recording {sid}")
    assert live_at is not None, (f"the live transcript did not change while the resumed stream recorded "
                                 f"({second_stream:.0f} s); it stayed {live!r}")
    assert speech.found_words(passage, live), (
        f"the live transcript holds none of the expected words {list(passage.expected)}: {live!r}")
    # Every acknowledged chunk of the first stream (3 s each) and all of the resumed stream.
    expected = 3.0 * offer["received"] + second_stream
    assert duration is not None, f"the recording page states no duration: {b.text('main > p')!r}"
    assert abs(duration - expected) <= 4.5, (
        f"the stored recording lasts {duration} s; expected about {expected:.1f} s "
        f"({offer['received']} chunks of 3 s before the reload + {second_stream:.1f} s after resuming)")
    print(f"recording {sid}: {duration} s, words found {found}, live text {live!r}")


def test_resume_after_exactly_one_chunk(user_browser, cfg, account, passages, created):
    """A reload right after the first chunk was acknowledged: the page must resume from chunk 1."""
    from selenium.webdriver.common.by import By

    b = user_browser
    open_recorder(b, account, created)
    sid = start_recording(b, created)
    b.wait(lambda: b.js("return window.brefboard.sent") >= 1, 30, "the first chunk acknowledged",
           state=lambda: recorder_state(b), every=0.05)
    offer = reload_and_read_offer(b, sid)
    try:
        if offer["received"] != 1:
            pytest.fail(f"the reload came too late: the server already had {offer['received']} chunks")
        check_resume_point(offer)
        resumed = resume(b)
        b.wait(lambda: b.js("return window.brefboard.sent") >= 2, 30, "two chunks of the resumed stream acknowledged",
               state=lambda: recorder_state(b))
        assert "refusé" not in b.text("#rec-status"), f"the page says {b.text('#rec-status')!r}"
        transcript, stopped = stop_and_wait_transcript(b, cfg, sid)
        duration = pages.recording_duration(b)
        expected = 3.0 + (stopped - resumed)
        assert duration is not None and abs(duration - expected) <= 4.5, (
            f"the stored recording lasts {duration} s; expected about {expected:.1f} s "
            f"(1 chunk of 3 s before the reload + {stopped - resumed:.1f} s after resuming)")
        created.facts["resume after one chunk"] = f"id {sid}: {duration} s, transcript {transcript!r}"
    finally:
        resume_box = b.driver.find_elements(By.ID, "resume")
        if b.path == "/" and resume_box and resume_box[0].is_displayed():
            b.driver.find_element(By.ID, "resume-discard").click()  # what a user does with a broken resume
            b.wait(lambda: not b.driver.find_element(By.ID, "resume").is_displayed(), 20, "the offer to go")
            created.recordings.discard(sid)
