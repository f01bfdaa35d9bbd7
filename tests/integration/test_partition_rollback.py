"""Kept versions and ``partitions rollback`` / ``prune`` on real stores and warehouses (SQLite and PostgreSQL).

Each partition is published the way the operator publishes it (claim → stage → publish with the
ledger's fence, keeping the replaced version); the rollback then restores a kept version and the
target's checksum must equal the one recorded when that version was first published.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
import pytest
from partition_workers import warehouse_engine
from sqlalchemy import MetaData, Table, select

from airflow_dataops.config import DataOpsSettings
from airflow_dataops.partitions.ledger import PartitionLedger
from airflow_dataops.partitions.rollback import (
    RollbackRefused,
    plan_rollback,
    prune_dataset,
    rollback_partition,
)
from airflow_dataops.partitions.verify import verify_dataset
from airflow_dataops.partitions.versions import version_to_keep
from airflow_dataops.partitions.writer import (
    drop_stage,
    ensure_target,
    partition_checksum,
    publish,
    stage_frame,
)
from airflow_dataops.store import versions as sv

DATASET = {
    "dataset": "orders",
    "target_table": "orders",
    "partition_column": "order_date",
    "db_schema": None,
    "conn_id": None,
    "dag_id": "orders_daily",
}
KEY = "2026-11-28"
KEEP = DataOpsSettings()  # the defaults: 3 versions, 7 days


def frame(n: int, salt: int = 0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": list(range(n)),
            "amount": [round(1.25 * i + salt, 2) for i in range(n)],
            "note": [None if i % 4 == 0 else f"n{i + salt}" for i in range(n)],
            "order_date": [KEY] * n,
        }
    )


def apply(store: Any, engine: Any, df: pd.DataFrame, run: str, *, rerun: bool = False, key: str = KEY) -> int:
    """What the operator does, minus Airflow: returns the apply id."""
    ledger = PartitionLedger(store, DATASET["dataset"])
    if rerun:
        ledger.request_rerun([key], reason=f"rerun {run}", requested_by="test", dag_id="orders_daily")
    claim = ledger.begin(key, dag_id="orders_daily", task_id="load", run_id=run, attempt=1)
    stage = stage_frame(engine, df, table="orders", partition_key=key, claim_id=claim.apply_id)
    target = ensure_target(engine, stage, table="orders")
    publish(
        engine,
        stage=stage,
        target=target,
        partition_column="order_date",
        partition_key=key,
        run_id=run,
        fence=ledger.fence(claim, gate_verdict="passed", contract_version="1.0.0"),
        keep=version_to_keep(claim, settings=KEEP),
    )
    drop_stage(engine, stage)
    return claim.apply_id


def target_checksum(engine: Any, key: str = KEY) -> tuple[int, str]:
    with engine.connect() as conn:
        return partition_checksum(conn, Table("orders", MetaData(), autoload_with=engine), "order_date", key)


def target_rows(engine: Any, key: str = KEY) -> list[tuple[Any, ...]]:
    t = Table("orders", MetaData(), autoload_with=engine)
    with engine.connect() as conn:
        return sorted(
            conn.execute(select(t.c.order_id, t.c.amount, t.c.note).where(t.c.order_date == key)).all(),
            key=lambda r: r[0],
        )


@pytest.fixture
def engine(warehouse_url: str) -> Any:
    e = warehouse_engine(warehouse_url)
    yield e
    e.dispose()


@pytest.fixture
def two_versions(store: Any, engine: Any) -> dict[str, Any]:
    """Version 1 (200 rows) published, then replaced by a rerun with 170 rows (version 1 kept)."""
    first = apply(store, engine, frame(200), "run_1")
    v1 = target_checksum(engine)
    v1_rows = target_rows(engine)
    second = apply(store, engine, frame(170, salt=7), "run_2", rerun=True)
    return {"first": first, "second": second, "v1": v1, "v1_rows": v1_rows, "v2": target_checksum(engine)}


def test_a_rerun_keeps_the_replaced_version_with_its_checksum(
    store: Any, engine: Any, two_versions: dict
) -> None:
    [kept] = sv.list_versions(store, "orders", KEY)
    assert (kept.apply_id, kept.rows, kept.checksum) == (two_versions["first"], *two_versions["v1"])
    assert kept.kept_by_apply == two_versions["second"] and kept.purged_at is None
    assert kept.versions_table == "orders__versions"
    state = PartitionLedger(store, "orders").state(KEY)
    assert (state.apply_id, state.rows_published) == (two_versions["second"], 170)


def test_rollback_restores_the_previous_version_byte_for_byte(
    store: Any, engine: Any, two_versions: dict
) -> None:
    result = rollback_partition(
        store, DATASET, KEY, reason="bad upstream fix", requested_by="oncall", engine=engine
    )
    assert result.restored_apply_id == two_versions["first"]
    assert result.replaced_apply_id == two_versions["second"] and result.replaced_kept
    assert (result.rows, result.checksum) == two_versions["v1"]
    assert target_checksum(engine) == two_versions["v1"]
    assert target_rows(engine) == two_versions["v1_rows"]
    state = PartitionLedger(store, "orders").state(KEY)
    # a new apply id: downstream partitions built from the replaced version are stale by the ledger's rule
    assert state.apply_id == result.apply_id > two_versions["second"]
    assert (state.state, state.rows_published, state.checksum) == ("applied", 200, two_versions["v1"][1])
    history = {h.id: h for h in PartitionLedger(store, "orders").history(KEY)}
    assert history[result.apply_id].action == "rollback"
    assert (history[result.apply_id].reason, history[result.apply_id].requested_by) == (
        "bad upstream fix",
        "oncall",
    )
    assert history[two_versions["second"]].state == "rolled_back"
    [finding] = verify_dataset(store, DATASET, engine=engine)
    assert finding.ok, finding


def test_a_rollback_can_be_undone(store: Any, engine: Any, two_versions: dict) -> None:
    first = rollback_partition(store, DATASET, KEY, reason="back to v1", requested_by="a", engine=engine)
    undo = rollback_partition(
        store, DATASET, KEY, reason="undo: v2 was right", requested_by="b", engine=engine
    )
    assert undo.restored_apply_id == two_versions["second"]
    assert undo.replaced_apply_id == first.apply_id
    assert target_checksum(engine) == two_versions["v2"]
    again = rollback_partition(store, DATASET, KEY, reason="and back", requested_by="c", engine=engine)
    assert again.restored_apply_id == first.apply_id  # the rollback's own content is a kept version too
    assert target_checksum(engine) == two_versions["v1"]
    assert all(f.ok for f in verify_dataset(store, DATASET, engine=engine))


def test_rollback_to_an_explicit_older_version(store: Any, engine: Any, two_versions: dict) -> None:
    third = apply(store, engine, frame(90, salt=3), "run_3", rerun=True)
    result = rollback_partition(
        store, DATASET, KEY, to_apply_id=two_versions["first"], reason="v1", requested_by="me", engine=engine
    )
    assert (result.replaced_apply_id, result.restored_apply_id) == (third, two_versions["first"])
    assert target_checksum(engine) == two_versions["v1"]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        pytest.param("unknown_key", "is not in the ledger; nothing to roll back", id="no-partition"),
        pytest.param(
            "no_such", "has no kept version with apply id 999999; kept versions: ", id="no-such-version"
        ),
        pytest.param(
            "first_only", "has no kept version to roll back to (kept versions: none)", id="no-version"
        ),
        pytest.param("busy", "is busy: run 'run_live' holds it", id="busy"),
        pytest.param("empty_reason", "a rollback needs a reason", id="no-reason"),
        pytest.param("current", "already holds version", id="already-current"),
    ],
)
def test_refusals_change_nothing(store: Any, engine: Any, case: str, expected: str) -> None:
    first = apply(store, engine, frame(50), "run_1")
    kwargs: dict[str, Any] = {"reason": "r", "requested_by": "me", "engine": engine}
    key = KEY
    if case == "unknown_key":
        key = "2030-01-01"
    if case in ("no_such", "busy", "empty_reason", "current"):
        apply(store, engine, frame(40, salt=1), "run_2", rerun=True)
    if case == "no_such":
        kwargs["to_apply_id"] = 999999
    if case == "empty_reason":
        kwargs["reason"] = "  "
    if case == "current":
        rollback_partition(store, DATASET, KEY, **kwargs)
        kwargs["to_apply_id"] = first
    if case == "busy":
        PartitionLedger(store, "orders").request_rerun([KEY], reason="x", requested_by="t", dag_id=None)
        PartitionLedger(store, "orders").begin(
            KEY, dag_id="orders_daily", task_id="t", run_id="run_live", attempt=1
        )
    before_state = PartitionLedger(store, "orders").state(KEY)
    before = target_checksum(engine)
    with pytest.raises(RollbackRefused) as info:
        rollback_partition(store, DATASET, key, **kwargs)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)
    assert target_checksum(engine) == before
    assert PartitionLedger(store, "orders").state(KEY) == before_state


def test_purged_version_is_refused_and_prune_keeps_what_retention_covers(
    store: Any, engine: Any, two_versions: dict
) -> None:
    for i in range(3, 7):  # versions 2..5 kept too: 5 kept versions in all
        apply(store, engine, frame(10 + i, salt=i), f"run_{i}", rerun=True)
    kept = sv.list_versions(store, "orders", KEY)
    assert len(kept) == 5
    young = prune_dataset(store, DATASET, keep=2, keep_days=7, dry_run=False, engine=engine)
    assert young.purged == ()  # all younger than 7 days: nothing is deleted
    dry = prune_dataset(store, DATASET, keep=2, keep_days=0, dry_run=True, engine=engine)
    assert [v.apply_id for v in dry.purged] == sorted(v.apply_id for v in kept)[:3]
    assert all(
        v.purged_at is None for v in sv.list_versions(store, "orders", KEY)
    )  # a dry run changes nothing
    done = prune_dataset(store, DATASET, keep=2, keep_days=0, dry_run=False, engine=engine)
    assert [v.apply_id for v in done.purged] == [v.apply_id for v in dry.purged] and done.kept == 2
    assert done.rows_deleted == 200 + 170 + 13
    versions_table = Table("orders__versions", MetaData(), autoload_with=engine)
    with engine.connect() as conn:
        left = set(conn.execute(select(versions_table.c._dataops_apply_id).distinct()).scalars())
    assert left == {v.apply_id for v in kept} - {v.apply_id for v in dry.purged}
    with pytest.raises(
        RollbackRefused, match=rf"version {two_versions['first']} of partition .* was purged at"
    ):
        rollback_partition(
            store,
            DATASET,
            KEY,
            to_apply_id=two_versions["first"],
            reason="r",
            requested_by="me",
            engine=engine,
        )
    newest = max(left)
    result = rollback_partition(
        store, DATASET, KEY, to_apply_id=newest, reason="r", requested_by="me", engine=engine
    )
    assert result.restored_apply_id == newest


def test_keep_zero_keeps_nothing(store: Any, engine: Any) -> None:
    ledger = PartitionLedger(store, "orders")
    apply(store, engine, frame(5), "run_1")
    ledger.request_rerun([KEY], reason="r", requested_by="t", dag_id=None)
    claim = ledger.begin(KEY, dag_id="d", task_id="t", run_id="run_2", attempt=1)
    assert version_to_keep(claim, settings=DataOpsSettings(partition_versions_keep=0)) is None
    assert version_to_keep(claim, settings=KEEP) is not None


def test_plan_rollback_is_read_only(store: Any, engine: Any, two_versions: dict) -> None:
    current, version = plan_rollback(store, DATASET, KEY, to_apply_id=None)
    assert (current.apply_id, version.apply_id) == (two_versions["second"], two_versions["first"])
    assert PartitionLedger(store, "orders").state(KEY).apply_id == two_versions["second"]


def test_a_rollback_failing_inside_its_transaction_changes_nothing(
    store: Any, engine: Any, two_versions: dict
) -> None:
    def boom() -> None:
        raise RuntimeError("warehouse went away")

    with pytest.raises(RuntimeError, match="warehouse went away"):
        rollback_partition(
            store, DATASET, KEY, reason="r", requested_by="me", engine=engine, before_commit=boom
        )
    state = PartitionLedger(store, "orders").state(KEY)
    assert (state.state, state.apply_id) == ("applied", two_versions["second"])
    assert target_checksum(engine) == two_versions["v2"]
    # and it can be retried at once: the failed rollback released the partition
    result = rollback_partition(
        store, DATASET, KEY, reason="r", requested_by="me", engine=engine, lease=timedelta(minutes=1)
    )
    assert target_checksum(engine) == two_versions["v1"] == (result.rows, result.checksum)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_rollback_when_store_and_warehouse_are_one_sqlite_file(store_url: str) -> None:
    """The fence then records on the warehouse's own connection; the rollback's records go with it."""
    from airflow_dataops.store import StateStore

    store = StateStore(store_url)
    store.migrate()
    engine = warehouse_engine(store_url)
    try:
        apply(store, engine, frame(30), "run_1")
        v1 = target_checksum(engine)
        apply(store, engine, frame(20, salt=2), "run_2", rerun=True)
        result = rollback_partition(store, DATASET, KEY, reason="one file", requested_by="me", engine=engine)
        assert target_checksum(engine) == v1 == (result.rows, result.checksum)
        assert next(v.apply_id for v in sv.list_versions(store, "orders", KEY)) == result.replaced_apply_id
        assert all(f.ok for f in verify_dataset(store, DATASET, engine=engine))
    finally:
        engine.dispose()
        store.dispose()


def test_a_dead_rollback_is_taken_over_once_its_lease_expired(
    store: Any, engine: Any, two_versions: dict
) -> None:
    """A rollback killed after its claim leaves the partition `applying`: refused as busy while its lease
    runs, then planned and carried out by the next rollback (as the CLI does: plan, then roll back)."""
    import time

    dead = sv.claim_rollback(
        store,
        dataset="orders",
        partition_key=KEY,
        to_apply_id=None,
        reason="killed",
        requested_by="a",
        run_id="rollback__dead",
        lease=timedelta(seconds=1),
    )
    assert isinstance(dead, sv.RollbackClaim)
    with pytest.raises(RollbackRefused, match="is busy: run 'rollback__dead' holds it"):
        plan_rollback(store, DATASET, KEY, to_apply_id=None)
    time.sleep(1.3)  # the store's clock decides when the lease is over
    current, version = plan_rollback(store, DATASET, KEY, to_apply_id=None)
    assert (current.apply_id, version.apply_id) == (two_versions["second"], two_versions["first"])
    result = rollback_partition(store, DATASET, KEY, reason="retry", requested_by="b", engine=engine)
    assert target_checksum(engine) == two_versions["v1"] == (result.rows, result.checksum)
    history = {h.id: h for h in PartitionLedger(store, "orders").history(KEY)}
    assert (
        history[dead.claim.apply_id].state == "failed"
        and "did not finish" in history[dead.claim.apply_id].error
    )
