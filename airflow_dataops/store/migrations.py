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
from datetime import datetime, timezone

from sqlalchemy import Connection, func, inspect, select, text

from airflow_dataops.store import tables as t

_ADVISORY_LOCK_KEY = 0x0DA7A095  # any constant; only our migrator takes it


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    upgrade: Callable[[Connection], None]


def _v1_initial(conn: Connection) -> None:
    t.metadata.create_all(conn, checkfirst=True)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "ledger, history, rerun requests, SLIs, contract results, breaches, datasets", _v1_initial),
)

HEAD = MIGRATIONS[-1].version


def current_version(conn: Connection) -> int:
    """The highest migration applied, 0 for an empty database."""
    if not inspect(conn).has_table(t.schema_version.name):
        return 0
    return int(conn.execute(select(func.coalesce(func.max(t.schema_version.c.version), 0))).scalar_one())


def upgrade(conn: Connection) -> tuple[int, int]:
    """Apply every pending migration on ``conn`` (already in a write transaction).

    :returns: (version before, version after).
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK_KEY})
    before = current_version(conn)
    for migration in MIGRATIONS:
        if migration.version <= before:
            continue
        migration.upgrade(conn)
        if not inspect(conn).has_table(t.schema_version.name):
            t.schema_version.create(conn)
        conn.execute(
            t.schema_version.insert().values(
                version=migration.version,
                description=migration.description,
                applied_at=datetime.now(timezone.utc),
            )
        )
    return before, max(before, HEAD)
