"""``@task.partitioned``: registered through ``get_provider_info()["task-decorators"]`` and run with dag.test()."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest

from airflow_dataops.store import StateStore
from airflow_dataops.store.ledger import list_partitions

KEY = "2026-11-20"


def test_task_partitioned_is_the_providers_decorator() -> None:
    from airflow.sdk import task

    from airflow_dataops.decorators.partitioned import partitioned_task_decorator

    assert task.partitioned is partitioned_task_decorator


def test_a_positional_argument_is_refused_with_the_fix() -> None:
    from airflow.sdk import DAG, task

    with DAG("positional", schedule=None):

        @task.partitioned(conn_id="w", table="t", partition_column="d")
        def load(partition_key: str, region: str):
            return None

        with pytest.raises(TypeError, match=r"pass arguments by name, e\.g\. load\(region='eu'\)"):
            load("eu")


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_dag_using_task_partitioned_publishes_through_the_ledger(
    load_test_dag, warehouse: Path, use_store: str
) -> None:
    dag = load_test_dag("dataops_task_partitioned.py", "dataops_task_partitioned")
    operator = dag.get_task("orders")
    assert type(operator).__name__ == "_PartitionedDecoratedOperator"
    assert operator.custom_operator_name == "@task.partitioned"

    run = dag.test(logical_date=datetime.strptime(KEY, "%Y-%m-%d").replace(tzinfo=timezone.utc))
    assert run.state == "success"
    with sqlite3.connect(warehouse) as conn:
        published = conn.execute("SELECT order_id, order_date FROM slo_orders ORDER BY order_id").fetchall()
        quarantined = conn.execute("SELECT order_id FROM slo_orders__quarantine").fetchall()
    assert published == [(1, KEY), (2, KEY), (3, KEY)]
    assert quarantined == [(4,)]
    [state] = list_partitions(StateStore.from_settings(), "slo_orders")
    assert (state.partition_key, state.state, state.rows_published, state.rows_quarantined) == (
        KEY,
        "quarantined",
        3,
        1,
    )
    summary = run.get_task_instance("orders").xcom_pull(task_ids="orders")
    assert summary["partition_key"] == KEY and summary["rows_quarantined"] == 1
