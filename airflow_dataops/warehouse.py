"""The warehouse of an Airflow connection: its common-sql hook and its SQLAlchemy engine, one way,
with one set of errors (:class:`~airflow_dataops.exceptions.WarehouseError`, ``airflow dataops``
exit 3), for the operators, ``contract test`` and ``partitions verify``.

Supported warehouses and their Airflow providers:

============================  ==================================  ==========================
warehouse                     provider (connection type)           SQLAlchemy dialect
============================  ==================================  ==========================
SQLite                        apache-airflow-providers-sqlite      ``sqlite``
PostgreSQL                    apache-airflow-providers-postgres    ``postgresql``
MySQL / MariaDB               apache-airflow-providers-mysql       ``mysql`` (mysqlclient)
DuckDB (embedded)             apache-airflow-providers-duckdb      ``duckdb`` (duckdb-engine,
                                                                   see :mod:`.duckdb_dialect`)
============================  ==================================  ==========================

Any other common-sql (``DbApiHook``) connection works too, with ``sql`` rules refused unless
opted in (see :mod:`airflow_dataops.contracts.sql_rules`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from airflow_dataops.exceptions import WarehouseError

#: SQLAlchemy dialect names of MySQL and MariaDB
MYSQL = ("mysql", "mariadb")
#: collations that compare text exactly (code point / byte order, trailing spaces significant)
_EXACT_COLLATION = re.compile(r"(.*_nopad_bin|.*_0900_bin|binary)$")


def sql_hook(conn_id: str) -> Any:
    """The common-sql hook of the Airflow connection ``conn_id``.

    :raises WarehouseError: the connection is not defined, gives no hook, or is not a SQL database.
    """
    from airflow.providers.common.sql.hooks.sql import DbApiHook
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise WarehouseError(
            f"connection {conn_id!r} is not defined; create it (airflow connections add {conn_id} ...) "
            "or pass the right conn_id (--conn-id)"
        ) from None
    try:
        hook = conn.get_hook()
    except Exception as e:
        raise WarehouseError(
            f"connection {conn_id!r} (type {conn.conn_type!r}) gives no hook: {_first_line(e)}; "
            "install its provider or use a SQL connection"
        ) from None
    if not isinstance(hook, DbApiHook):
        raise WarehouseError(
            f"connection {conn_id!r} has type {conn.conn_type!r} ({type(hook).__name__}), not a SQL "
            "(common-sql DbApiHook) connection; pass a sqlite, postgres, mysql, duckdb or other SQL connection"
        )
    return hook


def engine(conn_id: str, *, read_only: bool = False, probe: bool = False) -> Any:
    """The SQLAlchemy engine of the Airflow connection ``conn_id``.

    :param read_only: every session of the engine is read-only (``contract test``): SQLite
        ``PRAGMA query_only``, PostgreSQL and MySQL/MariaDB ``SET SESSION … READ ONLY``, DuckDB a
        database opened read-only; a SQLite or DuckDB file that does not exist is an error, never a
        new empty database.
    :param probe: connect once now, so an unreachable warehouse is this error, not a later one.
    :raises WarehouseError: see :func:`sql_hook`; the hook gives no engine; the file does not exist;
        the warehouse cannot be reached (with ``probe``).
    """
    import sqlalchemy as sa

    hook = sql_hook(conn_id)
    kwargs: dict[str, Any] = {}
    try:
        url = sa.engine.make_url(_hook_url(hook))
    except Exception as e:
        raise WarehouseError(f"connection {conn_id!r} gives no SQLAlchemy URL: {_first_line(e)}") from None
    duckdb = url.get_backend_name() == "duckdb"
    if read_only:
        _refuse_missing_file(conn_id, url)
        if duckdb:
            kwargs["connect_args"] = {"read_only": True}
    try:
        if duckdb:  # duckdb-engine with reflection that works on SQLAlchemy 2.1 (see duckdb_dialect)
            eng = sa.create_engine(url.set(drivername="duckdb+dataops"), **kwargs)
        else:
            eng = hook.get_sqlalchemy_engine(engine_kwargs=kwargs or None)
    except Exception as e:
        raise WarehouseError(f"connection {conn_id!r} gives no SQLAlchemy engine: {_first_line(e)}") from None
    if read_only and not duckdb:
        sa.event.listen(eng, "connect", _read_only_session)
    if probe or read_only:
        try:
            with eng.connect():
                pass
        except sa.exc.SQLAlchemyError as e:
            raise WarehouseError(
                f"cannot reach the warehouse of connection {conn_id!r}: {_first_line(e)}"
            ) from None
    return eng


def reflected_columns(bind: Any, table: str, db_schema: str | None = None) -> list[dict[str, Any]]:
    """``inspect(bind).get_columns(table)``: each column's name (as the database spells it) and type.

    On MySQL/MariaDB the columns are read from ``information_schema.COLUMNS``: SQLAlchemy's own
    reflection parses ``SHOW CREATE TABLE`` line by line and gets a column name holding a newline
    or a backtick wrong.

    :raises sqlalchemy.exc.NoSuchTableError: the table does not exist.
    """
    import sqlalchemy as sa

    if bind.dialect.name not in MYSQL:
        return sa.inspect(bind).get_columns(table, schema=db_schema)
    query = sa.text(
        "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, NUMERIC_PRECISION, "
        "NUMERIC_SCALE, CHARACTER_MAXIMUM_LENGTH FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = COALESCE(:schema, DATABASE()) AND TABLE_NAME = :table ORDER BY ORDINAL_POSITION"
    )
    params = {"schema": db_schema, "table": table}
    if isinstance(bind, sa.engine.Engine):
        with bind.connect() as conn:
            rows = conn.execute(query, params).all()
    else:
        rows = bind.execute(query, params).all()
    # information_schema compares names case-insensitively: keep the table's own rows only
    columns = [
        {
            "name": name,
            "type": _mysql_type(bind.dialect, data_type, column_type, precision, scale, length),
            "nullable": nullable == "YES",
            "default": None,
        }
        for t, name, data_type, column_type, nullable, precision, scale, length in rows
        if t == table
    ]
    if not columns:
        raise sa.exc.NoSuchTableError(f"{db_schema}.{table}" if db_schema else table)
    return columns


def _mysql_type(
    dialect: Any, data_type: str, column_type: str, precision: Any, scale: Any, length: Any
) -> Any:
    import sqlalchemy as sa

    cls = dialect.ischema_names.get(data_type.lower())
    if cls is None:
        return sa.types.NullType()
    if data_type.lower() in ("decimal", "numeric"):
        return cls(precision=precision, scale=scale)
    if data_type.lower() in ("varchar", "char", "varbinary", "binary") and length:
        return cls(length=int(length))
    if data_type.lower() == "tinyint" and column_type.lower().startswith("tinyint(1)"):
        return sa.Boolean()  # MySQL's BOOL (what pandas creates for a bool column)
    return cls()


def inexact_text_columns(conn: Any, table: str, db_schema: str | None) -> dict[str, str]:
    """Text column -> its collation, for the columns of a MySQL/MariaDB ``table`` whose collation
    does not compare exactly (case- or accent-insensitive, or PAD SPACE); empty on other dialects."""
    import sqlalchemy as sa

    if conn.dialect.name not in MYSQL:
        return {}
    if isinstance(conn, sa.engine.Engine):
        with conn.connect() as c:
            return inexact_text_columns(c, table, db_schema)
    rows = conn.execute(
        sa.text(
            "SELECT COLUMN_NAME, COLLATION_NAME FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = COALESCE(:schema, DATABASE()) AND TABLE_NAME = :table "
            "AND COLLATION_NAME IS NOT NULL"
        ),
        {"schema": db_schema, "table": table},
    )
    return {name: coll for name, coll in rows if not _EXACT_COLLATION.match(coll)}


def unusable_identifier(dialect: str, name: str) -> str | None:
    """Why ``name`` cannot be a table or column name on ``dialect`` (a SQLAlchemy dialect name), or
    ``None``.  Only MySQL/MariaDB restrict what a quoted identifier may hold: no trailing space, no
    character outside the Basic Multilingual Plane (an emoji), no NUL, at most 64 characters."""
    if dialect not in MYSQL:
        return None
    if name.endswith(" "):
        return f"{name!r} ends with a space, which MySQL/MariaDB identifiers cannot; rename it"
    if any(ord(c) > 0xFFFF or c == "\x00" for c in name):
        return f"{name!r} holds a character MySQL/MariaDB identifiers cannot (NUL, or beyond U+FFFF such as an emoji); rename it"
    if len(name) > 64:
        return (
            f"{name!r} is {len(name)} characters long; MySQL/MariaDB identifiers hold at most 64; shorten it"
        )
    return None


def _hook_url(hook: Any) -> Any:
    try:
        return hook.sqlalchemy_url
    except NotImplementedError:
        return hook.get_uri()


def _refuse_missing_file(conn_id: str, url: Any) -> None:
    if url.get_backend_name() not in ("sqlite", "duckdb"):
        return
    database = url.database
    if (
        database
        and database != ":memory:"
        and not database.startswith("file:")
        and not Path(database).is_file()
    ):
        raise WarehouseError(
            f"connection {conn_id!r} points to {url.get_backend_name()} file {database!r}, which does not "
            "exist; a read-only check never creates a database"
        )


def _read_only_session(dbapi_connection: Any, _record: Any) -> None:
    """Make every transaction of a new warehouse connection read-only (SQLite, PostgreSQL, MySQL)."""
    module = type(dbapi_connection).__module__
    cursor = dbapi_connection.cursor()
    try:
        if module.startswith("sqlite3"):
            cursor.execute("PRAGMA query_only = ON")
        elif module.startswith(("psycopg2", "psycopg")):
            cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            dbapi_connection.commit()
        elif module.startswith(("MySQLdb", "pymysql", "mysql.connector")):
            cursor.execute("SET SESSION TRANSACTION READ ONLY")
    finally:
        cursor.close()


def _first_line(e: BaseException) -> str:
    text = str(getattr(e, "orig", None) or e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:300]
