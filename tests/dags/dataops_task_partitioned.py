"""Test-only DAG (bundle ``dataops-tests``): ``@task.partitioned``, the provider's TaskFlow decorator.

``task.partitioned`` resolves through Airflow's ProvidersManager (our ``get_provider_info()
["task-decorators"]``), exactly as ``@task.sql`` does for common-sql.  The call's keyword argument
(``upstream_region``, an XComArg) reaches the function with the partition key at run time.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from airflow.sdk import DAG, task

CONTRACT = str(Path(__file__).resolve().parent / "contracts" / "slo_orders.odcs.yaml")

with DAG("dataops_task_partitioned", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc)):

    @task
    def region() -> str:
        return "eu"

    @task.partitioned(
        conn_id="dataops_warehouse",
        table="slo_orders",
        partition_column="order_date",
        contract=CONTRACT,
        mode="quarantine",
        retries=0,
    )
    def orders(partition_key: str, upstream_region: str):
        import pandas as pd

        assert upstream_region == "eu", upstream_region
        stamp = f"{partition_key}T12:00:00Z"
        return pd.DataFrame(
            {
                "order_id": [1, 2, 3, 4],
                "amount": [10.0, 20.0, 30.0, -5.0],  # -5.0 breaks nonNegativeAmount: quarantined
                "ordered_at": [stamp] * 4,
            }
        )

    orders(upstream_region=region())
