"""Migration numbers are assigned before branches merge, so a store may miss one in the middle.

This branch has migrations 1, 2 and 4 (3 belongs to another branch). The runner applies every
known migration the store lacks, by set and not by order: a store migrated by code that knew 1, 2
and 4 still gets 3 once the code knows it, and one at 2 gets 4. Real SQLite and PostgreSQL stores.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, delete, inspect, select

from airflow_dataops.store import StateStore, migrations
from airflow_dataops.store import tables as t


def _versions(store: StateStore) -> list[int]:
    with store.engine.connect() as conn:
        return sorted(conn.execute(select(t.schema_version.c.version)).scalars())


def test_this_branch_numbers_its_migration_4_and_a_fresh_store_gets_all(store_url: str) -> None:
    assert [m.version for m in migrations.MIGRATIONS][-1] == 4 == migrations.HEAD
    store = StateStore(store_url)
    assert store.migrate() == (0, 4)
    assert _versions(store) == [m.version for m in migrations.MIGRATIONS]
    assert {"dataops_partition_versions", "dataops_rollbacks"} <= set(inspect(store.engine).get_table_names())
    store.dispose()


def test_a_store_at_2_gets_migration_4(store_url: str) -> None:
    store = StateStore(store_url)
    store.migrate()
    with store.engine.begin() as conn:  # as a store migrated before this branch: no 4, no tables of 4
        conn.execute(delete(t.schema_version).where(t.schema_version.c.version == 4))
        t.rollbacks.drop(conn)
        t.partition_versions.drop(conn)
    fresh = StateStore(store_url)
    assert fresh.version() == 2
    assert fresh.migrate() == (2, 4)
    assert {"dataops_partition_versions", "dataops_rollbacks"} <= set(inspect(fresh.engine).get_table_names())
    store.dispose()
    fresh.dispose()


def test_a_missing_middle_migration_is_applied_later(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = StateStore(store_url)
    store.migrate()  # 1, 2, 4: as this branch leaves it
    store.dispose()
    applied: list[str] = []

    def v3(conn: Connection) -> None:  # what the other branch's migration 3 stands for
        applied.append(conn.dialect.name)

    merged = (
        *migrations.MIGRATIONS[:2],
        migrations.Migration(3, "from another branch", v3),
        migrations.MIGRATIONS[2],
    )
    monkeypatch.setattr(migrations, "MIGRATIONS", merged)
    later = StateStore(store_url)
    assert later.version() == 2  # 3 is missing: not up to date, whatever the highest number says
    with pytest.raises(Exception, match="older than this airflow-dataops"):
        StateStore(store_url).ensure_readable()  # readers say to migrate
    assert later.migrate() == (2, 4)
    assert applied and _versions(later) == [1, 2, 3, 4]
    assert later.migrate() == (4, 4) and len(applied) == 1  # applied once
    later.dispose()
