#!/usr/bin/env bash
# Test the dashboards and the alert rules; works on a fresh Debian 12 as root.
#  1. the committed dashboard JSON is exactly what grafana_dashboards/ renders
#  2. the dashboards pass the lint rules (grafana_dashboards/lint.py)
#  3. they type-check against Grafana's published schema (@grafana/schema, tsc)
#  4. every panel query parses with promtool's PromQL parser
#  5. promtool check rules + promtool test rules on prometheus_rules/
#  6. the pytest suites of both folders (which also prove each check can fail)
#     (every role's spec, README and files: tests/test_role_specs.py, make test-role-specs)
# Installs what it lacks: Debian's prometheus (promtool), nodejs + npm, a
# virtualenv .venv-dash with grafana_dashboards/requirements.txt, and the npm
# packages of grafana_dashboards/schema (npm ci, from its lock file).
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "[test-dashboards] $*"; }

need_pkgs=()
command -v promtool >/dev/null || need_pkgs+=(prometheus)
command -v npm >/dev/null || need_pkgs+=(nodejs npm)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_pkgs+=(python3-venv)
. scripts/lib.sh
apt_install_missing test-dashboards "${need_pkgs[@]}"

python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { log "python3 >= 3.11 needed (the Foundation SDK uses typing.Self)"; exit 1; }
stamp=.venv-dash/.requirements.sha256
want=$(sha256sum grafana_dashboards/requirements.txt | cut -d' ' -f1)
if [ ! -x .venv-dash/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "creating .venv-dash"
    python3 -m venv .venv-dash
    .venv-dash/bin/pip install -q -r grafana_dashboards/requirements.txt
    echo "$want" > "$stamp"
fi
schema=grafana_dashboards/schema
stamp=$schema/node_modules/.lock.sha256
want=$(sha256sum $schema/package-lock.json | cut -d' ' -f1)
if [ ! -x $schema/node_modules/.bin/tsc ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing @grafana/schema and typescript (npm ci)"
    (cd $schema && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
fi

py=.venv-dash/bin/python
log "1/6 regenerate and diff";          $py -m grafana_dashboards.build --check
log "2/6 lint";                         $py -m grafana_dashboards.lint
log "3/6 Grafana schema (tsc)";         $py -m grafana_dashboards.schema_check
log "4/6 PromQL parse (promtool)";      $py -m grafana_dashboards.queries --check | tail -1
log "5/6 promtool check + test rules"
promtool check rules prometheus_rules/*.rules.yml
promtool test rules prometheus_rules/tests/*.test.yml
log "6/6 pytest"
$py -m pytest -q -p no:cacheprovider grafana_dashboards/tests prometheus_rules/tests
