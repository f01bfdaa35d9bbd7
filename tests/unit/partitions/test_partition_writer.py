"""Write-audit-publish on a real SQLite warehouse: replace, never append; quarantine exactly; checksums."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, MetaData, Table, create_engine, func, select, text

from airflow_dataops.partitions.quarantine import RowRule
from airflow_dataops.partitions.writer import (
    ensure_target,
    partition_checksum,
    publish,
    stage_frame,
)


@pytest.fixture
def warehouse(tmp_path: Path) -> Engine:
    return create_engine(f"sqlite:///{tmp_path / 'warehouse.db'}")


def _frame(key: str, n: int, *, bad: int = 0) -> pd.DataFrame:
    origins = ["JFK"] * (n - bad) + ["XXX"] * bad
    return pd.DataFrame({"flight": range(n), "origin": origins, "day": [key] * n})


def _write(engine: Engine, key: str, frame: pd.DataFrame, rules=()):
    stage = stage_frame(engine, frame, table="flights", partition_key=key)
    target = ensure_target(engine, stage, table="flights")
    return publish(
        engine,
        stage=stage,
        target=target,
        partition_column="day",
        partition_key=key,
        quarantine_rules=rules,
        run_id="r1",
    )


def _count(engine: Engine, table: str, key: str | None = None) -> int:
    t = Table(table, MetaData(), autoload_with=engine)
    q = select(func.count()).select_from(t)
    if key is not None:
        q = q.where(t.c.day == key)
    with engine.connect() as conn:
        return int(conn.execute(q).scalar_one())


def test_rewriting_a_partition_replaces_it_and_leaves_others_alone(warehouse: Engine) -> None:
    _write(warehouse, "2026-11-01", _frame("2026-11-01", 5))
    _write(warehouse, "2026-11-02", _frame("2026-11-02", 7))
    result = _write(warehouse, "2026-11-01", _frame("2026-11-01", 3))
    assert (result.rows_in, result.rows_published, result.rows_quarantined) == (3, 3, 0)
    assert _count(warehouse, "flights", "2026-11-01") == 3
    assert _count(warehouse, "flights", "2026-11-02") == 7


def test_quarantined_plus_published_equals_input_exactly(warehouse: Engine) -> None:
    from sqlalchemy import column

    rule = RowRule(name="flights.origin.nycAirport", failing=column("origin").not_in(["EWR", "JFK", "LGA"]))
    result = _write(warehouse, "2026-11-01", _frame("2026-11-01", 10, bad=3), rules=[rule])
    assert (result.rows_in, result.rows_published, result.rows_quarantined) == (10, 7, 3)
    with warehouse.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT origin, _dataops_partition_key, _dataops_rules, _dataops_run_id FROM flights__quarantine"
            )
        ).all()
    assert rows == [("XXX", "2026-11-01", "flights.origin.nycAirport;", "r1")] * 3
    # a rerun of the partition replaces its quarantined rows too
    result = _write(warehouse, "2026-11-01", _frame("2026-11-01", 10, bad=1), rules=[rule])
    assert _count(warehouse, "flights__quarantine") == 1
    assert result.rows_published + result.rows_quarantined == 10


def test_a_rerun_without_quarantine_rules_still_empties_the_partitions_old_rejects(
    warehouse_url: str,
) -> None:
    """The contract dropped its quarantine rule (or the rerun runs in fail/warn mode): the partition's
    earlier rejects must not stay beside its new rows; other partitions' rejects stay.  SQLite and
    PostgreSQL."""
    from sqlalchemy import column

    warehouse = create_engine(warehouse_url)

    rule = RowRule(name="flights.origin.nycAirport", failing=column("origin").not_in(["EWR", "JFK", "LGA"]))
    _write(warehouse, "2026-11-01", _frame("2026-11-01", 10, bad=3), rules=[rule])
    _write(warehouse, "2026-11-02", _frame("2026-11-02", 4, bad=2), rules=[rule])
    assert _count(warehouse, "flights__quarantine") == 5
    result = _write(warehouse, "2026-11-01", _frame("2026-11-01", 6))  # no rules now
    assert (result.rows_published, result.rows_quarantined) == (6, 0)
    with warehouse.connect() as conn:
        left = conn.execute(
            text("SELECT _dataops_partition_key, COUNT(*) FROM flights__quarantine GROUP BY 1")
        ).all()
    assert left == [("2026-11-02", 2)]


def test_no_quarantine_table_is_created_without_quarantine_rules(warehouse: Engine) -> None:
    from sqlalchemy import inspect

    _write(warehouse, "2026-11-01", _frame("2026-11-01", 3))
    _write(warehouse, "2026-11-01", _frame("2026-11-01", 3))
    assert not inspect(warehouse).has_table("flights__quarantine")


def test_a_long_table_name_publishes_and_only_a_quarantine_is_refused(warehouse: Engine) -> None:
    """Staging and kept versions shorten a long name with a hash; the quarantine refuses one (its name
    is what people query), which must not stop a write that quarantines nothing."""
    from sqlalchemy.sql import column

    table = "t" * 55  # "<table>__quarantine" would be 67 characters
    stage = stage_frame(warehouse, _frame("k", 2), table=table, partition_key="k")
    target = ensure_target(warehouse, stage, table=table)
    result = publish(warehouse, stage=stage, target=target, partition_column="day", partition_key="k")
    assert (result.rows_in, result.rows_published) == (2, 2)
    rule = RowRule(name="flights.origin.nycAirport", failing=column("origin").not_in(["EWR", "JFK", "LGA"]))
    stage = stage_frame(warehouse, _frame("k", 2), table=table, partition_key="k")
    with pytest.raises(ValueError, match=f"quarantine table name '{table}__quarantine' is longer than 63"):
        publish(
            warehouse,
            stage=stage,
            target=target,
            partition_column="day",
            partition_key="k",
            quarantine_rules=[rule],
        )
    assert _count(warehouse, table, "k") == 2


def test_a_failure_before_commit_leaves_the_partition_as_it_was(warehouse: Engine) -> None:
    _write(warehouse, "2026-11-01", _frame("2026-11-01", 5))
    stage = stage_frame(warehouse, _frame("2026-11-01", 2), table="flights", partition_key="2026-11-01")
    target = ensure_target(warehouse, stage, table="flights")

    def crash() -> None:
        raise ConnectionError("warehouse connection dropped")

    with pytest.raises(ConnectionError):
        publish(
            warehouse,
            stage=stage,
            target=target,
            partition_column="day",
            partition_key="2026-11-01",
            before_commit=crash,
        )
    assert _count(warehouse, "flights", "2026-11-01") == 5


def test_checksum_ignores_row_order_but_sees_duplicates(warehouse: Engine) -> None:
    frame = _frame("k", 4)
    _write(warehouse, "k", frame)
    t = Table("flights", MetaData(), autoload_with=warehouse)
    with warehouse.connect() as conn:
        original = partition_checksum(conn, t, "day", "k")
    _write(warehouse, "k", frame.iloc[::-1])
    with warehouse.connect() as conn:
        assert partition_checksum(conn, t, "day", "k") == original
    _write(warehouse, "k", pd.concat([frame, frame.iloc[[0, 0]]]))
    with warehouse.connect() as conn:
        rows, checksum = partition_checksum(conn, t, "day", "k")
    assert rows == 6 and checksum != original[1]
    # two duplicated rows must not cancel out (as they would with XOR)
    _write(warehouse, "k", pd.concat([frame.iloc[[1, 2, 3]], frame.iloc[[0, 0, 0]]]))
    with warehouse.connect() as conn:
        assert partition_checksum(conn, t, "day", "k")[1] != original[1]


def test_publish_refuses_a_partition_column_the_target_lacks(warehouse: Engine) -> None:
    stage = stage_frame(warehouse, _frame("k", 2), table="flights", partition_key="k")
    target = ensure_target(warehouse, stage, table="flights")
    with pytest.raises(ValueError, match="partition column 'flight_date' is not a column of 'flights'"):
        publish(warehouse, stage=stage, target=target, partition_column="flight_date", partition_key="k")
