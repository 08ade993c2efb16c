"""Run the real Prometheus linter, and parse expositions with the real parser."""
from __future__ import annotations

import shutil
import subprocess
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

# Inherited from the original BrefBoard and kept for users' dashboards: promlint
# objects to the word "summary" in a histogram's name. The only finding allowed.
KNOWN_FINDINGS = {
    "django_summary_generation_seconds metric name should not include type 'summary'",
    "django_summary_generation_seconds_created metric name should not include type 'summary'",
}


def promtool_findings(text: str) -> list[str]:
    """promtool's findings on an exposition; fails the test on a parse error."""
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is missing (Debian package prometheus): scripts/test-app.sh installs it")
    proc = subprocess.run([binary, "check", "metrics"], input=text.encode(), capture_output=True, timeout=60)
    out = (proc.stdout + proc.stderr).decode()
    assert proc.returncode in (0, 3), f"promtool could not parse the exposition (rc {proc.returncode}):\n{out}"
    return [line.strip() for line in out.splitlines() if line.strip()]


def assert_promtool_clean(text: str) -> None:
    unexpected = [f for f in promtool_findings(text) if f not in KNOWN_FINDINGS]
    assert not unexpected, "promtool check metrics:\n" + "\n".join(unexpected)


def samples(text: str) -> dict:
    """{(sample name, frozenset(labels)): value} from an exposition, via prometheus_client's parser."""
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, frozenset(s.labels.items()))] = s.value
    return found


def value(parsed: dict, name: str, **labels) -> float | None:
    return parsed.get((name, frozenset(labels.items())))


def http_get(url: str, headers: dict | None = None, timeout: float = 60) -> tuple[int, str]:
    """GET without any proxy (the tests only talk to loopback)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
