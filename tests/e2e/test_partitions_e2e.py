"""nycflights_daily on a real scheduler: apply three partitions, corrupt one, verify finds it, rerun fixes it.

This is also the proof that the DAG runs under the Task SDK supervisor (where a task that
reaches for Airflow's metadata DB fails), which ``dag.test()`` does not check.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from e2e.scheduler import AirflowStack

pytestmark = [pytest.mark.scheduler, pytest.mark.slow, pytest.mark.timeout(480)]

DAG_ID = "nycflights_daily"
KEYS = ["2026-01-10", "2026-01-11", "2026-01-12"]  # well before "yesterday", which the scheduler runs itself
BROKEN = KEYS[1]
NEW = "2026-01-13"  # never run: the rerun triggers a run for it with partition_key
REASON = "e2e: rows deleted and duplicated by hand in the warehouse"


def _canon(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if hasattr(v, "item"):  # numpy scalar
        return _canon(v.item())
    return v


def _multiset(rows: list[dict[str, Any]], columns: list[str]) -> Counter[tuple[Any, ...]]:
    return Counter(tuple(_canon(r[c]) for c in columns) for r in rows)


def _target_rows(warehouse: Path, table: str, key: str) -> list[dict[str, Any]]:
    conn = sqlite3.connect(warehouse)
    conn.row_factory = sqlite3.Row
    try:
        exists = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)
        ).fetchone()
        if not exists:
            return []
        return [dict(r) for r in conn.execute(f'SELECT * FROM "{table}" WHERE flight_date = ?', (key,))]
    finally:
        conn.close()


def _assert_target_equals_source(warehouse: Path, key: str) -> int:
    """Target (plus quarantine) holds exactly the source's rows for ``key``: same multiset, no duplicates added."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "dags"))
    from nycflights_daily import flights_for_day

    source = flights_for_day(key)
    columns = list(source.columns)
    expected = _multiset(source.to_dict("records"), columns)
    published = _target_rows(warehouse, "flights", key)
    quarantined = _target_rows(warehouse, "flights__quarantine", key)
    got = _multiset(published, columns) + _multiset(quarantined, columns)
    missing, extra = expected - got, got - expected
    assert not missing and not extra, (
        f"partition {key}: {sum(missing.values())} source rows missing, {sum(extra.values())} extra rows; "
        f"e.g. missing {list(missing)[:2]}, extra {list(extra)[:2]}"
    )
    return len(published)


def _rerun_argv(af: AirflowStack) -> list[str]:
    """`airflow dataops partitions rerun` once registered in the provider CLI; the module entry point before."""
    probe = af.cli("dataops", "partitions", "rerun", "--help", timeout=120)
    if probe.returncode == 0:
        return [sys.executable, "-m", "airflow", "dataops", "partitions", "rerun"]
    return [sys.executable, "-m", "airflow_dataops.cli.partitions_rerun"]


def test_three_partitions_corrupt_one_verify_then_rerun_through_the_scheduler(tmp_path: Path) -> None:
    t_start = time.monotonic()
    warehouse = tmp_path / "warehouse.db"
    env = {"AIRFLOW_CONN_DATAOPS_WAREHOUSE": json.dumps({"conn_type": "sqlite", "host": str(warehouse)})}
    with AirflowStack(tmp_path, extra_env=env) as af:
        af.wait_for_dag(DAG_ID, timeout=180)
        af.unpause(DAG_ID)

        # 1. three partitions, triggered with partition keys (3.3's REST API takes partition_key)
        runs = {key: af.trigger(DAG_ID, partition_key=key) for key in KEYS}
        for run_id in runs.values():
            assert af.wait_for_run(DAG_ID, run_id, timeout=240) == "success", af.logs()
        published = {key: _assert_target_equals_source(warehouse, key) for key in KEYS}
        assert all(n > 500 for n in published.values()), published

        # downstream partitioned DAGs are fed by asset events that carry each published partition key
        events = af.api("GET", "/api/v2/assets/events", params={"source_dag_id": DAG_ID, "limit": 100})
        keyed = {
            e["partition_key"] for e in events["asset_events"] if e["uri"] == "dataops://warehouse/flights"
        }
        assert keyed >= set(KEYS), events

        # 2. corrupt one partition behind the ledger's back: delete 7 rows, duplicate 3
        with sqlite3.connect(warehouse) as conn:
            conn.execute(
                "DELETE FROM flights WHERE rowid IN (SELECT rowid FROM flights WHERE flight_date = ? LIMIT 7)",
                (BROKEN,),
            )
            conn.execute(
                "INSERT INTO flights SELECT * FROM flights WHERE rowid IN "
                "(SELECT rowid FROM flights WHERE flight_date = ? LIMIT 3)",
                (BROKEN,),
            )

        # 3. verify (a CLI subprocess on the same home) finds exactly that partition and exits 1
        verify = af.cli("dataops", "partitions", "verify", DAG_ID, "-o", "json", timeout=180)
        assert verify.returncode == 1, verify.stdout + verify.stderr
        findings = {f["partition_key"]: f for f in json.loads(verify.stdout)}
        assert findings[BROKEN]["status"] == "rows_differ"
        assert findings[BROKEN]["target_rows"] == published[BROKEN] - 4
        assert all(findings[k]["status"] == "ok" for k in KEYS if k != BROKEN), findings

        # 4. a dry run changes nothing
        argv = _rerun_argv(af)
        dry = af.run([*argv, DAG_ID, "-k", BROKEN, "--reason", REASON, "--dry-run"], timeout=180)
        assert dry.returncode == 0, dry.stdout + dry.stderr
        assert "dry run: nothing was recorded" in dry.stdout
        assert f"clear run {runs[BROKEN]}" in dry.stdout

        # 5. the rerun: reason into the ledger, run cleared, the scheduler replaces the partition
        before = time.time()
        rerun = af.run([*argv, DAG_ID, "-k", BROKEN, "-k", NEW, "--reason", REASON], timeout=180)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        assert f"cleared run {runs[BROKEN]} for partition '{BROKEN}'" in rerun.stdout
        triggered = re.search(rf"triggered run (\S+) for partition '{NEW}'", rerun.stdout)
        assert triggered, rerun.stdout
        assert af.wait_for_run(DAG_ID, runs[BROKEN], timeout=240, after=before) == "success", af.logs()
        assert af.wait_for_run(DAG_ID, triggered.group(1), timeout=240) == "success", af.logs()
        new_run = af.api("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{triggered.group(1)}")
        assert new_run["partition_key"] == NEW and new_run["note"] == f"rerun: {REASON}"
        assert _assert_target_equals_source(warehouse, NEW) > 500

        assert _assert_target_equals_source(warehouse, BROKEN) == published[BROKEN]
        verify = af.cli("dataops", "partitions", "verify", DAG_ID, "-o", "json", timeout=180)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert {f["partition_key"]: f["status"] for f in json.loads(verify.stdout)}.items() >= {
            k: "ok" for k in KEYS
        }.items()

        # 6. the ledger shows the request and the rerun, with the reason
        history = _ledger_history(af, BROKEN)
        actions = [(h["action"], h["state"]) for h in history]
        assert ("rerun_requested", "requested") in actions, actions
        reruns = [h for h in history if h["action"] == "rerun"]
        assert len(reruns) == 1 and reruns[0]["state"] in ("applied", "quarantined"), history
        assert reruns[0]["reason"] == REASON and reruns[0]["run_id"] == runs[BROKEN]
        assert reruns[0]["attempt"] == 2  # the cleared task instance's second try

        # 7. the other partitions were not touched by the rerun
        for key in KEYS:
            if key != BROKEN:
                assert [h["action"] for h in _ledger_history(af, key) if h["action"] != "refused"] == [
                    "apply"
                ]
    elapsed = time.monotonic() - t_start
    print(f"e2e finished in {elapsed:.0f} s")


def _ledger_history(af: AirflowStack, key: str) -> list[dict[str, Any]]:
    code = (
        "import json, sys\n"
        "from airflow_dataops.store import StateStore\n"
        "from airflow_dataops.store.ledger import history\n"
        "rows = history(StateStore.from_settings(), 'flights', sys.argv[1])\n"
        "print(json.dumps([{k: v for k, v in vars(r).items() if not k.endswith('_at')} for r in rows]))\n"
    )
    proc = af.run([sys.executable, "-c", code, key], timeout=120)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, "ledger history", proc.stdout, proc.stderr)
    return list(json.loads(proc.stdout.strip().splitlines()[-1]))
