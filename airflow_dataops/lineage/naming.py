"""OpenLineage dataset names for the databases we write to (https://openlineage.io/docs/spec/naming).

Pure functions, no OpenLineage import.  Namespaces and names never carry a login, a password
or any connection extra other than the database name.

==========  ==============================  ================================
database    namespace                       name
==========  ==============================  ================================
PostgreSQL  ``postgres://{host}:{port}``    ``{database}.{schema}.{table}``
MySQL       ``mysql://{host}:{port}``       ``{database}.{table}``
SQLite      ``sqlite://{absolute db path}`` ``{table}`` (``{schema}.{table}``
                                            for an attached schema)
==========  ==============================  ================================

PostgreSQL matches what ``PostgresHook.get_openlineage_database_info`` gives Airflow's own SQL
operators: the host lower-cased (it goes through ``urlparse(...).hostname``), port 5432 when
unset, the database from the connection's ``schema`` field (Airflow's meaning of "schema" for
PostgreSQL) or the ``database`` extra.  The SQLite provider (4.3.x) implements no
``get_openlineage_database_info`` and the OpenLineage spec defines no SQLite convention, so
Airflow emits no SQLite datasets to join with; we follow the spec's general rule
(``scheme://authority`` + path) with the database file's absolute path.
"""

from __future__ import annotations

import json
import os
from typing import Any, NamedTuple
from urllib.parse import unquote

__all__ = ["DatasetId", "dataset_namespace_and_name"]

_POSTGRES_KINDS = {"postgres", "postgresql", "psql"}
_SQLITE_KINDS = {"sqlite", "sqlite3"}
_MYSQL_KINDS = {"mysql", "mariadb"}
_SUPPORTED = "postgres, mysql, sqlite"


class DatasetId(NamedTuple):
    """An OpenLineage dataset identity: ``namespace`` (the data source) and ``name`` (in it)."""

    namespace: str
    name: str


def dataset_namespace_and_name(conn: Any, table: str, *, schema: str | None = None) -> DatasetId:
    """Return the OpenLineage ``(namespace, name)`` of ``table`` reached through ``conn``.

    :param conn: an Airflow ``Connection`` (or anything with ``conn_type``, ``host``, ``port``,
        ``schema`` and ``extra``), a SQLAlchemy ``URL`` or a URL string such as
        ``postgresql+psycopg2://user:***@db:5432/analytics`` or ``sqlite:////data/dataops.db``.
    :param table: the table name, unqualified.
    :param schema: the database schema; ``public`` for PostgreSQL when not given, SQLite's
        ``main`` when not given (and then left out of the name).
    :raises ValueError: for an unsupported database kind, a missing host or database, or an
        in-memory SQLite database (which has no identity another process could share).

    Example::

        >>> dataset_namespace_and_name("postgresql://u:secret@DB.local/analytics", "flights")
        DatasetId(namespace='postgres://db.local:5432', name='analytics.public.flights')
    """
    if not isinstance(table, str) or not table:
        msg = f"table must be a non-empty string; got {table!r}"
        raise ValueError(msg)
    kind, host, port, database, extra = _parts(conn)
    if kind in _POSTGRES_KINDS:
        database = database or extra.get("database")
        _require(host, "host", kind)
        _require(database, "database (the connection's schema field)", kind)
        return DatasetId(
            f"postgres://{_authority(host, port, 5432)}", f"{database}.{schema or 'public'}.{table}"
        )
    if kind in _MYSQL_KINDS:
        _require(host, "host", kind)
        _require(database, "database (the connection's schema field)", kind)
        return DatasetId(f"mysql://{_authority(host, port, 3306)}", f"{database}.{table}")
    if kind in _SQLITE_KINDS:
        return DatasetId(f"sqlite://{_sqlite_path(host or database)}", _sqlite_name(table, schema))
    msg = f"no OpenLineage naming for database kind {kind!r}; supported: {_SUPPORTED}"
    raise ValueError(msg)


def _parts(conn: Any) -> tuple[str, str | None, int | None, str | None, dict[str, Any]]:
    """``(kind, host, port, database, extra)`` from a Connection-like object or a URL."""
    if hasattr(conn, "conn_type"):
        kind = (conn.conn_type or "").lower()
        extra = _extra_dict(getattr(conn, "extra", None))
        host = conn.host
        if kind in _SQLITE_KINDS:
            return kind, host, None, getattr(conn, "schema", None), extra
        return kind, host, _port(conn.port), conn.schema, extra
    if hasattr(conn, "drivername") or isinstance(conn, str):
        from sqlalchemy.engine import make_url

        try:
            url = make_url(conn) if isinstance(conn, str) else conn
        except Exception:
            # A URL parse error may echo the URL, password included: neither repeat nor chain it.
            msg = "conn is not a valid SQLAlchemy URL (its text is not repeated here: it may hold a password)"
            raise ValueError(msg) from None
        kind = url.get_backend_name().lower()
        if kind in _SQLITE_KINDS:
            return kind, None, None, url.database, {}
        return kind, url.host, _port(url.port), url.database, {}
    msg = (
        "conn must be an Airflow Connection (conn_type, host, port, schema, extra), "
        f"a SQLAlchemy URL or a URL string; got {type(conn).__name__}"
    )
    raise ValueError(msg)


def _extra_dict(extra: Any) -> dict[str, Any]:
    if isinstance(extra, dict):
        return extra
    if isinstance(extra, str) and extra.strip():
        try:
            value = json.loads(extra)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}
    return {}


def _port(port: Any) -> int | None:
    if port in (None, ""):
        return None
    try:
        return int(port)
    except (TypeError, ValueError):
        msg = f"port must be an integer; got {port!r}"
        raise ValueError(msg) from None


def _authority(host: str | None, port: int | None, default_port: int) -> str:
    # A host typed as "user:password@host" must not leak: keep what follows the last "@".
    host = (host or "").rsplit("@", 1)[-1].strip().lower()
    return f"{host}:{port or default_port}"


def _require(value: Any, what: str, kind: str) -> None:
    if not value:
        msg = f"a {kind} connection needs a {what} to name its datasets; got {value!r}"
        raise ValueError(msg)


def _sqlite_path(path: str | None) -> str:
    if not path or path == ":memory:" or path.startswith("file::memory:"):
        msg = (
            "an in-memory SQLite database has no stable identity for lineage; "
            f"use a database file (got {path!r})"
        )
        raise ValueError(msg)
    path = unquote(path)
    if path.startswith("file:"):  # SQLite URI filename, e.g. file:/data/x.db?mode=ro
        path = path[len("file:") :]
    path = path.split("?", 1)[0]
    if path.startswith("//"):  # file:///data/x.db
        path = path[2:]
    return os.path.normpath(os.path.abspath(os.path.expanduser(path)))


def _sqlite_name(table: str, schema: str | None) -> str:
    if schema and schema.lower() != "main":
        return f"{schema}.{table}"
    return table
