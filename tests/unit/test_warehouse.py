"""airflow_dataops.warehouse (#19): the one way from a conn_id to a warehouse engine, with one set of
errors, for SQLite, PostgreSQL, MySQL/MariaDB and DuckDB connections of their providers' own types."""

from __future__ import annotations

import json
import socket

import pytest
import sqlalchemy as sa
from conftest import WAREHOUSE_KINDS, warehouse_of
from connections import connection_json

from airflow_dataops import warehouse
from airflow_dataops.exceptions import WarehouseError


def test_an_unknown_connection_is_one_clear_error():
    with pytest.raises(WarehouseError, match=r"connection 'nope_never_defined' is not defined; create it"):
        warehouse.engine("nope_never_defined")


def test_a_connection_that_is_not_sql_is_refused(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_WEB", json.dumps({"conn_type": "generic", "host": "example.invalid"}))
    with pytest.raises(WarehouseError, match=r"connection 'WEB' .*(not a SQL|gives no hook)"):
        warehouse.sql_hook("WEB")


@pytest.mark.mysql
def test_an_unreachable_server_is_one_clear_error(monkeypatch):
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv(
        "AIRFLOW_CONN_GONE",
        json.dumps({"conn_type": "mysql", "host": "127.0.0.1", "port": port, "login": "x"}),
    )
    with pytest.raises(WarehouseError, match=r"cannot reach the warehouse of connection 'GONE'"):
        warehouse.engine("GONE", probe=True)


@pytest.mark.parametrize("kind", ["sqlite", "duckdb"])
def test_a_missing_file_is_never_created_by_a_read_only_engine(kind, tmp_path, monkeypatch):
    path = tmp_path / f"absent.{kind}"
    monkeypatch.setenv("AIRFLOW_CONN_FILE", json.dumps({"conn_type": kind, "host": str(path)}))
    with pytest.raises(WarehouseError, match=rf"points to {kind} file .* which does not exist"):
        warehouse.engine("FILE", read_only=True)
    assert not path.exists()


@pytest.mark.parametrize("kind", WAREHOUSE_KINDS)
def test_read_only_engine_refuses_writes_and_the_normal_one_writes(kind, tmp_path, monkeypatch):
    url = warehouse_of(kind, tmp_path)
    monkeypatch.setenv("AIRFLOW_CONN_WH", connection_json(url))
    rw = warehouse.engine("WH")
    with rw.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE canary (x INTEGER)")
        conn.exec_driver_sql("INSERT INTO canary VALUES (1)")
    assert [c["name"] for c in warehouse.reflected_columns(rw, "canary")] == ["x"]
    rw.dispose()  # DuckDB: a file is opened read-write or read-only by one process, not both
    ro = warehouse.engine("WH", read_only=True)
    with ro.connect() as conn, pytest.raises(sa.exc.DBAPIError, match=r"(?i)read[- ]?only"):
        conn.exec_driver_sql("DELETE FROM canary")
        conn.commit()
    with ro.connect() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM canary").scalar() == 1
    ro.dispose()


@pytest.mark.mysql
def test_mysql_columns_are_read_as_spelled(mysql_url):
    engine = sa.create_engine(mysql_url)
    names = ["new\nline", "back`tick", "x``double", "Mixed"]
    with engine.begin() as conn:
        cols = ", ".join(f"{engine.dialect.identifier_preparer.quote(n)} TEXT" for n in names)
        conn.exec_driver_sql(f"CREATE TABLE t ({cols}, d DECIMAL(10, 2), b BOOL)")
        conn.exec_driver_sql("CREATE TABLE T2 (a INT)")
    got = warehouse.reflected_columns(engine, "t")
    assert [c["name"] for c in got] == [*names, "d", "b"]
    assert isinstance(got[-2]["type"], sa.Numeric) and got[-2]["type"].scale == 2
    assert isinstance(got[-1]["type"], sa.Boolean)
    with pytest.raises(sa.exc.NoSuchTableError):
        warehouse.reflected_columns(engine, "t2")  # information_schema would match T2 case-insensitively
    engine.dispose()


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("trailing ", "ends with a space"),
        ("emoji🙂", "beyond U+FFFF"),
        ("k" * 65, "at most 64"),
    ],
)
def test_names_mysql_cannot_hold_are_named_with_the_fix(name, reason):
    assert reason in (warehouse.unusable_identifier("mysql", name) or "")
    assert warehouse.unusable_identifier("postgresql", name) is None
