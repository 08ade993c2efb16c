"""Drive BrefBoard through nginx like a browser: log in, upload, wait for the transcript.

Run with the release's Python (it has httpx):
    e2e.py upload BASE USER PASSWORD WAV WORD...   -> waits for the transcript; prints the recording id
    e2e.py check BASE USER PASSWORD ID WORD...     -> the stored transcript still has the words
    e2e.py send BASE USER PASSWORD WAV             -> uploads without waiting; prints {"recording", "job"}
    e2e.py running BASE USER PASSWORD JOB          -> waits until a worker is transcribing the job
    e2e.py job BASE USER PASSWORD JOB              -> prints the job's state (JSON)
    e2e.py summary BASE USER PASSWORD ID           -> waits for the summary; prints it (JSON)
E2E_LANGUAGE (default en) is the language the upload asks for.
Every check is on real answers: the login must redirect away from the form, the
upload must return 201 with a job, the transcript must contain the spoken words.
"""
import json
import os
import re
import sys
import time

import httpx

TIMEOUT_S = 300


def login(base: str, user: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=base, verify=False, timeout=60, follow_redirects=False)
    page = client.get("/login/")
    page.raise_for_status()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = client.post(
        "/login/",
        data={"username": user, "password": password, "csrfmiddlewaretoken": token},
        # A browser sends Origin with every POST (Django checks it against
        # CSRF_TRUSTED_ORIGINS): a client without it would hide a refused origin.
        headers={"Referer": f"{base}/login/", "Origin": base},
    )
    if answer.status_code != 302 or "/login/" in answer.headers.get("location", ""):
        sys.exit(f"login failed: {answer.status_code} {answer.headers.get('location')} {answer.text[:300]}")
    client.headers.update({"X-CSRFToken": client.cookies["csrftoken"], "Referer": f"{base}/", "Origin": base,
                           "Accept": "application/json"})
    return client


def poll(what: str, fetch, done, timeout_s: float = TIMEOUT_S, every_s: float = 1.0):
    """fetch() until done(answer) or the deadline; the last answer either way."""
    deadline = time.monotonic() + timeout_s
    answer = fetch()
    while not done(answer) and time.monotonic() < deadline:
        time.sleep(every_s)
        answer = fetch()
    if not done(answer):
        sys.exit(f"{what}: gave up after {timeout_s:.0f} s, last answer {answer!r}")
    return answer


def get_json(client: httpx.Client, url: str) -> dict:
    answer = client.get(url)
    answer.raise_for_status()
    return answer.json()


def wait_transcript(client: httpx.Client, rec_id: int, words: list[str]) -> str:
    text = poll(f"transcript of {rec_id}", lambda: get_json(client, f"/get_transcription/{rec_id}/")["text"] or "",
                bool, every_s=2)
    missing = [w for w in words if w.lower() not in text.lower()]
    if missing:
        sys.exit(f"transcript of {rec_id} is {text!r}; missing {missing}")
    return text


def send(client: httpx.Client, wav: str) -> dict:
    with open(wav, "rb") as audio:
        answer = client.post("/upload/", files={"audio": ("speech.wav", audio, "audio/wav")},
                             data={"title": "molecule", "language": os.environ.get("E2E_LANGUAGE", "en")})
    if answer.status_code != 201:
        sys.exit(f"upload: {answer.status_code} {answer.text[:300]}")
    return answer.json()


def main() -> None:
    mode, base, user, password, target, *words = sys.argv[1:]
    client = login(base, user, password)
    if mode == "upload":
        rec_id = send(client, target)["recording"]
        started = time.monotonic()
        text = wait_transcript(client, rec_id, words)
        print(f"recording {rec_id} transcribed in {time.monotonic() - started:.1f} s: {text}", file=sys.stderr)
        print(rec_id)
    elif mode == "check":
        print(wait_transcript(client, int(target), words))
    elif mode == "send":
        print(json.dumps(send(client, target)))
    elif mode == "running":
        job = poll(f"job {target} running", lambda: get_json(client, f"/api/jobs/{target}/"),
                   lambda j: j["status"] == "running" and j["stage"] == "transcribing", timeout_s=120, every_s=0.3)
        print(json.dumps(job))
    elif mode == "job":
        print(json.dumps(get_json(client, f"/api/jobs/{target}/")))
    elif mode == "summary":
        summary = poll(f"summary of {target}", lambda: get_json(client, f"/api/library/{target}/summary/"),
                       lambda s: s.get("status") in ("done", "failed"), every_s=2)
        if summary["status"] != "done" or not summary.get("title"):
            sys.exit(f"summary of {target}: {summary!r}")
        print(json.dumps(summary))
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
