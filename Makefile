# airflow-dataops: `make demo` and `make test` work on a fresh clone with nothing but Python 3.10+.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# Where `scripts/pg.sh start` records its throwaway cluster (itself in a private dir under the system temp dir).
PGSTATE := $(CURDIR)/.pgtest.state
# Where `scripts/mariadb.sh start` records its throwaway MariaDB server (the MySQL/MariaDB warehouse).
MYSTATE := $(CURDIR)/.mysqltest.state
# The MySQL provider's driver (mysqlclient) is compiled: installed after system-deps brought its headers.
MYSQL_STAMP := $(VENV)/.mysql-stamp
ARTIFACTS := $(CURDIR)/.test-artifacts
PYTEST_ARGS ?=
# A hung suite fails loudly instead of running out CI's clock: after this many seconds pytest gets
# SIGINT (it prints where it was and its summary), and SIGKILL two minutes later. The suite takes
# about 18 minutes on 2 cores.
SUITE_TIMEOUT ?= 3600

.PHONY: help install demo airflow trigger test test-fast lint typecheck bench clean system-deps docs soak

help:
	@echo "make demo   - install, then run the nycflights DAG for three partitions and print a summary"
	@echo "make airflow - a real local Airflow (scheduler, dag-processor, triggerer, api-server) on the demo's data"
	@echo "make trigger KEY=YYYY-MM-DD [DAG=nycflights_daily] - run one partition on that Airflow"
	@echo "make test   - install, start a throwaway PostgreSQL, lint, type-check and run the whole suite"
	@echo "make bench  - run the benchmarks and write docs/benchmarks.md"
	@echo "make docs   - regenerate docs/cli.md (from the airflow dataops parser) and docs/reference.md (from the API)"
	@echo "make soak   - the reliability suite with 10x the crash runs and concurrency rounds"

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check uv
	@$(VENV)/bin/uv pip install -q --python $(PY) -e ".[test]"
	@touch $@

install: $(STAMP)

$(MYSQL_STAMP): $(STAMP)
	@$(VENV)/bin/uv pip install -q --python $(PY) -e ".[test,mysql]"
	@touch $@

demo: $(STAMP)
	@$(PY) scripts/demo.py

# A real local Airflow on the embedded default (docs/local.md); Ctrl-C stops it.
airflow: $(STAMP)
	@$(PY) scripts/local_airflow.py

DAG ?= nycflights_daily
NOTE ?= requested with make trigger
# A partitioned run by key on the `make airflow` stack, through Airflow's REST API (docs/local.md).
trigger: $(STAMP)
	@test -n "$(KEY)" || { echo "usage: make trigger KEY=YYYY-MM-DD [DAG=$(DAG)] [NOTE=...]" >&2; exit 2; }
	@$(PY) scripts/local_airflow.py trigger "$(DAG)" "$(KEY)" "$(NOTE)"

# Debian packages the full suite needs: a PostgreSQL server (binaries only; we start our own
# cluster) and Chromium for the UI tests.  Installed only when missing, and only as root.
system-deps:
	@bash scripts/system_deps.sh

lint: $(STAMP)
	@$(VENV)/bin/ruff check airflow_dataops tests dags bench scripts
	@$(VENV)/bin/ruff format --check airflow_dataops tests dags bench scripts
	@$(VENV)/bin/mypy

typecheck: lint

test: $(STAMP) system-deps $(MYSQL_STAMP) lint
	@mkdir -p $(ARTIFACTS)
	@set -e; \
	url=$$(bash scripts/pg.sh start "$(PGSTATE)"); \
	trap 'bash scripts/pg.sh stop "$(PGSTATE)"' EXIT; \
	echo "throwaway PostgreSQL: $$url"; \
	myurl=$$(bash scripts/mariadb.sh start "$(MYSTATE)"); \
	trap 'bash scripts/pg.sh stop "$(PGSTATE)"; bash scripts/mariadb.sh stop "$(MYSTATE)"' EXIT; \
	echo "throwaway MariaDB: $$myurl"; \
	DATAOPS_TEST_MYSQL_URL="$$myurl" DATAOPS_REQUIRE_MYSQL=1 \
	DATAOPS_TEST_PG_URL="$$url" DATAOPS_REQUIRE_PG=1 DATAOPS_WRITE_REPORTS=1 \
	timeout --foreground --signal=INT --kill-after=120 $(SUITE_TIMEOUT) $(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	@$(PY) -m pytest -m "not scheduler and not slow" $(PYTEST_ARGS)

# A longer soak of the reliability suite (10x the crash runs and concurrency rounds of `make test`).
soak: $(STAMP) system-deps
	@set -e; \
	url=$$(bash scripts/pg.sh start "$(PGSTATE)"); \
	trap 'bash scripts/pg.sh stop "$(PGSTATE)"' EXIT; \
	DATAOPS_TEST_PG_URL="$$url" DATAOPS_REQUIRE_PG=1 DATAOPS_CRASH_RUNS=1000 DATAOPS_CONCURRENCY_ROUNDS=200 DATAOPS_ROLLBACK_CRASH_RUNS=240 \
	$(PY) -m pytest tests/reliability $(PYTEST_ARGS)

bench: $(STAMP) system-deps $(MYSQL_STAMP)
	@$(PY) -m bench.bench_contracts
	@$(PY) -m bench.bench_dialects
	@$(PY) -m bench.bench_contract_load
	@$(PY) -m bench.bench_slo
	@$(PY) -m bench.bench_ui
	@$(PY) -m bench.bench_partitions
	@$(PY) -m bench.bench_rollback
	@$(PY) -m bench.bench_scaleout

docs: $(STAMP)
	@$(PY) scripts/gen_cli_docs.py --write
	@$(PY) scripts/gen_reference_docs.py --write

clean:
	@test ! -f $(PGSTATE) || bash scripts/pg.sh stop "$(PGSTATE)"
	@test ! -f $(MYSTATE) || bash scripts/mariadb.sh stop "$(MYSTATE)"
	rm -rf $(VENV) .demo .pgtest.state .mysqltest.state .test-artifacts .pytest_cache .mypy_cache .ruff_cache
