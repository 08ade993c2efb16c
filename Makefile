# BrefBoard provisioning. `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export PATH := $(CURDIR)/.venv/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/collections
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# Role scenarios, in the order make test runs them.
SCENARIOS ?= node_exporter prometheus grafana brefboard site

.PHONY: help bootstrap lab lab-down test lint test-roles test-app test-engines test-dashboards molecule bench
help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

bootstrap: ## install Docker, debootstrap, the pinned controller tools and collections
	scripts/bootstrap.sh

lab: bootstrap ## bring up the lab containers, run site.yml, print where to look
	scripts/lab.sh up

lab-down: ## remove the lab containers
	scripts/lab.sh down

test: bootstrap lint test-roles test-dashboards test-engines test-app molecule ## everything CI runs
	@echo "make test: all suites passed"

lint: bootstrap ## yamllint, ansible-lint (production profile), syntax check of every playbook
	yamllint --strict .
	ansible-lint --profile production
	for p in site.yml playbooks/*.yml; do ansible-playbook --syntax-check -i inventory/lab/hosts.yml "$$p" >/dev/null; done

test-roles: bootstrap ## role specs and defaults agree; preflights reject bad input
	.venv/bin/pytest -q tests

test-app: ## the Django app: real Redis, Celery, Whisper, browser
	scripts/test-app.sh

test-engines: ## openai-whisper engine and the checkpoint converter (CPU PyTorch)
	scripts/test-engines.sh

test-dashboards: ## dashboards regenerate identically; alert rules pass promtool tests
	scripts/test-dashboards.sh

molecule: bootstrap ## every role scenario: create, converge, idempotence, verify, destroy
	for s in $(SCENARIOS); do \
	  if [ -f molecule/$$s/molecule.yml ]; then echo "== molecule $$s"; molecule test -s $$s; fi; \
	done
