"""The SQLAlchemy dialect airflow-dataops uses for DuckDB: ``duckdb-engine``'s, with column
reflection read from ``information_schema``.

``duckdb-engine`` (the only SQLAlchemy dialect for DuckDB) inherits PostgreSQL's catalog queries;
from SQLAlchemy 2.1 on, PostgreSQL's column query joins ``pg_catalog.pg_collation``, which DuckDB
does not have, so ``inspect(engine).get_columns(...)`` and ``Table(autoload_with=...)`` fail on it.
This subclass answers column reflection from DuckDB's own ``information_schema`` instead (and
reports no keys, indexes or comments, which nothing here reads), and is registered as ``duckdb.dataops``:
:func:`airflow_dataops.warehouse.engine` builds DuckDB engines with it (``duckdb+dataops:///path``).
Everything else (compiler, types, connections) is ``duckdb-engine``'s.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from duckdb_engine import Dialect as _DuckDBEngineDialect
from sqlalchemy.dialects import registry

_TYPES: dict[str, Any] = {
    "BOOLEAN": sa.Boolean,
    "TINYINT": sa.SmallInteger,
    "SMALLINT": sa.SmallInteger,
    "INTEGER": sa.Integer,
    "BIGINT": sa.BigInteger,
    "UTINYINT": sa.SmallInteger,
    "USMALLINT": sa.Integer,
    "UINTEGER": sa.BigInteger,
    "UBIGINT": lambda: sa.Numeric(20, 0),
    "HUGEINT": lambda: sa.Numeric(38, 0),
    "UHUGEINT": lambda: sa.Numeric(39, 0),
    "FLOAT": sa.REAL,
    "DOUBLE": sa.Double,
    "VARCHAR": sa.String,
    "DATE": sa.Date,
    "TIME": sa.Time,
    "TIMESTAMP": sa.DateTime,
    "TIMESTAMP_NS": sa.DateTime,
    "TIMESTAMP_MS": sa.DateTime,
    "TIMESTAMP_S": sa.DateTime,
    "TIMESTAMP WITH TIME ZONE": lambda: sa.DateTime(timezone=True),
    "BLOB": sa.LargeBinary,
    "UUID": sa.Uuid,
    "JSON": sa.JSON,
    "INTERVAL": sa.Interval,
}
_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")


def column_type(data_type: str) -> Any:
    """The SQLAlchemy type of a DuckDB ``information_schema.columns.data_type`` (NullType if unknown)."""
    found = _DECIMAL.fullmatch(data_type)
    if found:
        return sa.Numeric(int(found.group(1)), int(found.group(2)))
    make = _TYPES.get(data_type.upper())
    return make() if make is not None else sa.types.NullType()


class DuckDBDialect(_DuckDBEngineDialect):
    """``duckdb-engine`` with reflection that works on SQLAlchemy 2.1 (see the module doc)."""

    supports_statement_cache = False

    def _columns(self, connection: Any, schema: str | None, names: Any = None) -> dict[str, list[dict]]:
        query = (
            "SELECT table_name, column_name, data_type, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_schema = COALESCE(?, current_schema()) "
            "AND table_catalog = current_database() ORDER BY table_name, ordinal_position"
        )
        out: dict[str, list[dict]] = {}
        for table, name, data_type, nullable, default in connection.exec_driver_sql(query, (schema,)):
            if names is not None and table not in names:
                continue
            out.setdefault(table, []).append(
                {
                    "name": name,
                    "type": column_type(data_type),
                    "nullable": nullable == "YES",
                    "default": default,
                    "autoincrement": False,
                    "comment": None,
                }
            )
        return out

    def get_columns(self, connection: Any, table_name: str, schema: str | None = None, **kw: Any) -> list:
        found = self._columns(connection, schema, {table_name}).get(table_name)
        if not found:
            raise sa.exc.NoSuchTableError(f"{schema}.{table_name}" if schema else table_name)
        return found

    def get_multi_columns(self, connection: Any, *args: Any, **kw: Any) -> Any:
        schema, names = _scope(args, kw)
        return [((schema, t), cols) for t, cols in self._columns(connection, schema, names).items()]

    def _per_table(self, connection: Any, args: Any, kw: Any, value: Any) -> Any:
        schema, names = _scope(args, kw)
        return [((schema, t), value()) for t in (names or self._columns(connection, schema).keys())]

    def get_multi_pk_constraint(self, connection: Any, *args: Any, **kw: Any) -> Any:
        return self._per_table(connection, args, kw, lambda: {"constrained_columns": [], "name": None})

    def get_multi_foreign_keys(self, connection: Any, *args: Any, **kw: Any) -> Any:
        return self._per_table(connection, args, kw, list)

    def get_multi_indexes(self, connection: Any, *args: Any, **kw: Any) -> Any:
        return self._per_table(connection, args, kw, list)

    def get_multi_unique_constraints(self, connection: Any, *args: Any, **kw: Any) -> Any:
        return self._per_table(connection, args, kw, list)

    def get_multi_check_constraints(self, connection: Any, *args: Any, **kw: Any) -> Any:
        return self._per_table(connection, args, kw, list)

    def get_multi_table_comment(self, connection: Any, *args: Any, **kw: Any) -> Any:
        return self._per_table(connection, args, kw, lambda: {"text": None})

    def get_multi_table_options(self, connection: Any, *args: Any, **kw: Any) -> Any:
        return self._per_table(connection, args, kw, dict)


def _scope(args: Any, kw: Any) -> tuple[str | None, set[str] | None]:
    """``(schema, filter_names)`` of a ``get_multi_*`` call, positional or by keyword."""
    schema = args[0] if args else kw.get("schema")
    names = args[1] if len(args) > 1 else kw.get("filter_names")
    return schema, (set(names) if names else None)


def register() -> None:
    """Make ``duckdb+dataops://`` URLs use :class:`DuckDBDialect` (idempotent)."""
    registry.register("duckdb.dataops", __name__, "DuckDBDialect")
