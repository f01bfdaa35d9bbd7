"""Benchmark: what keeping the replaced version costs a rerun, and what a rollback costs.

Side by side in one run, SQLite and PostgreSQL (store and warehouse of the same kind):

* **rerun, keeping**  a publish that replaces a partition of ``ROWS`` rows through the ledger's
  fence and keeps the replaced rows in ``<table>__versions`` (what the operator does), against
  **the same publish keeping nothing** (``[dataops] partition_versions_keep = 0``): the
  difference is the copy plus one checksum pass over the replaced rows. Median of ``ROUNDS``.
* **rollback**  ``partitions rollback`` of the same partition (claim, keep the current rows,
  restore the kept ones, checksum, fence), median of ``ROUNDS`` alternating rollbacks.

Run: ``.venv/bin/python -m bench.bench_rollback``. PostgreSQL: ``DATAOPS_TEST_PG_URL``, else a
throwaway server started with ``scripts/pg.sh``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from bench.harness import median, postgres, table, timed, write_section

BENCH_DIR = Path(os.environ.get("DATAOPS_BENCH_DIR", "/tmp/dataops-bench"))
ROWS = int(os.environ.get("DATAOPS_BENCH_ROLLBACK_ROWS", "20000"))
ROUNDS = int(os.environ.get("DATAOPS_BENCH_ROLLBACK_ROUNDS", "15"))
KEY = "2026-11-28"


def _frame(salt: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": range(ROWS),
            "amount": [i * 0.5 + salt for i in range(ROWS)],
            "customer": [f"c{(i + salt) % 97}" for i in range(ROWS)],
            "order_date": KEY,
        }
    )


def _publish(store: Any, engine: Any, salt: int, *, keep: bool) -> None:
    from airflow_dataops.config import DataOpsSettings
    from airflow_dataops.partitions.ledger import PartitionLedger
    from airflow_dataops.partitions.versions import version_to_keep
    from airflow_dataops.partitions.writer import drop_stage, ensure_target, publish, stage_frame

    ledger = PartitionLedger(store, "orders")
    if ledger.state(KEY) is not None:
        ledger.request_rerun([KEY], reason="bench", requested_by="bench", dag_id="bench")
    claim = ledger.begin(KEY, dag_id="bench", task_id="t", run_id=f"r{salt}", attempt=1)
    stage = stage_frame(engine, _frame(salt), table="orders", partition_key=KEY, claim_id=claim.apply_id)
    target = ensure_target(engine, stage, table="orders")
    settings = DataOpsSettings(partition_versions_keep=3 if keep else 0)
    publish(
        engine,
        stage=stage,
        target=target,
        partition_column="order_date",
        partition_key=KEY,
        fence=ledger.fence(claim, gate_verdict=None, contract_version=None),
        keep=version_to_keep(claim, settings=settings),
    )
    drop_stage(engine, stage)


def bench(store_url: str, wh_url: str) -> dict[str, float]:
    from airflow_dataops.partitions.rollback import rollback_partition
    from airflow_dataops.store import StateStore

    store = StateStore(store_url)
    store.migrate()
    engine = sa.create_engine(wh_url)
    dataset = {
        "dataset": "orders",
        "target_table": "orders",
        "partition_column": "order_date",
        "db_schema": None,
    }
    _publish(store, engine, 0, keep=True)  # warm up: tables exist, a first version is there
    plain, keeping, rollback = [], [], []
    for r in range(ROUNDS):
        plain.append(timed(lambda r=r: _publish(store, engine, 2 * r + 1, keep=False))[0])
        keeping.append(timed(lambda r=r: _publish(store, engine, 2 * r + 2, keep=True))[0])
    for _ in range(ROUNDS):
        rollback.append(
            timed(
                lambda: rollback_partition(
                    store, dataset, KEY, reason="bench", requested_by="bench", engine=engine
                )
            )[0]
        )
    engine.dispose()
    store.dispose()
    return {
        "plain": median(plain) * 1000,
        "keeping": median(keeping) * 1000,
        "rollback": median(rollback) * 1000,
    }


def _fresh_pg(pg_url: str, name: str) -> str:
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return sa.make_url(pg_url).set(database=name).render_as_string(hide_password=False)


def main() -> None:
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    rows = []
    with postgres(BENCH_DIR / "pg-rollback") as pg_url:
        for name in ("rollback_store.db", "rollback_wh.db"):
            (BENCH_DIR / name).unlink(missing_ok=True)
        setups = [
            (
                "SQLite",
                f"sqlite:///{BENCH_DIR / 'rollback_store.db'}",
                f"sqlite:///{BENCH_DIR / 'rollback_wh.db'}",
            ),
            (
                "PostgreSQL",
                _fresh_pg(pg_url, "dataops_bench_rb_store"),
                _fresh_pg(pg_url, "dataops_bench_rb_wh"),
            ),
        ]
        for name, store_url, wh_url in setups:
            print(f"{name}…", flush=True)
            m = bench(store_url, wh_url)
            rows.append(
                [
                    name,
                    f"{m['plain']:.0f}",
                    f"{m['keeping']:.0f}",
                    f"{m['keeping'] - m['plain']:+.0f}",
                    f"{m['rollback']:.0f}",
                ]
            )
    body = (
        f"A rerun replacing a partition of {ROWS:,} rows, keeping the replaced version (the default) or not "
        f"(`partition_versions_keep = 0`), and a `partitions rollback` of that partition; medians of {ROUNDS} "
        "rounds, milliseconds.\n\n"
        + table(
            [
                "backend",
                "rerun, keeping nothing",
                "rerun, keeping the version",
                "cost of keeping",
                "rollback",
            ],
            rows,
        )
    )
    print(body)
    write_section("rollback", body, command=".venv/bin/python -m bench.bench_rollback")
    print(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
