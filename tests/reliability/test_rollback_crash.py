"""SIGKILL of ``partitions rollback`` at random points, on SQLite and PostgreSQL.

``DATAOPS_ROLLBACK_CRASH_RUNS`` (default 24) runs per backend: a partition is published (200 rows)
and replaced by a rerun (120 other rows, the first version kept), then a rollback to the first
version is killed at one of its three protocol points (after its claim, inside its warehouse
transaction, between the warehouse's commit and the ledger's) or after a random delay.
Right after the kill the target holds exactly one whole version (the replaced one or the
restored one, never a mix); the ledger either agrees with it or still shows the dead rollback's
claim, which the next rollback takes over once its (short) lease has expired. After that retry the
target equals the first version byte for byte (its original checksum), the ledger agrees and
``partitions verify`` finds nothing.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter

import pytest
from partition_workers import CTX, DATASET, run_children, source_multiset, target_multiset, warehouse_engine
from reliability_report import record
from rollback_workers import DATASET_ROW, ROLLBACK_POINTS, in_child, kill_rollback, publish_version, rollback

from airflow_dataops.partitions.ledger import PartitionLedger
from airflow_dataops.partitions.verify import verify_dataset
from airflow_dataops.store.states import PUBLISHED_STATES

RUNS = int(os.environ.get("DATAOPS_ROLLBACK_CRASH_RUNS", "24"))
LEASE = 1.0  # seconds: the killed rollback's claim, so the retry may take it over soon


@pytest.mark.slow
def test_sigkill_during_rollback_leaves_one_whole_version_and_the_retry_restores_it(
    store, store_url, warehouse_url, tmp_path
) -> None:
    backend = "PostgreSQL" if store_url.startswith("postgresql") else "SQLite"
    rng = random.Random(f"rollback-crash-{backend}")
    where: Counter[str] = Counter()
    after: Counter[str] = Counter()
    ledger = PartitionLedger(store, DATASET)
    for i in range(RUNS):
        key = f"2026-{1 + i // 28:02d}-{1 + i % 28:02d}"
        first = in_child(publish_version, store_url, warehouse_url, key, f"r{i}_1", 200, rerun=False)
        original = ledger.state(key)
        in_child(publish_version, store_url, warehouse_url, key, f"r{i}_2", 120, rerun=True)
        v1, v2 = source_multiset(key, 200), source_multiset(key, 120)
        assert target_multiset(warehouse_url, key) == v2

        point = rng.choice([*ROLLBACK_POINTS, "random"])
        where[point] += 1
        args = (store_url, warehouse_url, key, first)
        if point == "random":
            kill_rollback(None, tmp_path, args, delay=rng.uniform(0.0, 0.5), lease_seconds=LEASE)
        else:
            kill_rollback(point, tmp_path, args, lease_seconds=LEASE)

        now = target_multiset(warehouse_url, key)
        assert now in (v1, v2), f"run {i} ({point}): the target holds neither whole version"
        state = ledger.state(key)
        if state.state in PUBLISHED_STATES:  # the rollback never claimed, or finished: the ledger agrees
            expected = v1 if state.rows_published == 200 else v2
            assert now == expected, f"run {i} ({point}): ledger {state.rows_published} rows, target differs"
        after["published" if state.state in PUBLISHED_STATES else state.state] += 1

        time.sleep(LEASE + 0.2)  # let a dead claim's lease run out (the store's clock decides)
        outcome = in_child(rollback, store_url, warehouse_url, key, first)
        assert outcome.startswith("rolled_back:") or "already holds version" in outcome, (i, point, outcome)
        assert target_multiset(warehouse_url, key) == v1, f"run {i} ({point}): not the first version"
        final = ledger.state(key)
        assert final.state == "applied" and (final.rows_published, final.checksum) == (
            original.rows_published,
            original.checksum,
        ), f"run {i} ({point}): ledger {final} != the first version's checksum"
        engine = warehouse_engine(warehouse_url)
        try:
            findings = [
                f for f in verify_dataset(store, DATASET_ROW, engine=engine) if f.partition_key == key
            ]
        finally:
            engine.dispose()
        assert [f.status for f in findings] == ["ok"], (i, point, findings)
    record(
        f"rollback-crash-{backend}",
        scenario=f"SIGKILL of a partition rollback at a random point ({backend} store and warehouse)",
        runs=RUNS,
        result="one whole version in the target after every kill, then the retry restored the original "
        "checksum and verify found 0 differences; kills: "
        + ", ".join(f"{k} {v}" for k, v in sorted(where.items()))
        + "; ledger right after the kill: "
        + ", ".join(f"{k} {v}" for k, v in sorted(after.items())),
    )


@pytest.mark.slow
def test_concurrent_rollbacks_of_one_partition_exactly_one_restores(store, store_url, warehouse_url) -> None:
    backend = "PostgreSQL" if store_url.startswith("postgresql") else "SQLite"
    rounds = max(1, RUNS // 6)
    for r in range(rounds):
        key = f"2028-01-{r + 1:02d}"
        first = in_child(publish_version, store_url, warehouse_url, key, f"c{r}_1", 200, rerun=False)
        in_child(publish_version, store_url, warehouse_url, key, f"c{r}_2", 120, rerun=True)
        barrier = CTX.Barrier(4)
        outcomes = run_children(
            [(rollback, (store_url, warehouse_url, key, first), {"barrier": barrier})] * 4
        )
        won = [o for o in outcomes if o.startswith("rolled_back:")]
        assert len(won) == 1, (r, outcomes)
        assert all("is busy" in o or "already holds version" in o for o in outcomes if o not in won), outcomes
        assert target_multiset(warehouse_url, key) == source_multiset(key, 200)
        state = PartitionLedger(store, DATASET).state(key)
        assert state.state == "applied" and state.rows_published == 200
    record(
        f"rollback-concurrency-{backend}",
        scenario=f"4 processes rolling back one partition at once ({backend})",
        runs=rounds,
        result=f"exactly 1 of 4 restored the version in each of {rounds} rounds; the others were refused "
        "(busy or already restored) and changed nothing",
    )
