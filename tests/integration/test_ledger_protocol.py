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

import random
from collections import Counter

import pytest
from partition_workers import (
    CTX,
    DATASET,
    POINTS,
    kill_at,
    run_workers,
    source_multiset,
    target_multiset,
    target_multiset_or_empty,
)


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
