#!/usr/bin/env bash
# Build the folder the offline GPU check carries, and print the exact device call that runs it.
#
#   bench/gpu/prepare.sh                 # bench/gpu/payload/, 300 s of speech (about 50 MiB)
#   bench/gpu/prepare.sh --seconds 120   # less speech
#
# Runs here (needs .venv-engines: scripts/test-engines.sh; espeak-ng; PyPI for the
# openai-whisper wheel). What it builds and why: bench/gpu/README.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
PAYLOAD=bench/gpu/payload
LIMIT_MIB=64

[ -x .venv-engines/bin/python ] || { echo "error: .venv-engines is missing: run scripts/test-engines.sh first" >&2; exit 1; }
command -v espeak-ng >/dev/null || { echo "error: espeak-ng is missing (apt-get install espeak-ng)" >&2; exit 1; }
git check-ignore -q "$PAYLOAD/manifest.json" \
  || { echo "error: $PAYLOAD is not ignored by git: it must travel as a carried path, never be committed" >&2; exit 1; }

.venv-engines/bin/python bench/gpu/build_payload.py --out "$PAYLOAD" "$@"

payload_bytes=$(du -sb "$PAYLOAD" | cut -f1)
# what travels besides: the tracked files and the untracked ones git does not ignore
tree_bytes=$( { git ls-files -z; git ls-files -z --others --exclude-standard; } | xargs -0 -r stat -c %s 2>/dev/null \
  | awk '{s += $1} END {print s + 0}')
total=$((payload_bytes + tree_bytes))
awk -v p="$payload_bytes" -v t="$total" -v l="$LIMIT_MIB" -v d="$PAYLOAD" \
  'BEGIN {printf "payload %s: %.1f MiB; with the working tree that travels: %.1f MiB (limit %d MiB)\n", d, p / 1048576, t / 1048576, l}'
if [ "$total" -gt $((LIMIT_MIB * 1048576)) ]; then
  echo "error: over $LIMIT_MIB MiB: use --seconds with less speech" >&2
  exit 1
fi
cat <<CALL

The device call (the session's own checkout travels: run this script in that checkout):
  run  carry: ["$PAYLOAD"]  timeout_s: 600
       command: set -o pipefail; nvidia-smi -L; PYTHONUNBUFFERED=1 python3 $PAYLOAD/check.py --budget-s 500 2>&1 | tee \$OUT/gpu-check.txt
It prints the table and leaves \$OUT/gpu-check.json and \$OUT/gpu-check.txt; the numbers go into
docs/benchmarks.md ("Transcription on a GPU").
CALL
