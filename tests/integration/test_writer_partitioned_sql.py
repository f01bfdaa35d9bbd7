"""PartitionedSQLOperator.execute() with a minimal real context: stage from SQL with ``:partition_key``
bound, gate on the staged rows, replace the partition; on SQLite and PostgreSQL stores.
"""

from __future__ import annotations

import json
import sqlite3
import types
from pathlib import Path
from typing import Any

import daily_departures
import pytest

from airflow_dataops.exceptions import ContractViolation
from airflow_dataops.operators.partitioned import PartitionedSQLOperator

# CAST: SQLite's CREATE TABLE … AS SELECT gives a bare COUNT(*) no declared type, which the writer
# cannot yet turn into the target's DDL (see test_an_untyped_expression_column_can_be_published).
SQL = (
    "SELECT day, origin, CAST(COUNT(*) AS INTEGER) AS flights FROM raw_flights "
    "WHERE day = :partition_key AND carrier <> :skip_carrier GROUP BY day, origin"
)
HOSTILE = "2026-11-03'; DROP TABLE raw_flights; --"


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, use_store: str) -> Path:
    path = tmp_path / "warehouse.db"
    monkeypatch.setenv("AIRFLOW_CONN_SQL_WH", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    rows = [*daily_departures.RAW_ROWS, (HOSTILE, "LGA", "DL")]
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE raw_flights (day TEXT, origin TEXT, carrier TEXT)")
        conn.executemany("INSERT INTO raw_flights VALUES (?, ?, ?)", rows)
    return path


contract = daily_departures.contract  # the fixture


def _op(contract: str | None, sql: str = SQL, **kwargs: Any) -> PartitionedSQLOperator:
    return PartitionedSQLOperator(
        task_id="daily_departures",
        conn_id="SQL_WH",
        sql=sql,
        parameters={"skip_carrier": "ZZ"},
        table="daily_departures",
        partition_column="day",
        contract=contract,
        **kwargs,
    )


def _context(key: str, try_number: int = 1, run_id: str = "scheduled__x") -> dict[str, Any]:
    ti = types.SimpleNamespace(dag_id="sql_dag", task_id="daily_departures", run_id=run_id,
                               try_number=try_number, dag_version_id=None)  # fmt: skip
    return {"ti": ti, "partition_key": key}


def _target(path: Path, key: str | None = None) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        if key is None:
            return sorted(conn.execute("SELECT day, origin, flights FROM daily_departures").fetchall())
        return sorted(
            conn.execute("SELECT day, origin, flights FROM daily_departures WHERE day = ?", (key,)).fetchall()
        )


def test_stages_from_sql_with_the_key_bound_gates_and_publishes(warehouse: Path, contract: str) -> None:
    summary = _op(contract).execute(_context("2026-11-01"))
    assert (summary["dataset"], summary["state"], summary["rows_published"]) == (
        "daily_departures",
        "applied",
        2,
    )
    assert summary["gate"]["verdict"] == "passed"
    assert _target(warehouse) == [("2026-11-01", "JFK", 2), ("2026-11-01", "LGA", 1)]
    with sqlite3.connect(warehouse) as conn:  # the staging table is gone
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert names == {"raw_flights", "daily_departures"}


def test_a_rerun_replaces_the_partition_and_leaves_the_others(warehouse: Path, contract: str) -> None:
    from airflow_dataops.partitions.ledger import PartitionLedger
    from airflow_dataops.store import StateStore

    _op(contract).execute(_context("2026-11-01"))
    _op(contract, mode="quarantine").execute(_context("2026-11-02"))
    with sqlite3.connect(warehouse) as conn:
        conn.execute("INSERT INTO raw_flights VALUES ('2026-11-01', 'EWR', 'AA')")
    PartitionLedger(StateStore.from_settings(), "daily_departures").request_rerun(
        ["2026-11-01"], reason="late rows", requested_by="test", dag_id="sql_dag"
    )
    summary = _op(contract).execute(_context("2026-11-01", try_number=2))
    assert (summary["action"], summary["rows_published"]) == ("rerun", 3)
    assert _target(warehouse, "2026-11-01") == [
        ("2026-11-01", "EWR", 1),
        ("2026-11-01", "JFK", 2),
        ("2026-11-01", "LGA", 1),
    ]
    assert _target(warehouse, "2026-11-02") == [("2026-11-02", "EWR", 1)]  # untouched (XXX quarantined)


def test_the_gate_in_fail_mode_publishes_nothing(warehouse: Path, contract: str) -> None:
    with pytest.raises(ContractViolation, match="Nothing was published; the partition is unchanged"):
        _op(contract, mode="fail").execute(_context("2026-11-02"))
    with sqlite3.connect(warehouse) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "daily_departures" not in names or _target(warehouse, "2026-11-02") == []
    from airflow_dataops.partitions.ledger import PartitionLedger
    from airflow_dataops.store import StateStore

    state = PartitionLedger(StateStore.from_settings(), "daily_departures").state("2026-11-02")
    assert (state.state, state.gate_verdict) == ("failed", "failed")


def test_quarantine_mode_publishes_the_good_rows_and_quarantines_the_rest(
    warehouse: Path, contract: str
) -> None:
    summary = _op(contract, mode="quarantine").execute(_context("2026-11-02"))
    assert (summary["state"], summary["rows_published"], summary["rows_quarantined"]) == ("quarantined", 1, 1)
    with sqlite3.connect(warehouse) as conn:
        q = conn.execute(
            "SELECT origin, _dataops_partition_key, _dataops_rules FROM daily_departures__quarantine"
        ).fetchall()
    assert q == [("XXX", "2026-11-02", "daily_departures.origin.nycAirport;")]


def test_a_hostile_key_is_bound_not_spliced(warehouse: Path) -> None:
    summary = _op(None).execute(_context(HOSTILE))
    assert summary["rows_published"] == 1
    assert _target(warehouse, HOSTILE) == [(HOSTILE, "LGA", 1)]
    with sqlite3.connect(warehouse) as conn:
        assert conn.execute("SELECT COUNT(*) FROM raw_flights").fetchone()[0] == 7


def test_an_untyped_expression_column_can_be_published(warehouse: Path, contract: str) -> None:
    summary = _op(contract, sql=SQL.replace("CAST(COUNT(*) AS INTEGER)", "COUNT(*)")).execute(
        _context("2026-11-01")
    )
    assert summary["rows_published"] == 2
    assert _target(warehouse) == [("2026-11-01", "JFK", 2), ("2026-11-01", "LGA", 1)]
