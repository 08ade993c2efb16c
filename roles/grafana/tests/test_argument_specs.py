"""meta/argument_specs.yml is the source of truth for the role's variables:
defaults/main.yml must define exactly the options that have a default, with
the same value, and README.md must mention every option."""

from pathlib import Path

import yaml

ROLE = Path(__file__).resolve().parents[1]


def load(rel: str):
    return yaml.safe_load((ROLE / rel).read_text(encoding="utf-8"))


def test_defaults_match_the_argument_spec():
    options = load("meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    defaults = load("defaults/main.yml")
    with_default = {k: v["default"] for k, v in options.items() if "default" in v}
    assert set(defaults) == set(with_default), (
        f"only in defaults: {sorted(set(defaults) - set(with_default))}; "
        f"only in spec: {sorted(set(with_default) - set(defaults))}")
    for key, value in with_default.items():
        assert defaults[key] == value, f"{key}: defaults {defaults[key]!r} != spec {value!r}"


def test_every_option_is_in_the_readme():
    options = load("meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    readme = (ROLE / "README.md").read_text(encoding="utf-8")
    missing = [k for k in options if k not in readme]
    assert not missing, f"README.md does not document {missing}"


def test_every_template_and_task_file_is_used():
    main = (ROLE / "tasks" / "main.yml").read_text()
    for f in (ROLE / "tasks").glob("*.yml"):
        assert f.name == "main.yml" or f.name in main, f"tasks/{f.name} is never imported"
    tasks = "".join(f.read_text() for f in (ROLE / "tasks").glob("*.yml"))
    for t in (ROLE / "templates").glob("*.j2"):
        assert t.name in tasks, f"templates/{t.name} is never used"
