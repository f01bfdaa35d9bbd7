"""The ledger protocol under real concurrency and real crashes, on SQLite and PostgreSQL.

Each worker is a separate OS process (``multiprocessing`` fork) doing what the operator does:
``PartitionLedger.begin`` → stage → ``publish`` (one target transaction) → ``finish``.
The store and the warehouse are both SQLite files, or both PostgreSQL databases.

Crashes are real ``SIGKILL``s: a worker told to hold at a point (before staging, after
staging, inside the publish transaction before its commit, between publish and the
ledger's finish) writes a marker file there and sleeps; the test kills it, then a retry of
the same run (attempt + 1) must complete the partition, and the target must equal the
source exactly (same multiset of rows), never half of it.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import signal
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import MetaData, Table, create_engine, select

DATASET, TABLE, COLUMN = "flights", "flights", "flight_date"
CTX = mp.get_context("fork")


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture
def warehouse_url(store_url: str, tmp_path: Path) -> str:
    """A warehouse of the same kind as the store: a SQLite file, or a fresh PostgreSQL database."""
    if store_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'warehouse.db'}"
    from conftest import _fresh_pg_database

    return _fresh_pg_database()


def source(key: str, n: int = 200) -> pd.DataFrame:
    """The source rows of partition ``key``: deterministic, with NULLs and duplicates of their own."""
    seed = sum(map(ord, key))
    return pd.DataFrame(
        {
            "flight": [(seed + i) % 97 for i in range(n)],  # repeats on purpose
            "origin": [("JFK", "LGA", None)[i % 3] for i in range(n)],
            "delay": [float(i % 11) - 3.5 for i in range(n)],
            COLUMN: [key] * n,
        }
    )


def warehouse_engine(url: str) -> Any:
    if url.startswith("sqlite"):
        return create_engine(url, connect_args={"timeout": 60})
    return create_engine(url)


def target_multiset(url: str, key: str) -> Counter[tuple[Any, ...]]:
    engine = warehouse_engine(url)
    try:
        t = Table(TABLE, MetaData(), autoload_with=engine)
        with engine.connect() as conn:
            rows = conn.execute(
                select(t.c.flight, t.c.origin, t.c.delay, t.c[COLUMN]).where(t.c[COLUMN] == key)
            ).all()
        return Counter(tuple(r) for r in rows)
    finally:
        engine.dispose()


def source_multiset(key: str, n: int = 200) -> Counter[tuple[Any, ...]]:
    frame = source(key, n).astype(object).where(source(key, n).notna(), None)
    return Counter(tuple(r) for r in frame.itertuples(index=False, name=None))


# ----------------------------------------------------------------------------- the worker
def apply_partition(
    store_url: str,
    warehouse_url: str,
    key: str,
    run_id: str,
    attempt: int,
    *,
    n: int = 200,
    hold_at: str | None = None,
    marker: str | None = None,
    barrier: Any = None,
) -> str:
    """What ``PartitionWriteOperator.execute`` does, minus Airflow; returns how it ended."""
    from airflow_dataops.exceptions import PartitionAlreadyApplied
    from airflow_dataops.partitions.ledger import PartitionInProgress, PartitionLedger
    from airflow_dataops.partitions.writer import drop_stage, ensure_target, publish, stage_frame
    from airflow_dataops.store import StateStore

    def hold(point: str) -> None:
        if hold_at == point:
            Path(marker or "").write_text(point)
            while True:  # wait here for SIGKILL
                time.sleep(60)

    store = StateStore(store_url, connect_timeout=60)
    engine = warehouse_engine(warehouse_url)
    ledger = PartitionLedger(store, DATASET)
    if barrier is not None:
        barrier.wait(timeout=60)
    try:
        claim = ledger.begin(key, dag_id="dag", task_id="load", run_id=run_id, attempt=attempt)
    except PartitionAlreadyApplied:
        return "refused:already_applied"
    except PartitionInProgress:
        return "refused:in_progress"
    hold("before_stage")
    stage = stage_frame(engine, source(key, n), table=TABLE, partition_key=key)
    hold("after_stage")
    target = ensure_target(engine, stage, table=TABLE)
    result = publish(
        engine,
        stage=stage,
        target=target,
        partition_column=COLUMN,
        partition_key=key,
        run_id=run_id,
        before_commit=lambda: hold("in_publish_transaction"),
    )
    hold("before_finish")
    ledger.finish(
        claim,
        state="applied",
        rows_in=result.rows_in,
        rows_published=result.rows_published,
        rows_quarantined=0,
        checksum=result.checksum,
        gate_verdict=None,
        contract_version=None,
    )
    drop_stage(engine, stage)
    engine.dispose()
    store.dispose()
    return f"applied:{claim.action}:{result.rows_published}"


def _child(queue: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    try:
        queue.put((os.getpid(), apply_partition(*args, **kwargs)))
    except BaseException as e:  # report, never hang the parent
        queue.put((os.getpid(), f"error:{type(e).__name__}: {e}\n{traceback.format_exc()}"))


def run_workers(jobs: list[tuple[tuple[Any, ...], dict[str, Any]]], timeout: float = 120) -> list[str]:
    queue = CTX.Queue()
    procs = [CTX.Process(target=_child, args=(queue, a, k)) for a, k in jobs]
    for p in procs:
        p.start()
    results = [queue.get(timeout=timeout)[1] for _ in procs]
    for p in procs:
        p.join(timeout=30)
    return results


def kill_at(point: str | None, tmp_path: Path, args: tuple[Any, ...], *, delay: float | None = None) -> None:
    """Start a worker, SIGKILL it when it reaches ``point`` (or after ``delay`` seconds)."""
    marker = tmp_path / f"marker-{random.random()}"
    proc = CTX.Process(
        target=apply_partition, args=args, kwargs={"hold_at": point, "marker": str(marker)}, daemon=True
    )
    proc.start()
    if point is not None:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.is_alive(), f"worker exited ({proc.exitcode}) before reaching {point}"
            assert time.monotonic() < deadline, f"worker never reached {point}"
            time.sleep(0.02)
    else:
        time.sleep(delay or 0)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(timeout=30)


# ----------------------------------------------------------------------------- concurrency
@pytest.mark.slow
def test_eight_concurrent_applies_of_one_partition_exactly_one_wins(store, store_url, warehouse_url) -> None:
    key = "2026-11-01"
    barrier = CTX.Barrier(8)
    jobs = [((store_url, warehouse_url, key, f"run_{i}", 1), {"barrier": barrier}) for i in range(8)]
    outcomes = run_workers(jobs)
    applied = [o for o in outcomes if o.startswith("applied")]
    refused = [o for o in outcomes if o.startswith("refused")]
    errors = [o for o in outcomes if o.startswith("error")]
    # what must hold whatever happens: one apply, the partition written once, exactly
    assert len(applied) == 1 and len(applied) + len(refused) + len(errors) == 8, outcomes
    assert target_multiset(warehouse_url, key) == source_multiset(key)
    from airflow_dataops.partitions.ledger import PartitionLedger

    ledger = PartitionLedger(store, DATASET)
    assert ledger.state(key).state == "applied"
    actions = Counter(h.action for h in ledger.history(key))
    assert actions == {"apply": 1, "refused": len(refused)}
    assert len(refused) == 7, outcomes


@pytest.mark.slow
def test_eight_concurrent_applies_of_different_partitions_all_apply(store, store_url, warehouse_url) -> None:
    keys = [f"2026-11-{d:02d}" for d in range(1, 9)]
    barrier = CTX.Barrier(8)
    outcomes = run_workers(
        [((store_url, warehouse_url, k, f"run_{k}", 1), {"barrier": barrier}) for k in keys]
    )
    assert sorted(outcomes) == ["applied:apply:200"] * 8, outcomes
    for k in keys:
        assert target_multiset(warehouse_url, k) == source_multiset(k)


# ----------------------------------------------------------------------------- crashes
POINTS = ["before_stage", "after_stage", "in_publish_transaction", "before_finish"]


@pytest.mark.slow
@pytest.mark.parametrize("point", POINTS)
def test_a_killed_first_apply_is_completed_by_the_next_attempt(
    store, store_url, warehouse_url, tmp_path, point
):
    key = "2026-11-03"
    kill_at(point, tmp_path, (store_url, warehouse_url, key, "run_a", 1))
    # the partition is all or nothing: empty (or no table yet), or exactly the source
    if point != "before_finish":
        assert sum(target_multiset_or_empty(warehouse_url, key).values()) == 0
    else:
        assert target_multiset(warehouse_url, key) == source_multiset(key)
    from airflow_dataops.partitions.ledger import PartitionLedger

    ledger = PartitionLedger(store, DATASET)
    assert ledger.state(key).state == "applying"  # held by the dead attempt
    # another run is kept off by the dead attempt's lease; the same run's retry takes over at once
    assert run_workers([((store_url, warehouse_url, key, "run_b", 1), {})]) == ["refused:in_progress"]
    assert run_workers([((store_url, warehouse_url, key, "run_a", 2), {})]) == ["applied:apply:200"]
    assert target_multiset(warehouse_url, key) == source_multiset(key)
    state = ledger.state(key)
    assert (state.state, state.attempt, state.rows_published) == ("applied", 2, 200)
    dead = [h for h in ledger.history(key) if h.action == "apply" and h.attempt == 1]
    assert dead[0].state == "failed" and "did not finish" in (dead[0].error or "")


def _kill_a_rerun(store, store_url, warehouse_url, tmp_path, point):
    from airflow_dataops.partitions.ledger import PartitionLedger

    key = "2026-11-04"
    assert run_workers([((store_url, warehouse_url, key, "run_1", 1), {"n": 150})]) == ["applied:apply:150"]
    old = source_multiset(key, 150)
    ledger = PartitionLedger(store, DATASET)
    ledger.request_rerun([key], reason="source fixed", requested_by="test", dag_id="dag")
    kill_at(point, tmp_path, (store_url, warehouse_url, key, "run_1", 2))
    now = target_multiset(warehouse_url, key)
    assert now == (source_multiset(key) if point == "before_finish" else old)
    outcome = run_workers([((store_url, warehouse_url, key, "run_1", 3), {})])
    return ledger, key, outcome


@pytest.mark.slow
@pytest.mark.parametrize("point", POINTS)
def test_a_killed_rerun_leaves_the_old_partition_or_the_new_one(
    store, store_url, warehouse_url, tmp_path, point
):
    """Replacing an applied partition (a rerun) with different rows, killed at each point: old or new, never half."""
    ledger, key, outcome = _kill_a_rerun(store, store_url, warehouse_url, tmp_path, point)
    assert outcome[0].startswith("applied:") and outcome[0].endswith(":200"), outcome
    assert target_multiset(warehouse_url, key) == source_multiset(key)
    state = ledger.state(key)
    assert (state.state, state.attempt, state.rows_published) == ("applied", 3, 200)


@pytest.mark.slow
@pytest.mark.parametrize("point", ["in_publish_transaction"])
def test_the_retry_of_a_killed_rerun_is_still_the_rerun(store, store_url, warehouse_url, tmp_path, point):
    ledger, key, outcome = _kill_a_rerun(store, store_url, warehouse_url, tmp_path, point)
    assert outcome == ["applied:rerun:200"]
    history = ledger.history(key)
    assert [h.reason for h in history if h.action == "rerun" and h.state == "applied"] == ["source fixed"]
    assert [h.attempt for h in history if h.state in ("applied", "quarantined")] == [3]


@pytest.mark.slow
def test_kills_at_random_moments_never_leave_half_a_partition(
    store, store_url, warehouse_url, tmp_path
) -> None:
    rng = random.Random(20261122)
    key = "2026-11-05"
    for attempt in range(1, 6):
        kill_at(
            None, tmp_path, (store_url, warehouse_url, key, "run_r", attempt), delay=rng.uniform(0.0, 0.6)
        )
        got = target_multiset_or_empty(warehouse_url, key)
        assert got in (Counter(), source_multiset(key)), (
            f"half a partition after kill #{attempt}: {sum(got.values())}"
        )
    outcome = run_workers([((store_url, warehouse_url, key, "run_r", 6), {})])
    # the last kill may have landed after the ledger finished; then the partition is simply applied
    assert outcome[0] in ("applied:apply:200", "refused:already_applied"), outcome
    assert target_multiset(warehouse_url, key) == source_multiset(key)


def target_multiset_or_empty(url: str, key: str) -> Counter[tuple[Any, ...]]:
    from sqlalchemy import inspect

    engine = warehouse_engine(url)
    try:
        if not inspect(engine).has_table(TABLE):
            return Counter()
    finally:
        engine.dispose()
    return target_multiset(url, key)
