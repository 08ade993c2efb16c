"""Every setting read once, in settings.py: secrets also by *_FILE, the library's and the engines' too."""
import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import APP_DIR


def read(env: dict, *names: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "BREFBOARD_", "LLM_"))}
    code = f"import json, brefboard.settings as s; print(json.dumps({{n: getattr(s, n) for n in {list(names)!r}}}))"
    return subprocess.run([sys.executable, "-c", code], cwd=APP_DIR, env={**base, **env}, capture_output=True, text=True)


def test_secrets_from_their_file_or_their_variable(tmp_path):
    key, pw = tmp_path / "secret_key", tmp_path / "metrics_password"
    key.write_text("from-a-file\n")
    pw.write_text("metrics-pw")
    r = read({"DJANGO_SECRET_KEY": "from-the-env", "DJANGO_SECRET_KEY_FILE": str(key),
              "BREFBOARD_METRICS_PASSWORD_FILE": str(pw)}, "SECRET_KEY", "BREFBOARD_METRICS_PASSWORD")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"SECRET_KEY": "from-a-file", "BREFBOARD_METRICS_PASSWORD": "metrics-pw"}
    r = read({"DJANGO_SECRET_KEY": "from-the-env", "BREFBOARD_METRICS_PASSWORD": "plain"},
             "SECRET_KEY", "BREFBOARD_METRICS_PASSWORD")  # the old variables still work
    assert json.loads(r.stdout) == {"SECRET_KEY": "from-the-env", "BREFBOARD_METRICS_PASSWORD": "plain"}


def test_an_unreadable_secret_file_stops_the_start_naming_the_variable(tmp_path):
    r = read({"DJANGO_SECRET_KEY_FILE": str(tmp_path / "missing")}, "SECRET_KEY")
    assert r.returncode != 0 and "DJANGO_SECRET_KEY_FILE cannot be read" in r.stderr


def test_the_library_and_engine_settings_come_from_the_environment():
    r = read({"DJANGO_SECRET_KEY": "k", "BREFBOARD_SUMMARY_QUEUE": "sum.q", "BREFBOARD_SEARCH_CONFIG": "english",
              "BREFBOARD_CPU_THREADS": "3", "LLM_BASE_URL": "http://llm.internal/v1", "LLM_MODEL": "m"},
             "BREFBOARD_SUMMARY_QUEUE", "BREFBOARD_SEARCH_CONFIG", "BREFBOARD_CPU_THREADS", "LLM_BASE_URL", "LLM_MODEL")
    assert json.loads(r.stdout) == {"BREFBOARD_SUMMARY_QUEUE": "sum.q", "BREFBOARD_SEARCH_CONFIG": "english",
                                    "BREFBOARD_CPU_THREADS": 3, "LLM_BASE_URL": "http://llm.internal/v1",
                                    "LLM_MODEL": "m"}
    r = read({"DJANGO_SECRET_KEY": "k"}, "BREFBOARD_SUMMARY_QUEUE", "BREFBOARD_SEARCH_CONFIG", "BREFBOARD_CPU_THREADS")
    assert json.loads(r.stdout) == {"BREFBOARD_SUMMARY_QUEUE": "summaries", "BREFBOARD_SEARCH_CONFIG": "french",
                                    "BREFBOARD_CPU_THREADS": 0}


MINE = ["recordings", "library", "transcription", "http.py", "celery.py"]


@pytest.mark.parametrize("where", MINE)
def test_no_other_module_reads_the_environment(where):
    """os.environ / os.getenv only in settings.py (celery.py may set DJANGO_SETTINGS_MODULE's default)."""
    root = Path(APP_DIR) / "brefboard" / where
    for path in ([root] if root.is_file() else sorted(root.rglob("*.py"))):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
                parent_ok = path.name == "celery.py"
                assert parent_ok, f"{path} reads the environment (line {node.lineno})"


def test_the_engine_is_given_its_threads():
    from brefboard.transcription.faster_engine import FasterWhisperEngine

    with pytest.raises(ValueError, match="cpu_threads"):
        FasterWhisperEngine("unused", device="cpu", cpu_threads=-1)
