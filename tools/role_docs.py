#!/usr/bin/env python3
"""Write each role's README variable table from its meta/argument_specs.yml.

The spec is what Ansible checks variables against and what
tests/test_role_specs.py holds equal to defaults/main.yml; the README table
is generated from it, between two markers, so the three never disagree:

    <!-- role_docs:begin ... -->
    | variable | default | meaning |
    ...
    <!-- role_docs:end -->

    python tools/role_docs.py            # rewrite every role's table
    python tools/role_docs.py --check    # exit 1 naming the READMEs that are stale

A role with a spec but no README gets one with the table; a README without
the markers gets the table appended under "## Role variables".
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
ROLES = ROOT / "roles"
BEGIN = ("<!-- role_docs:begin: generated from meta/argument_specs.yml by tools/role_docs.py;"
         " edit the spec, then run python tools/role_docs.py -->")
END = "<!-- role_docs:end -->"
BLOCK = re.compile(re.escape(BEGIN.split(":", 2)[0] + ":begin") + r".*?" + re.escape(END), re.S)


def spec_options(role: Path) -> dict:
    spec = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    try:
        return spec["argument_specs"]["main"]["options"] or {}
    except (KeyError, TypeError):
        raise SystemExit(f"{role.name}: meta/argument_specs.yml has no argument_specs.main.options")


def spec_summary(role: Path) -> str:
    spec = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    return spec["argument_specs"]["main"].get("short_description", "")


def one_line(text) -> str:
    if isinstance(text, list):
        text = " ".join(str(t) for t in text)
    return re.sub(r"\s+", " ", str(text or "")).strip()


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def code(value) -> str:
    """A value as YAML would write it inline, as Markdown code."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6, allow_unicode=True).strip()
    text = text.removesuffix("...").strip()
    return f"`{cell(text)}`"


def default_of(option: dict) -> str:
    if "default" not in option:
        return "(required)" if option.get("required") else "(none)"
    return code(option["default"])


def table(role: Path) -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, option in spec_options(role).items():
        meaning = one_line(option.get("description"))
        if option.get("choices"):
            meaning += " One of: " + ", ".join(code(c) for c in option["choices"]) + "."
        rows.append(f"| `{name}` | {default_of(option)} | {cell(meaning)} |")
    return "\n".join([BEGIN, *rows, END])


def rendered(role: Path) -> str:
    readme = role / "README.md"
    block = table(role)
    if not readme.exists():
        return (f"# {role.name}\n\n{one_line(spec_summary(role))}\n\n## Role variables\n\n"
                f"Every variable, from `meta/argument_specs.yml` (which Ansible checks them against):\n\n"
                f"{block}\n\n## License\n\nMIT.\n")
    text = readme.read_text(encoding="utf-8")
    if BLOCK.search(text):
        return BLOCK.sub(lambda _: block, text, count=1)
    return text.rstrip("\n") + f"\n\n## Role variables\n\n{block}\n"


def roles() -> list[Path]:
    return sorted(p.parent.parent for p in ROLES.glob("*/meta/argument_specs.yml"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a README is stale")
    args = parser.parse_args(argv)
    stale = []
    for role in roles():
        readme = role / "README.md"
        new = rendered(role)
        if readme.exists() and readme.read_text(encoding="utf-8") == new:
            continue
        stale.append(str(readme.relative_to(ROOT)))
        if not args.check:
            readme.write_text(new, encoding="utf-8")
    if stale:
        verb = "stale (run python tools/role_docs.py)" if args.check else "written"
        print("\n".join(f"{path}: {verb}" for path in stale), file=sys.stderr if args.check else sys.stdout)
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
