"""What the recording page and the job pages show, live, and with no inline script.

* The served pages hold no inline script (no <script> body, no on* handler, no
  javascript: URL) and declare ``script-src 'self'``; the role's nginx CSP
  (``brefboard_csp``) allows no 'unsafe-inline'; the browser refuses an inline
  script injected into the page (the policy is in force, not only written).
* The recorder, in headless Chromium with a fake microphone: the elapsed time
  advances (mm:ss), the input-level <meter> moves above 0 with speech and the
  silence warning stays hidden; with a silent WAV the meter stays at 0 and the
  warning appears after about 5 s; the chunk counters follow the uploads (sent
  = acknowledged by the server, queued while the chunk URLs are blocked).
* A job's status, stage and percent follow the server on the recording page, on
  the home page's list and on /profil/ without reloading; polling stops once it ended.

Needs Debian's `chromium` and `chromium-driver` (scripts/test-app.sh installs them);
BREFBOARD_SKIP_BROWSER=1 skips the browser tests.
"""
from __future__ import annotations

import re
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from brefboard.recordings.models import Recording, TranscriptionJob
from tests.helpers import chromium, espeak, log_in_as_alice, wait_for

REPO = Path(__file__).resolve().parents[2]
SPOKEN = ("Good morning everyone. Today we review the project schedule and the budget. "
          "The design team will present the new website next week.")


# --- No inline script -------------------------------------------------------------------------

class _ScriptFinder(HTMLParser):
    """Everything in a page a strict CSP (script-src 'self') would refuse to run."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.csp_meta: list[str] = []
        self._in_script = False
        self.sources: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name, value in attrs.items():
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...> (inline event handler)")
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}={value!r}> (javascript: URL)")
        if tag == "script":
            self._in_script = True
            if attrs.get("src"):
                self.sources.append(attrs["src"])
            else:
                self.problems.append("<script> without src (inline script)")
        if tag == "meta" and (attrs.get("http-equiv") or "").lower() == "content-security-policy":
            self.csp_meta.append(attrs.get("content") or "")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.problems.append(f"<script> with a body: {data.strip()[:60]!r}")


def inline_script_problems(html: str) -> _ScriptFinder:
    finder = _ScriptFinder()
    finder.feed(html)
    finder.close()
    return finder


def role_csp() -> str:
    """The Content-Security-Policy nginx sends by default (roles/brefboard)."""
    defaults = yaml.safe_load((REPO / "roles/brefboard/defaults/main.yml").read_text())
    return defaults["brefboard_csp"]


def test_the_checker_finds_inline_scripts():
    """The check below can fail: each kind of inline script is found, a static one is not."""
    page = ('<script>alert(1)</script><button onclick="go()">x</button><a href="javascript:go()">y</a>'
            '<script src="/static/brefboard/job.js"></script>')
    found = inline_script_problems(page)
    assert len(found.problems) == 4, found.problems  # the first script twice: no src, a body
    assert found.sources == ["/static/brefboard/job.js"]


@pytest.mark.django_db
def test_served_pages_have_no_inline_script_and_declare_the_policy(client, alice_client, alice, english_wav):
    with english_wav.open("rb") as fh:
        r = alice_client.post("/upload/", {"audio": fh, "title": "Budget"}, HTTP_ACCEPT="application/json")
    assert r.status_code == 201, r.content
    rec = Recording.objects.get(owner=alice)
    job = rec.latest_job()
    assert job.is_active  # no worker runs: the pages show a job still to be done
    pages = {"/login/": client, "/": alice_client, f"/recordings/{rec.pk}/": alice_client,
             "/profil/": alice_client, f"/library/{rec.pk}/": alice_client,
             f"/library/{rec.pk}/edit/": alice_client, f"/library/{rec.pk}/delete/": alice_client}
    scripts = set()
    for path, c in pages.items():
        r = c.get(path)
        assert r.status_code == 200, (path, r.status_code)
        found = inline_script_problems(r.content.decode())
        assert not found.problems, f"{path}: {found.problems}"
        assert found.csp_meta and all("script-src 'self'" in m and "unsafe-inline" not in m for m in found.csp_meta), (
            path, found.csp_meta)
        scripts.update(found.sources)
    # The polling of the job and the recorder are there, as static files.
    assert {"/static/brefboard/recorder.js", "/static/brefboard/job.js"} <= scripts, scripts
    detail = alice_client.get(f"/recordings/{rec.pk}/").content.decode()
    assert f'data-job-url="/api/jobs/{job.pk}/"' in detail and 'data-status="queued"' in detail
    home = alice_client.get("/").content.decode()
    assert f'id="recent-{rec.pk}"' in home and f'data-job-url="/api/jobs/{job.pk}/"' in home


def test_the_role_csp_allows_scripts_from_the_site_only():
    csp = role_csp()
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    assert directives.get("script-src") == ["'self'"], csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, csp
    assert directives.get("object-src") == ["'none'"], csp
    nginx = (REPO / "roles/brefboard/templates/nginx-brefboard.conf.j2").read_text()
    assert 'add_header Content-Security-Policy "{{ brefboard_csp }}" always;' in nginx


# --- The recorder in a real browser ---------------------------------------------------------------

def _wav(tmp_path: Path, name: str, speech: bool) -> Path:
    out = tmp_path / f"{name}.wav"
    if speech:
        src = espeak(SPOKEN, tmp_path / f"{name}-speech.wav", speed=150)
        args = ["-i", str(src), "-af", "adelay=500,apad=whole_dur=40"]
    else:
        args = ["-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono", "-t", "40"]
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args, "-ar", "48000", "-ac", "1",
                    "-c:a", "pcm_s16le", str(out)], check=True)
    return out


@pytest.fixture
def speaking_browser(tmp_path):
    driver = chromium(_wav(tmp_path, "speech", speech=True))
    yield driver
    driver.quit()


@pytest.fixture
def silent_browser(tmp_path):
    driver = chromium(_wav(tmp_path, "silence", speech=False))
    yield driver
    driver.quit()


def _text(browser, element_id: str) -> str:
    return browser.execute_script("const e = document.getElementById(arguments[0]); return e ? e.textContent : null;",
                                  element_id)


def _seconds(mmss: str) -> int:
    m = re.fullmatch(r"(\d\d):(\d\d)", mmss or "")
    assert m, f"the elapsed time is not mm:ss: {mmss!r}"
    return int(m.group(1)) * 60 + int(m.group(2))


def _severe(browser, allowed: tuple[str, ...] = ()) -> list[str]:
    return [e["message"] for e in browser.get_log("browser")
            if e.get("level") == "SEVERE" and not any(a in e["message"] for a in allowed)]


def _feedback(browser) -> dict:
    return browser.execute_script(
        "const b = window.brefboard || {}; const $ = (i) => document.getElementById(i);"
        "return {elapsed: $('rec-elapsed').textContent, level: $('level').value, silence: !$('rec-silence').hidden,"
        " queued: $('chunks-queued').textContent, sent: $('chunks-sent').textContent,"
        " failed: $('chunks-failed').textContent, status: $('rec-status').textContent,"
        " js_sent: b.sent, js_queued: b.queued && b.queued(), max: b.maxLevel};")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_recorder_shows_time_level_and_chunks_while_speaking(speaking_browser, live_server, alice):
    b = speaking_browser
    log_in_as_alice(b, live_server)
    assert _feedback(b)["elapsed"] == "00:00" and _feedback(b)["sent"] == "0"
    b.find_element("id", "start").click()
    started = time.monotonic()

    levels, silence_seen = [], False
    while time.monotonic() - started < 7.5:  # speech from 0.5 s: the meter moves, no warning
        f = _feedback(b)
        levels.append(float(f["level"]))
        silence_seen |= f["silence"]
        time.sleep(0.2)
    f = _feedback(b)
    assert max(levels) > 0.02, f"the meter never moved with speech: {max(levels)} ({f})"
    assert not silence_seen, f"the silence warning appeared while the microphone spoke: {f}"
    first = _seconds(f["elapsed"])
    assert 5 <= first <= 9, f
    time.sleep(2.2)
    later = _seconds(_feedback(b)["elapsed"])
    assert later >= first + 2, (first, later)

    # Sent is what the server acknowledged.
    wait_for(lambda: int(_feedback(b)["sent"]) >= 2, timeout=20, what="two chunks sent", state=lambda: _feedback(b))
    f = _feedback(b)
    rec = Recording.objects.get(owner=alice)
    assert int(f["sent"]) == f["js_sent"] <= rec.chunk_count, (f, rec.chunk_count)
    assert f["failed"] == "0"

    # The chunk URLs blocked: chunks wait in the queue, and are sent once it opens again.
    b.execute_cdp_cmd("Network.enable", {})
    b.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/chunks/*"]})
    blocked_at = int(_feedback(b)["sent"])
    wait_for(lambda: int(_feedback(b)["queued"]) >= 2, timeout=20, what="two chunks waiting",
             state=lambda: _feedback(b))
    f = _feedback(b)
    assert int(f["sent"]) <= blocked_at + 1 and int(f["queued"]) == f["js_queued"], f
    b.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
    wait_for(lambda: _feedback(b)["queued"] in ("0", "1") and int(_feedback(b)["sent"]) >= blocked_at + 2,
             timeout=40, what="the waiting chunks sent", state=lambda: _feedback(b))
    sent = int(_feedback(b)["sent"])

    b.find_element("id", "stop").click()
    wait_for(lambda: "/recordings/" in b.current_url, timeout=60, what="the recording page after stop",
             state=lambda: _feedback(b))
    rec.refresh_from_db()
    assert rec.chunk_count >= sent
    # The blocked requests are the only console errors.
    assert not _severe(b, ("ERR_BLOCKED_BY_CLIENT",)), _severe(b)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_silent_microphone_gets_a_warning(silent_browser, live_server, alice):
    b = silent_browser
    log_in_as_alice(b, live_server)
    b.find_element("id", "start").click()
    started = time.monotonic()
    wait_for(lambda: _feedback(b)["status"] == "Enregistrement en cours…", timeout=15, what="recording",
             state=lambda: _feedback(b))
    early = _feedback(b)
    assert not early["silence"], f"the warning came before the silence lasted: {early}"
    wait_for(lambda: _feedback(b)["silence"], timeout=15, what="the silence warning", state=lambda: _feedback(b))
    after = time.monotonic() - started
    f = _feedback(b)
    assert 4.5 <= after, f"the warning came after {after:.1f} s of silence only"
    assert float(f["level"]) == 0 and f["max"] < 0.003, f
    assert _seconds(f["elapsed"]) >= 4, f
    warning = b.find_element("id", "rec-silence")
    assert warning.is_displayed() and "micro" in warning.text and warning.get_attribute("role") == "alert"
    assert not _severe(b), _severe(b)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_inline_script_is_refused_by_the_page(speaking_browser, live_server, alice):
    """The policy is in force: a script added inline to the page does not run, the static ones did."""
    b = speaking_browser
    log_in_as_alice(b, live_server)
    assert b.execute_script("return typeof window.brefboard") == "object"  # recorder.js ran
    b.execute_script("const s = document.createElement('script'); s.textContent = 'window.inlineRan = true;';"
                     "document.body.appendChild(s);")
    time.sleep(0.3)
    assert b.execute_script("return window.inlineRan === true") is False
    refused = [m for m in _severe(b) if "Content Security Policy" in m]
    assert refused, "the browser did not say it refused the inline script"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_job_state_follows_the_server_without_reload(speaking_browser, live_server, alice, alice_client, english_wav):
    """The recording page follows the job's status, stage and percent; polling stops once it failed."""
    b = speaking_browser
    with english_wav.open("rb") as fh:
        r = alice_client.post("/upload/", {"audio": fh, "title": "Suivi"}, HTTP_ACCEPT="application/json")
    assert r.status_code == 201, r.content
    rec = Recording.objects.get(owner=alice)
    job = rec.latest_job()
    log_in_as_alice(b, live_server)
    b.get(f"{live_server.url}/recordings/{rec.pk}/")
    b.execute_script("window.sameDocument = true;")  # gone if the page reloads

    def shown():
        return {"status": _text(b, "job-status"), "stage": _text(b, "job-stage"), "percent": _text(b, "job-percent"),
                "progress": b.execute_script("return document.getElementById('job-progress').value"),
                "same": b.execute_script("return window.sameDocument === true")}

    assert shown()["status"] == "En attente"
    TranscriptionJob.objects.filter(pk=job.pk).update(status="running", stage="transcribing", progress=42.0)
    wait_for(lambda: shown()["percent"] == "42", timeout=10, what="42 % on the page", state=shown)
    s = shown()
    assert s == {"status": "En cours", "stage": "transcription", "percent": "42", "progress": 42, "same": True}, s

    # On the home page's list too.
    b.get(f"{live_server.url}/")
    b.execute_script("window.sameDocument = true;")
    item = f"#recent-{rec.pk} [data-job-field='percent']"
    assert b.find_element("css selector", item).text == "42"
    TranscriptionJob.objects.filter(pk=job.pk).update(progress=64.0, stage="transcribing")
    wait_for(lambda: b.find_element("css selector", item).text == "64", timeout=10, what="64 % in the list")
    assert b.execute_script("return window.sameDocument === true")

    # And on the library's list (/profil/).
    b.get(f"{live_server.url}/profil/")
    b.execute_script("window.sameDocument = true;")
    item = f"#rec-{rec.pk} [data-job-field='percent']"
    assert b.find_element("css selector", item).text == "64"
    TranscriptionJob.objects.filter(pk=job.pk).update(progress=71.0)
    wait_for(lambda: b.find_element("css selector", item).text == "71", timeout=10, what="71 % on /profil/")
    assert b.execute_script("return window.sameDocument === true")
    TranscriptionJob.objects.filter(pk=job.pk).update(progress=64.0)

    # Failed: the page says so, and asks no more.
    b.get(f"{live_server.url}/recordings/{rec.pk}/")
    b.execute_script("window.sameDocument = true;")
    TranscriptionJob.objects.filter(pk=job.pk).update(status="failed", stage="failed", error="disque plein")
    wait_for(lambda: shown()["status"] == "Échec", timeout=10, what="the failure on the page", state=shown)
    assert b.find_element("id", "job-error").text == "disque plein"
    TranscriptionJob.objects.filter(pk=job.pk).update(progress=99.0)
    time.sleep(4.5)  # two polling periods
    s = shown()
    assert s["percent"] == "64" and s["same"], f"the page went on polling a failed job: {s}"
    assert not _severe(b), _severe(b)
