"""Outages: a state store that is down or read-only fails the gate closed; a warehouse connection
that drops mid-publish rolls back, leaves the partition unchanged and marks the attempt failed."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from connections import connection_json
from reliability_report import record
from sqlalchemy import create_engine, inspect, text

from airflow_dataops.exceptions import StoreError
from airflow_dataops.operators.partitioned import DataFramePartitionOperator
from airflow_dataops.store import StateStore
from airflow_dataops.store.ledger import history

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = str(ROOT / "dags" / "contracts" / "flights.odcs.yaml")


def _context(run_id: str = "manual__outage", attempt: int = 1) -> dict:
    ti = SimpleNamespace(
        dag_id="outage_dag", task_id="load", run_id=run_id, try_number=attempt, dag_version_id=None
    )
    return {"ti": ti, "run_id": run_id, "outlet_events": None}


def _operator(key: str) -> DataFramePartitionOperator:
    import nycflights_daily

    return DataFramePartitionOperator(
        task_id="load",
        python_callable=nycflights_daily.flights_for_day,
        conn_id="dataops_warehouse",
        table="flights",
        partition_column="flight_date",
        contract=CONTRACT,
        partition_key=key,
    )


@pytest.fixture(autouse=True)
def _fresh_store_cache():
    StateStore._shared.clear()
    yield
    StateStore._shared.clear()


def test_a_store_that_is_down_fails_closed_and_publishes_nothing(warehouse: Path, monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW__DATAOPS__STORE_URL", "postgresql+psycopg2://dataops:pw@127.0.0.1:1/dataops")
    monkeypatch.setenv("AIRFLOW__DATAOPS__STORE_CONNECT_TIMEOUT", "2")
    with pytest.raises(
        StoreError,
        match=r"dataops state store postgresql\+psycopg2://dataops:\*\*\*@127.0.0.1:1/dataops cannot be used",
    ):
        _operator("2026-10-01").execute(_context())
    assert not warehouse.exists() or not inspect(create_engine(f"sqlite:///{warehouse}")).has_table("flights")


def test_a_read_only_store_fails_closed_and_publishes_nothing(
    warehouse: Path, tmp_path: Path, monkeypatch
) -> None:
    db = tmp_path / "store.db"
    StateStore(f"sqlite:///{db}").migrate()
    monkeypatch.setenv("AIRFLOW__DATAOPS__STORE_URL", f"sqlite:///file:{db}?mode=ro&uri=true")
    with pytest.raises(StoreError, match="cannot be used: attempt to write a readonly database"):
        _operator("2026-10-01").execute(_context())
    assert not warehouse.exists() or not inspect(create_engine(f"sqlite:///{warehouse}")).has_table("flights")


@pytest.mark.postgres
def test_a_warehouse_connection_dropped_mid_publish_rolls_back(
    pg_url: str, sqlite_url: str, monkeypatch
) -> None:
    from airflow_dataops.partitions import writer

    monkeypatch.setenv("AIRFLOW_CONN_DATAOPS_WAREHOUSE", connection_json(pg_url))
    monkeypatch.setenv("AIRFLOW__DATAOPS__STORE_URL", sqlite_url)
    key = "2026-10-02"
    first = _operator(key).execute(_context(run_id="manual__first"))
    engine = create_engine(pg_url)
    with engine.connect() as c:
        before = c.execute(
            text("SELECT COUNT(*) FROM flights WHERE flight_date = :k"), {"k": key}
        ).scalar_one()
    assert before == first["rows_published"] > 0

    store = StateStore(sqlite_url)
    from airflow_dataops.partitions.ledger import PartitionLedger

    PartitionLedger(store, "flights").request_rerun(
        [key], reason="outage drill", requested_by="test", dag_id="outage_dag"
    )
    real_publish = writer.publish

    def publish_then_drop(engine, **kwargs):
        def drop_connection() -> None:  # the warehouse kills our session just before COMMIT
            admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle in transaction'"
                    )
                )
            admin.dispose()

        return real_publish(engine, before_commit=drop_connection, **kwargs)

    monkeypatch.setattr(writer, "publish", publish_then_drop)
    with pytest.raises(Exception) as info:
        _operator(key).execute(_context(run_id="manual__first", attempt=2))
    assert "terminat" in str(info.value).lower() or "closed" in str(info.value).lower()
    with engine.connect() as c:
        after = c.execute(
            text("SELECT COUNT(*) FROM flights WHERE flight_date = :k"), {"k": key}
        ).scalar_one()
    assert after == before  # unchanged: the replacing transaction was rolled back
    entries = history(store, "flights", key)
    assert (entries[-1].action, entries[-1].state) == ("rerun", "failed")
    state = PartitionLedger(store, "flights").state(key)
    assert (state.state, state.rows_published) == ("applied", before)  # the ledger still matches the target
    record(
        "outage-warehouse",
        scenario="Warehouse (PostgreSQL) session killed just before the publish COMMIT",
        runs=1,
        result=f"rolled back; partition unchanged ({after} rows); attempt recorded failed; ledger = target",
    )
    record(
        "outage-store",
        scenario="State store down (closed port) or read-only (SQLite mode=ro)",
        runs=2,
        result="gate fails closed with StoreError naming the store; warehouse untouched",
    )


# ------------------------------------------------------------------------------ readers
def _read_command(command: str, target: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from airflow_dataops.cli import commands

    capsys.readouterr()
    try:
        getattr(commands, command)(SimpleNamespace(target=target, since=None, output="table"))
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


READ_COMMANDS = ("partitions_status", "partitions_verify", "db_status")


def test_read_commands_work_on_a_read_only_store_while_a_writer_holds_its_lock(
    warehouse: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    import sqlite3

    db = tmp_path / "store.db"
    monkeypatch.setenv("AIRFLOW__DATAOPS__STORE_URL", f"sqlite:///{db}")
    key = "2026-10-03"
    published = _operator(key).execute(_context())["rows_published"]
    StateStore._shared.clear()
    holder = sqlite3.connect(db, isolation_level=None)  # a task in the middle of a ledger decision
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("DELETE FROM dataops_rerun_requests")
    outcomes = []
    try:
        monkeypatch.setenv("AIRFLOW__DATAOPS__STORE_CONNECT_TIMEOUT", "1")
        for url in (f"sqlite:///{db}", f"sqlite:///file:{db}?mode=ro&uri=true"):
            monkeypatch.setenv("AIRFLOW__DATAOPS__STORE_URL", url)
            StateStore._shared.clear()
            for command in READ_COMMANDS:
                code, _out, err = _read_command(command, "flights", capsys)
                assert (code, err) == (0, ""), (url, command, err)
                outcomes.append(command)
            status = _read_command("partitions_status", "flights", capsys)[1].split()
            assert {key, "applied", str(published)} <= set(status)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    record(
        "store-readers",
        scenario="partitions status/verify and db status on a SQLite store write-locked by another "
        "connection (BEGIN IMMEDIATE), opened read-write and read-only (mode=ro)",
        runs=len(outcomes),
        result=f"{len(outcomes)} of {len(outcomes)} answered (exit 0) without waiting for the lock; "
        "nothing migrated or written",
    )


def test_a_store_url_that_points_nowhere_creates_nothing(tmp_path: Path, monkeypatch, capsys) -> None:
    runs = 0
    for db in (tmp_path / "typo.db", tmp_path / "no-such-dir" / "dataops.db"):
        monkeypatch.setenv("AIRFLOW__DATAOPS__STORE_URL", f"sqlite:///{db}")
        for command in READ_COMMANDS:
            StateStore._shared.clear()
            code, _out, err = _read_command(command, "outage_dag", capsys)
            assert code != 0
            assert err.startswith(f"error: dataops state store sqlite:///{db} does not exist (")
            assert err.count("\n") == 1 and "Traceback" not in err
            runs += 1
    assert list(tmp_path.iterdir()) == []
    record(
        "store-missing",
        scenario="read commands (partitions status/verify, db status) on a store path whose file or folder "
        "does not exist",
        runs=runs,
        result=f"{runs} of {runs}: one-line error naming the path and `airflow dataops db migrate`; 0 files created",
    )
