"""Test-only DAG (bundle ``dataops-tests``) for ``partitions rollback`` (tests/integration/test_rollback_dag.py).

``dataops_rollback_orders`` loads one day of orders through ``@partitioned_task``; how many orders
a day holds, and their amounts, come from ``VERSIONS[partition_key]`` (the test sets it before each
run), so a rerun publishes a different version of the partition.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
from airflow.sdk import DAG

from airflow_dataops.operators.partitioned import partitioned_task

VERSIONS: dict[str, tuple[int, float]] = {}  # partition key -> (orders, amount offset)


def rollback_orders(partition_key: str) -> pd.DataFrame:
    n, offset = VERSIONS.get(partition_key, (230, 0.0))
    return pd.DataFrame(
        {
            "order_id": list(range(1, n + 1)),
            "amount": [round(9.99 + i * 0.5 + offset, 2) for i in range(n)],
            "customer": [None if i % 7 == 0 else f"c{i % 13}" for i in range(n)],
            "order_date": partition_key,
        }
    )


with DAG("dataops_rollback_orders", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc)):
    partitioned_task(
        rollback_orders,
        conn_id="dataops_warehouse",
        table="rollback_orders",
        partition_column="order_date",
        retries=0,
    )()
