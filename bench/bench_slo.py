"""Benchmark: the SLO evaluator over 1,000 datasets x 90 days of hourly SLIs (2.16M rows), SQLite.

Run from the repository root::

    .venv/bin/python -m bench.bench_slo

Setup (not timed): a fresh SQLite store in a temporary folder, 1,000 datasets registered with
an SLO block (freshness <= 2 h, 99% over 30 days, hourly cadence), and one freshness SLI per
dataset per hour for 90 days, bulk-inserted through the DB-API in one transaction.  About 5% of
the datasets stopped publishing a day ago (silent decay) and some had bad hours, so episodes
open.  Timed: ``run_evaluation`` (specs, one SLI read for all datasets, per-dataset budgets, burn rates and
alerts, breach episodes) over all datasets, median of 3 rounds; the first round opens the
episodes, the next ones find them open.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench.harness import median, table, write_section

DATASETS = int(os.environ.get("BENCH_SLO_DATASETS", "1000"))
DAYS = int(os.environ.get("BENCH_SLO_DAYS", "90"))
ROUNDS = 3
TARGET_S = 2.0
SLO = {
    "objective": 0.99,
    "window_days": 30,
    "cadence": "1h",
    "slis": {"freshness": {"threshold": 2, "unit": "h"}},
}


def _stamp(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's SQLite DATETIME storage format


def setup(url: str, now: datetime) -> tuple[object, int, float]:
    from airflow_dataops.store import StateStore

    store = StateStore(url, connect_timeout=30)
    store.migrate()
    rng = random.Random(42)
    started = time.perf_counter()
    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("BEGIN IMMEDIATE")
        cur.executemany(
            "INSERT INTO dataops_datasets (dataset, slo, updated_at) VALUES (?, ?, ?)",
            [(f"ds_{i:04d}", __import__("json").dumps(SLO), _stamp(now)) for i in range(DATASETS)],
        )
        hours = DAYS * 24
        last = now.replace(minute=0, second=0, microsecond=0)  # the newest row: this hour's publish
        stamps = [_stamp(last - timedelta(hours=hours - 1 - h)) for h in range(hours)]
        rows = 0
        for i in range(DATASETS):
            name = f"ds_{i:04d}"
            silent_from = hours - 24 if i % 20 == 0 else hours  # 5%: nothing for the last day
            bad_start = rng.randrange(hours) if i % 7 == 0 else -1  # some had a bad stretch
            batch = []
            for h in range(silent_from):
                bad = bad_start <= h < bad_start + 6
                lag = 9000.0 if bad else 600.0
                batch.append((name, "freshness", str(h), lag, "s", 0 if bad else 1, stamps[h]))
            cur.executemany(
                "INSERT INTO dataops_sli (dataset, kind, partition_key, value, unit, good, observed_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                batch,
            )
            rows += len(batch)
        cur.execute("COMMIT")
        cur.execute("ANALYZE")
    finally:
        raw.close()
    return store, rows, time.perf_counter() - started


def _time_read(store: object, now: datetime) -> float:
    """The SLI read alone, as the evaluator does it (GC paused), median of 3."""
    from airflow_dataops.slo.reads import gc_paused
    from airflow_dataops.store.slo_reads import read_sli_columns

    since = now - timedelta(days=30, hours=2)
    rounds = []
    for _ in range(ROUNDS):
        with gc_paused():
            started = time.perf_counter()
            read_sli_columns(store, since=since, until=now, kinds=["freshness"])  # type: ignore[arg-type]
            rounds.append(time.perf_counter() - started)
    return median(rounds)


def main() -> int:
    from airflow_dataops.slo.evaluator import run_evaluation

    now = datetime.now(timezone.utc)
    with tempfile.TemporaryDirectory(prefix="bench-slo-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        store, rows, setup_s = setup(url, now)
        times: list[float] = []
        runs = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            runs.append(run_evaluation(store, now=now))
            times.append(time.perf_counter() - started)
        read_s = _time_read(store, now)
        store.dispose()  # type: ignore[attr-defined]
    first = runs[0].summary()
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(first["statuses"].items()))
    med = median(times)
    body = "\n".join(
        [
            "## SLO evaluator",
            "",
            f"{DATASETS:,} datasets x {DAYS} days of hourly freshness SLIs ({rows:,} rows) in a SQLite store; "
            "`run_evaluation` over all datasets (specs, one SLI read for all datasets, budgets, burn rates, alerts, breach "
            "episodes). SLO: freshness <= 2 h, 99% over 30 days, hourly cadence.",
            "",
            table(
                ["measure", "value"],
                [
                    ["evaluation, median of 3 rounds", f"{med:.2f} s"],
                    ["rounds", ", ".join(f"{t:.2f} s" for t in times)],
                    ["target", f"<= {TARGET_S:.0f} s ({'met' if med <= TARGET_S else 'NOT met'})"],
                    ["per dataset", f"{med / DATASETS * 1000:.2f} ms"],
                    ["of which the SLI read (SQLite: one count + one row statement)", f"{read_s:.2f} s"],
                    [
                        "load average during the run (1 min)",
                        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
                    ],
                    ["setup (bulk insert, not timed)", f"{setup_s:.1f} s"],
                    ["statuses (round 1)", statuses],
                    [
                        "episodes opened in round 1 / later rounds",
                        f"{len(first['opened'])} / {sum(len(r.summary()['opened']) for r in runs[1:])}",
                    ],
                ],
            ),
        ]
    )
    write_section("slo", body, command="python -m bench.bench_slo")
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
