"""Hostile partition keys through stage → publish → ledger → verify, on SQLite, PostgreSQL,
MySQL/MariaDB and DuckDB warehouses.

Keys are always bound as parameters: quotes, semicolons, comments and unicode round-trip
exactly, and a ``canary`` table survives ``'; DROP TABLE canary; --``.  Keys that cannot
round-trip or be read (empty, blank, control characters, over 250 characters) are refused
with a message naming the value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import create_engine, select, text

from airflow_dataops.exceptions import LedgerError
from airflow_dataops.partitions.keys import validate_partition_key
from airflow_dataops.partitions.ledger import PartitionLedger
from airflow_dataops.partitions.tables import reflect_columns
from airflow_dataops.partitions.verify import verify_dataset
from airflow_dataops.partitions.writer import drop_stage, ensure_target, publish, stage_frame

HOSTILE = [
    "'; DROP TABLE canary; --",
    "'",
    "''",
    '"',
    '""; DROP TABLE canary; --',
    "a'b",
    'a"b',
    "a;b",
    ";",
    "--",
    "-- comment",
    "/* comment */",
    "*/",
    "/*",
    "1 OR 1=1",
    "' OR '1'='1",
    "x' UNION SELECT * FROM canary --",
    "%",
    "%s",
    "%(partition_key)s",
    ":partition_key",
    "?",
    "$1",
    "\\",
    "\\'",
    "back`tick",
    "[bracket]",
    "{brace}",
    "a b",
    " leading space",
    "trailing space ",
    "tab-free\u00a0nbsp",
    "2026-11-01",
    "2026-11-01T00:00:00+00:00",
    "région/été",
    "日本語のキー",
    "ключ",
    "مفتاح",
    "emoji 🚀✈️",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",  # noqa: RUF001
    "Ω≈ç√∫",
    "NULL",
    "null",
    "None",
    "0",
    "-1",
    "1e308",
    "true",
    "k" * 250,
    "é" * 250,
    "x" * 249 + "'",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "a\\nb (escaped, not a newline)",
]
INVALID = [
    ("", "must not be empty or blank"),
    ("   ", "must not be empty or blank"),
    ("a\nb", "contains control or invisible characters"),
    ("a\x00b", "contains control or invisible characters"),
    ("tab\there", "contains control or invisible characters"),
    ("zero\u200bwidth", "contains control or invisible characters"),
    ("k" * 251, "is 251 characters long; the limit is 250"),
]


@pytest.fixture
def warehouse(store_url: str, tmp_path: Path) -> Any:
    """A warehouse of the store's kind, with a canary table the hostile keys must not touch."""
    if store_url.startswith("sqlite"):
        engine = create_engine(f"sqlite:///{tmp_path / 'warehouse.db'}")
    else:
        from conftest import _fresh_pg_database

        engine = create_engine(_fresh_pg_database())
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE canary (alive INTEGER)"))
        conn.execute(text("INSERT INTO canary VALUES (1)"))
    yield engine
    engine.dispose()


def test_at_least_fifty_distinct_hostile_keys() -> None:
    assert len(set(HOSTILE)) == len(HOSTILE) >= 50
    for key in HOSTILE:
        assert validate_partition_key(key) == key


def test_hostile_keys_round_trip_exactly_through_publish_and_verify(store, warehouse) -> None:
    _round_trip(store, warehouse)


@pytest.mark.parametrize("kind", [pytest.param("mysql", marks=pytest.mark.mysql), "duckdb"])
def test_hostile_keys_round_trip_on_mysql_and_duckdb(kind: str, tmp_path: Path) -> None:
    from conftest import warehouse_of

    from airflow_dataops.store import StateStore

    store = StateStore(f"sqlite:///{tmp_path / 'store.db'}")
    store.migrate()
    engine = create_engine(warehouse_of(kind, tmp_path))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE canary (alive INTEGER)"))
        conn.execute(text("INSERT INTO canary VALUES (1)"))
    try:
        _round_trip(store, engine)
    finally:
        engine.dispose()
        store.dispose()


def _round_trip(store: Any, warehouse: Any) -> None:
    ledger = PartitionLedger(store, "hostile")
    for n, key in enumerate(HOSTILE):
        claim = ledger.begin(key, dag_id="dag", task_id="t", run_id=f"run_{n}", attempt=1)
        frame = pd.DataFrame({"n": [n, n + 1000], "note": [key, key[::-1]], "pk": [key, key]})
        stage = stage_frame(warehouse, frame, table="hostile", partition_key=key)
        target = ensure_target(warehouse, stage, table="hostile")
        result = publish(warehouse, stage=stage, target=target, partition_column="pk", partition_key=key)
        drop_stage(warehouse, stage)
        ledger.finish(
            claim,
            state="applied",
            rows_in=result.rows_in,
            rows_published=result.rows_published,
            rows_quarantined=0,
            checksum=result.checksum,
            gate_verdict=None,
            contract_version=None,
        )
        assert result.rows_published == 2, key
    target = reflect_columns(warehouse, "hostile")
    with warehouse.connect() as conn:
        rows = conn.execute(select(target.c.pk, target.c.note, target.c.n)).all()
        assert conn.execute(text("SELECT alive FROM canary")).scalar_one() == 1
    assert sorted({r.pk for r in rows}) == sorted(HOSTILE)  # every key exactly, nothing else
    for r in rows:
        assert r.note == (r.pk if r.n < 1000 else r.pk[::-1])
    assert sorted(p.partition_key for p in ledger.partitions()) == sorted(HOSTILE)
    findings = verify_dataset(
        store,
        {"dataset": "hostile", "target_table": "hostile", "partition_column": "pk", "dag_id": "dag"},
        engine=warehouse,
    )
    assert {f.partition_key: f.status for f in findings} == {k: "ok" for k in HOSTILE}


@pytest.mark.parametrize(("key", "expected"), INVALID, ids=[f"invalid{n}" for n in range(len(INVALID))])
def test_unusable_keys_are_refused_naming_the_value(store, key: str, expected: str) -> None:
    ledger = PartitionLedger(store, "hostile")
    with pytest.raises(LedgerError) as e:
        ledger.begin(key, dag_id="dag", task_id="t", run_id="r", attempt=1)
    assert expected in str(e.value)
    assert repr(key[:40]) in str(e.value)
    with pytest.raises(LedgerError, match=r"must not be empty|control or invisible|the limit is 250"):
        ledger.request_rerun([key], reason="r", requested_by="me", dag_id="dag")
    assert ledger.partitions() == []  # nothing recorded
