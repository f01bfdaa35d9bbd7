"""Write-audit-publish for one partition of a warehouse table, through SQLAlchemy.

    stage(frame)          rows land in ``<table>__stage_<hash>`` (never visible to readers)
    gate(stage)           the contract is checked on the staged rows, where they live
    publish(stage)        ONE transaction: delete the partition from the target, insert the
                          passing rows, move failing rows to ``<table>__quarantine``, and
                          measure what was published (rows and checksum) before committing

If the process dies anywhere, the target holds either the old partition or the
new one, never half: the only write to it is that one transaction.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    Text,
    func,
    inspect,
    literal,
    select,
)
from sqlalchemy.exc import NoSuchTableError
from sqlalchemy.sql import column as sql_column
from sqlalchemy.sql import table as sql_table
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import NullType, TypeEngine, UserDefinedType

if TYPE_CHECKING:
    import pandas as pd

    from airflow_dataops.partitions.versions import KeepVersion, KeptVersion

QUARANTINE_SUFFIX = "__quarantine"
Q_KEY, Q_RULES, Q_RUN, Q_AT = (
    "_dataops_partition_key",
    "_dataops_rules",
    "_dataops_run_id",
    "_dataops_quarantined_at",
)
_MAX_IDENT = 63  # PostgreSQL's identifier limit, the tightest we support


def stage_table_name(table: str, partition_key: str, claim_id: int | None = None) -> str:
    """The staging table of one partition write.

    With ``claim_id`` (the ledger claim's token) each attempt stages apart: an attempt that was
    taken over while it still ran cannot replace, or drop, the staged rows of the attempt that
    took over (which would then publish the stale rows under its own, valid, claim).
    """
    ident = f"{table}\x00{partition_key}" + ("" if claim_id is None else f"\x00{claim_id}")
    digest = hashlib.sha1(ident.encode()).hexdigest()[:10]
    name = f"{table}__stage_{digest}"
    if len(name) > _MAX_IDENT:
        name = f"dataops_stage_{hashlib.sha1(table.encode()).hexdigest()[:12]}_{digest}"
    return name


def quarantine_table_name(table: str) -> str:
    name = f"{table}{QUARANTINE_SUFFIX}"
    if len(name) > _MAX_IDENT:
        raise ValueError(
            f"quarantine table name {name!r} is longer than {_MAX_IDENT} characters; shorten the table name"
        )
    return name


@dataclass(frozen=True, kw_only=True)
class PublishResult:
    rows_in: int
    rows_published: int
    rows_quarantined: int
    checksum: str
    kept: KeptVersion | None = None  # the replaced version, now in <table>__versions


@dataclass(frozen=True, kw_only=True)
class RowRule:
    """A row-level rule as the writer needs it: a name and the SQL predicate TRUE for failing rows."""

    name: str
    failing: ColumnElement[bool]


def stage_frame(
    engine: Engine,
    frame: pd.DataFrame,
    *,
    table: str,
    partition_key: str,
    db_schema: str | None = None,
    claim_id: int | None = None,
) -> Table:
    """Write ``frame`` to a fresh staging table and return it (its columns, as pandas created them).

    Built with pandas' own ``SQLTable`` (what ``DataFrame.to_sql`` uses; present from pandas 1 to 3)
    so the Table it created is known without asking the database again.
    """
    name = stage_table_name(table, partition_key, claim_id)
    from airflow_dataops.warehouse import unusable_identifier

    for ident in (name, *map(str, frame.columns)):
        if reason := unusable_identifier(engine.dialect.name, ident):
            raise ValueError(f"cannot stage partition {partition_key!r} of {table!r}: {reason}")
    preparer = engine.dialect.identifier_preparer
    qualified = (
        preparer.quote(name)
        if not db_schema
        else f"{preparer.quote_schema(db_schema)}.{preparer.quote(name)}"
    )
    from pandas.io.sql import SQLDatabase, SQLTable

    with engine.begin() as conn:
        # DROP ourselves: pandas' if_exists="replace" reflects the old table in full first (~20 ms on PostgreSQL)
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {qualified}")
        staged = SQLTable(
            name, SQLDatabase(conn, schema=db_schema), frame=frame, index=False, schema=db_schema
        )
        staged.create()
        staged.insert(chunksize=5000)
    # the Table pandas just created, as it created it: no need to ask the database for it again
    return Table(name, MetaData(), *[Column(c.name, c.type) for c in staged.table.columns], schema=db_schema)


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


def drop_stage(engine: Engine, stage: Table | str, db_schema: str | None = None) -> None:
    """Drop a staging table (a Table, or a name in ``db_schema``) if it exists."""
    table = stage if isinstance(stage, Table) else Table(stage, MetaData(), schema=db_schema)
    preparer = engine.dialect.identifier_preparer
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {preparer.format_table(table)}")


class _Untyped(UserDefinedType):  # type: ignore[type-arg]
    """A column with no declared type: what SQLite's ``CREATE TABLE … AS SELECT`` gives an expression."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return ""


def _ddl_type(engine: Engine, table: str, column: str, type_: TypeEngine[Any]) -> TypeEngine[Any]:
    if not isinstance(type_, NullType):
        return type_
    if engine.dialect.name == "sqlite":
        return _Untyped()  # SQLite stores such a column's values as they come, like the stage did
    raise ValueError(
        f"column {column!r} of {table!r} has no type the database reports; CAST it in the query "
        f"(e.g. CAST(... AS INTEGER) AS {column})"
    )


def _create_if_missing(engine: Engine, table: Table, db_schema: str | None) -> None:
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


def ensure_target(engine: Engine, stage: Table, *, table: str, db_schema: str | None = None) -> Table:
    """The target table, created with the staged columns if it does not exist yet."""
    try:
        return reflect_columns(engine, table, db_schema)
    except NoSuchTableError:
        columns = [Column(c.name, _ddl_type(engine, table, c.name, c.type)) for c in stage.columns]
        target = Table(table, MetaData(), *columns, schema=db_schema)
        _create_if_missing(engine, target, db_schema)
    return reflect_columns(engine, table, db_schema)


def _ensure_quarantine(engine: Engine, target: Table, *, db_schema: str | None) -> Table:
    name = quarantine_table_name(target.name)
    if not inspect(engine).has_table(name, schema=db_schema):
        q = Table(
            name,
            MetaData(),
            *[Column(c.name, _ddl_type(engine, name, c.name, c.type)) for c in target.columns],
            Column(Q_KEY, String(250)),
            Column(Q_RULES, Text),
            Column(Q_RUN, String(250)),
            Column(Q_AT, DateTime(timezone=True)),
            schema=db_schema,
        )
        _create_if_missing(engine, q, db_schema)
    return reflect_columns(engine, name, db_schema)


def publish(
    engine: Engine,
    *,
    stage: Table,
    target: Table,
    partition_column: str,
    partition_key: str,
    quarantine_rules: Sequence[RowRule] = (),
    run_id: str | None = None,
    now: datetime | None = None,
    db_schema: str | None = None,
    before_commit: Any = None,
    fence: Callable[[PublishResult, Callable[[], None], Connection], None] | None = None,
    keep: KeepVersion | None = None,
) -> PublishResult:
    """Replace exactly one partition of ``target`` with the staged rows, in one transaction.

    Rows for which any of ``quarantine_rules`` is TRUE go to ``<table>__quarantine`` (with the
    partition key, the names of the rules they broke and the run id) instead of the target.

    :param fence: called with the measured result, the transaction's ``commit`` and its
        connection instead of committing (``PartitionLedger.fence``): it commits only if the
        ledger claim still holds; if it raises, the transaction is rolled back.
    :param keep: the published version being replaced (``versions.version_to_keep``): its rows
        are copied to ``<table>__versions`` in the same transaction, for ``partitions rollback``.
    """
    missing = [c.name for c in target.columns if c.name not in stage.c]
    if missing:
        raise ValueError(f"staged rows lack the target's columns {missing}; the partition was not replaced")
    if partition_column not in target.c:
        raise ValueError(
            f"partition column {partition_column!r} is not a column of {target.name!r} "
            f"(columns: {', '.join(c.name for c in target.columns)})"
        )
    from airflow_dataops.warehouse import inexact_text_columns

    if collation := inexact_text_columns(engine, target.name, db_schema).get(partition_column):
        raise ValueError(  # MySQL/MariaDB: deleting 'x' would delete 'X' and 'x ' too
            f"partition column {partition_column!r} of {target.name!r} has collation {collation}, which "
            "compares text inexactly; give it a binary NO PAD collation (COLLATE utf8mb4_nopad_bin)"
        )
    quarantine = _ensure_quarantine(engine, target, db_schema=db_schema) if quarantine_rules else None
    # A replaced partition's old quarantined rows go too, whatever the contract says now: without
    # quarantine rules there is nothing to create, but a table left by an earlier contract is emptied
    # of this partition (a clean rerun must not leave yesterday's rejects beside today's rows).
    stale_quarantine = None
    if quarantine is None:
        q_name = quarantine_table_name(target.name)
        if inspect(engine).has_table(q_name, schema=db_schema):
            stale_quarantine = sql_table(q_name, sql_column(Q_KEY), schema=db_schema)
    columns = [c.name for c in target.columns]
    failing = _any(rule.failing for rule in quarantine_rules)
    versions = None
    if keep is not None:
        from airflow_dataops.partitions.versions import ensure_versions_table, keep_current

        versions = ensure_versions_table(engine, target, db_schema=db_schema)
    kept = None
    with engine.connect() as conn, _transaction(conn) as tx:
        rows_in = conn.execute(select(func.count()).select_from(stage)).scalar_one()
        if keep is not None and versions is not None:
            kept = keep_current(
                conn,
                target=target,
                versions=versions,
                partition_column=partition_column,
                partition_key=partition_key,
                keep=keep,
                now=now or datetime.now().astimezone(),
            )
        conn.execute(target.delete().where(target.c[partition_column] == _key(partition_key)))
        source = select(*[stage.c[n] for n in columns])
        if failing is not None:
            source = source.where(~failing)
        conn.execute(target.insert().from_select(columns, source))
        quarantined = 0
        if stale_quarantine is not None:
            conn.execute(stale_quarantine.delete().where(stale_quarantine.c[Q_KEY] == _key(partition_key)))
        if quarantine is not None and failing is not None:
            conn.execute(quarantine.delete().where(quarantine.c[Q_KEY] == _key(partition_key)))
            rules_text = _rule_names(quarantine_rules)
            q_source = select(
                *[stage.c[n] for n in columns],
                literal(partition_key, String()),
                rules_text,
                literal(run_id, String()),
                literal(now or datetime.now().astimezone(), DateTime(timezone=True)),
            ).where(failing)
            conn.execute(quarantine.insert().from_select([*columns, Q_KEY, Q_RULES, Q_RUN, Q_AT], q_source))
            quarantined = conn.execute(
                select(func.count()).select_from(quarantine).where(quarantine.c[Q_KEY] == _key(partition_key))
            ).scalar_one()
        rows, checksum = partition_checksum(conn, target, partition_column, partition_key)
        if rows + quarantined != rows_in:
            raise RuntimeError(
                f"published {rows} + quarantined {quarantined} != staged {rows_in} rows for partition "
                f"{partition_key!r}; rolled back"
            )
        result = PublishResult(
            rows_in=rows_in, rows_published=rows, rows_quarantined=quarantined, checksum=checksum, kept=kept
        )
        if before_commit is not None:
            before_commit()
        if fence is None:
            tx.commit()
        else:
            fence(result, tx.commit, conn)
            if tx.is_active:
                raise RuntimeError("the publish fence returned without committing; rolled back")
    return result


@contextmanager
def _transaction(conn: Connection) -> Iterator[Any]:
    """A transaction the body commits itself (directly or through a fence); rolled back otherwise."""
    tx = conn.begin()
    try:
        yield tx
    finally:
        if tx.is_active:
            tx.rollback()


def _key(partition_key: str) -> Any:
    # A bind parameter named by us, not after the (possibly hostile) partition column's name.
    from sqlalchemy import bindparam

    return bindparam("partition_key", partition_key, unique=True)


def _any(predicates: Iterable[ColumnElement[bool]]) -> ColumnElement[bool] | None:
    from sqlalchemy import or_

    preds = list(predicates)
    if not preds:
        return None
    return or_(*preds)


def _rule_names(rules: Sequence[RowRule]) -> ColumnElement[str]:
    from sqlalchemy import case

    expr: ColumnElement[str] = literal("", String())
    for rule in rules:
        expr = expr + case((rule.failing, literal(rule.name + ";", String())), else_=literal("", String()))
    return expr


# ---------------------------------------------------------------------------- checksums
def _canon(value: Any) -> bytes:
    if value is None:
        return b"\x00"
    if isinstance(value, float):
        if value.is_integer():
            return b"i" + str(int(value)).encode()
        return b"f" + repr(value).encode()
    if isinstance(value, bool):
        return b"i" + str(int(value)).encode()
    if isinstance(value, int):
        return b"i" + str(value).encode()
    if isinstance(value, Decimal):
        return _canon(float(value))
    if isinstance(value, (datetime, date)):
        return b"t" + value.isoformat().encode()
    if isinstance(value, bytes):
        return b"b" + value
    return b"s" + str(value).encode()


def row_digest(row: Sequence[Any]) -> int:
    h = hashlib.blake2b(digest_size=8)
    for v in row:
        h.update(_canon(v))
        h.update(b"\x1f")
    return int(struct.unpack(">Q", h.digest())[0])


def partition_checksum(
    conn: Connection,
    target: Table,
    partition_column: str,
    partition_key: str,
    *,
    columns: Sequence[str] | None = None,
    where: ColumnElement[bool] | None = None,
) -> tuple[int, str]:
    """Row count and an order-independent, duplicate-sensitive checksum of one partition.

    The sum (mod 2**64) of a 64-bit hash per row: equal multisets of rows give equal sums,
    and a duplicated row adds its hash again instead of cancelling out as XOR would.  The
    partition is streamed in batches; only one partition is ever read, never the table.

    :param columns: the columns to checksum (default: all of ``target``'s), e.g. a kept
        version's target columns without its tags.
    :param where: replaces the partition filter (e.g. one kept version's rows).
    """
    cols = sorted(columns if columns is not None else (c.name for c in target.columns))
    condition = where if where is not None else target.c[partition_column] == _key(partition_key)
    query = select(*[target.c[n] for n in cols]).where(condition)
    total, count = 0, 0
    # per statement: Connection.execution_options() would stream every later statement on conn too
    result = conn.execute(query, execution_options={"stream_results": True, "yield_per": 5000})
    for row in result:
        total = (total + row_digest(row)) & 0xFFFFFFFFFFFFFFFF
        count += 1
    return count, f"{count}:{total:016x}"
