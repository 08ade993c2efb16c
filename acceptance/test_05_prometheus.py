"""Prometheus: every target up, and the five panels of the user's document have data.

Runs last, after the suite's own recordings, so that in a read-write run the
panels' rate() windows (5 minutes) hold the suite's transcriptions and
summary: there, a panel must return a finite value. In a read-only run the
site may have been idle, so a result (even NaN: no event in the window) is enough.
"""
from __future__ import annotations

import math
import time

import pytest

from support.dashboards import DOCUMENT_PANELS, panel_queries

#: Panels whose rate() over 5 minutes is NaN unless the site did this in the window. When this
#: run made it happen (read-write, the test that causes it passed), a finite value is required.
NEEDS = {"Durée des tâches de transcription": "transcribed", "Temps de génération des résumés": "summarised"}


@pytest.fixture(scope="module")
def prom(cfg):
    if not cfg.prometheus_url:
        pytest.skip("no --prometheus-url / ACCEPTANCE_PROMETHEUS_URL given")
    s = cfg.session()
    if cfg.prometheus_user or cfg.prometheus_password:
        s.auth = (cfg.prometheus_user or "", cfg.prometheus_password or "")

    def get(path: str, **params):
        r = s.get(cfg.prometheus_url + path, params=params, timeout=30)
        if r.status_code == 401:
            pytest.fail(f"Prometheus refused the credentials (401) for user {cfg.prometheus_user!r}: "
                        "--prometheus-user / --prometheus-password")
        assert r.status_code == 200, f"Prometheus {path} answered {r.status_code}: {r.text[:300]!r}"
        body = r.json()
        assert body.get("status") == "success", f"Prometheus {path}: {body}"
        return body["data"]

    return get


def test_every_prometheus_target_is_up(prom, cfg, created):
    targets = prom("/api/v1/targets", state="active")["activeTargets"]
    seen = sorted(f"{t['labels'].get('job')}/{t['labels'].get('instance')}:{t['health']}" for t in targets)
    created.facts["prometheus targets"] = seen
    assert targets, "Prometheus has no active target"
    down = [f"{t['labels'].get('job')}/{t['labels'].get('instance')} is {t['health']}: {t.get('lastError')!r}"
            for t in targets if t["health"] != "up"]
    assert not down, "targets not up:\n  " + "\n  ".join(down)
    want = (cfg.expected_targets or "").strip()
    if not want:
        return
    if want.isdigit():
        assert len(targets) == int(want), f"{len(targets)} targets, {want} expected: {seen}"
        return
    have = {(t["labels"].get("job"), t["labels"].get("instance")) for t in targets}
    missing = []
    for entry in (e.strip() for e in want.split(",") if e.strip()):
        job, _, instance = entry.partition("/")
        if not any(j == job and (not instance or i == instance) for j, i in have):
            missing.append(entry)
    assert not missing, f"expected targets missing: {missing}; Prometheus has {seen}"


def _finite(result: list) -> bool:
    for series in result:
        values = [series["value"]] if "value" in series else series.get("values", [])
        for _, v in values:
            try:
                if math.isfinite(float(v)):
                    return True
            except ValueError:
                pass
    return False


@pytest.fixture(scope="module")
def panel_results(prom, cfg, created):
    """Every query of the five panels, asked until each panel has data (a finite value where
    ``must_be_finite``: at most two minutes, a few scrapes after the suite's own traffic)."""
    queries = {name: panel_queries(title) for name, title in DOCUMENT_PANELS.items()}
    deadline = time.monotonic() + (0 if cfg.read_only else 120)
    while True:
        results = {name: {(panel, ref, expr): prom("/api/v1/query", query=expr)["result"] for panel, ref, expr in qs}
                   for name, qs in queries.items()}
        if all(_has_data(r, must_be_finite(name, cfg, created)) for name, r in results.items()) \
                or time.monotonic() > deadline:
            return results
        time.sleep(10)


def must_be_finite(name: str, cfg, created) -> bool:
    """Read-write: a finite value, but for a panel whose events this run did not manage to cause."""
    return not cfg.read_only and (name not in NEEDS or NEEDS[name] in created.events)


def _has_data(results: dict, finite: bool) -> bool:
    return bool(results) and all(results.values()) and (not finite or any(_finite(r) for r in results.values()))


@pytest.mark.parametrize("document_name", list(DOCUMENT_PANELS), ids=list(DOCUMENT_PANELS.values()))
def test_document_panel_has_data(panel_results, cfg, created, document_name):
    """The panel's queries return series; with a finite value where this run caused the events."""
    results = panel_results[document_name]
    assert results, f"the overview dashboard has no panel {DOCUMENT_PANELS[document_name]!r} for {document_name!r}"
    summary = {f"{panel} {ref}": (r[0]["value"][1] if r and "value" in r[0] else len(r)) for (panel, ref, _), r in
               results.items()}
    created.facts.setdefault("panels", {})[document_name] = summary
    empty = [f"{panel} / {ref}: {expr}" for (panel, ref, expr), r in results.items() if not r]
    assert not empty, f"{document_name!r}: queries with no data:\n  " + "\n  ".join(empty)
    if not cfg.read_only and not must_be_finite(document_name, cfg, created):
        created.facts.setdefault("panels not judged on values", []).append(
            f"{document_name}: this run did not get the site to do what it shows ({NEEDS[document_name]})")
    if must_be_finite(document_name, cfg, created):
        assert any(_finite(r) for r in results.values()), (
            f"{document_name!r}: every series is NaN or infinite, minutes after the suite's own traffic "
            f"(nothing observed in the 5-minute window?): {summary}")
