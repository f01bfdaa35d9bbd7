"""Migration 5 (the UI's read index) and a runner that copes with gaps in the version numbers.

Versions are pre-assigned per change, so a store can hold 1, 2, 5 before 3 and 4 exist in the
code, or 1, 2, 3 from another branch's code: the runner applies whatever known migration is not
recorded, and readers see a store missing a known lower version as older than the code.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, inspect

from airflow_dataops.store import StateStore, migrations
from airflow_dataops.store import tables as t


def _versions(url: str) -> list[int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        out = sorted(
            int(v)
            for v in conn.execute(
                t.schema_version.select().with_only_columns(t.schema_version.c.version)
            ).scalars()
        )
    engine.dispose()
    return out


def _indexes(url: str) -> set[str]:
    engine = create_engine(url)
    with engine.connect() as conn:
        out = {
            i["name"]
            for table in (t.partitions, t.sli_observations)
            for i in inspect(conn).get_indexes(table.name)
        }
    engine.dispose()
    return out


V5_INDEXES = {"ix_dataops_partitions_updated", "ix_dataops_sli_bad_freshness"}


def test_migration_5_adds_its_read_indexes_to_an_existing_store(store_url: str) -> None:
    store = StateStore(store_url)
    store.migrate()
    store.dispose()
    engine = create_engine(store_url)
    with engine.begin() as conn:  # back to version 2: the index did not exist then
        conn.execute(t.schema_version.delete().where(t.schema_version.c.version == 5))
        for name in sorted(V5_INDEXES):
            conn.exec_driver_sql(f"DROP INDEX {name}")
    engine.dispose()
    assert not V5_INDEXES & _indexes(store_url)
    assert StateStore(store_url).version() == 2
    assert StateStore(store_url).migrate() == (2, migrations.HEAD)
    assert _indexes(store_url) >= V5_INDEXES
    assert _versions(store_url) == [m.version for m in migrations.MIGRATIONS]


def test_a_known_migration_below_the_highest_applied_is_applied(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    StateStore(store_url).migrate()  # 1, 2, 5 recorded
    ran: list[int] = []
    three = migrations.Migration(3, "another change's step", lambda conn: ran.append(3))
    known = (*migrations.MIGRATIONS[:2], three, *migrations.MIGRATIONS[2:])
    monkeypatch.setattr(migrations, "MIGRATIONS", known)
    reader = StateStore(store_url)
    assert reader.version() == 2  # 3 is missing: readers ask for `db migrate`
    assert StateStore(store_url).migrate() == (2, 5)
    assert ran == [3]
    assert _versions(store_url) == [1, 2, 3, 5]
    assert StateStore(store_url).migrate() == (5, 5) and ran == [3]  # once


def test_an_unknown_lower_version_recorded_by_other_code_is_not_a_gap(store_url: str) -> None:
    StateStore(store_url).migrate()
    engine = create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(
            t.schema_version.insert().values(
                version=3, description="other", applied_at=datetime.now(timezone.utc)
            )
        )
    engine.dispose()
    assert StateStore(store_url).version() == migrations.HEAD
    assert StateStore(store_url).migrate() == (migrations.HEAD, migrations.HEAD)


@pytest.mark.parametrize(
    ("applied", "expected"),
    [(set(), 0), ({1}, 1), ({1, 2}, 2), ({1, 2, 5}, 5), ({1, 2, 3}, 3), ({1, 5}, 1), ({1, 2, 5, 9}, 9)],
)
def test_effective_version(applied: set[int], expected: int) -> None:
    assert migrations.effective_version(applied) == expected
