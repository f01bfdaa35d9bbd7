"""Crash and concurrency soak of the partition protocol, on SQLite and PostgreSQL.

Crash: ``DATAOPS_CRASH_RUNS`` (default 100) runs per backend kill a partition write with SIGKILL
at a random point: one of the four protocol points (before stage, after stage, inside the
publish transaction, between publish and the ledger's finish) or after a random delay. Half the
runs kill a first apply, half a rerun that replaces an applied partition with different rows.
After each, the next attempt completes and the target equals the source exactly: 0 duplicated
rows, 0 lost rows, and the ledger matches the target (rows and checksum).

Concurrency: ``DATAOPS_CONCURRENCY_ROUNDS`` (default 20) rounds of 8 processes applying the same
partition (exactly one applies) and of 8 processes applying 8 different partitions (all apply).
"""

from __future__ import annotations

import os
import random
from collections import Counter

import pytest
from partition_workers import (
    CTX,
    DATASET,
    POINTS,
    TABLE,
    kill_at,
    run_workers,
    source_multiset,
    target_multiset,
    target_multiset_or_empty,
)
from reliability_report import record
from sqlalchemy import MetaData, Table, create_engine

from airflow_dataops.partitions.ledger import PartitionLedger
from airflow_dataops.partitions.writer import partition_checksum

CRASH_RUNS = int(os.environ.get("DATAOPS_CRASH_RUNS", "100"))
ROUNDS = int(os.environ.get("DATAOPS_CONCURRENCY_ROUNDS", "20"))


def _ledger_matches_target(store, warehouse_url: str, key: str) -> bool:
    state = PartitionLedger(store, DATASET).state(key)
    engine = create_engine(warehouse_url)
    try:
        with engine.connect() as conn:
            rows, checksum = partition_checksum(
                conn, Table(TABLE, MetaData(), autoload_with=engine), "flight_date", key
            )
    finally:
        engine.dispose()
    return state is not None and (state.rows_published, state.checksum) == (rows, checksum)


def _kept_versions(store, warehouse_url: str, key: str) -> list[tuple[int, bool]]:
    """(rows, its rows in <table>__versions match the recorded checksum) per kept version."""
    from airflow_dataops.partitions.versions import version_checksum
    from airflow_dataops.store.versions import list_versions

    engine = create_engine(warehouse_url)
    try:
        target = Table(TABLE, MetaData(), autoload_with=engine)
        versions = Table(f"{TABLE}__versions", MetaData(), autoload_with=engine)
        with engine.connect() as conn:
            return [
                (
                    v.rows,
                    version_checksum(conn, versions, target, "flight_date", key, v.apply_id)
                    == (v.rows, v.checksum),
                )
                for v in list_versions(store, DATASET, key)
            ]
    finally:
        engine.dispose()


@pytest.mark.slow
def test_sigkill_at_random_points_never_loses_or_duplicates_a_row(
    store, store_url, warehouse_url, tmp_path
) -> None:
    backend = "PostgreSQL" if store_url.startswith("postgresql") else "SQLite"
    rng = random.Random(f"crash-{backend}")
    where: Counter[str] = Counter()
    ledger = PartitionLedger(store, DATASET)
    for i in range(CRASH_RUNS):
        key = f"2026-{1 + i // 28:02d}-{1 + i % 28:02d}"
        rerun = i % 2 == 1
        attempt = 1
        if rerun:  # an applied partition with other rows, about to be replaced
            assert run_workers([((store_url, warehouse_url, key, f"run_{i}", 1), {"n": 120})]) == [
                "applied:apply:120"
            ]
            ledger.request_rerun([key], reason=f"soak {i}", requested_by="soak", dag_id="dag")
            attempt = 2
        before = target_multiset_or_empty(warehouse_url, key)
        point = rng.choice([*POINTS, "random"])
        where[point] += 1
        args = (store_url, warehouse_url, key, f"run_{i}", attempt)
        if point == "random":
            kill_at(None, tmp_path, args, delay=rng.uniform(0.0, 0.4))
        else:
            kill_at(point, tmp_path, args)
        after_kill = target_multiset_or_empty(warehouse_url, key)
        assert after_kill in (before, source_multiset(key)), f"run {i} ({point}): half a partition"
        outcome = run_workers([((store_url, warehouse_url, key, f"run_{i}", attempt + 1), {})])
        assert outcome[0].startswith("applied:") or outcome[0] == "refused:already_applied", (
            i,
            point,
            outcome,
        )
        assert target_multiset(warehouse_url, key) == source_multiset(key), (
            f"run {i} ({point}): target != source"
        )
        assert _ledger_matches_target(store, warehouse_url, key), f"run {i} ({point}): ledger != target"
        if rerun:  # the replaced 120-row version was kept whole, whichever attempt kept it
            assert _kept_versions(store, warehouse_url, key) == [(120, True)], (
                f"run {i} ({point}): kept version"
            )
    record(
        f"crash-{backend}",
        scenario=f"SIGKILL of a partition write at a random point ({backend} store and warehouse)",
        runs=CRASH_RUNS,
        result="0 duplicated rows, 0 lost rows, ledger = target after every retry; kills: "
        + ", ".join(f"{k} {v}" for k, v in sorted(where.items())),
    )


@pytest.mark.slow
def test_eight_processes_on_one_partition_exactly_one_applies_every_round(
    store, store_url, warehouse_url
) -> None:
    backend = "PostgreSQL" if store_url.startswith("postgresql") else "SQLite"
    for r in range(ROUNDS):
        key = f"2027-01-{r + 1:02d}"
        barrier = CTX.Barrier(8)
        outcomes = run_workers(
            [((store_url, warehouse_url, key, f"r{r}_{i}", 1), {"barrier": barrier}) for i in range(8)]
        )
        assert sum(o.startswith("applied") for o in outcomes) == 1, (r, outcomes)
        assert sum(o.startswith("refused") for o in outcomes) == 7, (r, outcomes)
        assert target_multiset(warehouse_url, key) == source_multiset(key)
    for r in range(ROUNDS):
        keys = [f"2027-{2 + r // 28:02d}-{1 + r % 28:02d}-p{i}" for i in range(8)]
        barrier = CTX.Barrier(8)
        outcomes = run_workers(
            [((store_url, warehouse_url, k, f"d{r}_{k}", 1), {"barrier": barrier}) for k in keys]
        )
        assert outcomes == ["applied:apply:200"] * 8, (r, outcomes)
    record(
        f"concurrency-{backend}",
        scenario=f"8 processes applying one partition / 8 different partitions ({backend})",
        runs=ROUNDS * 2,
        result=f"one partition: exactly 1 of 8 applied in each of {ROUNDS} rounds; "
        f"different partitions: 8 of 8 applied in each of {ROUNDS} rounds",
    )
