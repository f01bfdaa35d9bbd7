"""``partitions rollback`` after real DAG runs (dag.test()), through the real CLI body, on SQLite and
PostgreSQL stores; the rollback's OpenLineage event says ``rolled_back`` and names both versions."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import LINEAGE_FILE
from sqlalchemy import MetaData, Table, create_engine

from airflow_dataops.cli.partitions_rollback import partitions_prune, partitions_rollback, partitions_versions
from airflow_dataops.partitions.ledger import PartitionLedger
from airflow_dataops.partitions.writer import partition_checksum

DAG_ID, DATASET, KEY = "dataops_rollback_orders", "rollback_orders", "2026-11-28"


@pytest.fixture
def run_day(load_test_dag: Any, warehouse: Path, use_store: str) -> Any:
    dag = load_test_dag("dataops_rollback_orders.py", DAG_ID)
    versions: dict[str, tuple[int, float]] = dag.task_dict["rollback_orders"].python_callable.__globals__[
        "VERSIONS"
    ]

    def run(n: int, offset: float) -> str:
        versions[KEY] = (n, offset)
        return dag.test(logical_date=datetime(2026, 11, 28, tzinfo=timezone.utc)).state

    yield run
    versions.clear()


def _target(warehouse: Path) -> tuple[int, str]:
    engine = create_engine(f"sqlite:///{warehouse}")
    try:
        with engine.connect() as conn:
            return partition_checksum(
                conn, Table(DATASET, MetaData(), autoload_with=engine), "order_date", KEY
            )
    finally:
        engine.dispose()


def _args(**kw: Any) -> argparse.Namespace:
    base = {"target": DAG_ID, "dataset": None, "output": "table", "dry_run": False, "to": None, "key": KEY}
    return argparse.Namespace(**{**base, **kw})


def _rerun(store_url: str) -> None:
    from airflow_dataops.store import StateStore

    PartitionLedger(StateStore(store_url), DATASET).request_rerun(
        [KEY], reason="upstream resent the day", requested_by="test", dag_id=DAG_ID
    )


def test_rollback_after_dag_runs_restores_the_first_run_and_can_be_undone(
    run_day: Any, warehouse: Path, use_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from airflow_dataops.store import StateStore

    assert run_day(230, 0.0) == "success"
    first = _target(warehouse)
    first_apply = PartitionLedger(StateStore(use_store), DATASET).state(KEY).apply_id
    _rerun(use_store)
    assert run_day(200, 1.5) == "success"  # 30 orders removed upstream, amounts corrected
    second = _target(warehouse)
    assert second != first and second[0] == 200
    capsys.readouterr()

    partitions_versions(_args(output="json"))
    [kept] = json.loads(capsys.readouterr().out)
    assert (kept["apply_id"], kept["rows"], kept["checksum"]) == (first_apply, *first)

    rerun_event = [
        json.loads(line)
        for line in LINEAGE_FILE.read_text().splitlines()
        if f'"{DAG_ID}.rollback_orders"' in line and '"rerun"' in line and '"COMPLETE"' in line
    ][-1]
    superseded = rerun_event["run"]["facets"]["dataops_partitionLedger"]["supersedes"]
    assert superseded == {
        "applyId": first_apply,
        "rowsPublished": 230,
        "checksum": first[1],
        "state": "superseded",
        "kept": True,
    }

    partitions_rollback(_args(reason="the resent file was wrong", dry_run=True))
    assert "would roll back partition '2026-11-28'" in capsys.readouterr().out
    assert _target(warehouse) == second  # a dry run changes nothing

    partitions_rollback(_args(reason="the resent file was wrong"))
    out = capsys.readouterr().out
    assert f"restored version {first_apply} (230 rows" in out and "undo with: airflow dataops" in out
    assert _target(warehouse) == first  # byte for byte: the checksum of the first run
    state = PartitionLedger(StateStore(use_store), DATASET).state(KEY)
    assert (state.rows_published, state.checksum) == first

    event = [
        json.loads(line)
        for line in LINEAGE_FILE.read_text().splitlines()
        if f'"dataops_rollback.{DATASET}"' in line
    ][-1]
    facet = event["run"]["facets"]["dataops_partitionLedger"]
    assert facet["decision"] == "rolled_back" and facet["applyId"] == state.apply_id
    assert facet["restored"]["applyId"] == first_apply and facet["restored"]["checksum"] == first[1]
    assert facet["supersedes"]["state"] == "rolled_back" and facet["supersedes"]["kept"] is True
    from lineage_validation import validate_event

    assert validate_event(event) == []

    partitions_rollback(_args(reason="undo: the correction was right after all"))
    assert _target(warehouse) == second

    # a rerun after a rollback is an ordinary replace; the rollback's own version is kept too
    _rerun(use_store)
    assert run_day(210, 2.0) == "success"
    capsys.readouterr()
    partitions_prune(_args(dry_run=True))
    assert "would purge 0 version(s), 4 kept" in capsys.readouterr().out


def test_rollback_refusals_exit_1_and_bad_input_exits_2(
    run_day: Any, warehouse: Path, use_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_day(50, 0.0) == "success"
    with pytest.raises(SystemExit) as info:
        partitions_rollback(_args(reason="nothing kept yet"))
    assert info.value.code == 1
    assert "has no kept version to roll back to" in capsys.readouterr().err
    # the same through the real `airflow` command tree (the provider registers it)
    import os
    import subprocess
    import sys

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "airflow",
            "dataops",
            "partitions",
            "rollback",
            DAG_ID,
            "-k",
            KEY,
            "--reason",
            "x",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=dict(os.environ),
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "error: partition '2026-11-28' of dataset 'rollback_orders' has no kept version" in proc.stderr
    with pytest.raises(SystemExit) as info:
        partitions_rollback(_args(reason="r", to="abc"))
    assert info.value.code == 2
    assert "error: --to 'abc' is not an apply id" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        partitions_rollback(_args(reason="   "))
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        partitions_rollback(_args(reason="r", key="bad\x00key"))
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        partitions_rollback(_args(reason="r", target="no_such_dag"))
    assert info.value.code == 3
    assert "no dataset or DAG called 'no_such_dag'" in capsys.readouterr().err
