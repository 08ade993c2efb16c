"""The tests every role gets: its spec, defaults, README and files agree.

meta/argument_specs.yml is the documentation users read and what Ansible
checks variables against; defaults/main.yml is what actually applies; the
README's variable table is generated from the spec (tools/role_docs.py).
When they drift apart (a default changed in one file only, a variable added
without a spec, a table not regenerated), users are told one thing and get
another. These tests fail on any difference in keys or default values, on an
option without description or type, on a stale README table, and on a task
file or template that nothing uses, for every role.
"""
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
ROLES = ROOT / "roles"
SPEC_ROLES = sorted(p.parent.parent.name for p in ROLES.glob("*/meta/argument_specs.yml"))
TASK_ROLES = sorted(p.name for p in ROLES.iterdir() if (p / "tasks" / "main.yml").exists())

sys.path.insert(0, str(ROOT / "tools"))
import role_docs  # noqa: E402


def load(path: Path):
    with path.open() as f:
        return yaml.safe_load(f) or {}


def options(role: str) -> dict:
    return load(ROLES / role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]


def test_every_role_has_a_spec():
    assert TASK_ROLES, "no roles found"
    assert TASK_ROLES == SPEC_ROLES, f"roles without meta/argument_specs.yml: {set(TASK_ROLES) - set(SPEC_ROLES)}"


@pytest.mark.parametrize("role", SPEC_ROLES)
def test_spec_and_defaults_agree(role):
    spec = options(role)
    defaults_file = ROLES / role / "defaults" / "main.yml"
    defaults = load(defaults_file) if defaults_file.exists() else {}

    # Every default is documented, and every documented optional variable has a default.
    assert set(defaults) - set(spec) == set(), f"{role}: defaults without a spec entry"
    with_default = {k for k, v in spec.items() if "default" in v}
    assert with_default - set(defaults) == set(), f"{role}: spec defaults missing from defaults/main.yml"
    assert set(defaults) - with_default == set(), f"{role}: defaults whose spec entry has no default"

    for name in set(defaults):
        documented = spec[name].get("default")
        assert documented == defaults[name], (
            f"{role}: {name} defaults to {defaults[name]!r} in defaults/main.yml "
            f"but to {documented!r} in meta/argument_specs.yml"
        )


@pytest.mark.parametrize("role", SPEC_ROLES)
def test_every_option_is_described_and_typed(role):
    for name, option in options(role).items():
        assert option.get("description"), f"{role}: {name} has no description"
        assert option.get("type"), f"{role}: {name} has no type"


@pytest.mark.parametrize("role", SPEC_ROLES)
def test_readme_variable_table_is_generated_from_the_spec(role):
    readme = ROLES / role / "README.md"
    assert readme.exists(), f"roles/{role} has no README.md: run python tools/role_docs.py"
    text = readme.read_text(encoding="utf-8")
    missing = [name for name in options(role) if name not in text]
    assert not missing, f"roles/{role}/README.md does not document {missing}"
    assert text == role_docs.rendered(ROLES / role), (
        f"roles/{role}/README.md's variable table is not the one meta/argument_specs.yml gives: "
        "run python tools/role_docs.py")


def test_the_table_generator_notices_a_stale_table(tmp_path, monkeypatch):
    role = tmp_path / "roles" / "demo"
    (role / "meta").mkdir(parents=True)
    (role / "meta" / "argument_specs.yml").write_text(yaml.safe_dump({"argument_specs": {"main": {
        "short_description": "A demo.",
        "options": {"demo_port": {"type": "int", "default": 80, "description": "Port | one."}}}}}))
    monkeypatch.setattr(role_docs, "ROLES", tmp_path / "roles")
    monkeypatch.setattr(role_docs, "ROOT", tmp_path)
    assert role_docs.main(["--check"]) == 1  # no README yet
    assert role_docs.main([]) == 0
    assert "| `demo_port` | `80` | Port \\| one. |" in (role / "README.md").read_text()
    assert role_docs.main(["--check"]) == 0
    spec = role / "meta" / "argument_specs.yml"
    spec.write_text(spec.read_text().replace("default: 80", "default: 8080"))
    assert role_docs.main(["--check"]) == 1


def _used_names(text: str) -> list[str]:
    """Task files a tasks file names (import_tasks, include_tasks, file:, tasks_from:), as patterns."""
    found = re.findall(r"(?:import_tasks|include_tasks|file|tasks_from):\s*[\"']?([^\"'\n]+?\.ya?ml)", text)
    return [re.sub(r"\\\{\\\{.*?\\\}\\\}", ".+", re.escape(name.strip())) for name in found]


@pytest.mark.parametrize("role", TASK_ROLES)
def test_every_task_file_and_template_is_used(role):
    tasks_dir = ROLES / role / "tasks"
    texts = {f.name: f.read_text() for f in tasks_dir.glob("*.yml")}
    # Entry points: main.yml, and any file another role includes with tasks_from.
    from_others = set(re.findall(r"tasks_from:\s*[\"']?([\w.-]+)", "".join(
        p.read_text() for p in ROLES.glob("*/tasks/*.yml") if p.parent != tasks_dir)))
    reached = {"main.yml"} | {n for n in texts if n in from_others or n[: -len(".yml")] in from_others}
    frontier = list(reached)
    while frontier:
        patterns = _used_names(texts.get(frontier.pop(), ""))
        for name in texts:
            if name not in reached and any(re.fullmatch(p, name) for p in patterns):
                reached.add(name)
                frontier.append(name)
    assert set(texts) - reached == set(), f"{role}: tasks never imported: {sorted(set(texts) - reached)}"

    templates = list((ROLES / role / "templates").glob("*.j2"))
    for t in templates:
        users = "".join(texts.values()) + "".join(o.read_text() for o in templates if o != t)
        assert t.name in users, f"{role}: templates/{t.name} is never used"
