"""Alert rules: promtool accepts them, the unit tests pass, every alert is
tested both firing and not firing, and every alert carries what an on-call
person needs (severity, summary, description, runbook).

promtool is the real one from the prometheus Debian package; a mutated copy
of the rules shows the unit tests notice a wrong threshold.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parent
RULES_DIR = HERE.parent
RULE_FILES = sorted(RULES_DIR.glob("*.rules.yml"))
TEST_FILES = sorted(HERE.glob("*.test.yml"))
METRICS_MD = (RULES_DIR.parent / "grafana_dashboards" / "METRICS.md").read_text(encoding="utf-8")

pytestmark = pytest.mark.skipif(not shutil.which("promtool"), reason="promtool not installed "
                                "(Debian: apt-get install prometheus; scripts/test-dashboards.sh does)")


def alerts() -> dict[str, dict]:
    out = {}
    for f in RULE_FILES:
        for group in yaml.safe_load(f.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    assert rule["alert"] not in out, f"alert {rule['alert']} defined twice"
                    out[rule["alert"]] = rule
    return out


def promtool(*args: str, cwd: Path = RULES_DIR) -> subprocess.CompletedProcess:
    return subprocess.run(["promtool", *args], cwd=cwd, capture_output=True, text=True, check=False)


def test_promtool_check_rules():
    proc = promtool("check", "rules", *map(str, RULE_FILES))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_promtool_unit_tests_pass():
    proc = promtool("test", "rules", *map(str, TEST_FILES))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_alerts_the_issue_asks_for_exist():
    names = set(alerts())
    for wanted in ("TargetDown", "BrefBoardHigh5xxRatio", "WhisperErrorRateHigh", "TranscriptionBacklog",
                   "TranscriptionOldestJobTooOld", "TranscriptionSlowerThanRealTime",
                   "HostDiskWillFillIn24Hours", "HostDiskAlmostFull", "PrometheusConfigReloadFailed"):
        assert wanted in names


def test_every_alert_is_tested_firing_and_not_firing():
    firing, silent = set(), set()
    for f in TEST_FILES:
        for test in yaml.safe_load(f.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                (firing if case.get("exp_alerts") else silent).add(case["alertname"])
    missing_firing = set(alerts()) - firing
    missing_silent = set(alerts()) - silent
    assert not missing_firing, f"never tested firing: {sorted(missing_firing)}"
    assert not missing_silent, f"never tested not firing: {sorted(missing_silent)}"


@pytest.mark.parametrize("name", sorted(alerts()))
def test_alert_has_severity_and_annotations(name):
    rule = alerts()[name]
    assert rule["labels"]["severity"] in {"critical", "warning", "info"}
    for key in ("summary", "description", "runbook"):
        assert rule["annotations"].get(key, "").strip(), f"{name} lacks annotation {key}"
    assert "for" in rule, f"{name} should not fire on a single evaluation"


def test_every_metric_used_is_in_the_contract():
    from_rules = set()
    for f in RULE_FILES:
        for group in yaml.safe_load(f.read_text())["groups"]:
            for rule in group["rules"]:
                for name in re.findall(r"\b([a-z_]+(?:_total|_seconds|_bytes|_bucket|_count|_waiting|"
                                       r"_successful|_readonly))\b", rule["expr"]):
                    from_rules.add(re.sub(r"_(bucket|count|sum)$", "", name))
    missing = {m for m in from_rules if m not in METRICS_MD}
    assert not missing, f"not in grafana_dashboards/METRICS.md: {sorted(missing)}"


def test_unit_tests_catch_a_wrong_threshold(tmp_path):
    """Copy rules and tests, loosen one threshold: promtool test rules must fail."""
    for f in RULE_FILES:
        text = f.read_text().replace("job:django_http_responses_5xx:ratio_rate5m > 0.05",
                                     "job:django_http_responses_5xx:ratio_rate5m > 0.5")
        (tmp_path / f.name).write_text(text)
    tests = tmp_path / "tests"
    tests.mkdir()
    for f in TEST_FILES:
        shutil.copy(f, tests / f.name)
    proc = promtool("test", "rules", *[str(tests / f.name) for f in TEST_FILES], cwd=tmp_path)
    assert proc.returncode != 0
    assert "BrefBoardHigh5xxRatio" in proc.stdout + proc.stderr
