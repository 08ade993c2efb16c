"""What the recording page and the job page show while they work, and the site's script policy.

How the pages behave (app/brefboard/static/brefboard/recorder.js and job.js):
while recording, ``#rec-elapsed`` counts mm:ss, ``#level`` (a <meter>) follows
the microphone's input level, ``#rec-silence`` (role=alert) appears after about
5 s of silence, and ``#chunks-queued`` / ``#chunks-sent`` / ``#chunks-failed``
count the chunks waiting to be sent, acknowledged and refused. On
/recordings/<id>/ the job's status, stage and percent (``#job``) follow
/api/jobs/<id>/ without a reload; the page reloads once when the job is done,
to show the transcript. No page has an inline script, and the site's
Content-Security-Policy allows scripts from the site only: the browser refuses
an inline script put into the page.
"""
from __future__ import annotations

import re
import subprocess
import time

import pytest

from support import pages, site, speech
from support.browser import Browser
from support.csp import inline_scripts, script_policy_problems

RECORDING = "Enregistrement en cours…"


def feedback(b) -> dict:
    return b.js(
        "const b = window.brefboard || {}; const $ = (i) => document.getElementById(i);"
        "if (!$('rec-elapsed')) return null;"
        "return {elapsed: $('rec-elapsed').textContent, level: $('level').value, silence: !$('rec-silence').hidden,"
        " queued: $('chunks-queued').textContent, sent: $('chunks-sent').textContent,"
        " failed: $('chunks-failed').textContent, status: $('rec-status').textContent,"
        " js_sent: b.sent, max_level: b.maxLevel};")


def seconds(mmss: str) -> int:
    m = re.fullmatch(r"(\d\d):(\d\d)", mmss or "")
    assert m, f"the elapsed time #rec-elapsed is not mm:ss: {mmss!r}"
    return int(m.group(1)) * 60 + int(m.group(2))


def open_recorder(b, account) -> None:
    from selenium.webdriver.common.by import By

    b.go("/")
    b.wait(lambda: b.driver.find_element(By.ID, "start").is_enabled(), 20, "the recorder's start button")
    time.sleep(1.0)  # the page asks for unfinished sessions as it loads
    if b.driver.find_element(By.ID, "resume").is_displayed():
        if not account.created:
            pytest.fail("this account already has an unfinished recording (the page offers to resume it): "
                        "finish or discard it before running the suite")
        b.driver.find_element(By.ID, "resume-discard").click()
        b.wait(lambda: not b.driver.find_element(By.ID, "resume").is_displayed(), 20, "the discarded offer to go")
    f = feedback(b)
    assert f is not None, "the recorder shows no elapsed time, level or chunk counts (#rec-elapsed missing)"
    assert f["elapsed"] == "00:00" and f["sent"] == "0" and not f["silence"], f"before recording: {f}"


def start(b, created) -> int:
    from selenium.webdriver.common.by import By

    b.driver.find_element(By.ID, "start").click()
    b.wait(lambda: b.text("#rec-status") == RECORDING, 20, f"the status {RECORDING!r}", state=lambda: feedback(b))
    sid = b.js("const s = window.brefboard.session(); return s && s.id")
    assert sid, "recording, but the page has no session"
    created.recordings.add(int(sid))
    return int(sid)


def stop(b, sid: int) -> None:
    from selenium.webdriver.common.by import By

    b.driver.find_element(By.ID, "stop").click()
    b.wait(lambda: b.path.startswith(f"/recordings/{sid}/"), 90, f"the page of recording {sid} after stopping",
           state=lambda: feedback(b))


# Installed on /recordings/<id>/ right after it loads: every change the page's own script makes
# to #job is kept in sessionStorage, which outlives the reload the page does once the job is done.
WATCH_JOB = """
const box = document.getElementById('job');
if (!box) return null;
const read = () => [box.dataset.status, (document.getElementById('job-stage') || {}).textContent,
                    (document.getElementById('job-percent') || {}).textContent].join(' | ');
sessionStorage.setItem('acceptanceJob', JSON.stringify([read()]));
new MutationObserver(() => {
  const seen = JSON.parse(sessionStorage.getItem('acceptanceJob') || '[]');
  const now = read();
  if (seen[seen.length - 1] !== now) { seen.push(now); sessionStorage.setItem('acceptanceJob', JSON.stringify(seen)); }
}).observe(box, {subtree: true, childList: true, characterData: true, attributes: true});
return read();
"""


@pytest.mark.writes
def test_recorder_shows_time_level_chunks_and_the_job_live(user_browser, cfg, account, passages, created):
    b = user_browser
    open_recorder(b, account)
    sid = start(b, created)
    started = time.monotonic()

    levels, warned = [], []
    while time.monotonic() - started < 8:  # the meeting is spoken from 1 s on: level up, no warning
        f = feedback(b)
        levels.append(float(f["level"]))
        if f["silence"]:
            warned.append(round(time.monotonic() - started, 1))
        time.sleep(0.25)
    f = feedback(b)
    b.shot("recorder-feedback")
    assert max(levels) > 0.02, f"the level meter #level stayed at {max(levels)} while the microphone spoke ({f})"
    assert not warned, f"the silence warning appeared at {warned} s while the microphone spoke"
    first = seconds(f["elapsed"])
    assert 5 <= first <= 10, f"8 s after Démarrer the elapsed time says {f['elapsed']}"
    time.sleep(2.5)
    later = seconds(feedback(b)["elapsed"])
    assert later >= first + 2, f"the elapsed time went from {first} s to {later} s in 2.5 s"

    b.wait(lambda: int(feedback(b)["sent"]) >= 3, 30, "three chunks counted as sent", state=lambda: feedback(b))
    f = feedback(b)
    state = b.fetch_json(f"/api/sessions/{sid}/")
    assert state["status"] == 200, f"GET /api/sessions/{sid}/ answered {state}"
    # Sent means acknowledged: the server holds at least as many.
    assert int(f["sent"]) == f["js_sent"] <= state["body"]["received"], (f, state["body"])
    assert f["failed"] == "0", f"chunks refused: {f}"
    created.facts["recorder feedback"] = (f"elapsed {f['elapsed']}, max level {f['max_level']:.3f}, "
                                          f"{f['sent']} sent / {f['queued']} waiting, server {state['body']['received']}")

    stop(b, sid)
    initial = b.js(WATCH_JOB)
    assert initial is not None, f"the recording page shows no job (#job): {b.text('main')[:300]!r}"
    b.shot("job-live")
    pages.wait_for_transcript(b, cfg.transcript_timeout)
    created.events.add("transcribed")
    seen = b.js("return JSON.parse(sessionStorage.getItem('acceptanceJob') || '[]')")
    created.facts["job live"] = " -> ".join(seen)
    if initial.startswith("done"):
        pytest.skip(f"the job was done before its page loaded ({initial}): nothing to follow live")
    assert len(seen) >= 2, (f"the job's status, stage and percent never changed on /recordings/{sid}/ without a "
                            f"reload (first seen {initial!r}); the page learnt it was done only by reloading")
    assert seen[-1].startswith("done"), f"the last state the page showed before reloading: {seen[-1]!r} ({seen})"


@pytest.fixture
def silent_wav(audio_dir):
    out = audio_dir / "silence.wav"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono",
                    "-t", "30", "-c:a", "pcm_s16le", str(out)], check=True)
    return out


@pytest.mark.writes
def test_silent_microphone_gets_a_warning(user_browser, cfg, account, created, silent_wav):
    """A second browser whose microphone gives silence (a muted or wrong input)."""
    b = Browser(cfg, "recorder-silence", silent_wav)
    try:
        site.login(b, account)
        b.check("logging in the silent browser")
        open_recorder(b, account)
        sid = start(b, created)
        started = time.monotonic()
        early = feedback(b)
        assert not early["silence"], f"the silence warning came at once: {early}"
        b.wait(lambda: feedback(b)["silence"], 20, "the silence warning #rec-silence", state=lambda: feedback(b))
        after = time.monotonic() - started
        f = feedback(b)
        b.shot("silence-warning")
        assert after >= 4, f"the silence warning came after {after:.1f} s of silence only"
        assert f["max_level"] < 0.003 and float(f["level"]) == 0, f"silence, yet the level meter says {f}"
        text = b.text("#rec-silence")
        assert "micro" in text, f"the warning does not point at the microphone: {text!r}"
        created.facts["silence warning"] = f"after {after:.1f} s: {text!r}"
        stop(b, sid)  # a finished recording, deleted at the end like the others
        b.check("the silent recording")
    finally:
        b.quit()


def test_pages_have_no_inline_script_and_the_policy_refuses_one(user_browser, cfg, created):
    b = user_browser
    s = b.http()
    home = s.get(cfg.url("/"), timeout=30, allow_redirects=False)
    newest = re.search(r'href="(/recordings/\d+/)"', home.text)  # the home page's latest recording, if any
    paths = ["/login/", "/", "/profil/"] + ([newest.group(1)] if newest else [])
    for path in paths:
        who = cfg.session() if path == "/login/" else s  # the login page as a visitor sees it
        r = who.get(cfg.url(path), timeout=30, allow_redirects=False)
        assert r.status_code == 200, f"GET {path} answered {r.status_code}"
        problems = script_policy_problems(r.headers.get("Content-Security-Policy"))
        assert not problems, (f"GET {path}: the Content-Security-Policy header "
                              f"{r.headers.get('Content-Security-Policy')!r} does not keep scripts to the site: "
                              f"{problems} (roles/brefboard: brefboard_csp)")
        found = inline_scripts(r.text)
        assert not found.problems, f"GET {path} holds what script-src 'self' refuses: {found.problems}"
    # The policy is in force: the page's own scripts ran, an inline one put into the page does not.
    b.go("/")
    b.wait(lambda: b.js("return typeof window.brefboard") == "object", 20, "recorder.js to have run")
    b.expect_console(r"Content Security Policy", "an inline script put into the page by this test, to be refused")
    b.js("const s = document.createElement('script'); s.textContent = 'window.acceptanceInline = true;';"
         "document.body.appendChild(s);")
    time.sleep(0.5)
    assert b.js("return window.acceptanceInline === true") is False, "an inline script ran: the CSP does not hold"
    b.collect()
    assert any("CONSOLE SEVERE" in line and "Content Security Policy" in line for line in b.history), (
        "the browser did not report refusing the inline script")


def test_the_checks_can_fail():
    """The helpers above find what they look for."""
    found = inline_scripts('<script>x()</script><a href="javascript:y()">a</a><b onclick="z()"></b>'
                           '<script src="/static/brefboard/job.js"></script>')
    assert len(found.problems) == 4 and found.sources == ["/static/brefboard/job.js"], found.problems
    assert script_policy_problems(None) == ["no Content-Security-Policy header"]
    assert script_policy_problems("default-src 'self'; script-src 'self' 'unsafe-inline'")
    assert script_policy_problems("img-src 'self'")
    assert not script_policy_problems("default-src 'self'; script-src 'self'; object-src 'none'")
