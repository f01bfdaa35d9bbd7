"""Dataset naming: PostgreSQL as Airflow's PostgresHook names it, SQLite by file path, no credentials."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from airflow_dataops.lineage.naming import DatasetId, dataset_namespace_and_name

CANARY = "Canary-Pa55word-7f3e9"


def conn(**kw):
    base = {"conn_type": "postgres", "host": None, "port": None, "schema": None, "login": None, "extra": None}
    return SimpleNamespace(**{**base, **kw})


@pytest.mark.parametrize(
    ("connection", "schema", "expected"),
    [
        pytest.param(
            conn(host="db.example", port=5433, schema="analytics", login="etl", password=CANARY),
            None,
            DatasetId("postgres://db.example:5433", "analytics.public.flights"),
            id="airflow-connection-default-schema",
        ),
        pytest.param(
            conn(host="DB.Example", schema="analytics", password=CANARY),
            "staging",
            DatasetId("postgres://db.example:5432", "analytics.staging.flights"),
            id="default-port-and-lowercased-host-like-PostgresHook",
        ),
        pytest.param(
            conn(host="db", extra='{"database": "wh", "password": "' + CANARY + '"}'),
            None,
            DatasetId("postgres://db:5432", "wh.public.flights"),
            id="database-from-extra",
        ),
        pytest.param(
            f"postgresql+psycopg2://etl:{CANARY}@db.example:6543/analytics",
            "s",
            DatasetId("postgres://db.example:6543", "analytics.s.flights"),
            id="sqlalchemy-url-string",
        ),
        pytest.param(
            conn(host=f"etl:{CANARY}@db.example", schema="analytics"),
            None,
            DatasetId("postgres://db.example:5432", "analytics.public.flights"),
            id="credentials-typed-into-host-are-dropped",
        ),
    ],
)
def test_postgres(connection, schema, expected):
    got = dataset_namespace_and_name(connection, "flights", schema=schema)
    assert got == expected
    assert CANARY not in got.namespace + got.name


def test_postgres_matches_airflow_postgres_hook_namespace():
    from airflow.models.connection import Connection
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    airflow_conn = Connection(
        conn_id="pg",
        conn_type="postgres",
        host="db.example",
        port=5433,
        schema="analytics",
        login="etl",
        password=CANARY,
    )
    info = PostgresHook(postgres_conn_id="pg").get_openlineage_database_info(airflow_conn)
    ours = dataset_namespace_and_name(airflow_conn, "flights")
    assert ours.namespace == f"{info.scheme}://{info.authority}"
    assert ours.name.startswith(f"{info.database}.")
    assert CANARY not in ours.namespace + ours.name


def test_sqlalchemy_url_object():
    from sqlalchemy.engine import make_url

    got = dataset_namespace_and_name(make_url(f"postgresql://u:{CANARY}@h/db"), "t")
    assert got == DatasetId("postgres://h:5432", "db.public.t")


@pytest.mark.parametrize(
    "connection",
    [
        pytest.param(
            conn(conn_type="sqlite", host="/data/dataops.db", password=CANARY), id="airflow-connection"
        ),
        pytest.param("sqlite:////data/dataops.db", id="sqlalchemy-url"),
        pytest.param(
            conn(conn_type="sqlite", host="file:/data/dataops.db?mode=ro"), id="sqlite-uri-filename"
        ),
    ],
)
def test_sqlite_absolute_path(connection):
    assert dataset_namespace_and_name(connection, "flights") == DatasetId(
        "sqlite:///data/dataops.db", "flights"
    )


def test_sqlite_relative_path_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    got = dataset_namespace_and_name("sqlite:///rel.db", "t")
    assert got.namespace == f"sqlite://{os.path.join(str(tmp_path), 'rel.db')}"


def test_sqlite_attached_schema_kept_main_dropped():
    c = conn(conn_type="sqlite", host="/d.db")
    assert dataset_namespace_and_name(c, "t", schema="main").name == "t"
    assert dataset_namespace_and_name(c, "t", schema="aux").name == "aux.t"


def test_mysql():
    got = dataset_namespace_and_name(conn(conn_type="mysql", host="m", schema="db", password=CANARY), "t")
    assert got == DatasetId("mysql://m:3306", "db.t")


@pytest.mark.parametrize(
    ("connection", "message"),
    [
        pytest.param(conn(conn_type="sqlite", host=":memory:"), "in-memory SQLite", id="sqlite-memory"),
        pytest.param("sqlite://", "in-memory SQLite", id="sqlite-url-memory"),
        pytest.param(
            conn(conn_type="oracle", host="o"),
            "no OpenLineage naming for database kind 'oracle'",
            id="unsupported",
        ),
        pytest.param(conn(host=None, schema="db"), "needs a host", id="no-host"),
        pytest.param(conn(host="h"), "needs a database", id="no-database"),
        pytest.param(42, "conn must be an Airflow Connection", id="wrong-type"),
    ],
)
def test_errors(connection, message):
    with pytest.raises(ValueError, match=message):
        dataset_namespace_and_name(connection, "t")


def test_unparseable_url_error_does_not_echo_password():
    with pytest.raises(ValueError) as info:
        dataset_namespace_and_name(f"postgresql://u:{CANARY}@h:notaport/db", "t")
    assert CANARY not in str(info.value)
    assert info.value.__cause__ is None


def test_empty_table_rejected():
    with pytest.raises(ValueError, match="table must be a non-empty string"):
        dataset_namespace_and_name(conn(host="h", schema="d"), "")
