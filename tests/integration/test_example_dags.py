"""The example DAGs run for real (dag.test): pandas + callbacks, and the partitioned downstream summary."""

from __future__ import annotations

import csv
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import ROOT

from airflow_dataops.store import StateStore
from airflow_dataops.store.ledger import list_partitions
from airflow_dataops.store.records import sli_history

KEY = (datetime.now(timezone.utc) - timedelta(days=1)).strftime("%Y-%m-%d")


def _dag(name: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / f"{name}.py"))
    assert not bag.import_errors, bag.import_errors
    return bag.get_dag(name)


def _run(dag, key: str = KEY):
    return dag.test(logical_date=datetime.strptime(key, "%Y-%m-%d").replace(tzinfo=timezone.utc))


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_carrier_delays_publishes_per_carrier_and_the_report_task_records_slis(
    airflow_db, warehouse: Path, use_store: str
) -> None:
    from nycflights_carrier_delays import carrier_delays_for_day

    run = _run(_dag("nycflights_carrier_delays"))
    assert run.state == "success"
    expected = carrier_delays_for_day(KEY)
    with sqlite3.connect(warehouse) as conn:
        published = conn.execute(
            "SELECT carrier, departures FROM carrier_delays WHERE flight_date = ?", (KEY,)
        ).fetchall()
    assert sorted(published) == sorted(zip(expected["carrier"], expected["departures"].tolist(), strict=True))
    report = Path(airflow_db) / "reports" / f"on_time_{KEY}.csv"
    with report.open() as fh:
        assert len(list(csv.DictReader(fh))) == len(expected)
    store = StateStore.from_settings()
    kinds = {s.kind: s for s in sli_history(store, "carrier_on_time_report")}
    assert set(kinds) == {"freshness", "correctness", "cost"}  # from the callbacks of an ordinary task
    assert kinds["freshness"].good is True and kinds["correctness"].good is True and kinds["cost"].value > 0
    [state] = list_partitions(store, "carrier_delays")
    assert (state.partition_key, state.state, state.gate_verdict) == (KEY, "applied", "passed")


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_daily_summary_waits_for_healthy_flights_then_aggregates_that_day(
    airflow_db, warehouse: Path, use_store: str
) -> None:
    assert _run(_dag("nycflights_daily")).state == "success"  # publishes the day; flights SLO has data
    run = _run(_dag("nycflights_daily_summary"))
    assert run.state == "success"
    with sqlite3.connect(warehouse) as conn:
        summary = conn.execute(
            "SELECT origin, departures FROM flights_daily_summary WHERE flight_date = ? ORDER BY origin",
            (KEY,),
        ).fetchall()
        per_origin = conn.execute(
            "SELECT origin, COUNT(*) FROM flights WHERE flight_date = ? GROUP BY origin ORDER BY origin",
            (KEY,),
        ).fetchall()
    assert summary == per_origin and [o for o, _ in summary] == ["EWR", "JFK", "LGA"]
    [consistency] = sli_history(StateStore.from_settings(), "flights_daily_summary", kind="consistency")
    assert (consistency.value, consistency.good, consistency.partition_key) == (1.0, True, KEY)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_daily_summary_does_not_run_while_flights_has_no_slo_data(
    airflow_db, warehouse: Path, use_store: str
) -> None:
    dag = _dag("nycflights_daily_summary").partial_subset(["flights_slo_healthy"], include_downstream=False)
    sensor = dag.get_task("flights_slo_healthy")
    assert sensor.poke({}) is False  # no data yet: never a false "healthy"
