"""What a user does on BrefBoard's pages, and how the suite tells what went wrong.

The pages are the app's templates (app/brefboard/templates, library/templates):
sign-up at /inscription/ (Django's UserCreationForm + e-mail), /login/ with
``#login-submit``, logout as a POST form in the header, the recorder and the
upload form on /, /recordings/<id>/ (job, transcript), /library/<id>/
(summary, exports, delete), /profil/ (search).
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import requests

from .browser import Browser


@dataclass
class Account:
    username: str
    password: str
    email: str
    created: bool = False  # signed up by this run
    existing: bool = False  # given with --user (read-only or not)


@dataclass
class Created:
    """What this run made, to delete at the end."""
    recordings: set[int] = field(default_factory=set)
    sessions: set[int] = field(default_factory=set)
    facts: dict = field(default_factory=dict)  # what the report says (summary method, timings...)
    events: set[str] = field(default_factory=set)  # what the site did for this run: transcribed, summarised


def new_account(cfg) -> Account:
    name = f"acceptance-{cfg.run_id}"
    return Account(username=name, password="Acc-" + secrets.token_urlsafe(18),
                   email=f"{name}@example.invalid")


def refusal(b: Browser, action: str, path_re: str) -> str:
    """Why a form POST did not land where it should: the status of the POST's answer and what the page says."""
    doc = b.last_document(path_re, method="POST")
    status = doc[2] if doc else None
    h1 = b.text("h1") or b.text("title")
    body = b.text("body")[:600].replace("\n", " / ")
    msg = f"{action}: POST answered {status if status else '(no page load seen)'}, page {b.path!r} says {h1!r}: {body!r}"
    if status == 403 and "CSRF" in body:
        msg += (f" -- Django refused the browser's form with a CSRF failure: the browser sends "
                f"Origin {b.cfg.origin}, which the site does not trust (DJANGO_CSRF_TRUSTED_ORIGINS / Host)")
        # The failure is the finding: the 403 it caused is said here, not again by the log check.
        b.expect_response(path_re, {403}, f"{action} refused with CSRF failure, reported by the test")
    return msg


def logged_in(b: Browser) -> bool:
    """The header's log-out button is there (in whichever language the page is)."""
    return bool(b.text("header form[action$='/logout/'] button"))


def signup(b: Browser, account: Account) -> None:
    from selenium.webdriver.common.by import By

    b.go("/inscription/")
    b.wait(lambda: b.driver.find_elements(By.ID, "id_password2"), 20, "the sign-up form")
    b.shot("signup-form")
    for field_id, value in (("id_username", account.username), ("id_email", account.email),
                            ("id_password1", account.password), ("id_password2", account.password)):
        el = b.driver.find_element(By.ID, field_id)
        el.clear()
        el.send_keys(value)
    b.driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    try:
        b.wait(lambda: b.path.split("?")[0] != "/inscription/" or b.text("ul.errorlist") or "403" in b.text("h1")
               or "CSRF" in b.text("body"), 30, "the answer to the sign-up form")
    except AssertionError:
        pass
    if b.path.split("?")[0] != "/" or not logged_in(b):
        errors = b.text("ul.errorlist")
        raise AssertionError(refusal(b, "sign-up", r"^/inscription/") + (f"; form errors: {errors!r}" if errors else ""))
    account.created = True
    b.shot("home-after-signup")


def login(b: Browser, account: Account) -> None:
    from selenium.webdriver.common.by import By

    b.go("/login/")
    b.wait(lambda: b.driver.find_elements(By.ID, "login-submit"), 20, "the login form")
    b.driver.find_element(By.ID, "id_username").send_keys(account.username)
    b.driver.find_element(By.ID, "id_password").send_keys(account.password)
    b.driver.find_element(By.ID, "login-submit").click()
    try:
        b.wait(lambda: b.path.split("?")[0] != "/login/" or b.text("ul.errorlist") or b.text(".errorlist"), 30,
               "the answer to the login form")
    except AssertionError:
        pass
    if b.path.split("?")[0] != "/" or not logged_in(b):
        errors = b.text(".errorlist")
        raise AssertionError(refusal(b, f"login as {account.username}", r"^/login/")
                             + (f"; form errors: {errors!r}" if errors else ""))
    assert account.username in b.text("header"), f"logged in, but the header does not name {account.username}"


def logout(b: Browser) -> None:
    from selenium.webdriver.common.by import By

    b.driver.find_element(By.CSS_SELECTOR, "header form[action$='/logout/'] button").click()
    try:
        b.wait(lambda: b.path.startswith("/login/"), 20, "the login page after logging out")
    except AssertionError:
        raise AssertionError(refusal(b, "logout", r"^/logout/")) from None
    assert not logged_in(b), "still logged in after logging out"


def ensure_logged_in(b: Browser, account: Account, cfg) -> None:
    """Log this browser in through the form, signing the account up first if this run has not."""
    if not account.created and not account.existing:
        signup(b, account)  # already logged in by the sign-up
    else:
        login(b, account)
    b.check("logging in")


def recording_id(path: str) -> int | None:
    m = re.match(r"^/(?:recordings|library)/(\d+)/", path)
    return int(m.group(1)) if m else None


# --- Cleanup, as a browser would do it (requests, with Origin and Referer) ----------------------

def http_login(cfg, account: Account) -> requests.Session:
    s = cfg.session()
    r = s.get(cfg.url("/login/"), timeout=30)
    token = s.cookies.get("csrftoken", "")
    r = s.post(cfg.url("/login/"), data={"username": account.username, "password": account.password,
                                         "csrfmiddlewaretoken": token, "next": "/"},
               headers={"Origin": cfg.origin, "Referer": cfg.url("/login/")}, timeout=30, allow_redirects=False)
    if r.status_code != 302:
        raise RuntimeError(f"cleanup login answered {r.status_code}")
    return s


def post_like_browser(cfg, s: requests.Session, path: str, referer: str, data: dict | None = None,
                      json_body: dict | None = None) -> requests.Response:
    token = s.cookies.get("csrftoken", "")
    headers = {"Origin": cfg.origin, "Referer": cfg.url(referer), "X-CSRFToken": token}
    if json_body is not None:
        return s.post(cfg.url(path), json=json_body, headers=headers, timeout=30, allow_redirects=False)
    return s.post(cfg.url(path), data=dict(data or {}, csrfmiddlewaretoken=token), headers=headers, timeout=30,
                  allow_redirects=False)


def upload(cfg, b: Browser, wav: Path, created: Created) -> int:
    """Upload ``wav`` as the upload form's script does, with the browser's session (Origin, CSRF
    header, JSON answer); the new recording's id, noted for clean-up."""
    b.go("/")
    s = b.http()
    with open(wav, "rb") as fh:
        r = s.post(cfg.url("/upload/"), files={"audio": (wav.name, fh, "audio/wav")},
                   data={"language": cfg.language, "csrfmiddlewaretoken": s.cookies.get("csrftoken", "")},
                   headers={"Origin": cfg.origin, "Accept": "application/json",
                            "X-CSRFToken": s.cookies.get("csrftoken", "")}, timeout=120)
    assert r.status_code == 201, f"upload answered {r.status_code}: {r.text[:300]}"
    rid = r.json()["recording"]
    created.recordings.add(rid)
    return rid


def cleanup(cfg, account: Account, created: Created) -> list[str]:
    """Delete what this run made and is still there; what happened, one line each."""
    notes: list[str] = []
    if cfg.read_only or not (account.created or created.recordings or created.sessions):
        return notes
    try:
        s = http_login(cfg, account)
    except Exception as exc:
        return [f"cleanup could not log in ({exc}); left: recordings {sorted(created.recordings)}, "
                f"sessions {sorted(created.sessions)}"]
    try:
        r = s.get(cfg.url("/api/sessions/unfinished/"), headers={"Accept": "application/json"}, timeout=30)
        for sess in r.json().get("sessions", []) if r.ok else []:
            created.sessions.add(sess["id"])
    except Exception as exc:
        notes.append(f"cleanup: could not list unfinished sessions: {exc}")
    for sid in sorted(created.sessions):
        r = post_like_browser(cfg, s, f"/api/sessions/{sid}/discard/", "/", json_body={})
        notes.append(f"session {sid} discarded: HTTP {r.status_code}")
        if r.status_code == 200:
            created.recordings.discard(sid)  # a session is a recording: discarding deleted it
    for rid in sorted(created.recordings):
        r = post_like_browser(cfg, s, f"/library/{rid}/delete/", f"/library/{rid}/delete/")
        notes.append(f"recording {rid} deleted: HTTP {r.status_code}")
    return notes
