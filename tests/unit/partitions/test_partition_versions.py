"""Naming of the versions table, and the retention rule of ``partitions prune``."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow_dataops.partitions.rollback import prune_plan
from airflow_dataops.partitions.versions import versions_table_name
from airflow_dataops.store.versions import VersionRecord

NOW = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)


def test_versions_table_is_named_after_the_target_and_long_names_still_fit() -> None:
    assert versions_table_name("orders") == "orders__versions"
    long = "x" * 60
    name = versions_table_name(long)
    assert len(name) <= 63 and name.startswith("dataops_versions_")
    assert versions_table_name(long) == name != versions_table_name("y" * 60)  # stable, one per table


def _v(apply_id: int, key: str, days_old: float, purged: bool = False) -> VersionRecord:
    kept = NOW - timedelta(days=days_old)
    return VersionRecord(
        id=apply_id,
        dataset="d",
        partition_key=key,
        apply_id=apply_id,
        rows=1,
        checksum="1:0",
        versions_table="t__versions",
        db_schema=None,
        kept_at=kept,
        kept_by_apply=None,
        purged_at=kept if purged else None,
    )


def test_prune_keeps_the_newest_n_or_the_young_and_never_a_purged_one_twice() -> None:
    versions = [
        _v(1, "a", 30),
        _v(2, "a", 20),
        _v(3, "a", 10),
        _v(4, "a", 2),  # young: kept whatever its rank
        _v(5, "a", 1),
        _v(6, "b", 40),  # alone in its partition: among the newest
        _v(7, "a", 50, purged=True),
    ]
    assert [v.apply_id for v in prune_plan(versions, keep=2, keep_days=7, now=NOW)] == [1, 2, 3]
    assert [v.apply_id for v in prune_plan(versions, keep=3, keep_days=15, now=NOW)] == [1, 2]
    assert prune_plan(versions, keep=10, keep_days=0, now=NOW) == []
    assert [v.apply_id for v in prune_plan(versions, keep=0, keep_days=0, now=NOW)] == [1, 2, 3, 4, 5, 6]
