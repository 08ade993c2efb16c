# BrefBoard provisioning. `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export PATH := $(CURDIR)/.venv/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/collections
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# Role scenarios, in the order make test runs them.
SCENARIOS ?= monitoring single site
# make acceptance: the deployed site to drive (see acceptance/README.md).
URL ?= https://localhost:8443
# The CA the browser trusts for URL: the lab's local one when it exists.
CA_FILE ?= $(abspath $(wildcard .cache/lab/ca/ca.crt))
PROMETHEUS_URL ?= http://127.0.0.1:9090
PROMETHEUS_USER ?= admin

.PHONY: help bootstrap lab lab-down check test lint test-roles test-role-specs test-app test-app-fast test-engines test-dashboards molecule acceptance
help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

bootstrap: ## install Docker, debootstrap, the pinned controller tools and collections
	scripts/bootstrap.sh

lab: bootstrap ## bring up the lab containers, run site.yml, print where to look
	scripts/lab.sh up

lab-down: ## remove the lab containers
	scripts/lab.sh down

check: bootstrap lint test-role-specs test-dashboards test-app-fast ## the inner loop, under 5 minutes: lint, role specs, dashboards and rules, the app tests that start no worker or browser
	@echo "make check: passed"

TEST_SUITES := lint test-roles test-dashboards test-engines test-app molecule
test: bootstrap ## everything CI runs, each suite timed
	@for t in $(TEST_SUITES); do \
	  t0=$$(date +%s); $(MAKE) --no-print-directory $$t; echo "== make $$t: passed in $$(( $$(date +%s) - t0 )) s"; \
	done
	@echo "make test: all suites passed"

lint: bootstrap ## yamllint, ansible-lint (production profile), syntax check of every playbook with every inventory
	yamllint --strict .
	ansible-lint --profile production
	for inv in lab single production; do \
	  for p in site.yml playbooks/*.yml; do ansible-playbook --syntax-check -i inventory/$$inv/hosts.yml "$$p" >/dev/null; done; \
	done

test-roles: bootstrap ## the roles rendered by ansible on this machine: specs = defaults = README tables, units, env file, scrape targets (promtool), filters, tags, release downloads
	.venv/bin/pytest -q -n auto tests

test-role-specs: bootstrap ## each role's argument spec agrees with its defaults and its README table (the quick part of test-roles)
	.venv/bin/pytest -q tests/test_role_specs.py

test-app: ## the Django app: real Redis, Celery, Whisper, browser
	scripts/test-app.sh

test-app-fast: ## the app tests that start no Celery worker, no browser and no French model
	BREFBOARD_SKIP_POSTGRES=1 scripts/test-app.sh -q -m 'not worker and not browser and not french'

acceptance: ## a real browser against a deployed site: make acceptance URL=... PROMETHEUS_URL=... [CA_FILE=...] [READ_ONLY=1] [EXPECTED_TARGETS=6]
	ACCEPTANCE_PROMETHEUS_PASSWORD="$${ACCEPTANCE_PROMETHEUS_PASSWORD:-$$(sed -n 's/^vault_prometheus_admin_password: "\(.*\)"$$/\1/p' .cache/lab/secrets.yml 2>/dev/null)}" \
	ACCEPTANCE_READ_ONLY='$(READ_ONLY)' \
	acceptance/run.sh --base-url '$(URL)' --prometheus-url '$(PROMETHEUS_URL)' --prometheus-user '$(PROMETHEUS_USER)' \
	  $(if $(CA_FILE),--ca-file='$(CA_FILE)') $(if $(EXPECTED_TARGETS),--expected-targets '$(EXPECTED_TARGETS)') $(ARGS)

test-engines: ## openai-whisper engine and the checkpoint converter (CPU PyTorch)
	scripts/test-engines.sh

test-dashboards: ## dashboards regenerate identically; alert rules pass promtool tests
	scripts/test-dashboards.sh

molecule: bootstrap ## every role scenario: create, converge, idempotence, verify, destroy
	for s in $(SCENARIOS); do \
	  if [ -f molecule/$$s/molecule.yml ]; then \
	    echo "== molecule $$s"; t0=$$(date +%s); molecule test -s $$s; echo "== molecule $$s: passed in $$(( $$(date +%s) - t0 )) s"; \
	  fi; \
	done
