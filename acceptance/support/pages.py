"""Reading BrefBoard's pages the way a user reads them."""
from __future__ import annotations

import re

from .browser import Browser, StopWaiting

NO_TRANSCRIPT = "(pas encore de transcription)"


def job_state(b: Browser) -> dict:
    return {"status": b.text("#job-status"), "stage": b.text("#job-stage"), "percent": b.text("#job-percent"),
            "stuck": b.text("#job-stuck"), "error": b.text("#job .error")}


def wait_for_transcript(b: Browser, timeout: float) -> str:
    """On /recordings/<id>/: wait until the job is done (the page reloads itself) and return the transcript."""
    from selenium.webdriver.common.by import By

    def done():
        if b.text("#job .error") or b.text("#job-status") in ("Échec", "Annulé"):
            raise StopWaiting(f"the transcription job ended badly: {job_state(b)}")
        jobs = b.driver.find_elements(By.CSS_SELECTOR, "#job[data-status='done']")
        text = b.text("#transcript").strip()
        return jobs and text and text != NO_TRANSCRIPT and text

    return b.wait(done, timeout, "the final transcript on the recording page", state=lambda: job_state(b), every=1.0)


def recording_duration(b: Browser) -> float | None:
    """The duration the recording page states ("— 31,4 s")."""
    meta = b.text("main > p")
    m = re.search(r"(\d+(?:[.,]\d+)?)\s*s\b", meta)
    return float(m.group(1).replace(",", ".")) if m else None
