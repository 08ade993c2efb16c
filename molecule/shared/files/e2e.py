"""Drive BrefBoard through nginx like a browser: log in, upload, wait for the transcript.

Run with the release's Python (it has httpx):
    e2e.py upload BASE USER PASSWORD WAV WORD...   -> prints the recording id
    e2e.py check BASE USER PASSWORD ID WORD...     -> the stored transcript still has the words
Every check is on real answers: the login must redirect away from the form, the
upload must return 201 with a job, the transcript must contain the spoken words.
"""
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
        headers={"Referer": f"{base}/login/"},
    )
    if answer.status_code != 302 or "/login/" in answer.headers.get("location", ""):
        sys.exit(f"login failed: {answer.status_code} {answer.headers.get('location')} {answer.text[:300]}")
    client.headers.update({"X-CSRFToken": client.cookies["csrftoken"], "Referer": f"{base}/", "Accept": "application/json"})
    return client


def wait_transcript(client: httpx.Client, rec_id: int, words: list[str]) -> str:
    deadline = time.monotonic() + TIMEOUT_S
    text = ""
    while time.monotonic() < deadline:
        answer = client.get(f"/get_transcription/{rec_id}/")
        answer.raise_for_status()
        text = answer.json()["text"] or ""
        if text:
            break
        time.sleep(2)
    missing = [w for w in words if w.lower() not in text.lower()]
    if not text or missing:
        sys.exit(f"transcript of {rec_id} is {text!r}; missing {missing}")
    return text


def main() -> None:
    mode, base, user, password, target, *words = sys.argv[1:]
    client = login(base, user, password)
    if mode == "upload":
        with open(target, "rb") as audio:
            answer = client.post("/upload/", files={"audio": ("speech.wav", audio, "audio/wav")},
                                 data={"title": "molecule", "language": "en"})
        if answer.status_code != 201:
            sys.exit(f"upload: {answer.status_code} {answer.text[:300]}")
        rec_id = answer.json()["recording"]
        started = time.monotonic()
        text = wait_transcript(client, rec_id, words)
        print(f"recording {rec_id} transcribed in {time.monotonic() - started:.1f} s: {text}", file=sys.stderr)
        print(rec_id)
    elif mode == "check":
        print(wait_transcript(client, int(target), words))
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
