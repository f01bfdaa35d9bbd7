"""Per-airport daily summary, fed partition by partition by ``nycflights_daily``'s asset events.

A partitioned downstream DAG: each asset event of ``dataops://warehouse/flights`` carries the
partition key of the day just published, so this DAG runs for exactly that day.  It first waits
for the ``flights`` dataset's SLOs to be healthy (``SLOHealthySensor``: no breach, data present),
checks its input day against the producer's contract itself (``ContractGateOperator``: a
consumer does not have to trust the producer's gate), then aggregates the day in the warehouse
(``PartitionedSQLOperator``: the SQL runs where the data lives, the partition key is a bound
parameter) and publishes it through its own contract.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG, Asset, PartitionedAssetTimetable

from airflow_dataops.operators.gate import ContractGateOperator
from airflow_dataops.operators.partitioned import PartitionedSQLOperator
from airflow_dataops.sensors.dataset import SLOHealthySensor

CONTRACT = Path(__file__).parent / "contracts" / "flights_daily_summary.odcs.yaml"
FLIGHTS_CONTRACT = Path(__file__).parent / "contracts" / "flights.odcs.yaml"
FLIGHTS = Asset("dataops://warehouse/flights")

with DAG(
    dag_id="nycflights_daily_summary",
    schedule=PartitionedAssetTimetable(assets=FLIGHTS),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["dataops", "example"],
    doc_md=__doc__,
):
    healthy = SLOHealthySensor(
        task_id="flights_slo_healthy",
        dataset="flights",
        poke_interval=60,
        timeout=timedelta(hours=2).total_seconds(),
        mode="reschedule",
    )
    summarise = PartitionedSQLOperator(
        task_id="summarise_day",
        conn_id="dataops_warehouse",
        sql=(
            "SELECT flight_date, origin, CAST(COUNT(*) AS INTEGER) AS departures, "
            "CAST(SUM(CASE WHEN dep_time IS NULL THEN 1 ELSE 0 END) AS INTEGER) AS cancelled, "
            "AVG(dep_delay) AS mean_dep_delay "
            "FROM flights WHERE flight_date = :partition_key GROUP BY flight_date, origin"
        ),
        table="flights_daily_summary",
        partition_column="flight_date",
        contract=str(CONTRACT),
        mode="fail",
    )
    check_input = ContractGateOperator(
        task_id="check_input_day",
        contract=str(FLIGHTS_CONTRACT),
        conn_id="dataops_warehouse",
        table="flights",
        partition_column="flight_date",
        partition="{{ partition_key or ds }}",
        mode="fail",
    )
    healthy >> check_input >> summarise
