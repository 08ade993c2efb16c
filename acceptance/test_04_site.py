"""The site as any visitor's browser sees it: /metrics refused, an icon that loads.

/metrics is for the monitoring host only: from here it is refused, never served.
"""
import re
import time

import pytest

EXPOSITION = re.compile(r"^# (HELP|TYPE) \w+", re.M)


@pytest.fixture(scope="module")
def browser(make_browser):
    return make_browser("site")  # a visitor, not logged in


def test_metrics_refused_to_the_browser(browser, cfg):
    b = browser
    b.expect_response(r"^/metrics$", {403, 404}, "the test asks for /metrics, which must be refused")
    b.go("/metrics")
    doc = b.last_document(r"^/metrics$")
    b.shot("metrics-refused")
    source = b.driver.page_source
    assert doc is not None, "no page load of /metrics was seen"
    assert not EXPOSITION.search(b.text("body")), f"/metrics served metrics to the browser: {b.text('body')[:200]!r}"
    assert doc[2] in (403, 404), f"/metrics answered {doc[2]} to the browser (403 or 404 wanted): {source[:300]!r}"


@pytest.mark.parametrize("path", ["/metrics", "/metrics/", "/metrics?format=text", "//metrics", "/METRICS"])
def test_metrics_text_never_served_from_this_host(cfg, path):
    s = cfg.session()
    r = s.get(cfg.origin + path, timeout=30, allow_redirects=True)
    assert not EXPOSITION.search(r.text), f"{path} served metrics ({r.status_code}) to this host: {r.text[:200]!r}"
    if path == "/metrics":
        assert r.status_code in (403, 404), f"/metrics answered {r.status_code} (403 or 404 wanted)"


def test_site_icon(browser, cfg):
    """The browser asks for the site's icon on every page; a 404 there is a console error on every page.

    (The per-test log check keeps /favicon.ico apart, see support/browser.py, so that this one
    finding fails here once instead of failing every test.)"""
    b = browser
    b.go("/login/")
    time.sleep(2)  # the icon is fetched after the page
    b.check("the login page")
    assert not b.own, ("the browser's request for the site icon failed, which every page load logs as a "
                       "console error (serve /favicon.ico or declare a <link rel=icon> that exists):\n  "
                       + "\n  ".join(b.own))
