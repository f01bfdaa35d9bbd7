"""Test-only DAGs (bundle ``dataops-tests``) whose gate outcomes feed the SLO parity tests
(tests/integration/test_slo_parity.py).

``dataops_slo_outcomes`` loads one day of orders through ``@partitioned_task`` in quarantine
mode; what a day holds is chosen by ``OUTCOMES[partition_key]`` (the test sets it):

* ``ok``: three clean orders, stamped that day;
* ``short``: one order only: the ``rowCount > 2`` rule is an aggregate rule, so the whole
  partition is refused even in quarantine mode;
* ``quarantine``: one order of four with an amount outside the allowed values: moved aside;
* ``late``: clean orders stamped five days before the partition day (the latency SLA is 2 d).

On a real scheduler (tests/e2e/test_oncall_e2e.py) the task runs in another process: there the
outcomes come from the JSON file named by ``DATAOPS_TEST_OUTCOMES_FILE``, read at run time.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
from airflow.sdk import DAG

from airflow_dataops.operators.partitioned import partitioned_task

CONTRACT = str(Path(__file__).resolve().parent / "contracts" / "slo_orders.odcs.yaml")
OUTCOMES: dict[str, str] = {}


def _outcome(partition_key: str) -> str:
    if partition_key in OUTCOMES:
        return OUTCOMES[partition_key]
    path = os.environ.get("DATAOPS_TEST_OUTCOMES_FILE")
    if path and Path(path).is_file():
        return str(json.loads(Path(path).read_text()).get(partition_key, "ok"))
    return "ok"


def orders_for_day(partition_key: str) -> pd.DataFrame:
    outcome = _outcome(partition_key)
    day = datetime.strptime(partition_key, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    stamp = day - timedelta(days=5) if outcome == "late" else day + timedelta(hours=12)
    ids, amounts = [1, 2, 3], [10.0, 20.0, 30.0]
    if outcome == "short":
        ids, amounts = [1], [10.0]
    elif outcome == "quarantine":
        ids, amounts = [1, 2, 3, 4], [10.0, 20.0, 30.0, -5.0]
    return pd.DataFrame(
        {
            "order_id": ids,
            "amount": amounts,
            "ordered_at": [stamp.strftime("%Y-%m-%dT%H:%M:%SZ")] * len(ids),
            "order_date": partition_key,
        }
    )


with DAG("dataops_slo_outcomes", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc)):
    partitioned_task(
        orders_for_day,
        conn_id="dataops_warehouse",
        table="slo_orders",
        partition_column="order_date",
        contract=CONTRACT,
        mode="quarantine",
        retries=0,
    )()
