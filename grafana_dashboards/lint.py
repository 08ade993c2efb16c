"""Lint rules for the rendered dashboards.

Grafana's own dashboard-linter (a Go program) cannot be installed here, so
these are its rules that matter for this project, re-implemented over the
rendered JSON, plus this project's own:

* ``template-datasource``: a ``datasource`` variable of type ``datasource``
  exists, and every panel and every target uses ``${datasource}``;
* ``template-job`` / ``template-instance``: both variables exist, and every
  query selects ``job=~"$job"`` and ``instance=~"$instance"`` on each metric;
* ``panel-deprecated``: no Angular panel type (graph, singlestat, table-old...);
* ``panel-ids`` / ``panel-titles``: ids unique, titles non-empty and unique;
* ``target-expr``: every target has a non-empty ``expr`` and a unique refId;
* ``target-rate-interval``: ``rate``/``irate``/``increase`` use
  ``$__rate_interval`` or ``$__range``, never a fixed window;
* ``no-hostnames``: no host name, address or port written into a query;
* ``grid``: panels fit the 24-column grid and do not overlap.

``python -m grafana_dashboards.lint`` prints every problem and exits 1 if any.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from .build import OUT_DIR

DATASOURCE_UID = "${datasource}"
ALLOWED_PANEL_TYPES = {"row", "timeseries", "stat", "gauge", "bargauge", "table", "heatmap", "text"}
DEPRECATED_PANEL_TYPES = {"graph", "singlestat", "table-old", "grafana-piechart-panel",
                          "grafana-worldmap-panel", "heatmap-old"}

_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
             "and", "or", "unless", "inf", "nan", "atan2",
             # aggregation operators, which may be followed by a grouping clause
             "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
             "bottomk", "topk", "quantile"}
_GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_RANGE_FN = re.compile(r"\b(rate|irate|increase)\s*\(")
_RANGE = re.compile(r"\[([^\]]+)\]")
_HOSTLIKE = re.compile(
    r"(\b\d{1,3}(\.\d{1,3}){3}\b)|(:\d{2,5}\b)|localhost|\.(lan|local|internal|com|net|org|fr)\b",
    re.IGNORECASE)


@dataclass(frozen=True)
class Problem:
    dashboard: str
    rule: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.dashboard}: [{self.rule}] {self.where}: {self.message}"


def iter_panels(dashboard: dict):
    """Every panel, including those nested in collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def _strip_strings(expr: str) -> str:
    """The expression with quoted label values blanked, so they are not taken for metric names."""
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)


def _skip_string(expr: str, i: int) -> int:
    """Index just after the string literal starting at ``expr[i]``."""
    quote, i = expr[i], i + 1
    while expr[i] != quote:
        i += 2 if expr[i] == "\\" else 1
    return i + 1


def _skip_balanced(expr: str, i: int, close: str) -> int:
    """Index just after the ``close`` matching the bracket at ``expr[i]``."""
    i += 1
    while expr[i] != close:
        i = _skip_string(expr, i) if expr[i] in "\"'`" else i + 1
    return i + 1


def selectors(expr: str) -> list[tuple[str, str]]:
    """``(metric, "{matchers}")`` for every metric selector of a PromQL expression.

    A small tokenizer rather than a full parser: identifiers followed by
    ``(`` are functions, grouping clauses (``by (...)``...) and range or
    subquery brackets are skipped, string literals are skipped; any other
    identifier is a metric name, with the ``{...}`` that follows it if any.
    Parsing proper is left to promtool (see ``promql_check``).
    """
    found, i, n = [], 0, len(expr)
    while i < n:
        c = expr[i]
        if c in "\"'`":
            i = _skip_string(expr, i)
        elif c == "[":
            i = _skip_balanced(expr, i, "]")
        elif c == "{":  # a selector without a metric name: {__name__=...}
            end = _skip_balanced(expr, i, "}")
            found.append(("", expr[i:end]))
            i = end
        elif c == "$":
            m = re.match(r"\$\{?\w+\}?", expr[i:])
            i += len(m.group(0)) if m else 1
        elif c.isdigit() or (c == "." and i + 1 < n and expr[i + 1].isdigit()):
            m = re.match(r"[0-9.]+(e[+-]?[0-9]+)?[smhdwy]?", expr[i:], re.IGNORECASE)
            i += len(m.group(0))
        elif re.match(r"[A-Za-z_:]", c):
            m = re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", expr[i:])
            word, i = m.group(0), i + len(m.group(0))
            j = i
            while j < n and expr[j].isspace():
                j += 1
            nxt = expr[j] if j < n else ""
            if word.lower() in _GROUPING and nxt == "(":
                i = _skip_balanced(expr, j, ")")
            elif nxt == "(" or word.lower() in _KEYWORDS:
                continue
            elif nxt == "{":
                end = _skip_balanced(expr, j, "}")
                found.append((word, expr[j:end]))
                i = end
            else:
                found.append((word, ""))
        else:
            i += 1
    return found


def lint_dashboard(name: str, d: dict) -> list[Problem]:
    problems: list[Problem] = []

    def bad(rule: str, where: str, message: str) -> None:
        problems.append(Problem(name, rule, where, message))

    variables = {v.get("name"): v for v in d.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        bad("template-datasource", "templating", "needs a 'datasource' variable of type datasource (prometheus)")
    for var in ("job", "instance"):
        if var not in variables:
            bad(f"template-{var}", "templating", f"needs a '{var}' variable")
    for vname, var in variables.items():
        if var.get("type") == "query" and (var.get("datasource") or {}).get("uid") != DATASOURCE_UID:
            bad("template-datasource", f"variable {vname}", f"must query {DATASOURCE_UID}")

    if not d.get("uid"):
        bad("dashboard-uid", "dashboard", "a provisioned dashboard needs a fixed uid")

    ids: dict[int, str] = {}
    titles: dict[str, int] = {}
    cells: dict[tuple[int, int], str] = {}
    for panel in iter_panels(d):
        ptype, title, pid = panel.get("type"), panel.get("title", ""), panel.get("id")
        where = f"panel {pid} '{title}'"
        if ptype in DEPRECATED_PANEL_TYPES:
            bad("panel-deprecated", where, f"'{ptype}' is an Angular panel removed from Grafana")
        elif ptype not in ALLOWED_PANEL_TYPES:
            bad("panel-type", where, f"'{ptype}' is not one of {sorted(ALLOWED_PANEL_TYPES)}")
        if not isinstance(pid, int) or pid in ids:
            bad("panel-ids", where, f"id must be a unique integer (also used by '{ids.get(pid)}')")
        else:
            ids[pid] = title
        if not title.strip():
            bad("panel-titles", where, "empty title")
        elif ptype != "row":
            if title in titles:
                bad("panel-titles", where, "title used twice")
            titles[title] = pid
        grid = panel.get("gridPos", {})
        x, y, w, h = (grid.get(k, -1) for k in ("x", "y", "w", "h"))
        if min(x, y) < 0 or w <= 0 or h <= 0 or x + w > 24:
            bad("grid", where, f"gridPos {grid} outside the 24-column grid")
        else:
            for cx in range(x, x + w):
                for cy in range(y, y + h):
                    if (cx, cy) in cells:
                        bad("grid", where, f"overlaps '{cells[(cx, cy)]}'")
                        break
                    cells[(cx, cy)] = title
                else:
                    continue
                break
        if ptype == "row":
            continue
        if (panel.get("datasource") or {}).get("uid") != DATASOURCE_UID:
            bad("template-datasource", where, f"panel datasource must be {DATASOURCE_UID}")
        targets = panel.get("targets") or []
        if not targets:
            bad("target-expr", where, "no query")
        refs = set()
        for t in targets:
            ref = t.get("refId")
            twhere = f"{where} target {ref}"
            if not ref or ref in refs:
                bad("target-expr", twhere, "refId missing or used twice")
            refs.add(ref)
            if (t.get("datasource") or {}).get("uid") != DATASOURCE_UID:
                bad("template-datasource", twhere, f"target datasource must be {DATASOURCE_UID}")
            problems.extend(Problem(name, r, twhere, m) for r, m in lint_expr(t.get("expr", "")))
    return problems


def lint_expr(expr: str) -> list[tuple[str, str]]:
    """(rule, message) for each problem of one PromQL expression."""
    out = []
    if not expr.strip():
        return [("target-expr", "empty expr")]
    if _HOSTLIKE.search(_strip_strings_keep_matchers(expr)):
        out.append(("no-hostnames", f"looks like a host name, address or port: {expr}"))
    sels = selectors(expr)
    if not sels:
        out.append(("target-expr", f"no metric selector found in: {expr}"))
    for metric, matchers in sels:
        if 'job=~"$job"' not in matchers:
            out.append(("template-job", f'{metric} lacks job=~"$job"'))
        if 'instance=~"$instance"' not in matchers:
            out.append(("template-instance", f'{metric} lacks instance=~"$instance"'))
    for m in _RANGE_FN.finditer(expr):
        rng = _RANGE.search(expr, m.end())
        if rng and rng.group(1) not in ("$__rate_interval", "$__range"):
            out.append(("target-rate-interval", f"{m.group(1)}() over [{rng.group(1)}]: use $__rate_interval"))
    return out


def _strip_strings_keep_matchers(expr: str) -> str:
    """Label values other than Grafana variables, where a host name would hide."""
    values = re.findall(r'"((?:[^"\\]|\\.)*)"', expr)
    return " ".join(v for v in values if not v.startswith("$")) + " " + _strip_strings(expr)


def lint_files(paths: list[Path]) -> list[Problem]:
    problems: list[Problem] = []
    uids: dict[str, str] = {}
    for path in paths:
        d = json.loads(path.read_text(encoding="utf-8"))
        problems.extend(lint_dashboard(path.name, d))
        uid = d.get("uid")
        if uid in uids:
            problems.append(Problem(path.name, "dashboard-uid", "dashboard", f"uid also used by {uids[uid]}"))
        uids[uid] = path.name
    return problems


def main(argv: list[str] | None = None) -> int:
    paths = [Path(a) for a in (argv if argv is not None else sys.argv[1:])] or sorted(OUT_DIR.glob("*.json"))
    problems = lint_files(paths)
    for p in problems:
        print(p)
    print(f"{len(paths)} dashboards, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
