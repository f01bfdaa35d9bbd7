"""The partition writer on every SQL warehouse (#18): SQLite, PostgreSQL, MySQL/MariaDB and DuckDB.

PartitionedSQLOperator.execute() through a real Airflow connection of each type (the providers'
own hooks, via :mod:`airflow_dataops.warehouse`): a rerun replaces its partition and leaves the
others, failing rows go to ``<table>__quarantine``, ``fail`` mode publishes nothing, and
``partitions verify`` (by ``conn_id``) agrees with the ledger, then sees a tampered partition.
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import daily_departures
import pytest
import sqlalchemy as sa
from connections import connection_json

from airflow_dataops.exceptions import ContractViolation
from airflow_dataops.operators.partitioned import PartitionedSQLOperator

SQL = (
    "SELECT day, origin, COUNT(*) AS flights FROM raw_flights "
    "WHERE day = :partition_key AND carrier <> :skip_carrier GROUP BY day, origin"
)
ROWS = [
    *daily_departures.RAW_ROWS,
    ("2026-11-02 ", "LGA", "UA"),  # a key one trailing space away: its own partition
]


@pytest.fixture
def warehouse(any_warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    from airflow_dataops.store import StateStore

    monkeypatch.setenv("AIRFLOW__DATAOPS__STORE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    StateStore._shared.clear()
    monkeypatch.setenv("AIRFLOW_CONN_SQL_WH", connection_json(any_warehouse_url))
    engine = sa.create_engine(any_warehouse_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE raw_flights (day VARCHAR(20), origin VARCHAR(10), carrier VARCHAR(10))"
        )
        conn.execute(
            sa.text("INSERT INTO raw_flights VALUES (:d, :o, :c)"),
            [{"d": d, "o": o, "c": c} for d, o, c in ROWS],
        )
    yield engine
    engine.dispose()  # DuckDB: one process may hold the file; release it before the operator's engine
    StateStore._shared.clear()


contract = daily_departures.contract  # the fixture


def _run(contract: str, key: str, *, try_number: int = 1, **kwargs: Any) -> dict[str, Any]:
    op = PartitionedSQLOperator(
        task_id="daily_departures",
        conn_id="SQL_WH",
        sql=SQL,
        parameters={"skip_carrier": "ZZ"},
        table="daily_departures",
        partition_column="day",
        contract=contract,
        **kwargs,
    )
    ti = types.SimpleNamespace(dag_id="sql_dag", task_id="daily_departures", run_id=f"run_{key}_{try_number}",
                               try_number=try_number, dag_version_id=None)  # fmt: skip
    return op.execute({"ti": ti, "partition_key": key})


def _rows(engine: Any, table: str = "daily_departures") -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        t = sa.table(table, sa.column("day"), sa.column("origin"), sa.column("flights"))
        return sorted((d, o, int(f)) for d, o, f in conn.execute(sa.select(t.c.day, t.c.origin, t.c.flights)))


def _verify() -> dict[str, str]:
    from airflow_dataops.partitions.verify import verify_dataset
    from airflow_dataops.store import StateStore

    dataset = {"dataset": "daily_departures", "target_table": "daily_departures", "partition_column": "day",
               "conn_id": "SQL_WH", "dag_id": "sql_dag"}  # fmt: skip
    return {f.partition_key: f.status for f in verify_dataset(StateStore.from_settings(), dataset)}


def test_a_rerun_replaces_its_partition_and_verify_agrees(warehouse: Any, contract: str) -> None:
    from airflow_dataops.partitions.ledger import PartitionLedger
    from airflow_dataops.store import StateStore

    assert _run(contract, "2026-11-01")["rows_published"] == 2
    assert _run(contract, "2026-11-02 ")["rows_published"] == 1  # the neighbour with a trailing space
    with warehouse.begin() as conn:
        conn.exec_driver_sql("INSERT INTO raw_flights VALUES ('2026-11-01', 'EWR', 'AA')")
    PartitionLedger(StateStore.from_settings(), "daily_departures").request_rerun(
        ["2026-11-01"], reason="late rows", requested_by="test", dag_id="sql_dag"
    )
    summary = _run(contract, "2026-11-01", try_number=2)
    assert (summary["action"], summary["rows_published"]) == ("rerun", 3)
    assert _rows(warehouse) == [
        ("2026-11-01", "EWR", 1),
        ("2026-11-01", "JFK", 2),
        ("2026-11-01", "LGA", 1),
        ("2026-11-02 ", "LGA", 1),  # untouched, not mistaken for 2026-11-02 or deleted with it
    ]
    assert _verify() == {"2026-11-01": "ok", "2026-11-02 ": "ok"}
    with warehouse.begin() as conn:
        conn.exec_driver_sql("DELETE FROM daily_departures WHERE origin = 'EWR'")
    assert _verify() == {"2026-11-01": "rows_differ", "2026-11-02 ": "ok"}


def test_quarantine_mode_publishes_the_good_rows_and_quarantines_the_rest(
    warehouse: Any, contract: str
) -> None:
    summary = _run(contract, "2026-11-02", mode="quarantine")
    assert (summary["state"], summary["rows_published"], summary["rows_quarantined"]) == ("quarantined", 1, 1)
    assert _rows(warehouse) == [("2026-11-02", "EWR", 1)]
    with warehouse.connect() as conn:
        q = conn.exec_driver_sql(
            "SELECT origin, _dataops_partition_key, _dataops_rules FROM daily_departures__quarantine"
        ).all()
    assert [tuple(r) for r in q] == [("XXX", "2026-11-02", "daily_departures.origin.nycAirport;")]
    assert _verify() == {"2026-11-02": "ok"}


def test_the_gate_in_fail_mode_publishes_nothing(warehouse: Any, contract: str) -> None:
    _run(contract, "2026-11-01")
    with pytest.raises(ContractViolation, match="Nothing was published; the partition is unchanged"):
        _run(contract, "2026-11-02", mode="fail")
    assert _rows(warehouse) == [("2026-11-01", "JFK", 2), ("2026-11-01", "LGA", 1)]
    with warehouse.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
    assert not [t for t in tables if "__stage_" in t]  # no staging table left behind


@pytest.mark.mysql
def test_mysql_partition_column_of_inexact_collation_is_refused_before_any_delete(mysql_url: str) -> None:
    from airflow_dataops.partitions.tables import reflect_columns
    from airflow_dataops.partitions.writer import publish

    engine = sa.create_engine(mysql_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE tgt (day VARCHAR(20) COLLATE utf8mb4_general_ci, n INT)")
        conn.exec_driver_sql("INSERT INTO tgt VALUES ('X', 1), ('x ', 2)")
        conn.exec_driver_sql("CREATE TABLE stg (day VARCHAR(20), n INT)")
        conn.exec_driver_sql("INSERT INTO stg VALUES ('x', 3)")
    with pytest.raises(ValueError, match="partition column 'day' of 'tgt' has collation utf8mb4_general_ci"):
        publish(engine, stage=reflect_columns(engine, "stg"), target=reflect_columns(engine, "tgt"),
                partition_column="day", partition_key="x")  # fmt: skip
    with engine.connect() as conn:
        assert sorted(conn.exec_driver_sql("SELECT n FROM tgt").scalars()) == [1, 2]  # neither deleted
    engine.dispose()
