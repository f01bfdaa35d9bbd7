"""Superseded versions of a partition, kept in the warehouse beside the target.

When a publish (or a rollback) replaces a partition, the rows it replaces are copied, in the
SAME warehouse transaction, into ``<table>__versions`` tagged with the apply id that published
them (``_dataops_apply_id``)::

    replace transaction   keep_current: target's partition rows → <table>__versions (apply id A)
                          DELETE the partition, INSERT the new rows, measure, fence, COMMIT

So the old rows are kept exactly when the new ones are committed: a rolled-back transaction
keeps nothing, a committed one always has the old version beside it.  The store indexes the
kept versions (``dataops_partition_versions``: rows, checksum, table) in the fence's store
transaction; ``partitions rollback`` copies a kept version back, and ``partitions prune`` is
the only thing that ever deletes one.

Why the warehouse and not the store: the rows stay in the database (and with the types) they
were published with, so a restore is an ``INSERT … SELECT`` between identical columns and its
checksum equals the original's; nothing is serialised or sent anywhere.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    Table,
    inspect,
    literal,
    select,
)

from airflow_dataops.partitions.tables import (
    MAX_IDENTIFIER,
    create_if_missing,
    ddl_type,
    partition_key_param,
    reflect_columns,
)

if TYPE_CHECKING:
    from airflow_dataops.config import DataOpsSettings
    from airflow_dataops.store.ledger import Claim

VERSIONS_SUFFIX = "__versions"
V_APPLY, V_KEPT_AT = "_dataops_apply_id", "_dataops_kept_at"


def versions_table_name(table: str) -> str:
    """``<table>__versions``, or ``dataops_versions_<hash of table>`` when that would be too long
    (a long table name must not stop its partitions from being published or kept)."""
    name = f"{table}{VERSIONS_SUFFIX}"
    if len(name) > MAX_IDENTIFIER:
        name = f"dataops_versions_{hashlib.sha1(table.encode()).hexdigest()[:16]}"
    return name


@dataclass(frozen=True, kw_only=True)
class KeepVersion:
    """The version a replace should keep: what the ledger says the partition holds now."""

    apply_id: int
    rows: int
    checksum: str
    # Measure the target before copying it: only needed after a takeover, when a killed attempt may
    # have committed rows the ledger never recorded. Otherwise the fence guarantees the target holds
    # this version (a hand edit since is caught by the rollback's own checksum check).
    verify: bool = True


@dataclass(frozen=True, kw_only=True)
class KeptVersion:
    """A version now kept in ``versions_table`` (rows and checksum measured there or before the copy)."""

    apply_id: int
    rows: int
    checksum: str
    versions_table: str
    db_schema: str | None


def version_to_keep(claim: Claim, *, settings: DataOpsSettings | None = None) -> KeepVersion | None:
    """What a publish under ``claim`` should keep: the published version it replaces, if any.

    ``None`` when the partition was never published, or ``[dataops] partition_versions_keep`` is 0.
    """
    from airflow_dataops.store.states import PUBLISHED_STATES

    prev = claim.previous
    if prev is None or prev.state not in PUBLISHED_STATES or prev.apply_id is None or not prev.checksum:
        return None
    if settings is None:
        from airflow_dataops.config import DataOpsSettings

        settings = DataOpsSettings.from_airflow()
    if settings.partition_versions_keep <= 0:
        return None
    return KeepVersion(
        apply_id=prev.apply_id,
        rows=prev.rows_published or 0,
        checksum=prev.checksum,
        verify=claim.took_over_from is not None,
    )


def ensure_versions_table(engine: Engine, target: Table, *, db_schema: str | None) -> Table:
    """``<table>__versions`` with the target's columns (added if the target gained some) and the tags."""
    name = versions_table_name(target.name)
    if not inspect(engine).has_table(name, schema=db_schema):
        table = Table(
            name,
            MetaData(),
            *[Column(c.name, ddl_type(engine, name, c.name, c.type)) for c in target.columns],
            Column(V_APPLY, Integer, nullable=False),
            Column(V_KEPT_AT, DateTime(timezone=True)),
            schema=db_schema,
        )
        create_if_missing(engine, table, db_schema)
    versions = reflect_columns(engine, name, db_schema)
    missing = [c for c in target.columns if c.name not in versions.c]
    if missing:  # the target gained columns since: older versions hold NULL there
        preparer = engine.dialect.identifier_preparer
        with engine.begin() as conn:
            for c in missing:
                ddl = ddl_type(engine, name, c.name, c.type).compile(dialect=engine.dialect)
                conn.exec_driver_sql(
                    f"ALTER TABLE {preparer.format_table(versions)} ADD COLUMN {preparer.quote(c.name)} {ddl}"
                )
        versions = reflect_columns(engine, name, db_schema)
    return versions


def _of_version(versions: Table, partition_column: str, partition_key: str, apply_id: int) -> Any:
    return (versions.c[partition_column] == partition_key_param(partition_key)) & (
        versions.c[V_APPLY] == literal(apply_id, Integer())
    )


def version_checksum(
    conn: Connection, versions: Table, target: Table, partition_column: str, partition_key: str, apply_id: int
) -> tuple[int, str]:
    """Rows and checksum of a kept version, over the target's columns (comparable with the ledger's)."""
    from airflow_dataops.partitions.writer import partition_checksum

    return partition_checksum(
        conn,
        versions,
        partition_column,
        partition_key,
        columns=[c.name for c in target.columns if c.name in versions.c],
        where=_of_version(versions, partition_column, partition_key, apply_id),
    )


def keep_current(
    conn: Connection,
    *,
    target: Table,
    versions: Table,
    partition_column: str,
    partition_key: str,
    keep: KeepVersion,
    now: datetime,
) -> KeptVersion | None:
    """Inside the replacing transaction: copy the partition's rows into ``versions`` as ``keep``.

    With ``keep.verify``, only if the target really holds that version (same rows and checksum as the ledger says):
    an attempt killed between its warehouse commit and its ledger record leaves rows the
    ledger never accepted, and those are not kept under another apply's id. That attempt's own
    transaction already kept ``keep`` (it committed), which is then found and reported as kept.

    :returns: the kept version, or ``None`` if it can be neither copied nor found.
    """
    from airflow_dataops.partitions.writer import partition_checksum

    found = (
        partition_checksum(conn, target, partition_column, partition_key)
        if keep.verify
        else (keep.rows, keep.checksum)
    )
    where = _of_version(versions, partition_column, partition_key, keep.apply_id)
    kept = KeptVersion(
        apply_id=keep.apply_id,
        rows=keep.rows,
        checksum=keep.checksum,
        versions_table=versions.name,
        db_schema=versions.schema,
    )
    if found == (keep.rows, keep.checksum):
        conn.execute(
            versions.delete().where(where)
        )  # a copy left by an attempt that rolled back is gone; a committed one is replaced
        columns = [c.name for c in target.columns]
        source = select(
            *[target.c[n] for n in columns],
            literal(keep.apply_id, Integer()),
            literal(now, DateTime(timezone=True)),
        ).where(target.c[partition_column] == partition_key_param(partition_key))
        conn.execute(versions.insert().from_select([*columns, V_APPLY, V_KEPT_AT], source))
        return kept
    already = version_checksum(conn, versions, target, partition_column, partition_key, keep.apply_id)
    return kept if already == (keep.rows, keep.checksum) else None


def restore_rows(
    conn: Connection,
    *,
    target: Table,
    versions: Table,
    partition_column: str,
    partition_key: str,
    apply_id: int,
) -> None:
    """Inside the rollback's transaction: replace the partition with the kept version ``apply_id``."""
    columns = [c.name for c in target.columns]
    missing = [n for n in columns if n not in versions.c]
    if missing:
        raise ValueError(
            f"{versions.name!r} lacks the target's columns {missing}; the version cannot be restored as it was"
        )
    conn.execute(target.delete().where(target.c[partition_column] == partition_key_param(partition_key)))
    source = select(*[versions.c[n] for n in columns]).where(
        _of_version(versions, partition_column, partition_key, apply_id)
    )
    conn.execute(target.insert().from_select(columns, source))


def delete_versions(engine: Engine, versions: Table, apply_ids: list[int]) -> int:
    """Delete the kept rows of ``apply_ids`` (apply ids are unique store-wide); returns rows deleted."""
    if not apply_ids:
        return 0
    with engine.begin() as conn:
        result = conn.execute(versions.delete().where(versions.c[V_APPLY].in_(sorted(apply_ids))))
        return int(result.rowcount or 0)
