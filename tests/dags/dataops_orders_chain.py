"""Two DAGs chained by an asset, for the staleness tests (#16): ``orders_daily`` → ``orders_revenue``.

``orders_daily`` publishes one day of orders (``@partitioned_task``) into ``orders`` and emits
the asset ``dataops://warehouse/orders`` with the day as partition key.  ``orders_revenue`` runs
on that asset event (``PartitionedAssetTimetable``) and builds ``daily_revenue`` from ``orders``
in the warehouse (``PartitionedSQLOperator``).

The orders of a day are generated (230 a day, amounts fixed by the order number); the file named
by ``DATAOPS_ORDERS_DROP`` (JSON ``{day: n}``) removes the last ``n`` orders of a day, which is how
a test changes the upstream data.
"""

from __future__ import annotations

import json
import os
from datetime import datetime

from airflow.sdk import DAG, Asset, CronPartitionTimetable, PartitionedAssetTimetable

from airflow_dataops.operators.partitioned import PartitionedSQLOperator, partitioned_task

WAREHOUSE = "dataops_warehouse"
ORDERS = Asset("dataops://warehouse/orders")
ORDERS_PER_DAY = 230
REVENUE_SQL = (
    "SELECT order_date, CAST(COUNT(*) AS INTEGER) AS orders, SUM(amount) AS revenue "
    "FROM orders WHERE order_date = :partition_key GROUP BY order_date"
)


def orders_for_day(partition_key: str):
    """The orders of ``partition_key``: 230, less the number the drop file names for that day."""
    import pandas as pd

    drop = 0
    path = os.environ.get("DATAOPS_ORDERS_DROP")
    if path and os.path.exists(path):
        with open(path) as fh:
            drop = int(json.load(fh).get(partition_key, 0))
    n = ORDERS_PER_DAY - drop
    return pd.DataFrame(
        {
            "order_id": [f"{partition_key}-{i:04d}" for i in range(n)],
            "order_date": [partition_key] * n,
            "customer": [f"c{i % 17}" for i in range(n)],
            "amount": [round(5 + (i * 37 % 500) / 10, 2) for i in range(n)],
        }
    )


with DAG(
    dag_id="orders_daily",
    schedule=CronPartitionTimetable("0 3 * * *", timezone="UTC", run_offset=-1, key_format="%Y-%m-%d"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["dataops", "test"],
):

    @partitioned_task(conn_id=WAREHOUSE, table="orders", partition_column="order_date", outlets=[ORDERS])
    def load_orders(partition_key: str):
        return orders_for_day(partition_key)

    load_orders()


with DAG(
    dag_id="orders_revenue",
    schedule=PartitionedAssetTimetable(assets=ORDERS),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["dataops", "test"],
):
    PartitionedSQLOperator(
        task_id="daily_revenue",
        conn_id=WAREHOUSE,
        sql=REVENUE_SQL,
        table="daily_revenue",
        partition_column="order_date",
        dataset="daily_revenue",
    )
