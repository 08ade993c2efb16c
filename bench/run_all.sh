#!/usr/bin/env bash
# Every benchmark, then the plots and the tables of docs/benchmarks.md.
#   bench/run_all.sh                 # modest sizes: fits a shared 2-core machine in about 20 minutes
#   bench/run_all.sh --full          # the sizes of the issue: 5-minute file, 1/5/20-minute scaling, longer loads
#   bench/run_all.sh --only "web recorders"     # a subset (names below); the others keep their last results
#   bench/run_all.sh --with-provisioning        # also Molecule converge/idempotence (needs Docker; minutes per role)
#   bench/run_all.sh --plots-only    # redraw docs/img/*.png and docs/benchmarks.md from bench/results/
#   bench/run_all.sh --self-test     # the harness's own tests (bench/tests: parsers, wrk, plots, the stack, the GPU check on the CPU); no timing
# Names: engines scaling web recorders instrumentation summaries provisioning.
# Each bench writes bench/results/NAME.json (and NAME.txt, what it printed). A bench that
# fails leaves NAME.error.txt and the others still run; the script then exits 1.
# Needs .venv-app (scripts/test-app.sh) and .venv-engines (scripts/test-engines.sh);
# installs the Debian packages it needs and .venv-bench (matplotlib) itself.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RESULTS=bench/results
mkdir -p "$RESULTS"
log() { echo "== $*"; }

full=0; only=""; provisioning=0; plots_only=0; self_test=0
while [ $# -gt 0 ]; do
  case "$1" in
    --full) full=1 ;;
    --only) only="$2"; shift ;;
    --with-provisioning) provisioning=1 ;;
    --plots-only) plots_only=1 ;;
    --self-test) self_test=1 ;;
    *) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
  shift
done

# --- what the plots need ----------------------------------------------------------------
if [ ! -x .venv-bench/bin/python ] || ! .venv-bench/bin/python -c 'import matplotlib' 2>/dev/null; then
  log "creating .venv-bench (matplotlib)"
  python3 -m venv .venv-bench
  .venv-bench/bin/python -m pip install -q --disable-pip-version-check -r bench/requirements.txt
fi
failed=(); ran=()
# The benches that only print are parsed from what they printed (NAME.txt), every time, so a
# parser fix applies to old reports too.
collect() { python3 bench/collect.py "$@" || failed+=("$1 (report did not parse)"); }
collect_all() {
  local f m
  # a bench that failed has NAME.error.txt and no JSON
  [ -f "$RESULTS/engines.txt" ] && [ ! -f "$RESULTS/engines.error.txt" ] \
    && collect engines "$RESULTS/engines.txt" "$RESULTS/engines.json"
  for f in "$RESULTS"/scaling-*.txt; do
    [ -f "$f" ] && [ ! -f "${f%.txt}.error.txt" ] || continue
    m=${f##*/scaling-}; m=${m%.txt}
    collect pipeline "$f" "${f%.txt}.json" "minutes=$m"
  done
  for name in instrumentation summaries; do
    [ -f "$RESULTS/$name.txt" ] && [ ! -f "$RESULTS/$name.error.txt" ] \
      && collect "$name" "$RESULTS/$name.txt" "$RESULTS/$name.json"
  done
  # one file a Molecule scenario (bench/provisioning.sh): a rerun of some scenarios replaces only theirs
  compgen -G "$RESULTS/provisioning/*.txt" >/dev/null \
    && collect provisioning "$RESULTS/provisioning" "$RESULTS/provisioning.json"
  return 0
}
plots() {
  collect_all
  log "plots and docs/benchmarks.md"
  .venv-bench/bin/python bench/plots.py
}
if [ "$plots_only" = 1 ]; then plots; [ ${#failed[@]} -eq 0 ] || { echo "!! ${failed[*]}" >&2; exit 1; }; exit 0; fi

# --- what the benches need ----------------------------------------------------------------
need=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
for cmd_pkg in wrk:wrk redis-server:redis-server espeak-ng:espeak-ng ffmpeg:ffmpeg; do
  command -v "${cmd_pkg%%:*}" >/dev/null || need+=("${cmd_pkg#*:}")
done
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
# the benches start their own private nginx/postgres/redis on loopback ports
. scripts/lib.sh
apt_install_missing bench "${need[@]}"
if [ "$self_test" = 1 ]; then
  log "bench/tests with .venv-bench (parsers, wrk, plots)"
  .venv-bench/bin/python -m unittest discover -s bench/tests
  if [ -x .venv-app/bin/python ]; then
    log "bench/tests/test_stack.py with .venv-app (gunicorn + nginx on loopback)"
    .venv-app/bin/python -m unittest discover -s bench/tests -p test_stack.py
  else
    echo "!! .venv-app is missing (scripts/test-app.sh): the stack test was not run" >&2
    exit 1
  fi
  if [ -x .venv-engines/bin/python ]; then
    log "bench/tests/test_gpu_check.py with .venv-engines (bench/gpu/check.py end to end on the CPU, ~5 min)"
    .venv-engines/bin/python -m unittest discover -s bench/tests -p test_gpu_check.py
  else
    echo "!! .venv-engines is missing (scripts/test-engines.sh): the GPU check's test was not run" >&2
    exit 1
  fi
  exit 0
fi
for venv in .venv-app:scripts/test-app.sh .venv-engines:scripts/test-engines.sh; do
  [ -x "${venv%%:*}/bin/python" ] || { echo "${venv%%:*} is missing: run ${venv#*:} first" >&2; exit 1; }
done

# --- sizes -------------------------------------------------------------------------------------
if [ "$full" = 1 ]; then
  ENGINES_ARGS=(--seconds 300)
  SCALING_MINUTES="1 5 20"
  WEB_ARGS=(--sizes 100,1000,10000 --seconds 10 --rounds 5 --search-max-size 10000)
  REC_ARGS=(--max-recorders 1024 --step-seconds 30)
  INSTR_ARGS=()
  SUMMARIES_ARGS=(--minutes 120)
else
  ENGINES_ARGS=(--seconds 60)
  SCALING_MINUTES="0.5 1 2"
  WEB_ARGS=(--sizes 100,1000,10000 --seconds 3 --rounds 3 --search-max-size 1000)
  REC_ARGS=(--max-recorders 128 --step-seconds 12)
  INSTR_ARGS=(--rounds 6 --requests 50 --scrapes 10 --traffic 10)
  SUMMARIES_ARGS=(--minutes 60)
fi
selected() { [ -z "$only" ] || [[ " $only " == *" $1 "* ]]; }

# run NAME TIMEOUT_S COMMAND...: NAME.txt is what it printed; a failure leaves NAME.error.txt
run() {
  local name=$1 limit=$2 rc=0; shift 2
  log "$name: $*"
  rm -f "$RESULTS/$name.error.txt" "$RESULTS/$name.json"
  timeout --kill-after=30 "$limit" "$@" 2>"$RESULTS/$name.stderr.txt" | tee "$RESULTS/$name.txt" || rc=$?
  if [ "$rc" != 0 ]; then
    { echo "$* failed (or ran past ${limit}s)"; tail -40 "$RESULTS/$name.stderr.txt"; } >"$RESULTS/$name.error.txt"
    cat "$RESULTS/$name.error.txt" >&2
    failed+=("$name")
    return 1
  fi
  rm -f "$RESULTS/$name.stderr.txt"
  ran+=("${name%%-*}")
}

if selected engines; then
  run engines 2400 .venv-engines/bin/python bench/engines.py "${ENGINES_ARGS[@]}" || true
fi
if selected scaling; then
  # transcription time against audio length, engine alone and through the app's pipeline
  rm -f "$RESULTS"/scaling-*
  for m in $SCALING_MINUTES; do
    # --full: best of 3 rounds up to 5 minutes (one round of a short file is at the mercy of the load), 1 at 20
    rounds=1; [ "$full" = 1 ] && [ "$m" != 20 ] && rounds=3
    run "scaling-$m" 3600 .venv-app/bin/python bench/transcribe_pipeline.py --minutes "$m" --rounds "$rounds" || true
  done
fi
if selected web; then
  run web 1800 .venv-app/bin/python bench/web.py "${WEB_ARGS[@]}" --json "$RESULTS/web.json" || true
fi
if selected recorders; then
  run recorders 1800 .venv-app/bin/python bench/recorders.py "${REC_ARGS[@]}" --json "$RESULTS/recorders.json" || true
fi
if selected instrumentation && [ -f bench/instrumentation.py ]; then
  run instrumentation 1200 .venv-app/bin/python bench/instrumentation.py "${INSTR_ARGS[@]}" || true
fi
if selected summaries; then
  run summaries 600 .venv-app/bin/python bench/summaries_bench.py "${SUMMARIES_ARGS[@]}" || true
fi
if [ "$provisioning" = 1 ] && selected provisioning; then
  # every scenario (the multi-host molecule/site too); a subset: bench/provisioning.sh NAME..., then --plots-only
  run provisioning 5400 bench/provisioning.sh || true
fi

# where and when: the doc's header comes from this (one entry a bench; the others keep theirs)
[ ${#ran[@]} -eq 0 ] || python3 bench/machine.py --sizes "$([ "$full" = 1 ] && echo full || echo modest)" "${ran[@]}"
plots
if [ ${#failed[@]} -gt 0 ]; then
  echo "!! failed: ${failed[*]} (see $RESULTS/*.error.txt)" >&2
  exit 1
fi
log "all benchmarks done: $RESULTS/, docs/benchmarks.md, docs/img/"
