"""The import layers of app/.importlinter hold, and the check does fail on an upward import or a cycle."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).with_name("lint-imports")


def lint(package_root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(package_root)}
    return subprocess.run([str(LINT), "--no-cache", "--config", str(APP / ".importlinter")], cwd=package_root,
                          env=env, capture_output=True, text=True, timeout=120)


def test_the_app_keeps_its_layers():
    result = lint(APP)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("module, line, contract", [
    # the worker side reaching back up to the services: the cycle there used to be
    ("recordings/jobs.py", "from brefboard.recordings import services", "recordings:"),
    # even hidden inside a function
    ("recordings/storage.py", "def _f():\n    from brefboard.recordings.views import home", "recordings:"),
    ("library/jobs.py", "from brefboard.library import tasks", "library:"),
    # the workers' side importing the pages
    ("transcription/pipeline.py", "from brefboard.library import views", "across apps"),
])
def test_an_upward_import_breaks_the_check(tmp_path, module, line, contract):
    shutil.copytree(APP / "brefboard", tmp_path / "brefboard", ignore=shutil.ignore_patterns("__pycache__"))
    with open(tmp_path / "brefboard" / module, "a") as fh:
        fh.write("\n\n" + line + "\n")
    result = lint(tmp_path)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and contract in result.stdout, result.stdout
