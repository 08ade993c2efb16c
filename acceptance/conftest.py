"""BrefBoard acceptance suite: a real browser against a deployed site (see README.md).

Options (each also read from its ACCEPTANCE_* variable) are in support/config.py.
Browser console errors and failed requests fail the test that was running
(support/browser.py); screenshots, page sources and logs go to the artifacts
directory.
"""
from __future__ import annotations

import json
import os
import re
import time

import pytest

from support import config as config_mod
from support import site, speech
from support.browser import Browser

_STATE: dict = {"outcomes": {}, "started": time.time(), "cleanup": []}


def pytest_addoption(parser):
    group = parser.getgroup("acceptance", "BrefBoard acceptance")
    for option, env, help_text in config_mod.OPTIONS:
        group.addoption(option, default=os.environ.get(env), help=f"{help_text} [{env}]")
    group.addoption("--read-only", action="store_true", default=False,
                    help="production: log in with --user/--password and change nothing [ACCEPTANCE_READ_ONLY=1]")
    group.addoption("--insecure-tls", action="store_true", default=False,
                    help="accept the site's self-signed certificate (test hosts) [ACCEPTANCE_INSECURE_TLS=1]")
    group.addoption("--expect-llm", action="store_true", default=False,
                    help="fail when the summary is the extractive fallback rather than an LLM's [ACCEPTANCE_EXPECT_LLM=1]")


def pytest_configure(config):
    config.addinivalue_line("markers", "writes: creates or deletes data; skipped with --read-only")
    if config.getoption("--help", default=False) or config.getoption("--collect-only", default=False):
        return
    try:
        cfg = config_mod.from_pytest(config)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    cfg.artifacts.mkdir(parents=True, exist_ok=True)
    config._acceptance = cfg


def pytest_report_header(config):
    cfg = getattr(config, "_acceptance", None)
    if cfg is None:
        return None
    return (f"BrefBoard {cfg.base_url} (language {cfg.language}, {'READ-ONLY' if cfg.read_only else 'read-write'}), "
            f"Prometheus {cfg.prometheus_url or '(none given)'}, artifacts {cfg.artifacts}")


def pytest_collection_modifyitems(config, items):
    cfg = getattr(config, "_acceptance", None)
    if cfg is not None and cfg.read_only:
        skip = pytest.mark.skip(reason="read-only run: this test creates or deletes data")
        for item in items:
            if item.get_closest_marker("writes"):
                item.add_marker(skip)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """After the test body: what every open browser saw that no test declared fails the test."""
    try:
        result = yield
    except BaseException:
        problems = [p for b in list(Browser.live) for p in b.take_problems()]
        item._browser_problems = problems
        raise
    problems = [p for b in list(Browser.live) for p in b.take_problems()]
    if problems:
        raise AssertionError("the browser saw what a user should not (console errors / failed requests "
                             "nobody caused):\n  " + "\n  ".join(problems))
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    if rep.when == "call" or rep.failed or rep.skipped:
        key = item.nodeid
        if rep.when == "call" or key not in _STATE["outcomes"]:
            reason = ""
            if rep.failed:
                reason = str(call.excinfo.value).splitlines()[0][:400] if call.excinfo else "failed"
            elif rep.skipped and isinstance(rep.longrepr, tuple):
                reason = rep.longrepr[2]
            outcome = "error" if rep.failed and rep.when != "call" else rep.outcome
            _STATE["outcomes"][key] = {"outcome": outcome, "seconds": round(rep.duration, 1), "reason": reason}
    if rep.failed:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.name)[:80]
        for b in list(Browser.live):
            b.dump(f"FAILED-{name}")
        problems = getattr(item, "_browser_problems", None)
        if problems:
            rep.sections.append(("browser console and network during the failed test", "\n".join(problems)))
    return rep


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    cfg = getattr(config, "_acceptance", None)
    if cfg is None:
        return
    facts = _STATE.get("facts", {})
    tr = terminalreporter
    tr.section("BrefBoard acceptance")
    for key, value in facts.items():
        tr.write_line(f"{key}: {value}")
    for note in _STATE["cleanup"]:
        tr.write_line(f"cleanup: {note}")
    tr.write_line(f"run time: {time.time() - _STATE['started']:.0f} s; artifacts in {cfg.artifacts}")
    report = {"base_url": cfg.base_url, "prometheus_url": cfg.prometheus_url, "read_only": cfg.read_only,
              "language": cfg.language, "seconds": round(time.time() - _STATE["started"]),
              "tests": _STATE["outcomes"], "facts": facts, "cleanup": _STATE["cleanup"]}
    (cfg.artifacts / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")


# --- Fixtures ---------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def cfg(pytestconfig) -> config_mod.Config:
    return pytestconfig._acceptance


@pytest.fixture(scope="session")
def passages(cfg):
    return speech.PASSAGES[cfg.language]


@pytest.fixture(scope="session")
def audio_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("audio")


@pytest.fixture(scope="session")
def mic_wav(cfg, passages, audio_dir):
    """The meeting the fake microphone plays, once (Chromium reads it with %noloop)."""
    return speech.synthesize(passages["mic"], cfg.language, audio_dir, "microphone")


@pytest.fixture(scope="session")
def created(cfg, account):
    """What this run makes; deleted at the end of the session (account: see README)."""
    made = site.Created()
    _STATE["facts"] = made.facts
    yield made
    _STATE["cleanup"] = site.cleanup(cfg, account, made)
    if account.created:
        _STATE["cleanup"].append(f"user {account.username} left in place: BrefBoard has no way to delete an account")


@pytest.fixture(scope="session")
def account(cfg) -> site.Account:
    if cfg.user:
        return site.Account(cfg.user, cfg.password or "", "", existing=True)
    return site.new_account(cfg)


@pytest.fixture(scope="module")
def make_browser(request, cfg, mic_wav):
    """Browsers for this module, closed at its end."""
    opened: list[Browser] = []

    def make(name: str | None = None, language: str = "fr-FR") -> Browser:
        b = Browser(cfg, name or request.module.__name__.removeprefix("test_"), mic_wav, language)
        opened.append(b)
        return b

    yield make
    for b in opened:
        b.quit()


@pytest.fixture(scope="module")
def user_browser(make_browser, cfg, account, created) -> Browser:
    """One browser per module, logged in through the login form (signed up first if needed)."""
    b = make_browser()
    site.ensure_logged_in(b, account, cfg)
    return b
