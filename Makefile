# Two commands do all the set-up on a fresh Debian 12 machine (root):
#   make up     local cluster in containers + site.yml
#   make test   every check CI runs
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: help host venv image artifacts deps lint unit test up down bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 12

host: ## install and start what the machine needs (docker.io, debootstrap, apt cache, maven)
	tests/setup-host.sh

venv: $(VENV)/.installed ## the Python virtualenv from requirements.txt

$(VENV)/.installed: requirements.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt -c constraints.txt
	touch $@

image: host ## the test hosts' base image (debootstrap + docker import), once
	tests/image/build-base-image.sh

artifacts: host ## release archives the tests install from (built locally)
	tests/fixtures/zookeeper-archive/build.sh >/dev/null

deps: host venv image artifacts

lint: venv ## ansible-lint (production profile) and yamllint
	$(BIN)/yamllint -s .
	$(BIN)/ansible-lint

unit: venv ## unit tests (no hosts)
	$(BIN)/pytest -q -p no:cacheprovider tests/unit

test: deps ## every check: lint, unit tests, every molecule scenario; ends with "N passed, N failed"
	$(BIN)/python tests/run_all.py

up: deps ## start the local cluster (containers) and run site.yml on it
	ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks $(BIN)/ansible-playbook -i inventories/local tests/cluster/up.yml
	@mkdir -p build; start=$$(date +%s); \
	  ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks $(BIN)/ansible-playbook -i inventories/local site.yml || exit 1; \
	  [ -f build/site-first-converge.seconds ] || echo $$(( $$(date +%s) - start )) > build/site-first-converge.seconds
# The tenant Marathon image (paas_marathon_image) in the cluster's registry, as the site scenario does.
	$(BIN)/ansible-playbook -i inventories/local tests/image/publish-marathon-image.yml
	$(BIN)/ansible-playbook -i inventories/local tests/cluster/info.yml

down: venv ## remove the local cluster
	$(BIN)/ansible-playbook -i inventories/local tests/cluster/down.yml
	rm -f build/site-first-converge.seconds

bench: up ## print speed figures (zk_namespace vs znode, adding tenants, ...)
	$(BIN)/python tests/bench/bench.py

clean: down ## remove the cluster, build output and the virtualenv
	rm -rf build $(VENV)
