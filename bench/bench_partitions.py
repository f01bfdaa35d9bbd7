"""Benchmark: the ledger's "may apply?" decision at 1M ledger rows, and the partition wrapper's overhead.

Side by side in one run, on the same data, SQLite and PostgreSQL:

* **decision**  ``store.ledger.claim`` (the ledger's decision: lock the partition's row, read it
  and any open rerun request, then refuse (recording the refusal) or claim (recording the
  attempt)) on a store holding 1,000,000 partitions and 1,000,000 history rows, for partitions
  already applied (the double-apply refusal) and for new ones (the claim).  Anchor: the floor
  of any such decision, one primary-key lookup of the partition's state in the same kind of
  write transaction.  p50 / p99 over ``DECISIONS`` decisions each, interleaved.
* **wrapper**  ``DataFramePartitionOperator.execute`` around a trivial task (a callable returning
  10 rows) against the same task written by hand as an idempotent replace
  (``DELETE`` the partition + ``INSERT`` its rows in one transaction, the floor of "never
  append").  Each round writes a new partition with both; the overhead is wrapped minus bare,
  median of ``WRAP_ROUNDS``.  The wrapper stages, replaces in one transaction, checksums, and
  records the ledger and the cost SLI (no contract: the gate is the contracts benchmark's).

Run: ``.venv/bin/python -m bench.bench_partitions``.  The 1M-row stores are cached under
``$DATAOPS_BENCH_DIR`` (default ``/tmp/dataops-bench``); PostgreSQL: ``DATAOPS_TEST_PG_URL``,
else a throwaway server started with ``scripts/pg.sh``.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time
import types
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.harness import median, postgres, table, write_section

BENCH_DIR = Path(os.environ.get("DATAOPS_BENCH_DIR", "/tmp/dataops-bench"))
DATASETS = int(os.environ.get("DATAOPS_BENCH_LEDGER_DATASETS", "1000"))  # x KEYS = 1,000,000 partitions
KEYS = 1000
DECISIONS = int(os.environ.get("DATAOPS_BENCH_DECISIONS", "2000"))
WRAP_ROUNDS = int(os.environ.get("DATAOPS_BENCH_WRAP_ROUNDS", "40"))
P99_TARGET_MS, OVERHEAD_TARGET_MS = 5.0, 50.0
DAY0 = datetime(2020, 1, 1)


def _key(i: int) -> str:
    return (DAY0 + timedelta(days=i)).strftime("%Y-%m-%d")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# ------------------------------------------------------------------------------------- stores
def ledger_store(url: str) -> Any:
    """A store whose ledger holds DATASETS x KEYS applied partitions and one history row each."""
    from airflow_dataops.store import StateStore
    from airflow_dataops.store import tables as t

    store = StateStore(url, connect_timeout=30)
    store.migrate()
    with store.engine.connect() as conn:
        have = conn.execute(sa.select(sa.func.count()).select_from(t.partitions)).scalar()
    if have == DATASETS * KEYS:
        return store
    with store.engine.begin() as conn:
        for table_ in (t.partitions, t.partition_history, t.rerun_requests):
            conn.execute(table_.delete())
    now = datetime.now(timezone.utc)
    started = time.perf_counter()
    apply_id = 0
    for d in range(DATASETS):
        history, current = [], []
        for k in range(KEYS):
            apply_id += 1
            common = {"dataset": f"ds_{d:04d}", "partition_key": _key(k)}
            history.append(
                {
                    **common,
                    "id": apply_id,
                    "action": "apply",
                    "state": "applied",
                    "dag_id": f"dag_{d:04d}",
                    "task_id": "load",
                    "run_id": f"scheduled__{_key(k)}",
                    "attempt": 1,
                    "rows_in": 1000,
                    "rows_published": 1000,
                    "rows_quarantined": 0,
                    "checksum": f"{apply_id:016x}",
                    "gate_verdict": "passed",
                    "started_at": now,
                    "finished_at": now,
                }
            )
            current.append(
                {
                    **common,
                    "state": "applied",
                    "apply_id": apply_id,
                    "dag_id": f"dag_{d:04d}",
                    "run_id": f"scheduled__{_key(k)}",
                    "attempt": 1,
                    "rows_published": 1000,
                    "rows_quarantined": 0,
                    "checksum": f"{apply_id:016x}",
                    "gate_verdict": "passed",
                    "updated_at": now,
                }
            )
        with store.engine.begin() as conn:
            conn.execute(t.partition_history.insert(), history)
            conn.execute(t.partitions.insert(), current)
        if d % 100 == 99:
            print(
                f"  {store.dialect}: {(d + 1) * KEYS:,} ledger rows ({time.perf_counter() - started:.0f} s)"
            )
    if store.dialect == "postgresql":
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            # the ids above were given explicitly: move the sequence past them
            conn.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('dataops_partition_history', 'id'), "
                "(SELECT max(id) FROM dataops_partition_history))"
            )
            conn.exec_driver_sql("ANALYZE dataops_partitions")
            conn.exec_driver_sql("ANALYZE dataops_partition_history")
            conn.exec_driver_sql("ANALYZE dataops_rerun_requests")
    return store


# ----------------------------------------------------------------------------------- decision
def bench_decision(store: Any) -> dict[str, Any]:
    from airflow_dataops.store import ledger as db
    from airflow_dataops.store import tables as t

    rng = random.Random(7)
    p = t.partitions.c
    floor_stmt = sa.select(p.state).where(
        p.dataset == sa.bindparam("d"), p.partition_key == sa.bindparam("k")
    )
    lock = store.dialect == "postgresql"

    def floor(dataset: str, key: str) -> Any:
        with store.begin() as conn:  # the same write transaction the ledger takes
            stmt = floor_stmt.with_for_update() if lock else floor_stmt
            return conn.execute(stmt, {"d": dataset, "k": key}).scalar()

    def decide(dataset: str, key: str, run: str) -> Any:
        return db.claim(
            store,
            dataset=dataset,
            partition_key=key,
            dag_id="bench",
            task_id="load",
            run_id=run,
            attempt=1,
            dag_version=None,
            contract_version=None,
            lease=timedelta(hours=2),
        )

    times: dict[str, list[float]] = {"floor": [], "refuse (already applied)": [], "claim (new partition)": []}
    outcomes: dict[str, set[str]] = {k: set() for k in times}
    for i in range(DECISIONS + 50):  # the first 50 warm the caches and are discarded
        dataset = f"ds_{rng.randrange(DATASETS):04d}"
        applied = _key(rng.randrange(KEYS))
        new = f"new-{os.getpid()}-{time.time_ns()}-{i}"
        for name, call in (
            ("floor", (floor, dataset, applied)),
            ("refuse (already applied)", (decide, dataset, applied, f"bench__{i}")),
            ("claim (new partition)", (decide, dataset, new, f"bench__{i}")),
        ):
            fn, *args = call
            start = time.perf_counter()
            out = fn(*args)
            elapsed = (time.perf_counter() - start) * 1000
            if i >= 50:
                times[name].append(elapsed)
                outcomes[name].add(type(out).__name__ if not isinstance(out, str) else out)
    return {"times": times, "outcomes": outcomes}


# ------------------------------------------------------------------------------------ wrapper
def _frame(partition_key: str, n: int = 10) -> Any:
    import pandas as pd

    return pd.DataFrame({"id": range(n), "value": [i * 1.5 for i in range(n)], "day": partition_key})


def bench_wrapper(warehouse_url: str, store_url: str, conn_id: str) -> dict[str, Any]:
    from airflow_dataops.operators.partitioned import DataFramePartitionOperator

    os.environ["AIRFLOW__DATAOPS__STORE_URL"] = store_url
    engine = sa.create_engine(warehouse_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS bench_bare")
        conn.exec_driver_sql("DROP TABLE IF EXISTS bench_wrapped")
        conn.exec_driver_sql("DROP TABLE IF EXISTS bench_wrapped__quarantine")
    _frame("x").head(0).to_sql("bench_bare", engine, index=False)

    def bare(key: str) -> None:
        frame = _frame(partition_key=key)
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM bench_bare WHERE day = :k"), {"k": key})
            frame.to_sql("bench_bare", conn, index=False, if_exists="append")

    def wrapped(key: str) -> None:
        op = DataFramePartitionOperator(
            task_id="load",
            conn_id=conn_id,
            table="bench_wrapped",
            partition_column="day",
            dataset=f"bench_wrapped_{os.getpid()}",
            python_callable=_frame,
        )
        ti = types.SimpleNamespace(
            dag_id="bench", task_id="load", run_id=f"r_{key}", try_number=1, dag_version_id=None
        )
        summary = op.execute({"ti": ti, "partition_key": key})
        assert summary["state"] == "applied", summary

    times: dict[str, list[float]] = {"bare": [], "wrapped": []}
    base = random.Random(3).randrange(10_000)
    for i in range(WRAP_ROUNDS + 3):  # 3 warm-up rounds, discarded
        key = _key(base + i)
        for name, fn in (("bare", bare), ("wrapped", wrapped)):
            start = time.perf_counter()
            fn(key)
            elapsed = (time.perf_counter() - start) * 1000
            if i >= 3:
                times[name].append(elapsed)
    with engine.connect() as conn:
        rows = {
            name: conn.exec_driver_sql(f"SELECT COUNT(*), COUNT(DISTINCT day) FROM {name}").one()
            for name in ("bench_bare", "bench_wrapped")
        }
    engine.dispose()
    return {"times": times, "rows": rows}


# --------------------------------------------------------------------------------------- main
def render(results: list[dict[str, Any]]) -> str:
    out = [
        f"The ledger's decision on a store of **{DATASETS * KEYS:,} partitions and {DATASETS * KEYS:,} history "
        f"rows** ({DECISIONS:,} decisions of each kind, interleaved, after 50 discarded), and the partition "
        f"wrapper around a trivial task ({WRAP_ROUNDS} rounds, each writing a new 10-row partition both ways, "
        "after 3 discarded). Milliseconds.",
        "",
        "### May this partition be applied? (`store.ledger.claim`)",
        "",
    ]
    rows = []
    for r in results:
        floor = r["decision"]["times"]["floor"]
        for name, values in r["decision"]["times"].items():
            rows.append(
                [
                    r["name"],
                    name,
                    f"{percentile(values, 0.5):.2f}",
                    f"{percentile(values, 0.99):.2f}",
                    f"{max(values):.2f}",
                    f"{percentile(values, 0.99) / percentile(floor, 0.99):.1f}x",
                    ", ".join(sorted(r["decision"]["outcomes"][name])),
                ]
            )
    out.append(table(["store", "decision", "p50 ms", "p99 ms", "max ms", "p99 vs floor", "outcome"], rows))
    out += [
        "",
        "`floor`: one primary-key lookup of the partition's state in the same write transaction (`BEGIN "
        "IMMEDIATE` on SQLite, `SELECT … FOR UPDATE` on PostgreSQL): the least any decision costs. The "
        "ledger's decision adds the open-rerun-request lookup and its own write (the refusal or the claim "
        "is recorded in the history).",
        "",
        "### Partition wrapper around a trivial task",
        "",
    ]
    rows = []
    for r in results:
        t = r["wrapper"]["times"]
        overhead = [w - b for w, b in zip(t["wrapped"], t["bare"])]
        rows.append(
            [
                r["name"],
                f"{median(t['bare']):.1f}",
                f"{median(t['wrapped']):.1f}",
                f"{median(overhead):.1f}",
                f"{statistics.median(w / b for w, b in zip(t['wrapped'], t['bare'])):.1f}x",
                " / ".join(f"{n:,} rows in {k} partitions" for n, k in r["wrapper"]["rows"].values()),
            ]
        )
    out.append(
        table(
            [
                "warehouse + store",
                "bare median ms",
                "wrapped median ms",
                "overhead ms",
                "ratio",
                "bare / wrapped",
            ],
            rows,
        )
    )
    out += [
        "",
        "`bare`: the same callable written by hand as an idempotent replace (`DELETE` the partition, `INSERT` "
        "its rows, one transaction). `wrapped`: `DataFramePartitionOperator.execute` (stage, ledger claim, "
        "replace in one transaction, checksum, ledger finish, cost SLI), no contract. Same warehouse, same "
        "rows; overhead = wrapped - bare per round, then the median.",
        "",
        "### Targets",
        "",
    ]
    for r in results:
        p99 = max(percentile(v, 0.99) for k, v in r["decision"]["times"].items() if k != "floor")
        t = r["wrapper"]["times"]
        overhead = median([w - b for w, b in zip(t["wrapped"], t["bare"])])
        out.append(
            f"- {r['name']}: decision p99 {p99:.2f} ms at {DATASETS * KEYS:,} ledger rows (target ≤ {P99_TARGET_MS:.0f} ms: "
            f"{'met' if p99 <= P99_TARGET_MS else 'NOT met'}); wrapper overhead {overhead:.1f} ms median "
            f"(target ≤ {OVERHEAD_TARGET_MS:.0f} ms: {'met' if overhead <= OVERHEAD_TARGET_MS else 'NOT met'})."
        )
    return "\n".join(out)


def main() -> None:
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("OPENLINEAGE_DISABLED", "true")
    os.environ.setdefault("AIRFLOW_HOME", str(BENCH_DIR / "airflow"))  # the operator reads Airflow's config
    started = time.perf_counter()
    with postgres(BENCH_DIR / "pg-partitions") as pg_url:
        admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for db in ("dataops_bench_ledger", "dataops_bench_wh"):
                if not conn.execute(
                    sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": db}
                ).scalar():
                    conn.execute(sa.text(f"CREATE DATABASE {db}"))
        admin.dispose()
        pg = lambda db: sa.make_url(pg_url).set(database=db).render_as_string(hide_password=False)  # noqa: E731
        lite_wh = BENCH_DIR / "partitions_wh.db"
        setups = [
            (
                "SQLite",
                f"sqlite:///{BENCH_DIR / 'ledger_1m.db'}",
                f"sqlite:///{lite_wh}",
                {"conn_type": "sqlite", "host": str(lite_wh)},
            ),
            ("PostgreSQL", pg("dataops_bench_ledger"), pg("dataops_bench_wh"), None),
        ]
        results = []
        for name, store_url, wh_url, conn in setups:
            if conn is None:
                u = sa.make_url(wh_url)
                conn = {
                    "conn_type": "postgres",
                    "host": u.host,
                    "port": u.port,
                    "login": u.username,
                    "password": u.password or "",
                    "schema": u.database,
                }
            os.environ["AIRFLOW_CONN_BENCH_WH"] = json.dumps(conn)
            print(f"{name}: preparing the 1M-row ledger…", flush=True)
            store = ledger_store(store_url)
            print(f"{name}: decisions…", flush=True)
            decision = bench_decision(store)
            store.dispose()
            print(f"{name}: wrapper…", flush=True)
            wrapper = bench_wrapper(wh_url, store_url, "bench_wh")
            results.append({"name": name, "decision": decision, "wrapper": wrapper})
        body = render(results)
        print(body)
        write_section("partitions", body, command=".venv/bin/python -m bench.bench_partitions")
        print(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
