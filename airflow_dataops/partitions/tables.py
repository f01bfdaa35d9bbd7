"""The warehouse tables of a partition write, as the writer, the quarantine and the versions see them.

Shared by :mod:`~airflow_dataops.partitions.writer` (target and staging tables),
:mod:`~airflow_dataops.partitions.quarantine` (``<table>__quarantine``) and
:mod:`~airflow_dataops.partitions.versions` (``<table>__versions``): a table as its columns and
types (:func:`reflect_columns`), the type a new table's column gets (:func:`ddl_type`), a
CREATE that tolerates a concurrent creator (:func:`create_if_missing`), the partition key as a
bind parameter of our own (:func:`partition_key_param`) and a transaction its body commits
(:func:`transaction`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Column, Connection, Engine, MetaData, Table, bindparam, inspect
from sqlalchemy.exc import NoSuchTableError
from sqlalchemy.types import NullType, TypeEngine, UserDefinedType

#: PostgreSQL's identifier limit, the tightest we support: the longest table name we make.
MAX_IDENTIFIER = 63

__all__ = [
    "MAX_IDENTIFIER",
    "create_if_missing",
    "ddl_type",
    "partition_key_param",
    "reflect_columns",
    "transaction",
]


def reflect_columns(engine: Engine, name: str, db_schema: str | None = None) -> Table:
    """``name`` as a Table of its columns and their types, all a partition write needs.

    Full reflection (``autoload_with``) also reads keys, indexes, constraints and comments: about
    eight catalog queries on PostgreSQL, ~40 ms a table, paid twice per partition write.
    """
    from airflow_dataops.warehouse import reflected_columns

    found = reflected_columns(engine, name, db_schema)
    if not found:
        raise NoSuchTableError(f"{db_schema}.{name}" if db_schema else name)
    columns = [Column(c["name"], c["type"], nullable=c.get("nullable", True)) for c in found]
    return Table(name, MetaData(), *columns, schema=db_schema)


class _Untyped(UserDefinedType):  # type: ignore[type-arg]
    """A column with no declared type: what SQLite's ``CREATE TABLE … AS SELECT`` gives an expression."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return ""


def ddl_type(engine: Engine, table: str, column: str, type_: TypeEngine[Any]) -> TypeEngine[Any]:
    """The type ``column`` of a new ``table`` is created with: ``type_``, unless the database reported none.

    :raises ValueError: no type on a database that needs one (the message says how to CAST it).
    """
    if not isinstance(type_, NullType):
        return type_
    if engine.dialect.name == "sqlite":
        return _Untyped()  # SQLite stores such a column's values as they come, like the stage did
    raise ValueError(
        f"column {column!r} of {table!r} has no type the database reports; CAST it in the query "
        f"(e.g. CAST(... AS INTEGER) AS {column})"
    )


def create_if_missing(engine: Engine, table: Table, db_schema: str | None) -> None:
    """CREATE TABLE, tolerating a concurrent writer that created it first.

    Two first partitions of a new table written at once both see no table; on PostgreSQL the
    loser's CREATE fails (DuplicateTable, or a unique violation on pg_type).  If the table now
    exists, that is the outcome we wanted; anything else is a real error.
    """
    from sqlalchemy.exc import DBAPIError

    try:
        with engine.begin() as conn:
            table.create(conn, checkfirst=True)
    except DBAPIError:
        if not inspect(engine).has_table(table.name, schema=db_schema):
            raise


def partition_key_param(partition_key: str | None) -> Any:
    """The partition key as a bind parameter named by us, not after the (possibly hostile) column's name."""
    return bindparam("partition_key", partition_key, unique=True)


@contextmanager
def transaction(conn: Connection) -> Iterator[Any]:
    """A transaction the body commits itself (directly or through a fence); rolled back otherwise."""
    tx = conn.begin()
    try:
        yield tx
    finally:
        if tx.is_active:
            tx.rollback()
