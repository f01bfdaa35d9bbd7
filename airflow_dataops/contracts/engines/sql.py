"""Check a table (or one partition of it) against a contract, where the data lives.

Every aggregate rule of a schema object is compiled (:mod:`~airflow_dataops.contracts.engines.sql_predicates`)
into ONE ``SELECT`` over the table or partition; the only other statements are the column
inspection and one query per ODCS ``sql`` rule (:func:`run_sql_rule`, read-only through
:mod:`~airflow_dataops.contracts.sql_rules`).  This module runs them and judges the values.

SQLite has no ``REGEXP`` of its own: SQLAlchemy's pysqlite dialect registers one on every
new connection, and :func:`register_sqlite_regexp` registers ours (Python ``re.search``)
on the DBAPI connection we are handed, so a raw or foreign connection works as well.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from airflow_dataops.contracts import rules as R
from airflow_dataops.contracts.engines import sql_dialects as D
from airflow_dataops.contracts.engines.sql_predicates import Scope, aggregates, sql_type_family, unpack
from airflow_dataops.contracts.model import Contract, SchemaObject
from airflow_dataops.contracts.report import GateReport, RuleResult
from airflow_dataops.exceptions import ContractError
from airflow_dataops.warehouse import reflected_columns

__all__ = [
    "error_detail",
    "evaluate_sql",
    "register_sqlite_regexp",
    "run_sql_rule",
    "table_columns",
    "unreachable_references",
]


def evaluate_sql(
    contract: Contract,
    *,
    engine_or_connection: Engine | Connection,
    table: str,
    schema_object: str | None = None,
    partition_column: str | None = None,
    partition_value: str | None = None,
    db_schema: str | None = None,
    now: dt.datetime | None = None,
    columns: Mapping[str, Any] | None = None,
) -> GateReport:
    """Evaluate ``contract``'s rules for ``schema_object`` on ``table`` (one partition if given).

    :param now: the reference time for ``latency``/``freshness`` (default: the current UTC time);
        pass the end of the partition's interval when checking history.
    :param columns: the table's column names and SQLAlchemy types when the caller knows them
        already (a table it just staged, or inspected): the table is then not inspected again.
    :raises ContractError: the table does not exist, or an ``sql`` rule's query fails.
    """
    obj = contract.schema_object(schema_object)
    args = (contract, obj, table, partition_column, partition_value, db_schema, now, columns)
    if isinstance(engine_or_connection, Engine):
        with engine_or_connection.connect() as conn:
            return _evaluate(conn, *args, owned=True)
    return _evaluate(engine_or_connection, *args)


def register_sqlite_regexp(target: Engine | Connection | Any) -> None:
    """Give SQLite a ``REGEXP`` (Python ``re.search``; NULL in, NULL out).

    An ``Engine`` gets a ``connect`` event (every future DBAPI connection); a ``Connection``
    or a raw ``sqlite3.Connection`` gets the function at once.  Other dialects are left alone.
    """
    if isinstance(target, Engine):
        if target.dialect.name == "sqlite" and not sa.event.contains(target, "connect", _on_connect):
            sa.event.listen(target, "connect", _on_connect)
        return
    if isinstance(target, Connection):
        if target.dialect.name != "sqlite":
            return
        target = target.connection.dbapi_connection
    raw: Any = target
    if hasattr(raw, "create_function"):
        raw.create_function("regexp", 2, _regexp, deterministic=True)


# -- internals ---------------------------------------------------------------------------------


def _evaluate(
    conn: Connection,
    contract: Contract,
    obj: SchemaObject,
    table: str,
    partition_column: str | None,
    partition_value: str | None,
    db_schema: str | None,
    now: dt.datetime | None,
    known: Mapping[str, Any] | None,
    *,
    owned: bool = False,
) -> GateReport:
    register_sqlite_regexp(conn)
    if known is None:
        columns = table_columns(contract, obj, conn, table, db_schema, partition_column=partition_column)
    else:
        columns = dict(known)
    families = {name: sql_type_family(type_) for name, type_ in columns.items()}
    results: list[RuleResult] = [
        R.schema_result(obj, p, families.get(p.column), p.column in columns) for p in obj.properties
    ]
    warnings = list(contract.warnings)
    checks = R.plan(contract, obj)
    unreachable = unreachable_references(conn, checks, db_schema)
    for check in checks:
        if check.measure in unreachable:
            warnings.append(f"{check.name}: not evaluated: {unreachable[check.measure]}")
    checks = tuple(c for c in checks if c.measure not in unreachable)
    runnable = [c for c in checks if all(col in columns for col in c.measure.columns)]
    t = sa.table(table, *(sa.column(n) for n in columns), schema=db_schema)
    where = (
        t.c[partition_column] == sa.bindparam("partition_value", partition_value, unique=True)
        if partition_column
        else sa.true()
    )
    try:
        refused = D.refusals(
            conn, R.measures(runnable), table=table, db_schema=db_schema, partition_column=partition_column
        )
    except ValueError as e:
        raise ContractError(str(e), file=contract.source, path=obj.path) from None
    aggregated = [m for m in R.measures(runnable) if m.kind != "sql" and m not in refused]
    common = D.common_matches(conn, table, db_schema, aggregated, families)
    scope = Scope(t, partition_column, partition_value, db_schema, families, common_matches=common)
    values: dict[R.Measure, Any] = {m: R.Unmeasured(reason) for m, reason in refused.items()}
    plan = aggregates(aggregated, t, where, scope, conn.dialect)
    labelled = [column.label(f"m{i}") for i, (_, column) in enumerate(plan)]
    row = conn.execute(sa.select(*labelled).select_from(t).where(where)).one()
    for (measures, _), value in zip(plan, row):
        values.update(zip(measures, unpack(measures, value)))
    if owned and conn.dialect.name in D.NO_READ_ONLY_SAVEPOINT and conn.in_transaction():
        conn.rollback()  # our own reading transaction: MySQL/DuckDB start a read-only one per rule
    for check in runnable:
        if check.measure.kind == "sql" and check.measure not in values:
            values[check.measure] = run_sql_rule(contract, check, conn, t, partition_column, partition_value)
    for check in checks:
        results.append(
            R.judge(check, values, now=now) if check in runnable else R.missing_column_result(check)
        )
    return GateReport(
        contract_id=contract.id,
        contract_version=contract.version,
        dataset=f"{db_schema}.{table}" if db_schema else table,
        partition=partition_value,
        engine="sql",
        row_count=int(values[R.ROWS] or 0),
        results=tuple(results),
        warnings=tuple(warnings),
    )


def unreachable_references(
    conn: Connection, checks: tuple[R.Check, ...], db_schema: str | None
) -> dict[R.Measure, str]:
    """Foreign keys whose referenced table (or column) is not on this connection, with the reason."""
    out: dict[R.Measure, str] = {}
    found: dict[str, set[str] | None] = {}
    for check in checks:
        m = check.measure
        if m.kind != "orphans" or m.ref_table is None:
            continue
        if m.ref_table not in found:
            try:
                cols = reflected_columns(conn, m.ref_table, db_schema)
                found[m.ref_table] = {c["name"] for c in cols} or None
            except sa.exc.NoSuchTableError:
                found[m.ref_table] = None
        have = found[m.ref_table]
        where = f"{db_schema}.{m.ref_table}" if db_schema else m.ref_table
        if have is None:
            out[m] = f"referenced table {where!r} is not reachable on this connection"
        elif missing := [c for c in m.ref_columns if c not in have]:
            out[m] = f"referenced table {where!r} has no column {missing[0]!r}"
    return out


def table_columns(
    contract: Contract,
    obj: SchemaObject,
    bind: Engine | Connection,
    table: str,
    db_schema: str | None,
    *,
    partition_column: str | None = None,
    context: str = "",
) -> dict[str, Any]:
    """``table``'s columns and their SQLAlchemy types, or a :class:`ContractError` naming what is
    wrong: the table does not exist, or ``partition_column`` is not one of its columns.

    :param context: put before the message (e.g. the contract's id and version).
    """
    try:
        columns = {c["name"]: c["type"] for c in reflected_columns(bind, table, db_schema)}
    except sa.exc.NoSuchTableError as e:
        name = f"{db_schema}.{table}" if db_schema else table
        raise ContractError(
            f"{context}table {name!r} does not exist; create it or pass the right table= / db_schema=",
            file=contract.source,
            path=obj.path,
        ) from e
    if partition_column and partition_column not in columns:
        raise ContractError(
            f"{context}partition column {partition_column!r} is not a column of table {table!r} "
            f"(columns: {', '.join(columns)}); pass the right partition_column=",
            file=contract.source,
            path=obj.path,
        )
    return columns


def run_sql_rule(
    contract: Contract,
    check: R.Check,
    conn: Connection,
    t: sa.TableClause,
    partition_column: str | None,
    partition_value: str | None,
) -> Any:
    """An ODCS ``sql`` rule's number, or :class:`~airflow_dataops.contracts.rules.Unmeasured` (the rule
    fails, blocking, with the reason) when the query is refused, fails, or returns no number.

    The query is parsed and regenerated in the connection's dialect, its placeholders and
    unqualified tables resolved in ``t.schema``, and run where it cannot write (see
    :mod:`airflow_dataops.contracts.sql_rules`).
    """
    from airflow_dataops.contracts import sql_rules as S

    try:
        sql = S.render(
            check.measure.query or "",
            conn.dialect.name,
            table=t.name,
            db_schema=t.schema,
            column=check.column,
            partition_column=partition_column,
            partition_value=partition_value,
        )
        value = S.run_read_only(conn, sql)
    except S.SqlRuleRefused as e:
        return R.Unmeasured(f"not run: the query {e}")
    except Exception as e:
        dbapi = getattr(conn.dialect, "loaded_dbapi", None) or conn.dialect.dbapi
        if not isinstance(e, (sa.exc.SQLAlchemyError, *((dbapi.Error,) if dbapi else ()))):
            raise
        sensitive = any(p.is_sensitive for o in contract.schema for p in o.properties)
        return R.Unmeasured(
            f"failed to run: {type(e).__name__} ({error_detail(e, sensitive)}); fix the query"
        )
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return R.Unmeasured(
            f"returned {type(value).__name__}, not a number; the query must return one number"
        )


def error_detail(e: BaseException, sensitive: bool) -> str:
    """What a driver error may say in a report: its first line (at most 300 characters), or
    nothing when the contract classifies columns as sensitive (the message may quote values)."""
    if sensitive:
        return "details withheld: the contract classifies columns as sensitive"
    text = str(getattr(e, "orig", None) or e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:300]


def _regexp(pattern: str | None, value: Any) -> bool | None:
    if pattern is None or value is None:
        return None
    return re.search(pattern, str(value)) is not None


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    register_sqlite_regexp(dbapi_connection)
