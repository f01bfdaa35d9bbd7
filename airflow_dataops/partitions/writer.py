"""Write-audit-publish for one partition of a warehouse table, through SQLAlchemy.

    stage(frame)          rows land in ``<table>__stage_<hash>`` (never visible to readers)
    gate(stage)           the contract is checked on the staged rows, where they live
    publish(stage)        ONE transaction: delete the partition from the target, insert the
                          passing rows, move failing rows to ``<table>__quarantine``, and
                          measure what was published (rows and checksum) before committing

If the process dies anywhere, the target holds either the old partition or the
new one, never half: the only write to it is that one transaction.

The quarantine table and its ``INSERT … SELECT`` live in :mod:`~airflow_dataops.partitions.quarantine`
(shared with the stand-alone gate), the table helpers in :mod:`~airflow_dataops.partitions.tables`.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, Connection, Engine, MetaData, Table, func, select
from sqlalchemy.exc import NoSuchTableError
from sqlalchemy.sql.elements import ColumnElement

from airflow_dataops.partitions.quarantine import (
    Q_KEY,
    RowRule,
    any_failing,
    clear_partition,
    copy_failing,
    ensure_quarantine_table,
    existing_quarantine_table,
)
from airflow_dataops.partitions.tables import (
    MAX_IDENTIFIER,
    create_if_missing,
    ddl_type,
    partition_key_param,
    reflect_columns,
    transaction,
)

if TYPE_CHECKING:
    import pandas as pd

    from airflow_dataops.partitions.versions import KeepVersion, KeptVersion


def stage_table_name(table: str, partition_key: str, claim_id: int | None = None) -> str:
    """The staging table of one partition write.

    With ``claim_id`` (the ledger claim's token) each attempt stages apart: an attempt that was
    taken over while it still ran cannot replace, or drop, the staged rows of the attempt that
    took over (which would then publish the stale rows under its own, valid, claim).
    """
    ident = f"{table}\x00{partition_key}" + ("" if claim_id is None else f"\x00{claim_id}")
    digest = hashlib.sha1(ident.encode()).hexdigest()[:10]
    name = f"{table}__stage_{digest}"
    if len(name) > MAX_IDENTIFIER:
        name = f"dataops_stage_{hashlib.sha1(table.encode()).hexdigest()[:12]}_{digest}"
    return name


@dataclass(frozen=True, kw_only=True)
class PublishResult:
    rows_in: int
    rows_published: int
    rows_quarantined: int
    checksum: str
    kept: KeptVersion | None = None  # the replaced version, now in <table>__versions


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


def drop_stage(engine: Engine, stage: Table | str, db_schema: str | None = None) -> None:
    """Drop a staging table (a Table, or a name in ``db_schema``) if it exists."""
    table = stage if isinstance(stage, Table) else Table(stage, MetaData(), schema=db_schema)
    preparer = engine.dialect.identifier_preparer
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {preparer.format_table(table)}")


def ensure_target(engine: Engine, stage: Table, *, table: str, db_schema: str | None = None) -> Table:
    """The target table, created with the staged columns if it does not exist yet."""
    try:
        return reflect_columns(engine, table, db_schema)
    except NoSuchTableError:
        columns = [Column(c.name, ddl_type(engine, table, c.name, c.type)) for c in stage.columns]
        target = Table(table, MetaData(), *columns, schema=db_schema)
        create_if_missing(engine, target, db_schema)
    return reflect_columns(engine, table, db_schema)


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
    quarantine = ensure_quarantine_table(engine, target, db_schema=db_schema) if quarantine_rules else None
    # A replaced partition's old quarantined rows go too, whatever the contract says now: without
    # quarantine rules there is nothing to create, but a table left by an earlier contract is emptied
    # of this partition (a clean rerun must not leave yesterday's rejects beside today's rows).
    stale_quarantine = (
        existing_quarantine_table(engine, target.name, db_schema=db_schema) if quarantine is None else None
    )
    columns = [c.name for c in target.columns]
    failing = any_failing(quarantine_rules)
    versions = None
    if keep is not None:
        from airflow_dataops.partitions.versions import ensure_versions_table, keep_current

        versions = ensure_versions_table(engine, target, db_schema=db_schema)
    kept = None
    with engine.connect() as conn, transaction(conn) as tx:
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
        conn.execute(target.delete().where(target.c[partition_column] == partition_key_param(partition_key)))
        source = select(*[stage.c[n] for n in columns])
        if failing is not None:
            source = source.where(~failing)
        conn.execute(target.insert().from_select(columns, source))
        quarantined = 0
        if stale_quarantine is not None:
            clear_partition(conn, stale_quarantine, partition_key)
        if quarantine is not None and failing is not None:
            clear_partition(conn, quarantine, partition_key)
            copy_failing(
                conn,
                source=stage,
                columns=columns,
                quarantine=quarantine,
                rules=quarantine_rules,
                where=(failing,),
                partition_key=partition_key,
                run_id=run_id,
                now=now,
            )
            quarantined = conn.execute(
                select(func.count())
                .select_from(quarantine)
                .where(quarantine.c[Q_KEY] == partition_key_param(partition_key))
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
    condition = (
        where if where is not None else target.c[partition_column] == partition_key_param(partition_key)
    )
    query = select(*[target.c[n] for n in cols]).where(condition)
    total, count = 0, 0
    # per statement: Connection.execution_options() would stream every later statement on conn too
    result = conn.execute(query, execution_options={"stream_results": True, "yield_per": 5000})
    for row in result:
        total = (total + row_digest(row)) & 0xFFFFFFFFFFFFFFFF
        count += 1
    return count, f"{count}:{total:016x}"
