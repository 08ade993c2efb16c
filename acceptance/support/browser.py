"""Headless Chromium (Debian's chromium + chromium-driver) that watches what the page does.

Every request the page makes is seen through Chrome's performance log
(``Network.responseReceived`` / ``Network.loadingFailed``) and every console
message through the browser log. After each test (see conftest.py) the suite
fails on:

* a console entry of level SEVERE;
* a response outside 2xx/3xx, or a request that failed for another reason
  than being cancelled (a reload cancels what was in flight);
* a request to another origin than the site's;

unless the test declared it beforehand with ``expect_response`` or
``expect_console``, saying why (e.g. the 404 of a page the test has just
deleted). A "Failed to load resource: ... status of N" console entry for an
expected response is expected with it.

The microphone is Chromium's fake capture device playing a WAV file once
(``%noloop``). Every host name other than the site's resolves to nothing
(``--host-resolver-rules``), so the browser cannot reach any other machine.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

os.environ.setdefault("SE_AVOID_STATS", "true")  # Selenium Manager must neither phone home nor download

#: Requests the browser makes on its own, not the page: /favicon.ico when the page
#: declares no icon. They are kept apart (``Browser.own``) rather than failing every
#: test; test_04_site.py::test_site_icon checks them once, as their own finding.
BROWSER_OWN = re.compile(r"^/favicon\.ico$")


@dataclass
class Expected:
    kind: str  # "response" or "console"
    pattern: re.Pattern
    statuses: frozenset[int]
    why: str


@dataclass
class Event:
    kind: str  # "response", "failed", "console", "foreign"
    url: str
    status: int | None
    detail: str

    def __str__(self) -> str:
        if self.kind == "response":
            return f"HTTP {self.status} for {self.url} ({self.detail})"
        if self.kind == "failed":
            return f"request failed: {self.url} ({self.detail})"
        if self.kind == "foreign":
            return f"request to another origin than the site's: {self.url} ({self.detail})"
        return f"console {self.detail}: {self.url}"


class StopWaiting(AssertionError):
    """Raised by a wait condition that knows waiting longer cannot help."""



def trust_ca(home: Path, ca_file: Path) -> None:
    """An NSS database in home/.pki/nssdb that trusts ca_file to name web sites (certutil, libnss3-tools)."""
    certutil = shutil.which("certutil")
    if not certutil:
        raise RuntimeError("certutil is missing (Debian's libnss3-tools; acceptance/run.sh installs it)")
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True, exist_ok=True)
    subprocess.run([certutil, "-N", "-d", f"sql:{nssdb}", "--empty-password"], check=True, capture_output=True)
    subprocess.run([certutil, "-A", "-d", f"sql:{nssdb}", "-n", "acceptance-ca", "-t", "C,,", "-i", str(ca_file)],
                   check=True, capture_output=True)


class Browser:
    live: list["Browser"] = []

    def __init__(self, cfg, name: str, mic_wav: Path | None = None, language: str = "fr-FR"):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
        if not chromium or not chromedriver:
            raise RuntimeError("Debian's chromium and chromium-driver are missing (acceptance/run.sh installs them)")
        self.cfg, self.name = cfg, name
        self.profile = tempfile.mkdtemp(prefix=f"acceptance-chromium-{name}-")
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 "--disable-default-apps", "--disable-extensions", "--window-size=1280,1000",
                 f"--user-data-dir={self.profile}",
                 # Only the site's own host name resolves: no other host can be reached by name.
                 f"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {cfg.host}",
                 "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                 "--autoplay-policy=no-user-gesture-required",
                 # The browser's language (Accept-Language): French, the site's own, for the cases that
                 # read its French text; test_11_language opens an English one. Headless Chromium
                 # would say en-US.
                 f"--lang={language}"]
        if cfg.insecure_tls:
            flags.append("--ignore-certificate-errors")  # a test host's self-signed certificate
        env = None
        if cfg.ca_file:
            # Chromium trusts what its NSS database under $HOME trusts: a home of
            # this browser's own, holding the given CA, and nothing else added.
            home = Path(self.profile) / "home"
            env = {**os.environ, "HOME": str(home)}
            trust_ca(home, cfg.ca_file)
        if mic_wav is not None:
            flags.append(f"--use-file-for-fake-audio-capture={mic_wav}%noloop")
        for flag in flags:
            options.add_argument(flag)
        options.add_experimental_option("prefs", {"intl.accept_languages": f"{language},{language[:2]}"})
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        self.driver = webdriver.Chrome(service=Service(executable_path=chromedriver, env=env), options=options)
        self.driver.set_page_load_timeout(60)
        self.requests: dict[str, tuple[str, str]] = {}  # requestId -> (method, url)
        self.pending: list[Event] = []  # seen since the last check
        self.history: list[str] = []  # everything seen, for the artifacts
        self.expected: list[Expected] = []
        self.documents: list[tuple[str, str, int]] = []  # (method, url, status) of page loads
        self.own: list[str] = []  # what BROWSER_OWN kept apart
        self.browser_pages: set[str] = set()  # requestIds of Chromium's own pages
        self.visited = False  # the site was opened
        # Chromium opens its new-tab page first, which asks other hosts for content (refused by
        # the resolver rules above): leave it for about:blank and forget that start-up noise.
        self.driver.get("about:blank")
        time.sleep(0.5)
        self.collect()
        self.history = [f"(start-up, before any page of the site: {len(self.pending)} events ignored)"]
        self.pending.clear()
        Browser.live.append(self)

    # --- navigation -------------------------------------------------------------------------
    def go(self, path: str) -> None:
        self.visited = True
        self.driver.get(self.cfg.url(path))

    @property
    def path(self) -> str:
        url = self.driver.current_url
        return url[len(self.cfg.origin):] if url.startswith(self.cfg.origin) else url

    def wait(self, condition: Callable[[], object], timeout: float, what: str,
             state: Callable[[], object] | None = None, every: float = 0.25):
        """The first truthy value of ``condition()``; AssertionError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        last_exc = None
        while True:
            try:
                value = condition()
                if value:
                    return value
            except StopWaiting:
                raise
            except Exception as exc:  # the page is changing under us: ask again
                last_exc = exc
            if time.monotonic() > deadline:
                extra = ""
                if state is not None:
                    try:
                        extra = f"; state: {state()}"
                    except Exception as exc:
                        extra = f"; state unavailable: {exc}"
                if last_exc is not None:
                    extra += f"; last error: {type(last_exc).__name__}: {str(last_exc).splitlines()[0][:300]}"
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} "
                                     f"(page {self.path}){extra}")
            time.sleep(every)

    def text(self, css: str) -> str:
        from selenium.webdriver.common.by import By

        found = self.driver.find_elements(By.CSS_SELECTOR, css)
        return found[0].text if found else ""

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def fetch_json(self, path: str) -> dict:
        """GET ``path`` from inside the page (the page's own cookies), as the page's scripts do."""
        return self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch(arguments[0], {headers: {'Accept': 'application/json'}, credentials: 'same-origin'})"
            ".then(async r => done({status: r.status, body: await r.json().catch(() => null)}))"
            ".catch(e => done({status: 0, body: String(e)}));", path)

    # --- what the page did ----------------------------------------------------------------------
    def expect_response(self, pattern: str, statuses: Iterable[int], why: str) -> None:
        self.expected.append(Expected("response", re.compile(pattern), frozenset(statuses), why))

    def expect_console(self, pattern: str, why: str) -> None:
        self.expected.append(Expected("console", re.compile(pattern), frozenset(), why))

    def collect(self) -> None:
        try:
            perf = self.driver.get_log("performance")
            console = self.driver.get_log("browser")
        except Exception as exc:  # the browser is gone: say so rather than hide it
            self.pending.append(Event("failed", "(browser)", None, f"cannot read the browser's logs: {exc}"))
            return
        for entry in perf:
            try:
                msg = json.loads(entry["message"])["message"]
            except (KeyError, ValueError):
                continue
            method, params = msg.get("method", ""), msg.get("params", {})
            if method == "Network.requestWillBeSent":
                req = params.get("request", {})
                if not params.get("documentURL", "").startswith(("http:", "https:")):
                    self.browser_pages.add(params.get("requestId", ""))  # Chromium's own pages (new tab...)
                    continue
                self.requests[params.get("requestId", "")] = (req.get("method", "GET"), req.get("url", ""))
                redirect = params.get("redirectResponse")
                if redirect:
                    self._response(redirect.get("url", ""), redirect.get("status"), params.get("type", ""),
                                   req.get("method", "GET"), redirect=True)
            elif params.get("requestId") in self.browser_pages:
                continue
            elif method == "Network.responseReceived":
                resp = params.get("response", {})
                req_method = self.requests.get(params.get("requestId", ""), ("GET", ""))[0]
                self._response(resp.get("url", ""), resp.get("status"), params.get("type", ""), req_method)
            elif method == "Network.loadingFailed":
                if params.get("requestId", "") not in self.requests and not self.visited:
                    continue  # a request of Chromium's start-up page, before the site was opened
                req_method, url = self.requests.get(params.get("requestId", ""), ("GET", "?"))
                error = params.get("errorText", "")
                self.history.append(f"FAILED {req_method} {url} {error} canceled={params.get('canceled')}")
                if params.get("canceled") or error == "net::ERR_ABORTED":
                    continue  # a navigation or a reload cancelled it
                self.pending.append(Event("failed", url, None, f"{req_method}, {error}"))
        for entry in console:
            line = f"{entry.get('level')} {entry.get('source', '')}: {entry.get('message', '')}"
            self.history.append("CONSOLE " + line)
            if entry.get("level") == "SEVERE":
                self.pending.append(Event("console", entry.get("message", ""), None,
                                          f"{entry.get('level')} ({entry.get('source', '')})"))

    def _response(self, url: str, status, rtype: str, method: str, redirect: bool = False) -> None:
        if not url or url.startswith(("data:", "blob:", "chrome:", "about:", "devtools:")):
            return
        self.history.append(f"{'REDIRECT' if redirect else 'RESPONSE'} {status} {method} {url} [{rtype}]")
        if not url.startswith(self.cfg.origin + "/") and url != self.cfg.origin:
            self.pending.append(Event("foreign", url, status, f"{method} {rtype}"))
        if rtype == "Document" and not redirect:
            self.documents.append((method, url, int(status or 0)))
        if status is None or int(status) >= 400:
            self.pending.append(Event("response", url, int(status or 0), f"{method} {rtype}"))

    def last_document(self, path_re: str, method: str | None = None) -> tuple[str, str, int] | None:
        """The latest page load whose URL path matches ``path_re`` (after collecting the logs)."""
        self.collect()
        for doc in reversed(self.documents):
            if re.search(path_re, doc[1][len(self.cfg.origin):]) and (method is None or doc[0] == method):
                return doc
        return None

    def _browser_own(self, event: Event) -> bool:
        url = event.url
        if event.kind == "console":
            m = re.match(r"(\S+) - Failed to load resource", url)
            if not m:
                return False
            url = m.group(1)
        path = url[len(self.cfg.origin):] if url.startswith(self.cfg.origin) else None
        if path is not None and BROWSER_OWN.match(path):
            self.own.append(str(event))
            return True
        return False

    def take_problems(self) -> list[str]:
        """Unexpected events since the last call; the expectations end with it."""
        self.collect()
        problems = []
        failed_loads = {(e.url, e.status) for e in self.pending if e.kind == "response"}
        for event in self.pending:
            if self._browser_own(event):
                continue
            if event.kind == "response" and self._is_expected(event.url, event.status):
                continue
            if event.kind == "console":
                if any(x.kind == "console" and x.pattern.search(event.url) for x in self.expected):
                    continue
                m = re.match(r"(\S+) - Failed to load resource: the server responded with a status of (\d+)",
                             event.url)
                if m and self._is_expected(m.group(1), int(m.group(2))):
                    continue
                if m and (m.group(1), int(m.group(2))) in failed_loads:
                    # the same failure as a response already reported: say it once
                    continue
            problems.append(f"[{self.name}] {event}")
        self.pending.clear()
        self.expected.clear()
        return problems

    def _is_expected(self, url: str, status: int | None) -> bool:
        path = url[len(self.cfg.origin):] if url.startswith(self.cfg.origin) else url
        return any(x.kind == "response" and x.pattern.search(path) and status in x.statuses for x in self.expected)

    def check(self, where: str) -> None:
        problems = self.take_problems()
        assert not problems, f"{where}: the browser saw what a user should not:\n  " + "\n  ".join(problems)

    # --- artifacts ------------------------------------------------------------------------------
    def shot(self, name: str) -> Path | None:
        out = self.cfg.artifacts / f"{time.strftime('%H%M%S')}-{self.name}-{name}.png"
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            self.driver.save_screenshot(str(out))
            return out
        except Exception:
            return None

    def dump(self, name: str) -> None:
        """Screenshot, page source and everything the logs said, for a failure."""
        self.shot(name)
        base = self.cfg.artifacts / f"{time.strftime('%H%M%S')}-{self.name}-{name}"
        try:
            base.with_suffix(".html").write_text(self.driver.page_source, encoding="utf-8")
        except Exception:
            pass
        try:
            self.collect()
            base.with_suffix(".log").write_text(f"url: {self.driver.current_url}\n" + "\n".join(self.history),
                                                encoding="utf-8")
        except Exception:
            pass

    # --- downloads with the browser's cookies -----------------------------------------------------
    def http(self, referer: str | None = None):
        """A requests session with this browser's cookies and user agent; a Referer as the
        browser sends it when following a link of the current page."""
        s = self.cfg.session()
        for c in self.driver.get_cookies():
            # No domain: the session talks to the site only, and cookielib never matches a
            # dotless host such as "localhost" (it compares with "localhost.local").
            s.cookies.set(c["name"], c["value"], path=c.get("path", "/"))
        s.headers["User-Agent"] = self.js("return navigator.userAgent")
        s.headers["Referer"] = referer or self.driver.current_url
        return s

    def quit(self) -> None:
        try:
            self.driver.quit()
        finally:
            if self in Browser.live:
                Browser.live.remove(self)
            shutil.rmtree(self.profile, ignore_errors=True)
