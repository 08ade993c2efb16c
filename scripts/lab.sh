#!/usr/bin/env bash
# The lab: systemd containers on this machine as BrefBoard hosts, provisioned
# by site.yml exactly as real hosts are.
#   scripts/lab.sh up     create the containers, run site.yml, print the URLs
#   scripts/lab.sh down   remove them
# Prometheus is published on 127.0.0.1:${LAB_PROMETHEUS_PORT:-9090}, Grafana
# on 127.0.0.1:${LAB_GRAFANA_PORT:-3000}. Grafana comes from Grafana's apt
# repository, or from a mirror of it: LAB_GRAFANA_APT_REPO_URL and
# LAB_GRAFANA_APT_KEY_URL. When neither can be reached the lab goes on
# without Grafana and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PWD/.venv/bin:$PATH ANSIBLE_COLLECTIONS_PATH=$PWD/collections ANSIBLE_CONFIG=$PWD/ansible.cfg
network=brefboard-lab
state=.cache/lab
prom_port=${LAB_PROMETHEUS_PORT:-9090}
grafana_port=${LAB_GRAFANA_PORT:-3000}
grafana_repo=${LAB_GRAFANA_APT_REPO_URL:-https://apt.grafana.com}
grafana_key=${LAB_GRAFANA_APT_KEY_URL:-$grafana_repo/gpg.key}
official_sums="https://github.com/prometheus/prometheus/releases/download/v2.45.0/sha256sums.txt"
hosts=(lab-monitoring lab-web lab-worker)
web_port=${LAB_WEB_PORT:-8080}
tls_port=${LAB_TLS_PORT:-8443}
log() { echo "[lab] $*"; }
secret() { sed -n "s/^$1: \"\(.*\)\"\$/\1/p" "$state/secrets.yml"; }

start_host() {  # name published-ports...
    local name=$1; shift
    local ports=()
    for p in "$@"; do ports+=(-p "$p"); done
    local ca=()
    if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1 && [ -z "${TESTBED_EXTRA_CA_DIR+x}" ] || [ -n "${TESTBED_EXTRA_CA_DIR:-}" ]; then
        ca=(-v "${TESTBED_EXTRA_CA_DIR:-/usr/local/share/ca-certificates}:/usr/local/share/ca-certificates/extra:ro")
    fi
    if docker inspect "$name" >/dev/null 2>&1; then
        # Each host sets its own firewall (role firewall): nft needs NET_ADMIN,
        # which a container made by an older lab lacks and cannot be given.
        if ! docker inspect -f '{{.HostConfig.CapAdd}}' "$name" | grep -q NET_ADMIN; then
            log "$name was made without NET_ADMIN, which the host firewall needs: make lab-down, then make lab (the lab's recordings go with it)"
            exit 1
        fi
        docker start "$name" >/dev/null
        return
    fi
    docker run -d --name "$name" --hostname "$name" --network "$network" \
        --cap-add SYS_ADMIN --cap-add NET_ADMIN --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
        --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
        --tmpfs /run --tmpfs /run/lock --tmpfs /tmp --stop-signal SIGRTMIN+3 \
        "${ca[@]}" "${ports[@]}" "$image" >/dev/null
    local booted=""
    for _ in $(seq 60); do
        booted=$(docker exec "$name" systemctl is-system-running --wait 2>/dev/null || true)
        case "$booted" in running|degraded) break ;; esac
        sleep 1
    done
    case "$booted" in running|degraded) ;; *) log "$name: systemd did not boot ($booted)"; exit 1 ;; esac
    [ ${#ca[@]} -eq 0 ] || docker exec "$name" update-ca-certificates >/dev/null
}

# HTTPS as production has it: a certificate given in the inventory
# (brefboard_tls=inventory), signed by a local CA the lab makes once and the
# acceptance suite's browser trusts (--ca-file). The CA's key stays in
# $state/ca (0700); the web host's key goes to the play in a 0600 file.
make_tls() {
    local ca=$state/ca
    mkdir -p "$ca"; chmod 700 "$ca"
    if [ ! -s "$ca/ca.crt" ]; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
            -subj "/CN=BrefBoard lab local CA" -keyout "$ca/ca.key" -out "$ca/ca.crt" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
        log "made a local CA for the lab: $ca/ca.crt (trust it in a browser to use the lab over HTTPS without a warning)"
    fi
    if [ ! -s "$ca/web.crt" ] || ! openssl x509 -checkend 604800 -noout -in "$ca/web.crt" >/dev/null; then
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
            -keyout "$ca/web.key" -out "$ca/web.csr" 2>/dev/null
        openssl x509 -req -in "$ca/web.csr" -CA "$ca/ca.crt" -CAkey "$ca/ca.key" -CAcreateserial -days 397 \
            -out "$ca/web.crt" -extfile <(printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:lab-web" \
                "extendedKeyUsage=serverAuth" "basicConstraints=critical,CA:FALSE") 2>/dev/null
    fi
    ( umask 077
      .venv/bin/python - "$ca" >"$state/tls.json" <<'PY'
import json, sys
ca = sys.argv[1]
print(json.dumps({"brefboard_tls": "inventory",
                  "brefboard_tls_certificate": open(f"{ca}/web.crt").read(),
                  "brefboard_tls_private_key": open(f"{ca}/web.key").read()}))
PY
    )
}

up() {
    image=$(testbed/image.sh)
    mkdir -p "$state"; chmod 700 "$state"
    docker network inspect "$network" >/dev/null 2>&1 || docker network create "$network" >/dev/null
    start_host lab-monitoring "127.0.0.1:$prom_port:9090" "127.0.0.1:$grafana_port:3000"
    start_host lab-web "127.0.0.1:$web_port:80" "127.0.0.1:$tls_port:443"
    start_host lab-worker

    # Secrets for the lab only: made here, kept out of the repository.
    touch "$state/secrets.yml"; chmod 600 "$state/secrets.yml"
    for key in vault_prometheus_admin_password vault_grafana_admin_password vault_brefboard_secret_key \
               vault_brefboard_db_password vault_brefboard_redis_password lab_user_password; do
        grep -q "^$key:" "$state/secrets.yml" ||
            printf '%s: "%s"\n' "$key" "$(head -c 36 /dev/urandom | base64 | tr -d '/+=')" >> "$state/secrets.yml"
    done

    extra=(-e "@$state/secrets.yml")
    if curl -fsS -o /dev/null --max-time 15 "$official_sums"; then
        prom_note="Prometheus 2.45.0 from the official release download"
    else
        testbed/mirror.sh start
        read -r _ mirror_version < <(testbed/release-mirror.sh | grep '^prometheus ')
        read -r _ ne_version < <(testbed/release-mirror.sh | grep '^node_exporter ')
        read -r _ am_version < <(testbed/release-mirror.sh | grep '^alertmanager ')
        m=http://127.0.0.1:${MIRROR_PORT:-18999}
        cat > "$state/mirror.yml" <<YAML
prometheus_version: "$mirror_version"
prometheus_binary_url: "$m/prometheus/releases/download/v{{ prometheus_version }}/prometheus-{{ prometheus_version }}.linux-__ARCH__.tar.gz"
prometheus_checksum_url: "$m/prometheus/releases/download/v{{ prometheus_version }}/sha256sums.txt"
node_exporter_version: "$ne_version"
node_exporter_binary_url: "$m/node_exporter/releases/download/v{{ node_exporter_version }}/node_exporter-{{ node_exporter_version }}.linux-__ARCH__.tar.gz"
node_exporter_checksum_url: "$m/node_exporter/releases/download/v{{ node_exporter_version }}/sha256sums.txt"
alertmanager_version: "$am_version"
alertmanager_binary_url: "$m/alertmanager/releases/download/v{{ alertmanager_version }}/alertmanager-{{ alertmanager_version }}.linux-__ARCH__.tar.gz"
alertmanager_checksum_url: "$m/alertmanager/releases/download/v{{ alertmanager_version }}/sha256sums.txt"
YAML
        extra+=(-e "@$state/mirror.yml")
        # Debian's Alertmanager build reads its notification templates from
        # /usr/share/prometheus/alertmanager (the upstream binary embeds them).
        docker exec lab-monitoring mkdir -p /usr/share/prometheus/alertmanager
        for tmpl in default.tmpl email.tmpl; do
            docker cp "/usr/share/prometheus/alertmanager/$tmpl" lab-monitoring:/usr/share/prometheus/alertmanager/
        done
        prom_note="Prometheus $mirror_version (NOT 2.45.0): the official release download is unreachable from this machine, so the lab installed the release-shaped mirror built from Debian's prometheus package (testbed/release-mirror.sh)"
        log "$prom_note"
    fi

    if curl -fsS -o /dev/null --max-time 15 "$grafana_key"; then
        extra+=(-e "grafana_apt_repo_url=$grafana_repo" -e "grafana_apt_key_url=$grafana_key")
        grafana_note="http://127.0.0.1:$grafana_port   user admin, password $(secret vault_grafana_admin_password)"
    else
        extra+=(--skip-tags grafana)
        grafana_note="NOT INSTALLED: Grafana's apt repository ($grafana_repo) cannot be reached from this machine and no mirror is set (LAB_GRAFANA_APT_REPO_URL, LAB_GRAFANA_APT_KEY_URL)."
        log "Grafana: $grafana_note"
    fi

    # The URL users type, port included: Django derives ALLOWED_HOSTS and the
    # CSRF origins a browser's POSTs are checked against from it.
    make_tls
    extra+=(-e "@$state/tls.json")
    extra+=(-e "{\"brefboard_public_urls\": [\"https://localhost:$tls_port\", \"https://127.0.0.1:$tls_port\"]}")

    # A language model for summaries and titles: any OpenAI-compatible endpoint
    # (Mistral, Ollama, vLLM) reachable from the lab's worker.
    if [ -n "${LAB_LLM_BASE_URL:-}" ]; then
        llm="$state/llm.yml"
        ( umask 077
          printf 'brefboard_llm_base_url: "%s"\nbrefboard_llm_model: "%s"\nvault_brefboard_llm_api_key: "%s"\n' \
              "$LAB_LLM_BASE_URL" "${LAB_LLM_MODEL:-}" "${LAB_LLM_API_KEY:-}" >"$llm" )
        extra+=(-e "@$llm")
        llm_note="$LAB_LLM_BASE_URL, model ${LAB_LLM_MODEL:-(none set)}"
    else
        llm_note="NONE: no language model is configured (set LAB_LLM_BASE_URL, LAB_LLM_MODEL, LAB_LLM_API_KEY), so summaries and titles are the extractive fallback"
        log "language model: $llm_note"
    fi

    ansible-playbook -i inventory/lab/hosts.yml site.yml "${extra[@]}"

    # A login to try the app with (lab only).
    docker exec -e LAB_PASSWORD="$(secret lab_user_password)" lab-web bash -c '
        set -euo pipefail; set -a; . /etc/brefboard/brefboard.env; set +a
        /opt/brefboard/current/venv/bin/python -m django shell -c "
import os
from django.contrib.auth import get_user_model
U = get_user_model()
u, _ = U.objects.get_or_create(username=\"demo\", defaults={\"email\": \"demo@example.org\"})
u.set_password(os.environ[\"LAB_PASSWORD\"]); u.save()"' >/dev/null

    # The lab is up only when a real browser can use it as a user would.
    log "running the acceptance suite against it (acceptance/, a real Chromium)"
    if ! ACCEPTANCE_PROMETHEUS_PASSWORD="$(secret vault_prometheus_admin_password)" ACCEPTANCE_LANGUAGE=en \
        acceptance/run.sh --base-url "https://localhost:$tls_port" --ca-file="$(realpath "$state/ca/ca.crt")" --prometheus-url "http://127.0.0.1:$prom_port" \
        --prometheus-user admin --expected-targets "${LAB_EXPECTED_TARGETS:-7}" -q; then
        log "the lab's hosts are up but the acceptance suite FAILED (above: what failed; screenshots in acceptance/.artifacts)."
        log "Not printing the URLs of a site a user cannot use. Re-run it alone: make acceptance"
        exit 1
    fi

    cat <<MSG

BrefBoard lab is up, and the acceptance suite passed against it.
  BrefBoard   https://localhost:$tls_port   user demo, password $(secret lab_user_password)
              certificate from the lab's local CA: $state/ca/ca.crt (http://localhost:$web_port redirects)
  Prometheus  http://127.0.0.1:$prom_port   user admin, password $(secret vault_prometheus_admin_password)
              $prom_note
  Grafana     $grafana_note
  LLM         $llm_note
  Targets     http://127.0.0.1:$prom_port/targets
  Hosts       ${hosts[*]} (docker exec -it lab-web bash)
  Tear down   make lab-down
MSG
}

down() {
    for h in "${hosts[@]}"; do docker rm -f "$h" >/dev/null 2>&1 || true; done
    docker network rm "$network" >/dev/null 2>&1 || true
    log "lab removed (secrets kept in $state)"
}

case "${1:-}" in
up) up ;;
down) down ;;
*) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
