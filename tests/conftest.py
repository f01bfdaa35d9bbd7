"""Suite-wide setup: an isolated AIRFLOW_HOME, the real PostgreSQL from `make test`, and lineage capture.

Environment is set here, at import time, before any test module imports Airflow
(Airflow reads its configuration once per process).

Every OpenLineage event emitted while the suite runs goes to one file (the provider's
file transport); at the end of the session each one is validated against
the OpenLineage spec vendored in ``tests/spec/openlineage`` and our own facet schemas, and the session fails if any
is invalid.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
_SESSION_DIR = Path(os.environ.get("DATAOPS_TEST_TMP") or tempfile.mkdtemp(prefix="dataops-tests-"))
_SESSION_DIR.mkdir(parents=True, exist_ok=True)
LINEAGE_FILE = _SESSION_DIR / "lineage.jsonl"

os.environ.setdefault("AIRFLOW_HOME", str(_SESSION_DIR / "airflow"))
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ.setdefault("AIRFLOW__DATAOPS__STORE_URL", f"sqlite:///{_SESSION_DIR / 'dataops.db'}")
os.environ.setdefault(
    "AIRFLOW__OPENLINEAGE__TRANSPORT",
    json.dumps({"type": "file", "log_file_path": str(LINEAGE_FILE), "append": True}),
)
Path(os.environ["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "dags"))  # DAG modules importable as in Airflow (dags folder on sys.path)

PG_ADMIN_URL = os.environ.get("DATAOPS_TEST_PG_URL")
MYSQL_ADMIN_URL = os.environ.get("DATAOPS_TEST_MYSQL_URL")  # the MariaDB of scripts/mariadb.sh


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("DATAOPS_REQUIRE_PG") == "1" and not PG_ADMIN_URL:
        pytest.exit(
            "DATAOPS_REQUIRE_PG=1 but DATAOPS_TEST_PG_URL is not set: run the suite with `make test`", 2
        )
    if os.environ.get("DATAOPS_REQUIRE_MYSQL") == "1" and not MYSQL_ADMIN_URL:
        pytest.exit(
            "DATAOPS_REQUIRE_MYSQL=1 but DATAOPS_TEST_MYSQL_URL is not set: run the suite with `make test`", 2
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write docs/reliability.md from what the reliability tests measured, and validate every
    OpenLineage event the suite emitted against the spec."""
    import reliability_report

    _kill_leftover_children(session)

    reliability_report.write(int(exitstatus))
    if not LINEAGE_FILE.exists():
        return
    from lineage_validation import validate_file

    errors = validate_file(LINEAGE_FILE)
    count = sum(1 for line in LINEAGE_FILE.open() if line.strip())
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(
            f"lineage: {count} OpenLineage events captured in {LINEAGE_FILE}, {len(errors)} invalid"
        )
    if errors:
        if reporter is not None:
            for err in errors[:20]:
                reporter.write_line(f"  invalid event: {err}")
        session.exitstatus = 1


def _kill_leftover_children(session: pytest.Session) -> None:
    """Kill any crash-test child (``partition_workers.CHILD_NAME``) still running, and fail the session.

    Python joins its non-daemon children at exit, so one hung child would keep pytest (and CI)
    waiting forever after the summary is printed; it is killed here and the session fails instead.
    Other children (the OpenLineage listener's idle process pool) are not ours to judge."""
    import multiprocessing

    from partition_workers import CHILD_NAME

    left = [c for c in multiprocessing.active_children() if c.name == CHILD_NAME]
    for child in left:
        child.kill()
        child.join(timeout=10)
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"killed {len(left)} crash-test child process(es) left running: {left}")
        session.exitstatus = 1


# ---------------------------------------------------------------------------------- stores
def _fresh_database(admin_url: str | None, env: str, server: str, create: str) -> str:
    """A fresh, empty database on a throwaway server (``create`` names it with ``{name}``); its URL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    if not admin_url:
        pytest.skip(f"{env} is not set (make test starts a {server} server and sets it)")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(create.format(name=name)))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _fresh_pg_database() -> str:
    return _fresh_database(PG_ADMIN_URL, "DATAOPS_TEST_PG_URL", "PostgreSQL", 'CREATE DATABASE "{name}"')


def _fresh_mysql_database() -> str:
    return _fresh_database(MYSQL_ADMIN_URL, "DATAOPS_TEST_MYSQL_URL", "MariaDB", "CREATE DATABASE `{name}`")


@pytest.fixture
def pg_url() -> str:
    """A fresh, empty database on the throwaway PostgreSQL server."""
    return _fresh_pg_database()


@pytest.fixture
def mysql_url() -> str:
    """A fresh, empty database on the throwaway MariaDB server."""
    return _fresh_mysql_database()


@pytest.fixture
def pg_schema() -> Iterator[tuple[Any, str]]:
    """``(engine, schema)``: a fresh schema on the throwaway PostgreSQL server, dropped (with all it
    holds) and the engine disposed afterwards."""
    import sqlalchemy as sa

    if not PG_ADMIN_URL:
        pytest.skip("DATAOPS_TEST_PG_URL is not set (make test starts a PostgreSQL server and sets it)")
    engine = sa.create_engine(PG_ADMIN_URL)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield engine, schema
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def warehouse_of(kind: str, tmp_path: Path) -> str:
    """A fresh, empty warehouse of one kind: sqlite, postgres, mysql (MariaDB) or duckdb (a file)."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.db'}"
    if kind == "postgres":
        return _fresh_pg_database()
    if kind == "mysql":
        return _fresh_mysql_database()
    return f"duckdb+dataops:///{tmp_path / 'warehouse.duckdb'}"


#: The SQL warehouses every dialect-sensitive suite runs on (pytest params for ``warehouse_of``).
WAREHOUSE_KINDS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("mysql", marks=pytest.mark.mysql),
    "duckdb",
]


@pytest.fixture(params=WAREHOUSE_KINDS)
def any_warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on a SQLite file, PostgreSQL, MariaDB and a DuckDB file."""
    return warehouse_of(request.param, tmp_path)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on the embedded SQLite store and on real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return _fresh_pg_database()


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The ``dataops_warehouse`` connection the example and test DAGs write to, on a fresh SQLite file.

    A test module whose warehouse has another shape (a seeded table, another connection id, every
    dialect) defines a ``warehouse`` fixture of its own, which takes precedence over this one.
    """
    path = tmp_path / "warehouse.db"
    monkeypatch.setenv(
        "AIRFLOW_CONN_DATAOPS_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(path)})
    )
    return path


@pytest.fixture
def warehouse_url(store_url: str, tmp_path: Path) -> str:
    """A warehouse of the same kind as the store: a SQLite file, or a fresh PostgreSQL database."""
    if store_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'warehouse.db'}"
    return _fresh_pg_database()


@pytest.fixture
def store(store_url: str) -> Iterator[object]:
    from airflow_dataops.store import StateStore

    s = StateStore(store_url, connect_timeout=5)
    s.migrate()
    yield s
    s.dispose()


@pytest.fixture
def use_store(monkeypatch: pytest.MonkeyPatch, store_url: str) -> Iterator[str]:
    """Point [dataops] store_url at a fresh store for code that reads the settings."""
    from airflow_dataops.store import StateStore

    monkeypatch.setenv("AIRFLOW__DATAOPS__STORE_URL", store_url)
    StateStore._shared.clear()
    yield store_url
    StateStore._shared.clear()


# ---------------------------------------------------------------------------- SLI history
@pytest.fixture
def seed_slis() -> Any:
    """``seed_slis(store, dataset, last=…)``: the SLI history of a dataset that publishes regularly.

    ``n`` rows (10) of ``kind`` (freshness, unit ``s``; other kinds ``ratio``) with ``value`` and
    ``good``, the newest observed at ``last`` and each older one ``step`` (a day) before it.
    ``keys`` formats each row's partition key from ``i``, ``dataset`` and ``at`` (= ``last``):
    two calls with the same keys re-record those partitions (a rerun counts once), different keys
    add partitions.  ``slo=`` registers the dataset with that SLO block first (``sli_history.SLO_2D``
    is the usual one).
    """
    from sli_history import seed_slis

    return seed_slis


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Airflow's metadata DB (SQLite) in the session's AIRFLOW_HOME, migrated once: dag.test() needs it."""
    home = Path(os.environ["AIRFLOW_HOME"])
    marker = home / ".migrated"
    if not marker.exists():
        import subprocess

        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            check=True,
            timeout=300,
            stdout=subprocess.DEVNULL,
        )
        marker.touch()
    return home


# ----------------------------------------------------------------------- test-only DAGs
TEST_DAGS = ROOT / "tests" / "dags"


@pytest.fixture
def test_bundle(airflow_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """dag.test() syncs the DAG's bundle to the metadata DB: give the test DAGs a bundle of their own."""
    from airflow.configuration import conf

    bundles = json.loads(conf.get("dag_processor", "dag_bundle_config_list"))
    if not any(b.get("name") == "dataops-tests" for b in bundles):
        bundles.append(
            {
                "name": "dataops-tests",
                "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                "kwargs": {"path": str(TEST_DAGS)},
            }
        )
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps(bundles))


@pytest.fixture
def load_test_dag(test_bundle: None) -> Any:
    """``load_test_dag(file, dag_id)``: a DAG of the ``dataops-tests`` bundle, parsed without import errors."""

    def load(path: str, dag_id: str) -> Any:
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(TEST_DAGS / path), bundle_name="dataops-tests")
        assert not bag.import_errors, bag.import_errors
        return bag.get_dag(dag_id)

    return load
