"""Hostile table and column names: quoted everywhere, round-trip exactly, and no injection succeeds.

Each name is used as a warehouse table name and as a column name, through the whole
write-audit-publish path (stage, gate with the SQL engine, publish, checksum) on SQLite,
PostgreSQL, MySQL/MariaDB and DuckDB; a ``canary`` table must survive every one of them.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from reliability_report import record
from sqlalchemy import create_engine, select, text

from airflow_dataops.contracts.engines.sql import evaluate_sql
from airflow_dataops.contracts.loader import parse_contract
from airflow_dataops.partitions.tables import reflect_columns
from airflow_dataops.partitions.writer import ensure_target, publish, stage_frame
from airflow_dataops.warehouse import reflected_columns, unusable_identifier

NAMES = [
    'x"; DROP TABLE canary; --',
    "x'; DROP TABLE canary; --",
    "x`; DROP TABLE canary; --",
    "a]; DROP TABLE canary; --",
    "canary; DELETE FROM canary",
    "/* comment */ name",
    "-- comment",
    "name -- trailing",
    "select",
    "table",
    "order",
    "group",
    "from",
    "where",
    "user",
    "default",
    "MixedCase",
    "UPPER",
    "with space",
    "  leading",
    "trailing  ",
    "tab\tname",
    "new\nline",
    "semi;colon",
    "comma,name",
    "dot.name",
    'quote"inside',
    "apos'inside",
    "back\\slash",
    "percent%s",
    "percent%(x)s",
    "question?",
    "colon:name",
    ":bind",
    "dollar$1",
    "$$dollar$$",
    "brace{object}",
    "${object}",
    "paren(name)",
    "star*",
    "ünïcödé",
    "日本語",
    "emoji🙂",
    "Ωmega",
    "ß",
    "1starts_with_digit",
    "123",
    "_underscore",
    "a" * 40,
    "null",
    "NULL",
    "true",
    "0x41",
    "e'escape'",
    'U&"d0061t"',
]


def _contract(column: str, table: str) -> str:
    doc = {
        "apiVersion": "v3.1.0",
        "kind": "DataContract",
        "id": "urn:test:hostile",
        "version": "1.0.0",
        "status": "active",
        "schema": [
            {
                "name": table,
                "physicalName": table,
                "properties": [
                    {
                        "name": column,
                        "logicalType": "string",
                        "required": True,
                        "quality": [
                            {
                                "metric": "invalidValues",
                                "mustBe": 0,
                                "arguments": {"validValues": ["ok", "fine"]},
                            }
                        ],
                    },
                    {"name": "k", "logicalType": "string", "required": True},
                ],
            }
        ],
    }
    return json.dumps(doc)


@pytest.mark.parametrize(
    "store_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_hostile_names_round_trip_and_never_inject(warehouse_url: str) -> None:
    _round_trip(warehouse_url)


@pytest.mark.parametrize("kind", [pytest.param("mysql", marks=pytest.mark.mysql), "duckdb"])
def test_hostile_names_on_mysql_and_duckdb(kind: str, tmp_path) -> None:
    from conftest import warehouse_of

    _round_trip(warehouse_of(kind, tmp_path))


def _round_trip(warehouse_url: str) -> None:
    engine = create_engine(warehouse_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE canary (v INTEGER)"))
        conn.execute(text("INSERT INTO canary VALUES (42)"))
    checked = refused = 0
    for i, name in enumerate(NAMES):
        table = f"t{i}_{name}"[:40]
        frame = pd.DataFrame({name: ["ok", "fine", "bad", None], "k": [name] * 4})
        unusable = unusable_identifier(engine.dialect.name, name) or unusable_identifier(
            engine.dialect.name, table
        )
        if unusable:  # MySQL/MariaDB cannot hold it: refused before any SQL, naming the value
            with pytest.raises(ValueError, match="MySQL/MariaDB identifiers") as info:
                stage_frame(engine, frame, table=table, partition_key=name)
            assert f"cannot stage partition {name!r} of {table!r}" in str(info.value)
            refused += 1
            continue
        stage = stage_frame(engine, frame, table=table, partition_key=name)
        report = evaluate_sql(
            parse_contract(_contract(name, table), source="hostile.json"),
            engine_or_connection=engine,
            table=stage.name,
        )
        failed = {r.name.rsplit(".", 1)[-1]: r.failing_rows for r in report.failed}
        assert failed == {"required": 1, "invalidValues": 1}, (name, failed)
        target = ensure_target(engine, stage, table=table)
        result = publish(engine, stage=stage, target=target, partition_column="k", partition_key=name)
        assert (result.rows_in, result.rows_published) == (4, 4)
        back = reflect_columns(engine, table)  # the writer's reflection (SQLAlchemy's MySQL one is wrong)
        with engine.connect() as conn:
            rows = conn.execute(select(back.c[name], back.c.k).where(back.c.k == name)).all()
        expected = [
            tuple(None if pd.isna(v) else v for v in row) for row in frame.itertuples(index=False, name=None)
        ]
        assert sorted(map(tuple, rows), key=repr) == sorted(expected, key=repr), name
        assert [c["name"] for c in reflected_columns(engine, table)] == [name, "k"], name
        _keep_and_restore(engine, table, name, result)
        checked += 1
    with engine.connect() as conn:
        assert conn.execute(text("SELECT v FROM canary")).scalar_one() == 42
    backend = engine.dialect.name
    record(
        f"hostile-names-{backend}",
        scenario=f"Hostile table and column names through stage, gate, publish ({backend})",
        runs=checked,
        result="every name quoted and read back exactly; canary table intact"
        + (f"; {refused} names the dialect cannot hold refused before any SQL" if refused else ""),
    )


def _keep_and_restore(engine, table: str, name: str, first) -> None:
    """The same names through version keeping and a restore: a replace keeps the first version in
    ``<table>__versions``, and restoring it gives back the first checksum."""
    from airflow_dataops.partitions.tables import reflect_columns
    from airflow_dataops.partitions.versions import KeepVersion, ensure_versions_table, restore_rows
    from airflow_dataops.partitions.writer import partition_checksum

    stage = stage_frame(engine, pd.DataFrame({name: ["other"], "k": [name]}), table=table, partition_key=name)
    target = reflect_columns(engine, table)
    keep = KeepVersion(apply_id=7, rows=first.rows_published, checksum=first.checksum)
    second = publish(engine, stage=stage, target=target, partition_column="k", partition_key=name, keep=keep)
    assert second.kept is not None and second.kept.checksum == first.checksum, name
    versions = ensure_versions_table(engine, target, db_schema=None)
    with engine.begin() as conn:
        restore_rows(
            conn, target=target, versions=versions, partition_column="k", partition_key=name, apply_id=7
        )
        assert partition_checksum(conn, target, "k", name) == (first.rows_published, first.checksum), name
