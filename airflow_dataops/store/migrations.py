"""Versioned migrations of the state store.

Each migration has a version, a description and an ``upgrade(connection)``.  They
run in order inside one write transaction, so two processes that migrate at the
same time do not both apply a step (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a
transaction-scoped advisory lock).  Steps must be idempotent by inspection (add a
column only if it is missing), because version 1 creates the tables from the
current definitions in ``tables.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from airflow.sdk.exceptions import AirflowFailException
from sqlalchemy import Connection, inspect, select, text

from airflow_dataops.clock import utcnow
from airflow_dataops.exceptions import StoreError
from airflow_dataops.store import tables as t

_ADVISORY_LOCK_KEY = 0x0DA7A095  # any constant; only our migrator takes it


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    upgrade: Callable[[Connection], None]


class StoreVersionError(StoreError, AirflowFailException):
    """The store's schema is at a version this code cannot use; a task retry cannot help."""


def _v1_initial(conn: Connection) -> None:
    t.metadata.create_all(conn, checkfirst=True)


def _add_column_if_missing(conn: Connection, table: str, column: str, ddl_type: str) -> None:
    if column not in {c["name"] for c in inspect(conn).get_columns(table)}:
        quote = conn.dialect.identifier_preparer.quote
        conn.exec_driver_sql(f"ALTER TABLE {quote(table)} ADD COLUMN {quote(column)} {ddl_type}")


def _v2_dataset_db_schema(conn: Connection) -> None:
    # `partitions verify` must read the table in the schema the partition was published to
    _add_column_if_missing(conn, t.datasets.name, "db_schema", "VARCHAR(250)")


def _v3_partition_inputs(conn: Connection) -> None:
    # what each applied partition was built from: the ledger's answer to staleness (#16)
    t.partition_inputs.create(conn, checkfirst=True)


def _v4_partition_versions(conn: Connection) -> None:
    # kept superseded versions (their index; the rows are in the warehouse) and rollbacks
    for table in (t.partition_versions, t.rollbacks):
        table.create(conn, checkfirst=True)


def _v5_ui_read_indexes(conn: Connection) -> None:
    # The UI reads max(dataops_partitions.updated_at) on every request (its high-water marks)
    # and the partitions written since its snapshot: an index instead of a scan of the ledger.
    t.ix_partitions_updated.create(conn, checkfirst=True)
    # The operations report (on the UI's first request) reads the bad freshness SLIs of a period.
    t.ix_sli_bad_freshness.create(conn, checkfirst=True)


def _v6_slo_rechecks(conn: Connection) -> None:
    # fast resolution (#17): a rerun or a verify asks the evaluator DAG to re-check SLOs now
    t.slo_rechecks.create(conn, checkfirst=True)


# Version numbers were assigned per change before merging; a store may hold any subset of the versions below
# (a branch's migration applied before another's lower number existed), so ``upgrade`` applies
# every known migration not yet recorded, not just those above the highest one applied.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "ledger, history, rerun requests, SLIs, contract results, breaches, datasets", _v1_initial),
    Migration(2, "datasets.db_schema: the warehouse schema a dataset is published to", _v2_dataset_db_schema),
    Migration(
        3,
        "partition_inputs: the upstream partitions (and their apply ids) each apply read",
        _v3_partition_inputs,
    ),
    Migration(4, "partition versions kept for rollback, and the rollbacks made", _v4_partition_versions),
    Migration(
        5,
        "indexes: dataops_partitions(updated_at) for the UI's change marks, bad freshness SLIs by time",
        _v5_ui_read_indexes,
    ),
    Migration(6, "slo_rechecks: re-evaluate SLOs at once after a rerun or a verify", _v6_slo_rechecks),
)

HEAD = MIGRATIONS[-1].version


def newer_than_code(version: int, where: str) -> StoreVersionError:
    return StoreVersionError(
        f"dataops state store {where}: store schema v{version} is newer than this airflow-dataops (v{HEAD}): "
        "upgrade airflow-dataops; nothing was read or written"
    )


def check_readable(version: int, where: str) -> None:
    """Refuse to read a store this code does not know the shape of; readers never migrate.

    Newer: a retry cannot help (``StoreVersionError``).  Empty or older: the next writer (a
    task, ``db migrate``) fixes it, so a reader's retry may succeed (plain ``StoreError``).
    """
    if version > HEAD:
        raise newer_than_code(version, where)
    if version == 0:
        raise StoreError(
            f"dataops state store {where} holds no dataops tables (schema version 0); nothing was created. "
            "Create them with `airflow dataops db migrate` (a task's first publish also does), or point "
            "[dataops] store_url (AIRFLOW__DATAOPS__STORE_URL) at the existing store."
        )
    if version < HEAD:
        raise StoreError(
            f"dataops state store {where}: store schema v{version} is older than this airflow-dataops "
            f"(v{HEAD}) and read-only commands do not migrate; run `airflow dataops db migrate` "
            "(a task's next publish also migrates it)."
        )


def applied_versions(conn: Connection) -> set[int]:
    """The versions recorded in the store (empty for an empty database)."""
    if not inspect(conn).has_table(t.schema_version.name):
        return set()
    return {int(v) for v in conn.execute(select(t.schema_version.c.version)).scalars()}


def effective_version(applied: set[int]) -> int:
    """The store's version as this code sees it: the highest applied, unless a migration this
    code knows of below it is missing (a gap left by another branch's numbering); then the
    version just before the first missing one, so readers ask for ``db migrate``."""
    if not applied:
        return 0
    top = max(applied)
    missing = [m.version for m in MIGRATIONS if m.version < top and m.version not in applied]
    if not missing:
        return top
    below = [v for v in applied if v < min(missing)]
    return max(below, default=0)


def pending(applied: set[int]) -> list[Migration]:
    """The known migrations not recorded in the store, in order."""
    return [m for m in MIGRATIONS if m.version not in applied]


def current_version(conn: Connection) -> int:
    """The store's version (:func:`effective_version`), 0 for an empty database."""
    return effective_version(applied_versions(conn))


def upgrade(conn: Connection) -> tuple[int, int]:
    """Apply every pending migration on ``conn`` (already in a write transaction).

    :returns: (version before, version after).
    :raises StoreVersionError: the store is newer than this code (nothing is written).
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK_KEY})
    applied = applied_versions(conn)
    before = effective_version(applied)
    if max(applied, default=0) > HEAD:
        url = conn.engine.url.render_as_string(hide_password=True)
        raise newer_than_code(max(applied), url)
    for migration in pending(applied):
        migration.upgrade(conn)
        if not inspect(conn).has_table(t.schema_version.name):
            t.schema_version.create(conn)
        conn.execute(
            t.schema_version.insert().values(
                version=migration.version,
                description=migration.description,
                applied_at=utcnow(),
            )
        )
    return before, effective_version(applied | {m.version for m in MIGRATIONS})
