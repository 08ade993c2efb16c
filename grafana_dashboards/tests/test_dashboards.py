"""Dashboards as code: the committed JSON is what the code renders, it passes
the lint rules and Grafana's published schema, every query parses with the
real PromQL parser (promtool), and every metric it reads is in the contract.

Each checker is also fed a broken dashboard to prove it can fail.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path

import pytest

from grafana_dashboards import build, lint, queries, schema_check
from grafana_dashboards.build import OUT_DIR

ROOT = Path(__file__).resolve().parents[1]
METRICS_MD = (ROOT / "METRICS.md").read_text(encoding="utf-8")


def rendered_dicts() -> dict[str, dict]:
    return {m.UID: build.render_dict(m) for m in build.MODULES}


def write(tmp_path: Path, dashboards: dict[str, dict]) -> list[Path]:
    paths = []
    for uid, d in dashboards.items():
        p = tmp_path / f"{uid}.json"
        p.write_text(json.dumps(d), encoding="utf-8")
        paths.append(p)
    return paths


# --- regeneration ----------------------------------------------------------

def test_committed_dashboards_are_what_build_renders():
    assert build.main(["--check"]) == 0, "run: python -m grafana_dashboards.build, then commit"


def test_check_mode_reports_a_stale_file(tmp_path, capsys):
    build.main(["--out", str(tmp_path)])
    target = tmp_path / "brefboard-overview.json"
    target.write_text(target.read_text().replace("Transcription quality", "Quality"), encoding="utf-8")
    assert build.main(["--check", "--out", str(tmp_path)]) == 1
    assert "brefboard-overview.json" in capsys.readouterr().err


def test_rendering_is_deterministic():
    assert build.rendered() == build.rendered()


# --- content ---------------------------------------------------------------

def test_overview_has_the_five_panels_of_the_document():
    """The user's document asks for these five panels, on these metrics."""
    overview = rendered_dicts()["brefboard-overview"]
    by_title = {p["title"]: p for p in lint.iter_panels(overview)}
    wanted = {
        "Django view response time": "django_view_latency_seconds_bucket",
        "Audio recordings": "django_audio_recordings_total",
        "Transcription task duration": "django_transcription_duration_seconds_bucket",
        "Transcription quality": "brefboard_transcription_quality_bucket",
        "Summary generation time": "django_summary_generation_seconds_bucket",
    }
    for title, metric in wanted.items():
        panel = next((p for t, p in by_title.items() if t.startswith(title)), None)
        assert panel is not None, f"missing panel {title!r}"
        assert any(metric in t["expr"] for t in panel["targets"]), f"{title!r} does not read {metric}"
    exprs = " ".join(t["expr"] for p in lint.iter_panels(overview) for t in p.get("targets", []))
    for metric in ("django_error_total", "django_exceptions_total", "brefboard_queue_jobs_waiting"):
        assert metric in exprs


def test_every_metric_read_is_in_the_contract():
    """A metric the dashboards read but METRICS.md does not list is a typo or an unagreed name."""
    missing = set()
    for q in queries.all_queries():
        for metric, _ in lint.selectors(q.expr):
            base = re.sub(r"_(bucket|sum|count)$", "", metric)
            if f"`{metric}`" not in METRICS_MD and f"`{base}`" not in METRICS_MD and metric not in METRICS_MD:
                missing.add(metric)
    assert not missing, f"not in grafana_dashboards/METRICS.md: {sorted(missing)}"


def test_only_current_panel_types():
    for uid, d in rendered_dicts().items():
        for p in lint.iter_panels(d):
            assert p["type"] in {"row", "timeseries", "stat", "gauge", "bargauge", "table", "heatmap"}, (uid, p)


# --- lint ------------------------------------------------------------------

def test_committed_dashboards_pass_lint():
    problems = lint.lint_files(sorted(OUT_DIR.glob("*.json")))
    assert not problems, "\n".join(map(str, problems))


def _break(d: dict, how: str) -> dict:
    d = copy.deepcopy(d)
    panel = next(p for p in d["panels"] if p["type"] != "row")
    target = panel["targets"][0]
    if how == "panel-deprecated":
        panel["type"] = "graph"
    elif how == "template-datasource":
        target["datasource"] = {"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}
    elif how == "template-job":
        target["expr"] = target["expr"].replace('job=~"$job", ', "")
    elif how == "target-rate-interval":
        target["expr"] = target["expr"].replace("$__rate_interval", "5m").replace("$__range", "5m")
        if "rate(" not in target["expr"] and "increase(" not in target["expr"]:
            target["expr"] = 'rate(up{job=~"$job", instance=~"$instance"}[5m])'
    elif how == "no-hostnames":
        target["expr"] = target["expr"].replace('instance=~"$instance"',
                                                'instance=~"$instance", instance!="web1.example.com:8000"')
    elif how == "panel-ids":
        d["panels"][1]["id"] = d["panels"][0]["id"]
    elif how == "grid":
        d["panels"][2]["gridPos"] = dict(d["panels"][1]["gridPos"])
    elif how == "target-expr":
        target["expr"] = ""
    return d


@pytest.mark.parametrize("rule", ["panel-deprecated", "template-datasource", "template-job",
                                  "target-rate-interval", "no-hostnames", "panel-ids", "grid", "target-expr"])
def test_lint_catches(rule):
    d = _break(rendered_dicts()["brefboard-whisper"], rule)
    rules = {p.rule for p in lint.lint_dashboard("broken", d)}
    assert rule in rules


def test_selectors_finds_metrics_not_functions():
    expr = ('histogram_quantile(0.95, sum by (le, view) (rate(x_bucket{job=~"$job"}[$__rate_interval]))) '
            '/ on (view) group_left max(y) or vector(0)')
    assert lint.selectors(expr) == [("x_bucket", '{job=~"$job"}'), ("y", "")]


# --- Grafana's schema (TypeScript types of @grafana/schema, checked by tsc) ------

needs_tsc = pytest.mark.skipif(
    not schema_check.TSC.exists() and not shutil.which("npm"),
    reason="needs npm to install @grafana/schema and typescript (scripts/test-dashboards.sh does)")


@needs_tsc
def test_committed_dashboards_match_grafana_schema():
    code, output = schema_check.check()
    assert code == 0, output


@needs_tsc
def test_schema_check_rejects_unknown_keys_and_bad_values(tmp_path):
    d = rendered_dicts()["brefboard-http"]
    d["panels"][0]["options"]["graphMode"] = "sparkle"  # not a BigValueGraphMode
    d["graphTooltip"] = "crosshair"                   # a number in the schema
    d["panels"][1]["fieldConfig"]["defaults"]["colour"] = {}  # misspelt key
    write(tmp_path, {"broken": d})
    code, output = schema_check.check(tmp_path)
    assert code != 0
    assert "sparkle" in output and "DashboardCursorSync" in output and "colour" in output, output


# --- PromQL parse (promtool) ------------------------------------------------

needs_promtool = pytest.mark.skipif(not shutil.which("promtool"), reason="promtool not installed")


@needs_promtool
def test_every_query_parses_with_promtool():
    qs = queries.all_queries()
    assert len(qs) > 40
    code, output = queries.promtool_check(qs)
    assert code == 0, output


@needs_promtool
def test_promtool_check_reports_the_broken_panel():
    qs = queries.all_queries()
    broken = queries.Query("dash", "Broken panel", "A", "sum(rate(x[5m])")
    code, output = queries.promtool_check([*qs[:3], broken])
    assert code != 0 and "Broken panel" in output


def test_rule_queries_lists_every_alert():
    names = {q.ref for q in queries.rule_queries()}
    assert {"TargetDown", "PrometheusConfigReloadFailed", "job:django_http_responses_5xx:ratio_rate5m"} <= names


def test_substitute_refuses_unknown_variables():
    with pytest.raises(ValueError):
        queries.substitute('up{cluster="$cluster"}')
