"""Workers for the rollback crash tests: publishes that keep versions, and a rollback that can be told
to hold at a point (after its claim, inside its warehouse transaction, between the warehouse's commit
and the ledger's) so a test can SIGKILL it exactly there.  Real OS processes, real stores."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from partition_workers import (
    COLUMN,
    DATASET,
    TABLE,
    holder,
    kill_in,
    run_children,
    source,
    warehouse_engine,
)

ROLLBACK_POINTS = ["after_claim", "in_transaction", "after_warehouse_commit"]
DATASET_ROW = {
    "dataset": DATASET,
    "target_table": TABLE,
    "partition_column": COLUMN,
    "db_schema": None,
    "conn_id": None,
    "dag_id": "dag",
}


def publish_version(store_url: str, warehouse_url: str, key: str, run_id: str, n: int, *, rerun: bool) -> int:
    """Publish ``source(key, n)`` as the operator does, keeping the version it replaces; returns its apply id."""
    from airflow_dataops.config import DataOpsSettings
    from airflow_dataops.partitions.ledger import PartitionLedger
    from airflow_dataops.partitions.versions import version_to_keep
    from airflow_dataops.partitions.writer import drop_stage, ensure_target, publish, stage_frame
    from airflow_dataops.store import StateStore

    store = StateStore(store_url, connect_timeout=60)
    engine = warehouse_engine(warehouse_url)
    try:
        ledger = PartitionLedger(store, DATASET)
        if rerun:
            ledger.request_rerun([key], reason=f"new data {run_id}", requested_by="soak", dag_id="dag")
        claim = ledger.begin(key, dag_id="dag", task_id="load", run_id=run_id, attempt=1)
        stage = stage_frame(engine, source(key, n), table=TABLE, partition_key=key, claim_id=claim.apply_id)
        target = ensure_target(engine, stage, table=TABLE)
        publish(
            engine,
            stage=stage,
            target=target,
            partition_column=COLUMN,
            partition_key=key,
            run_id=run_id,
            fence=ledger.fence(claim, gate_verdict=None, contract_version=None),
            keep=version_to_keep(claim, settings=DataOpsSettings()),
        )
        drop_stage(engine, stage)
        return claim.apply_id
    finally:
        engine.dispose()
        store.dispose()


def rollback(
    store_url: str,
    warehouse_url: str,
    key: str,
    to_apply_id: int,
    *,
    lease_seconds: float = 600,
    hold_at: str | None = None,
    marker: str | None = None,
    barrier: Any = None,
) -> str:
    """Roll ``key`` back to ``to_apply_id``; returns ``rolled_back:<apply id>`` or ``refused:<message>``."""
    from airflow_dataops.partitions.rollback import RollbackRefused, plan_rollback, rollback_partition
    from airflow_dataops.store import StateStore

    hold = holder(hold_at, marker)
    store = StateStore(store_url, connect_timeout=60)
    engine = warehouse_engine(warehouse_url)
    if barrier is not None:
        barrier.wait(timeout=60)
    try:
        from airflow_dataops.store import versions as sv

        claim_rollback = sv.claim_rollback

        def claim_then_hold(*a: Any, **kw: Any) -> Any:
            outcome = claim_rollback(*a, **kw)
            hold("after_claim")
            return outcome

        sv.claim_rollback = claim_then_hold  # type: ignore[assignment]  # this process only
        plan_rollback(store, DATASET_ROW, key, to_apply_id=to_apply_id)  # as the CLI: plan, then roll back
        result = rollback_partition(
            store,
            DATASET_ROW,
            key,
            to_apply_id=to_apply_id,
            reason="soak: restore",
            requested_by="soak",
            engine=engine,
            lease=timedelta(seconds=lease_seconds),
            before_commit=lambda: hold("in_transaction"),
            after_commit=lambda: hold("after_warehouse_commit"),
        )
        return f"rolled_back:{result.apply_id}"
    except RollbackRefused as e:
        return f"refused:{e}"
    finally:
        engine.dispose()
        store.dispose()


def in_child(fn: Any, *args: Any, timeout: float = 120, **kwargs: Any) -> Any:
    """Run ``fn`` in a process of its own (no connection shared with the test) and return its result."""
    (result,) = run_children([(fn, args, kwargs)], timeout=timeout)
    if isinstance(result, str) and result.startswith("error:"):
        raise AssertionError(result)
    return result


def kill_rollback(
    point: str | None, tmp_path: Path, args: tuple[Any, ...], *, delay: float = 0.0, **kw: Any
) -> None:
    """Start a rollback, SIGKILL it when it reaches ``point`` (or after ``delay`` seconds)."""
    kill_in(rollback, point, tmp_path, args, delay=delay, what="rollback", **kw)
