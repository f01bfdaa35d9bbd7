"""Migration 5 (the UI's read index) and a runner that copes with gaps in the version numbers.

Versions are pre-assigned per change, so a store can hold 1, 2, 5 before 3 and 4 exist in the
code, or 1, 2, 3 from another branch's code: the runner applies whatever known migration is not
recorded, and readers see a store missing a known lower version as older than the code.
"""

from __future__ import annotations

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
    with engine.begin() as conn:  # 5 not applied: the index did not exist then
        conn.execute(t.schema_version.delete().where(t.schema_version.c.version == 5))
        for name in sorted(V5_INDEXES):
            conn.exec_driver_sql(f"DROP INDEX {name}")
    engine.dispose()
    assert not V5_INDEXES & _indexes(store_url)
    before_5 = max(m.version for m in migrations.MIGRATIONS if m.version < 5)
    assert StateStore(store_url).version() == before_5
    assert StateStore(store_url).migrate() == (before_5, migrations.HEAD)
    assert _indexes(store_url) >= V5_INDEXES
    assert _versions(store_url) == [m.version for m in migrations.MIGRATIONS]


def test_a_known_migration_below_the_highest_applied_is_applied(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Independent of the real numbering: a later change's step (head + 2) applied first, then
    # code that also knows head + 1 (another branch's number) meets that store.
    real, head = migrations.MIGRATIONS, migrations.HEAD
    ran: list[int] = []
    later = migrations.Migration(head + 2, "a later change's step", lambda conn: ran.append(head + 2))
    monkeypatch.setattr(migrations, "MIGRATIONS", (*real, later))
    monkeypatch.setattr(migrations, "HEAD", head + 2)
    StateStore(store_url).migrate()
    assert ran == [head + 2]
    gap = migrations.Migration(head + 1, "another change's step", lambda conn: ran.append(head + 1))
    monkeypatch.setattr(migrations, "MIGRATIONS", (*real, gap, later))
    reader = StateStore(store_url)
    assert reader.version() == head  # head + 1 is missing: readers ask for `db migrate`
    assert StateStore(store_url).migrate() == (head, head + 2)
    assert ran == [head + 2, head + 1]
    assert _versions(store_url) == [*(m.version for m in real), head + 1, head + 2]
    assert StateStore(store_url).migrate() == (head + 2, head + 2) and ran == [head + 2, head + 1]  # once


def test_an_unknown_lower_version_recorded_by_other_code_is_not_a_gap(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a store migrated by code that knew one more step (here: the real 3) than this code does
    StateStore(store_url).migrate()
    assert 3 in _versions(store_url)
    monkeypatch.setattr(migrations, "MIGRATIONS", tuple(m for m in migrations.MIGRATIONS if m.version != 3))
    assert StateStore(store_url).version() == migrations.HEAD
    assert StateStore(store_url).migrate() == (migrations.HEAD, migrations.HEAD)


@pytest.mark.parametrize(
    ("applied", "expected"),
    [(set(), 0), ({1}, 1), ({1, 2}, 2), ({1, 2, 5}, 5), ({1, 2, 3}, 3), ({1, 5}, 1), ({1, 2, 5, 9}, 9)],
)
def test_effective_version(applied: set[int], expected: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # judged against a fixed set of known versions (1, 2, 5), whatever the real numbering is today
    known = tuple(migrations.Migration(v, f"v{v}", lambda conn: None) for v in (1, 2, 5))
    monkeypatch.setattr(migrations, "MIGRATIONS", known)
    assert migrations.effective_version(applied) == expected
