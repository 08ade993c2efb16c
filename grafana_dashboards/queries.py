"""Every PromQL query of the rendered dashboards, ready to send to Prometheus.

Used by the promtool parse check below and by end-to-end tests that send each
panel query to a real Prometheus (``/api/v1/query``) and expect data. Grafana
variables are replaced the way Grafana would with "All" selected and a one
hour range.

    python -m grafana_dashboards.queries --check   # parse every query with promtool
    python -m grafana_dashboards.queries           # print them, one per line
    python -m grafana_dashboards.queries --rules   # ... and the rules' expressions
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .build import OUT_DIR
from .lint import iter_panels

#: What Grafana substitutes for each variable with "All" selected.
SUBSTITUTIONS = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "1h",
    "$job": ".*",
    "$instance": ".*",
    "$view": ".*",
}


@dataclass(frozen=True)
class Query:
    dashboard: str
    panel: str
    ref: str
    expr: str  # with variables substituted

    @property
    def where(self) -> str:
        return f"{self.dashboard} / {self.panel} / {self.ref}"


def substitute(expr: str) -> str:
    """``expr`` with Grafana's variables replaced; fails on a variable it does not know."""
    for var in sorted(SUBSTITUTIONS, key=len, reverse=True):
        expr = expr.replace(var, SUBSTITUTIONS[var])
    left = re.findall(r"\$\{?\w+", expr)
    if left:
        raise ValueError(f"unknown Grafana variables {left} in {expr}")
    return expr


def all_queries(dashboard_dir: Path = OUT_DIR) -> list[Query]:
    out = []
    for path in sorted(dashboard_dir.glob("*.json")):
        d = json.loads(path.read_text(encoding="utf-8"))
        for panel in iter_panels(d):
            for t in panel.get("targets") or []:
                out.append(Query(d["uid"], panel.get("title", ""), t.get("refId", ""), substitute(t["expr"])))
        for var in d.get("templating", {}).get("list", []):
            q = var.get("query")
            if var.get("type") == "query" and isinstance(q, dict):
                m = re.fullmatch(r"label_values\((.*),\s*\w+\)", q["query"])
                if m:  # the selector a label_values() variable asks Prometheus for
                    out.append(Query(d["uid"], f"variable {var['name']}", "-", substitute(m.group(1))))
    return out


def rule_queries(rules_dir: Path = Path(__file__).resolve().parent.parent / "prometheus_rules") -> list[Query]:
    """Every recording and alerting rule expression of ``prometheus_rules/``,
    for the same end-to-end check: each must parse on a real Prometheus."""
    import yaml  # only needed here

    out = []
    for path in sorted(rules_dir.glob("*.rules.yml")):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for rule in group["rules"]:
                name = rule.get("alert") or rule.get("record")
                out.append(Query(path.name, group["name"], name, rule["expr"].strip()))
    return out


def promtool_check(queries: list[Query], promtool: str = "promtool") -> tuple[int, str]:
    """Parse every query with promtool's real PromQL parser (as recording rules)."""
    import yaml  # only needed here

    rules = [{"record": f"dashboard:query_{i}:check", "expr": q.expr} for i, q in enumerate(queries)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dashboard-queries.rules.yml"
        path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}))
        proc = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True,
                              check=False)
    output = proc.stdout + proc.stderr
    for i, q in enumerate(queries):  # point errors back to the panel
        output = output.replace(f"dashboard:query_{i}:check", q.where)
    return proc.returncode, output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="parse every query with promtool")
    parser.add_argument("--rules", action="store_true", help="also list the alert and recording rules")
    args = parser.parse_args(argv)
    queries = all_queries() + (rule_queries() if args.rules else [])
    if not args.check:
        for q in queries:
            print(f"{q.where}\t{' '.join(q.expr.split())}")
        return 0
    if not shutil.which("promtool"):
        print("promtool not found (Debian: apt-get install prometheus)", file=sys.stderr)
        return 2
    code, output = promtool_check(queries)
    print(output.strip())
    print(f"{len(queries)} queries parsed by promtool: {'ok' if code == 0 else 'FAILED'}")
    return code


if __name__ == "__main__":
    sys.exit(main())
