"""What each partition was built from, and staleness, on a real store (SQLite and PostgreSQL) (#16).

The two test DAGs of ``tests/dags/dataops_orders_chain.py`` run their tasks' ``execute()`` with a
real context (the scheduler e2e drives the same DAGs through Airflow): ``orders_daily`` publishes
``orders``, ``orders_revenue`` builds ``daily_revenue`` from it in a real SQLite warehouse.  The
triggering asset events are the values the Task SDK hands a task (partition key, source DAG and
task), built here because ``dag.test()`` cannot create asset-triggered partitioned runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from orders_chain import recomputed as _recomputed
from orders_chain import revenue as _revenue

from airflow_dataops.partitions.ledger import PartitionLedger
from airflow_dataops.partitions.staleness import built_from, stale_partitions
from airflow_dataops.store import StateStore

K1, K2 = "2026-01-20", "2026-01-21"


@pytest.fixture
def chain(load_test_dag: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, use_store: str) -> Any:
    wh = tmp_path / "warehouse.db"
    monkeypatch.setenv("AIRFLOW_CONN_DATAOPS_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(wh)}))
    monkeypatch.setenv("DATAOPS_ORDERS_DROP", str(tmp_path / "drop.json"))
    up = load_test_dag("dataops_orders_chain.py", "orders_daily").get_task("load_orders")
    down = load_test_dag("dataops_orders_chain.py", "orders_revenue").get_task("daily_revenue")
    return types.SimpleNamespace(up=up, down=down, warehouse=wh, drop=tmp_path / "drop.json")


def _ctx(
    dag_id: str, task_id: str, key: str, *, run: str | None = None, attempt: int = 1, events: Any = None
) -> dict:
    ti = types.SimpleNamespace(dag_id=dag_id, task_id=task_id, run_id=run or f"manual__{key}",
                               try_number=attempt, dag_version_id=None)  # fmt: skip
    ctx: dict[str, Any] = {"ti": ti, "partition_key": key}
    if events is not None:
        ctx["triggering_asset_events"] = events
    return ctx


def _event(key: str) -> dict[str, list[Any]]:
    ev = types.SimpleNamespace(
        partition_key=key, source_dag_id="orders_daily", source_task_id="load_orders", extra={}
    )
    return {"dataops://warehouse/orders": [ev]}


def _publish_up(chain: Any, key: str, **kw: Any) -> dict:
    return chain.up.execute(_ctx("orders_daily", "load_orders", key, **kw))


def _publish_down(chain: Any, key: str, **kw: Any) -> dict:
    return chain.down.execute(_ctx("orders_revenue", "daily_revenue", key, **kw))


def _rerun_upstream(chain: Any, key: str, drop: int) -> None:
    chain.drop.write_text(json.dumps({key: drop}))
    store = StateStore.from_settings()
    PartitionLedger(store, "orders").request_rerun(
        [key], reason="30 orders cancelled", requested_by="t", dag_id="orders_daily"
    )
    _publish_up(chain, key, attempt=2)


def test_an_apply_records_what_it_read_from_its_sql(chain: Any) -> None:
    up = _publish_up(chain, K1)
    _publish_down(chain, K1)
    store = StateStore.from_settings()
    orders_apply = PartitionLedger(store, "orders").state(K1).apply_id  # type: ignore[union-attr]
    inputs = built_from(store, "daily_revenue", K1)
    assert [
        (b.input_dataset, b.input_partition_key, b.input_apply_id, b.source, b.changed) for b in inputs
    ] == [("orders", K1, orders_apply, "sql", False)]
    assert up["rows_published"] == 230 and _revenue(chain.warehouse, K1)[0] == 230
    assert stale_partitions(store) == []


def test_triggering_events_name_the_upstream_partition(chain: Any) -> None:
    """An event for another key than the run's (a partition mapper's doing) is what gets recorded."""
    _publish_up(chain, K1)
    _publish_up(chain, K2)
    _publish_down(chain, K2, events=_event(K1))
    got = built_from(StateStore.from_settings(), "daily_revenue", K2)
    assert [(b.input_dataset, b.input_partition_key, b.source) for b in got] == [("orders", K1, "event")]


def test_an_upstream_rerun_makes_the_downstream_stale_and_its_next_run_replaces_it(chain: Any) -> None:
    _publish_up(chain, K1)
    _publish_up(chain, K2)
    _publish_down(chain, K1)
    _publish_down(chain, K2)
    _rerun_upstream(chain, K1, drop=30)
    store = StateStore.from_settings()
    stale = stale_partitions(store)
    assert [(s.dataset, s.partition_key, s.dag_id) for s in stale] == [
        ("daily_revenue", K1, "orders_revenue")
    ]
    change = stale[0].changes[0]
    assert (change.input_dataset, change.input_partition_key) == ("orders", K1)
    assert change.current_apply_id != change.input_apply_id
    assert stale[0].detail == (
        f"orders {K1} was replaced (built from apply #{change.input_apply_id}, now #{change.current_apply_id})"
    )
    assert stale[0].command == (
        f"airflow dataops partitions rerun orders_revenue -k {K1} --downstream --reason '<why: ticket, cause>'"
    )
    assert _revenue(chain.warehouse, K1)[0] == 230  # what it still holds: the old upstream

    # the asset-triggered run of the stale partition replaces it (no rerun request needed) ...
    summary = _publish_down(chain, K1, run="asset_triggered__2", events=_event(K1))
    assert summary["action"] == "stale"
    assert (
        _revenue(chain.warehouse, K1)
        == _recomputed(chain.warehouse, K1)
        == (200, _recomputed(chain.warehouse, K1)[1])
    )
    assert stale_partitions(store) == []
    last = PartitionLedger(store, "daily_revenue").history(K1)[-1]
    assert (last.action, last.state) == ("stale", "applied")
    assert last.reason and last.reason.startswith(f"stale: orders {K1} was replaced")
    # ... and a run of a partition that is not stale is still refused as a double apply
    from airflow.sdk.exceptions import AirflowSkipException

    with pytest.raises(AirflowSkipException, match="already applied"):
        _publish_down(chain, K2, run="asset_triggered__3", events=_event(K2))


def test_a_failed_upstream_rerun_keeps_the_downstream_fresh(chain: Any) -> None:
    """The upstream still holds its published rows after a failed rerun: nothing downstream is stale."""
    _publish_up(chain, K1)
    _publish_down(chain, K1)
    store = StateStore.from_settings()
    ledger = PartitionLedger(store, "orders")
    ledger.request_rerun([K1], reason="try", requested_by="t", dag_id="orders_daily")
    chain.drop.write_text("not json")  # the callable fails on it
    with pytest.raises(json.JSONDecodeError):
        _publish_up(chain, K1, attempt=2)
    assert stale_partitions(store) == []


def test_status_verify_and_triage_name_the_stale_partition(chain: Any, use_store: str) -> None:
    _publish_up(chain, K1)
    _publish_down(chain, K1)
    _rerun_upstream(chain, K1, drop=30)
    env = {"AIRFLOW__DATAOPS__STORE_URL": use_store}
    status = _cli(env, "partitions", "status", "orders_revenue")
    assert status.returncode == 0, status.stderr
    assert "stale" in status.stdout and f"orders {K1} was replaced" in status.stdout
    as_json = json.loads(_cli(env, "partitions", "status", "orders_revenue", "-o", "json").stdout)
    assert [(r["partition"], r["stale"]) for r in as_json] == [(K1, True)]
    verify = _cli(env, "partitions", "verify", "orders_revenue")
    assert verify.returncode == 1, verify.stdout + verify.stderr
    assert f"daily_revenue  {K1}" in verify.stdout and "stale" in verify.stdout
    assert f"fix: airflow dataops partitions rerun orders_revenue -k {K1} --downstream" in verify.stdout
    assert "1 stale" in verify.stdout
    ok_upstream = _cli(env, "partitions", "verify", "orders_daily")
    assert ok_upstream.returncode == 0, ok_upstream.stdout + ok_upstream.stderr


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "airflow", "dataops", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_triage_lists_the_stale_partition_with_the_downstream_command(chain: Any) -> None:
    from airflow_dataops.store.records import get_dataset
    from airflow_dataops.triage import triage

    _publish_up(chain, K1)
    _publish_down(chain, K1)
    store = StateStore.from_settings()
    report = triage(store, [get_dataset(store, "daily_revenue")], target="daily_revenue")
    assert [a for a in report.actions if a.problem == "stale"] == []
    _rerun_upstream(chain, K1, drop=30)
    report = triage(store, [get_dataset(store, "daily_revenue")], target="daily_revenue")
    [stale] = [a for a in report.actions if a.problem == "stale"]
    assert stale.partition == K1 and stale.detail[0].startswith(f"built from orders {K1} apply #")
    assert stale.command == (
        f"airflow dataops partitions rerun orders_revenue -k {K1} --downstream --reason '<why: ticket, cause>'"
    )
    assert report.exit_code == 1


def test_declared_inputs_are_recorded_and_validated_at_parse_time(chain: Any) -> None:
    from airflow_dataops.operators.partitioned import PartitionedSQLOperator

    _publish_up(chain, K1)
    _publish_up(chain, K2)
    op = PartitionedSQLOperator(task_id="rev", conn_id="dataops_warehouse", table="rev", partition_column="order_date",
                                sql="SELECT :partition_key AS order_date, 1 AS n", inputs=[("orders", K2)])  # fmt: skip
    op.execute(_ctx("adhoc", "rev", K1))
    got = built_from(StateStore.from_settings(), "rev", K1)
    assert [(b.input_dataset, b.input_partition_key, b.source) for b in got] == [("orders", K2, "declared")]
    with pytest.raises(ValueError, match="inputs='orders' \\(str\\); give a list of"):
        PartitionedSQLOperator(
            task_id="bad", conn_id="c", table="t", partition_column="d", sql="SELECT 1", inputs="orders"
        )
