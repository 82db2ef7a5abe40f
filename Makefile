# hbd: the daemon, its lab and its bench. Every target installs what it needs on a fresh Debian 12 (as root).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT_PACKAGES := python3-venv iproute2 socat nftables iptables libnetfilter-queue-dev python3-dev gcc procps docker.io debootstrap pacemaker-cli-utils crmsh
# pacemaker-cli-utils (crm_verify, for the tests of `hbd export pacemaker`) depends on pacemaker, hence corosync:
# `apt` installs them under a policy-rc.d that forbids starting services and disables the units they enabled,
# so `make setup` never starts a cluster on this host, now or at the next boot.
CLUSTER_SERVICES := corosync pacemaker
REPEAT ?= 3
PYTEST_ARGS ?=
FUZZ_CASES ?= 2000000

.PHONY: all setup apt venv demo test test-long unit lint fuzz bench deb clean distclean

all: test

setup: apt venv

# apt only when something is missing, so a second run costs nothing and works offline.
apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  new=""; for s in $(CLUSTER_SERVICES); do dpkg -s $$s >/dev/null 2>&1 || new="$$new $$s"; done; \
	  policy=/usr/sbin/policy-rc.d; own=""; \
	  if [ -n "$$new" ] && [ ! -e $$policy ]; then printf '#!/bin/sh\nexit 101\n' > $$policy && chmod 755 $$policy && own=1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; rc=$$?; \
	  if [ -n "$$own" ]; then rm -f $$policy; fi; \
	  for s in $$new; do systemctl disable --quiet $$s.service >/dev/null 2>&1 || true; done; \
	  exit $$rc; \
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
	$(BIN)/pytest -q -p no:cacheprovider -m "not long" $(PYTEST_ARGS); rc=$$?; $(BIN)/hblab clean >/dev/null 2>&1; exit $$rc

# The variations make test leaves out to stay under 20 minutes (more peers, mail and database scenarios on Docker).
test-long: setup
	$(BIN)/hblab clean
	$(BIN)/pytest -q -p no:cacheprovider -m long $(PYTEST_ARGS); rc=$$?; $(BIN)/hblab clean >/dev/null 2>&1; exit $$rc

# A seeded mutation fuzzer over the wire codec and the ha.cf/haresources/authkeys parsers (tests/fuzz/run.py;
# not collected by pytest, so not part of `make test`): any exception but the project's own fails it.
fuzz: venv
	$(BIN)/python -m tests.fuzz.run --cases $(FUZZ_CASES) --workers 2

bench: setup
	$(BIN)/hblab clean
	$(BIN)/hblab bench

# An installable Debian package of the daemon and hbctl (not the lab), made by Debian's own tools from
# debian/ (debhelper, pybuild with Debian's python3; dependencies are Debian's python3-* packages):
# build/deb/hbd_<version>_all.deb. Built in a copy of the tree (tracked and new files, not tests/), so the
# tree stays clean. Install: apt install ./build/deb/hbd_*_all.deb (the service is not enabled).
DEB_DIR := build/deb
# (the man pages are made from the programs' parsers, which import what the daemon imports)
DEB_BUILD_DEPS := debhelper dh-python pybuild-plugin-pyproject python3-all python3-setuptools python3-wheel \
  python3-prometheus-client python3-serial
deb:
	@missing=""; for p in $(DEB_BUILD_DEPS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/hbd
	git ls-files -co --exclude-standard -z | grep -zv -e '^tests/' -e '^experiments/' -e '^bench/' \
	  | tar --null --ignore-failed-read -T - -cf - | tar -xf - -C $(DEB_DIR)/hbd
	# Debian's python3 (/usr/bin), not one found earlier in PATH (pyenv, a venv)
	cd $(DEB_DIR)/hbd && env -u PYTHONPATH -u VIRTUAL_ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin dpkg-buildpackage -us -uc -b
	@ls $(DEB_DIR)/*.deb

clean:
	-$(BIN)/hblab clean

distclean: clean
	rm -rf $(VENV) runs build *.egg-info
