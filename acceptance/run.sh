#!/usr/bin/env bash
# acceptance/run.sh [pytest arguments]: drive a deployed BrefBoard with a real browser.
#
# Installs what is missing (Debian's chromium, chromium-driver, espeak-ng, ffmpeg, libnss3-tools,
# python3-venv; apt-get, as root), creates .venv-acceptance at the repository root
# with the pinned packages of acceptance/requirements.txt (again only when that
# file changed), then runs pytest in acceptance/ with the arguments given, e.g.
#
#   acceptance/run.sh --base-url http://localhost:8080 --prometheus-url http://127.0.0.1:9090 \
#       --prometheus-user admin --prometheus-password "$PW"
#   ACCEPTANCE_READ_ONLY=1 ACCEPTANCE_USER=me ACCEPTANCE_PASSWORD=... acceptance/run.sh --base-url https://...
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
venv=${ACCEPTANCE_VENV:-$repo/.venv-acceptance}

missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
command -v certutil >/dev/null || missing+=(libnss3-tools)
command -v python3 >/dev/null || missing+=(python3)
if [ ! -x "$venv/bin/python" ] && command -v python3 >/dev/null && ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    missing+=(python3-venv)
fi
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "acceptance: missing Debian packages ${missing[*]}; install them (as root: apt-get install ${missing[*]})" >&2
        exit 2
    fi
    echo "[acceptance] installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x "$venv/bin/python" ]; then
    echo "[acceptance] creating $venv"
    python3 -m venv "$venv"
fi
stamp="$venv/.acceptance-requirements.sha256"
want=$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    echo "[acceptance] installing acceptance/requirements.txt into $venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
    echo "$want" > "$stamp"
fi

cd "$here"
exec "$venv/bin/python" -m pytest "$@"
