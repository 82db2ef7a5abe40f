# hbd: the daemon, its lab and its bench. Every target installs what it needs on a fresh Debian 12 (as root).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT_PACKAGES := python3-venv iproute2 socat nftables procps docker.io debootstrap pacemaker-cli-utils
REPEAT ?= 3
PYTEST_ARGS ?=
FUZZ_CASES ?= 2000000

.PHONY: all setup apt venv demo test unit lint fuzz bench clean distclean

all: test

setup: apt venv

# apt only when something is missing, so a second run costs nothing and works offline.
apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[lab,dev]'
	touch $@

# The main job: the lab replays the article's test plan on network namespaces and prints the latency table.
demo: setup
	$(BIN)/hblab clean
	$(BIN)/hblab experiment article-test-plan --repeat $(REPEAT)

# mypy --strict on the layers everything else builds on (the pure core, the wire codec, the config parsers).
lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy --strict hbd/core hbd/wire hbd/config

unit: venv
	$(BIN)/pytest -q tests/unit tests/property $(PYTEST_ARGS)

# Everything: lint, unit, property, real namespaces, and the Docker backend (the fixtures start dockerd
# when it is not running and stop exactly what they started).
test: setup lint
	$(BIN)/hblab clean
	$(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS); rc=$$?; $(BIN)/hblab clean >/dev/null 2>&1; exit $$rc

# A seeded mutation fuzzer over the wire codec and the ha.cf/haresources/authkeys parsers (tests/fuzz/run.py;
# not collected by pytest, so not part of `make test`): any exception but the project's own fails it.
fuzz: venv
	$(BIN)/python -m tests.fuzz.run --cases $(FUZZ_CASES) --workers 2

bench: setup
	$(BIN)/hblab clean
	$(BIN)/hblab bench

clean:
	-$(BIN)/hblab clean

distclean: clean
	rm -rf $(VENV) runs build *.egg-info
