"""Every role's meta/argument_specs.yml and defaults/main.yml say the same thing.

argument_specs.yml is the documentation users read and what Ansible checks
variables against; defaults/main.yml is what actually applies. When they drift
apart (a default changed in one file only, a variable added without a spec),
users are told one thing and get another. This test fails on any difference in
keys or default values, for every role that has a spec.
"""
from pathlib import Path

import pytest
import yaml

ROLES = Path(__file__).resolve().parent.parent / "roles"
SPEC_ROLES = sorted(p.parent.parent.name for p in ROLES.glob("*/meta/argument_specs.yml"))


def load(path: Path):
    with path.open() as f:
        return yaml.safe_load(f) or {}


def test_every_role_has_a_spec():
    roles = sorted(p.name for p in ROLES.iterdir() if (p / "tasks" / "main.yml").exists())
    assert roles, "no roles found"
    assert roles == SPEC_ROLES, f"roles without meta/argument_specs.yml: {set(roles) - set(SPEC_ROLES)}"


@pytest.mark.parametrize("role", SPEC_ROLES)
def test_spec_and_defaults_agree(role):
    spec = load(ROLES / role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    defaults_file = ROLES / role / "defaults" / "main.yml"
    defaults = load(defaults_file) if defaults_file.exists() else {}

    # Every default is documented, and every documented optional variable has a default.
    assert set(defaults) - set(spec) == set(), f"{role}: defaults without a spec entry"
    with_default = {k for k, v in spec.items() if "default" in v}
    assert with_default - set(defaults) == set(), f"{role}: spec defaults missing from defaults/main.yml"

    for name in set(defaults):
        documented = spec[name].get("default")
        assert documented == defaults[name], (
            f"{role}: {name} defaults to {defaults[name]!r} in defaults/main.yml "
            f"but to {documented!r} in meta/argument_specs.yml"
        )


@pytest.mark.parametrize("role", SPEC_ROLES)
def test_every_option_is_described_and_typed(role):
    spec = load(ROLES / role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    for name, option in spec.items():
        assert option.get("description"), f"{role}: {name} has no description"
        assert option.get("type"), f"{role}: {name} has no type"
