"""The brefboard role's tags select the tasks inside its task files.

Tags on a plain include_tasks apply to the include only: `--tags brefboard_run`
used to run the include and nothing in it. The listing of site.yml with a tag
must show the tasks that tag is for, and not the others.
"""
import re

import pytest

from conftest import ROOT, ansible_bin, run


def listing(*tags: str) -> dict[str, list[str]]:
    """Task names per play of `ansible-playbook site.yml --list-tasks --tags ...` on the lab inventory."""
    proc = run([ansible_bin("ansible-playbook"), "-i", str(ROOT / "inventory/lab/hosts.yml"), str(ROOT / "site.yml"),
                "--list-tasks", "--tags", ",".join(tags)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    plays: dict[str, list[str]] = {}
    current = None
    for line in proc.stdout.splitlines():
        m = re.match(r"\s*play #\d+ \([^)]*\): (.*?)\s+TAGS:", line)
        if m:
            current = plays.setdefault(m.group(1), [])
            continue
        m = re.match(r"\s{6}(\S.*?)\s+TAGS: \[", line)
        if m and current is not None:
            current.append(m.group(1))
    return plays


APP_PLAY = "BrefBoard app hosts, a batch at a time (web, workers)"
RUN = [
    "brefboard : Apply pending restarts and reloads before checking the services",
    "brefboard : Enable and start the web service and nginx",
    "brefboard : Enable and start the worker",
    "brefboard : Wait for the app through nginx, answering from the new release ({{ brefboard_health_path }})",
    "brefboard : Fail the host when the app does not answer healthy from the new release",
    "brefboard : Put the web host back in service (it answers healthy from the new release)",
    "brefboard : Wait for the worker to answer a ping through the broker",
]
CONFIGURE = [
    "brefboard : Write the environment file (settings and secrets, 0600)",
    "brefboard : Write the gunicorn config (multiprocess metrics, graceful reloads)",
    "brefboard : Write the language model's key (0600, the service user's)",
    "brefboard : Install the web unit",
    "brefboard : Install the worker unit",
    "brefboard : Write the BrefBoard site",
]
INSTALL_ONLY = [
    "brefboard : Create the release's virtualenv and install the pinned packages, offline",
    "brefboard : Switch the current symlink to the new release",
    "brefboard : Build the app's wheel from this source",
]


@pytest.fixture(scope="module")
def run_listing():
    return listing("brefboard_run")


def test_brefboard_run_lists_the_run_tasks(run_listing):
    tasks = run_listing[APP_PLAY]
    missing = [t for t in RUN if t not in tasks]
    assert not missing, f"not selected by --tags brefboard_run: {missing}\nlisted: {tasks}"
    # The preflight and the release's name (what the health check expects) come along.
    assert "brefboard : Check the public URLs (what users type in their browser)" in tasks
    assert "brefboard : Name this host's release" in tasks


def test_brefboard_run_lists_no_install_or_configure_task(run_listing):
    tasks = run_listing[APP_PLAY]
    assert not [t for t in INSTALL_ONLY + CONFIGURE if t in tasks], tasks


def test_brefboard_configure_lists_the_settings_not_the_install():
    tasks = listing("brefboard_configure")[APP_PLAY]
    missing = [t for t in CONFIGURE if t not in tasks]
    assert not missing, f"not selected by --tags brefboard_configure: {missing}\nlisted: {tasks}"
    assert not [t for t in INSTALL_ONLY + RUN[1:] if t in tasks], tasks
