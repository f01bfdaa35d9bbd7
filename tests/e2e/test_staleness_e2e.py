"""Two DAGs chained by an asset on a real scheduler: an upstream rerun makes the downstream stale (#16).

``orders_daily`` publishes ``orders`` (``@partitioned_task``, asset outlet with the day as partition
key); ``orders_revenue`` builds ``daily_revenue`` from it (``PartitionedSQLOperator`` on
``PartitionedAssetTimetable``).  After 30 orders of a day are removed upstream and that day is rerun:

A. with the downstream DAG paused, ``partitions status`` shows its partition ``stale`` and
   ``partitions verify`` exits 1 naming it, the upstream change and the fix, which replaces it;
B. with it running, the asset-triggered run replaces the stale partition (ledger action
   ``stale``) instead of skipping it as already applied (the reported bug);
C. ``partitions rerun orders_daily -k DAY --downstream`` reruns the upstream and, through its
   asset event, the downstream, with the one reason;

and afterwards ``daily_revenue`` equals a recomputation from ``orders`` and verify exits 0.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from e2e.scheduler import AirflowStack, StackError
from orders_chain import recomputed as _recomputed
from orders_chain import revenue as _revenue

pytestmark = [pytest.mark.scheduler, pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
UP, DOWN = "orders_daily", "orders_revenue"
K1, K2 = "2026-01-20", "2026-01-21"  # well before "yesterday", which the scheduler runs itself
REASON_A = "e2e: 30 orders of the day were cancelled upstream"
REASON_B = "e2e: 45 orders of the day were cancelled upstream"
REASON_C = "e2e: 20 more orders cancelled, rebuild the chain"


def _rerun_argv() -> list[str]:
    return [sys.executable, "-m", "airflow_dataops.cli.partitions_rerun"]


def _successes(af: AirflowStack, dag_id: str, key: str) -> list[dict[str, Any]]:
    return [r for r in af.runs(dag_id) if r.get("partition_key") == key and r["state"] == "success"]


def _wait_successes(af: AirflowStack, dag_id: str, key: str, count: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(_successes(af, dag_id, key)) >= count:
            return
        failed = [r for r in af.runs(dag_id) if r.get("partition_key") == key and r["state"] == "failed"]
        if failed:
            raise StackError(f"{dag_id} {key}: run {failed[0]['dag_run_id']} failed\n{af.logs()}")
        time.sleep(3)
    raise StackError(f"{dag_id} {key}: fewer than {count} successful runs after {timeout} s\n{af.logs()}")


def _history(af: AirflowStack, dataset: str, key: str) -> list[dict[str, Any]]:
    code = (
        "import json, sys\n"
        "from airflow_dataops.store import StateStore\n"
        "from airflow_dataops.store.ledger import history\n"
        "rows = history(StateStore.from_settings(), sys.argv[1], sys.argv[2])\n"
        "print(json.dumps([{k: v for k, v in vars(r).items() if not k.endswith('_at')} for r in rows]))\n"
    )
    proc = af.run([sys.executable, "-c", code, dataset, key], timeout=120)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, "ledger history", proc.stdout, proc.stderr)
    return list(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_an_upstream_rerun_makes_the_downstream_stale_until_it_is_rebuilt(tmp_path: Path) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(ROOT / "tests" / "dags" / "dataops_orders_chain.py", dags)
    wh, drop = tmp_path / "warehouse.db", tmp_path / "drop.json"
    env = {
        "AIRFLOW_CONN_DATAOPS_WAREHOUSE": json.dumps({"conn_type": "sqlite", "host": str(wh)}),
        "DATAOPS_ORDERS_DROP": str(drop),
    }
    with AirflowStack(tmp_path, dags_folder=dags, extra_env=env) as af:
        for dag_id in (UP, DOWN):
            af.wait_for_dag(dag_id, timeout=240)
            af.unpause(dag_id)

        # 1. two days upstream; each asset event runs the downstream for its day
        runs = {key: af.trigger(UP, partition_key=key) for key in (K1, K2)}
        for run_id in runs.values():
            assert af.wait_for_run(UP, run_id, timeout=300) == "success", af.logs()
        for key in (K1, K2):
            _wait_successes(af, DOWN, key, 1)
            assert _revenue(wh, key) == _recomputed(wh, key) and _revenue(wh, key)[0] == 230  # type: ignore[index]

        # 2. A: 30 orders of K1 go away upstream; the downstream is paused, so nothing rebuilds it yet
        af.api("PATCH", f"/api/v2/dags/{DOWN}", json={"is_paused": True})
        drop.write_text(json.dumps({K1: 30}))
        before = time.time()
        rerun = af.run([*_rerun_argv(), UP, "-k", K1, "--reason", REASON_A], timeout=180)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        assert af.wait_for_run(UP, runs[K1], timeout=300, after=before) == "success", af.logs()
        assert _recomputed(wh, K1)[0] == 200 and _revenue(wh, K1)[0] == 230  # type: ignore[index]

        status = af.cli("dataops", "partitions", "status", DOWN, "-o", "json", timeout=180)
        assert status.returncode == 0, status.stdout + status.stderr
        stale = {r["partition"]: r["stale"] for r in json.loads(status.stdout)}
        assert {k: stale.get(k) for k in (K1, K2)} == {K1: True, K2: False}  # (and the scheduler's own days)
        verify = af.cli("dataops", "partitions", "verify", DOWN, timeout=180)
        assert verify.returncode == 1, verify.stdout + verify.stderr
        assert f"orders {K1} was replaced (built from apply #" in verify.stdout
        assert f"fix: airflow dataops partitions rerun {DOWN} -k {K1} --downstream --reason" in verify.stdout
        print(verify.stdout)

        # the fix verify names: rerun the stale partition (and anything built from it) with a reason
        af.unpause(DOWN)  # (Airflow queues no run for an asset event a paused DAG missed)
        before = time.time()
        fix = af.run([*_rerun_argv(), DOWN, "-k", K1, "--downstream", "--reason", REASON_A], timeout=180)
        assert fix.returncode == 0, fix.stdout + fix.stderr
        assert "applied (stale)" in fix.stdout
        print(fix.stdout)
        # the run the fix cleared (by id: once the scheduler has it, it is queued or running, no longer
        # among the successes)
        cleared = re.search(rf"cleared run (\S+) of {DOWN} for partition '{K1}'", fix.stdout)
        assert cleared, fix.stdout
        assert af.wait_for_run(DOWN, cleared.group(1), timeout=300, after=before) == "success", af.logs()
        assert _revenue(wh, K1) == _recomputed(wh, K1)
        last = [h for h in _history(af, "daily_revenue", K1) if h["action"] != "refused"][-1]
        assert (last["action"], last["state"], last["reason"]) == ("rerun", "applied", REASON_A), last
        verify = af.cli("dataops", "partitions", "verify", DOWN, timeout=180)
        assert verify.returncode == 0, verify.stdout + verify.stderr

        # 3. B (the reported bug): an upstream rerun alone; its asset event runs the downstream, which
        #    replaces the stale partition instead of skipping it as already applied
        drop.write_text(json.dumps({K1: 30, K2: 45}))
        before = time.time()
        rerun = af.run([*_rerun_argv(), UP, "-k", K2, "--reason", REASON_B], timeout=180)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        assert af.wait_for_run(UP, runs[K2], timeout=300, after=before) == "success", af.logs()
        _wait_successes(af, DOWN, K2, 2)
        assert _revenue(wh, K2) == _recomputed(wh, K2) and _revenue(wh, K2)[0] == 185  # type: ignore[index]
        last = [h for h in _history(af, "daily_revenue", K2) if h["action"] != "refused"][-1]
        assert (last["action"], last["state"]) == ("stale", "applied"), last
        assert last["reason"].startswith(f"stale: orders {K2} was replaced"), last

        # 4. C: one command reruns the chain from the upstream, with one reason for all
        drop.write_text(json.dumps({K1: 50, K2: 45}))
        dry = af.run(
            [*_rerun_argv(), UP, "-k", K1, "--downstream", "--reason", REASON_C, "--dry-run"], timeout=180
        )
        assert dry.returncode == 0, dry.stdout + dry.stderr
        assert (
            "runs on the upstream's asset event" in dry.stdout
            and "dry run: nothing was recorded" in dry.stdout
        )
        print(dry.stdout)
        before = time.time()
        done = len(_successes(af, DOWN, K1))
        chain = af.run([*_rerun_argv(), UP, "-k", K1, "--downstream", "--reason", REASON_C], timeout=180)
        assert chain.returncode == 0, chain.stdout + chain.stderr
        print(chain.stdout)
        assert af.wait_for_run(UP, runs[K1], timeout=300, after=before) == "success", af.logs()
        _wait_successes(af, DOWN, K1, done + 1)
        assert _revenue(wh, K1) == _recomputed(wh, K1) and _revenue(wh, K1)[0] == 180  # type: ignore[index]
        for dataset in ("orders", "daily_revenue"):
            last = [h for h in _history(af, dataset, K1) if h["action"] != "refused"][-1]
            assert (last["action"], last["state"], last["reason"]) == ("rerun", "applied", REASON_C), last
        for dag_id in (UP, DOWN):
            verify = af.cli("dataops", "partitions", "verify", dag_id, timeout=180)
            assert verify.returncode == 0, verify.stdout + verify.stderr

    # 5. lineage: every event the stack emitted is valid OpenLineage, and the SQL task's inputs
    #    name the table its query read
    from lineage_validation import validate_file

    assert validate_file(af.lineage_file) == []
    events = [json.loads(line) for line in af.lineage_file.read_text().splitlines() if line.strip()]
    revenue = [
        e for e in events if e["eventType"] == "COMPLETE" and e["job"]["name"] == f"{DOWN}.daily_revenue"
    ]
    assert revenue and all(
        [(i["namespace"], i["name"]) for i in e["inputs"]] == [(f"sqlite://{wh}", "orders")] for e in revenue
    )
    decisions = {e["run"]["facets"]["dataops_partitionLedger"]["decision"] for e in revenue}
    assert decisions >= {"applied", "rerun"}, decisions
