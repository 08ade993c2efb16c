"""Helpers for the role tests: run ansible-playbook on this machine (connection
local) with the repository's roles and collections, and read back what the
play wrote.

Tests run the roles' own tasks (preflight, templates, the model and download
code) against fake hosts that all are localhost; the play writes the results
the test checks into JSON files, one per host, and a failed task is caught
(block/rescue) and written as {"failed": task, "msg": message}.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"


def ansible_bin(name: str) -> str:
    candidate = VENV_BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name) or (Path(sys.executable).parent / name)
    return str(found)


def ansible_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / "collections"),
        ANSIBLE_ROLES_PATH=str(ROOT / "roles"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
    )
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '')}"
    env.update(extra)
    return env


def run(args: list[str], cwd: Path = ROOT, timeout: int = 600, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=ansible_env(**env), capture_output=True, text=True, timeout=timeout)


# Settings every fake host needs to pass the secret checks.
SECRETS = {
    "brefboard_secret_key": "test-only-secret-key-0123456789abcdef-0123",
    "brefboard_db_password": "test-only-db-password",
    "brefboard_redis_password": "test-only-redis-password",
}


class Play:
    """A playbook on fake local hosts; `results()` reads what each host wrote."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.out = tmp / "out"
        self.out.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.CompletedProcess | None = None

    def run(self, hosts: dict[str, dict] | None, groups: dict[str, list[str]] | None, tasks: list[dict],
            gather_facts: bool = True, extra_args: list[str] | None = None, gather_subset: list[str] | None = None,
            inventory: Path | None = None, pattern: str = "all") -> dict[str, dict]:
        """Run `tasks` on the fake `hosts` (in `groups`), or on a real `inventory`'s hosts, all local."""
        local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, "test_out": str(self.out)}
        if inventory is None:
            inventory = self.tmp / "hosts.yml"
            inventory.write_text(yaml.safe_dump({"all": {
                "vars": {**local, **SECRETS},
                "hosts": {name: (vars_ or {}) for name, vars_ in (hosts or {}).items()},
                "children": {group: {"hosts": {h: {} for h in members}} for group, members in (groups or {}).items()},
            }}))
        else:
            (self.tmp / "local.json").write_text(json.dumps(local))
            extra_args = ["-e", f"@{self.tmp / 'local.json'}", *(extra_args or [])]
        play = [{
            "name": "test",
            "hosts": pattern,
            "gather_facts": gather_facts,
            **({"gather_subset": gather_subset} if gather_subset else {}),
            "tasks": [{
                "name": "Run the tasks under test",
                "block": tasks + [{
                    "name": "Say it went through",
                    "ansible.builtin.copy": {"content": "{{ {'ok': true} | combine(test_result | default({})) | to_json }}",
                                             "dest": "{{ test_out }}/{{ inventory_hostname }}.json", "mode": "0644"},
                }],
                "rescue": [{
                    "name": "Write the failure",
                    "ansible.builtin.copy": {
                        "content": "{{ {'ok': false, 'failed': ansible_failed_task.name | default('?'),"
                                   " 'msg': ansible_failed_result.msg | default('')} | to_json }}",
                        "dest": "{{ test_out }}/{{ inventory_hostname }}.json", "mode": "0644"},
                }],
            }],
        }]
        (self.tmp / "play.yml").write_text(yaml.safe_dump(play, sort_keys=False))
        self.proc = run([ansible_bin("ansible-playbook"), "-i", str(inventory), "-f", "10",
                         str(self.tmp / "play.yml"), *(extra_args or [])])
        assert self.proc.returncode == 0, self.proc.stdout[-4000:] + self.proc.stderr[-4000:]
        return self.results()

    def results(self) -> dict[str, dict]:
        return {p.stem: json.loads(p.read_text()) for p in self.out.glob("*.json")}


@pytest.fixture
def play(tmp_path) -> Play:
    return Play(tmp_path)


def preflight_task(**vars_) -> dict:
    """The brefboard role's preflight, its variables visible to the tasks after it."""
    task = {"name": "Preflight of the brefboard role",
            "ansible.builtin.include_role": {"name": "brefboard", "tasks_from": "preflight.yml", "public": True}}
    if vars_:
        task["vars"] = vars_
    return task


def lab_running(host: str = "lab-web") -> bool:
    """Whether the lab of `make lab` is up (some checks run on its systemd hosts)."""
    if not shutil.which("docker"):
        return False
    proc = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", host], capture_output=True, text=True)
    return proc.returncode == 0 and proc.stdout.strip() == "true"
