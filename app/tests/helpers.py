"""Helpers shared by the tests: speech synthesis, worker processes, waiting."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

APP_DIR = Path(__file__).resolve().parent.parent

ENGLISH_TEXT = (
    "The quarterly budget meeting will begin at nine o'clock. "
    "Please bring the marketing report and the sales figures for the northern region."
)


def espeak(text: str, path: Path, voice: str = "en-us", speed: int = 150) -> Path:
    """Synthesise ``text`` to a 16-bit PCM WAV with espeak-ng."""
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is missing: scripts/test-app.sh and scripts/test-engines.sh install it")
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text], check=True)
    return path


def transcode(src: Path, dst: Path, *args: str) -> Path:
    """Re-encode with ffmpeg (e.g. to WebM/Opus as Chrome's MediaRecorder makes it)."""
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(src), *args, str(dst)], check=True)
    return dst


def words(text: str) -> list[str]:
    return re.findall(r"[a-zà-ÿ']+", text.lower())


class Worker:
    """A real `celery worker` process (prefork, one child unless told) in its own process group."""

    def __init__(self, log_path: Path, queues: str = "transcribe.cpu,celery", name: str = "test",
                 env: dict | None = None, concurrency: int = 1) -> None:
        self.log_path = log_path
        self.concurrency = concurrency
        self.queues = queues
        self.name = name
        self.extra_env = env or {}
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> "Worker":
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="tests.django_settings", PYTHONPATH=str(APP_DIR),
                   **self.extra_env)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "brefboard", "worker", "-Q", self.queues,
             "--pool", "prefork", "--concurrency", str(self.concurrency), "-n", f"{self.name}@%h",
             "--without-gossip", "--without-mingle", "-l", "info"],
            cwd=APP_DIR, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while b" ready." not in self.log_path.read_bytes():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("celery worker did not start:\n" + self.log_path.read_text(errors="replace")[-3000:])
            time.sleep(0.2)
        return self

    def kill(self) -> None:
        """SIGKILL the whole worker (parent and pool child): no chance to clean up."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_for(predicate, timeout: float, interval: float = 0.5, what: str = "condition", state=None):
    """Poll ``predicate`` until it is truthy; on timeout say what ``state()`` was."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}" + (f"; state: {state()}" if state else ""))


def live_webm(src: Path, dst: Path) -> Path:
    """WebM/Opus written as a stream, like MediaRecorder: no duration, no cues.

    ffmpeg writing to a pipe cannot seek back to fill them in, exactly the
    situation of a browser recording.
    """
    with open(dst, "wb") as out:
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(src), "-c:a", "libopus", "-b:a", "32k",
                        "-ar", "48000", "-f", "webm", "-"], check=True, stdout=out)
    return dst


def split_bytes(data: bytes, size: int) -> list[bytes]:
    """Cut a stream at arbitrary byte offsets, as MediaRecorder's timeslice does."""
    return [data[i:i + size] for i in range(0, len(data), size)]


def chromium(microphone_wav: Path, language: str = "fr-FR"):
    """Headless Chromium whose microphone plays ``microphone_wav`` (console kept for the tests that read it),
    asking pages in ``language`` (French by default: the tests read the site's French; headless says en-US)."""
    if os.environ.get("BREFBOARD_SKIP_BROWSER") == "1":
        pytest.skip("BREFBOARD_SKIP_BROWSER=1")
    chromium_bin, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium_bin or not driver_path:
        pytest.fail("chromium and chromium-driver are missing: scripts/test-app.sh installs them")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium_bin
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                 f"--use-file-for-fake-audio-capture={microphone_wav}", "--autoplay-policy=no-user-gesture-required",
                 f"--lang={language}"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": f"{language},{language[:2]}"})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(30)
    return driver


def log_in_as_alice(browser, live_server) -> None:
    """Through the login form, as a user does, until the recorder's page is there."""
    from selenium.webdriver.common.by import By

    browser.get(live_server.url + "/login/")
    browser.find_element(By.ID, "id_username").send_keys("alice")
    browser.find_element(By.ID, "id_password").send_keys("correct horse battery")
    browser.find_element(By.ID, "login-submit").click()
    wait_for(lambda: browser.find_elements(By.ID, "start"), timeout=15, what="the home page")


def upload_json(client, path: Path, **fields) -> dict:
    """POST ``path`` to /upload/ as the page's script does (JSON answer): the answer (recording, job)."""
    with open(path, "rb") as fh:
        r = client.post("/upload/", {"audio": fh, **fields}, HTTP_ACCEPT="application/json")
    assert r.status_code == 201, r.content
    return r.json()


def job_of(body: dict):
    """The TranscriptionJob an upload answer names."""
    from brefboard.recordings.models import TranscriptionJob

    return TranscriptionJob.objects.get(pk=body["job"])


def transcribed_without_worker(client, owner, wav: Path, segments, **fields):
    """An upload by ``owner`` whose transcript is written directly (no worker): ``segments`` as
    (start, end, text), its job done, the recording done with their text as transcript."""
    from brefboard.recordings.models import Recording, Segment, TranscriptionJob

    upload_json(client, wav, **fields)
    rec = Recording.objects.get(owner=owner)
    job = rec.latest_job()
    for i, (start, end, text) in enumerate(segments):
        Segment.objects.create(recording=rec, job=job, index=i, start=start, end=end, text=text)
    TranscriptionJob.objects.filter(pk=job.pk).update(status="done", stage="done", progress=100.0)
    Recording.objects.filter(pk=rec.pk).update(status="done", transcript=" ".join(t for _, _, t in segments))
    rec.refresh_from_db()
    return rec
