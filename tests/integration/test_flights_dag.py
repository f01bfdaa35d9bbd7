"""The nycflights DAG end to end with dag.test(): gate, replace, ledger, SLIs, lineage, refusal on rerun.

dag.test() runs the task in-process and does not enforce Airflow 3's ban on metadata-DB access
from tasks; tests/e2e runs the same DAG on a real scheduler, where it is enforced.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from airflow_dataops.store import StateStore
from airflow_dataops.store.ledger import history, list_partitions
from airflow_dataops.store.records import latest_contract_results, sli_history

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def flights_dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / "nycflights_daily.py"))
    assert not bag.import_errors, bag.import_errors
    return bag.get_dag("nycflights_daily")


def _run(dag, key: str):
    return dag.test(logical_date=datetime.strptime(key, "%Y-%m-%d").replace(tzinfo=timezone.utc))


def _rows(warehouse: Path, key: str) -> list[tuple]:
    with sqlite3.connect(warehouse) as conn:
        return sorted(
            conn.execute("SELECT * FROM flights WHERE flight_date = ?", (key,)).fetchall(), key=repr
        )


def test_a_day_is_gated_published_ledgered_and_measured(flights_dag, warehouse: Path, use_store: str) -> None:
    import nycflights_daily  # the DAG module, on sys.path through the dags folder

    key = (datetime.now(timezone.utc) - timedelta(days=1)).strftime("%Y-%m-%d")
    run = _run(flights_dag, key)
    assert run.state == "success"
    source = nycflights_daily.flights_for_day(key)
    assert len(_rows(warehouse, key)) == len(source) > 600

    store = StateStore.from_settings()
    [state] = list_partitions(store, "flights")
    assert (state.partition_key, state.state, state.rows_published, state.gate_verdict) == (
        key,
        "applied",
        len(source),
        "passed",
    )
    [result] = latest_contract_results(store, "flights")
    assert (result["verdict"], result["rules_failed"], result["partition_key"]) == ("passed", 0, key)
    [freshness] = sli_history(store, "flights", kind="freshness")
    assert freshness.partition_key == key and freshness.unit == "s" and freshness.good is True
    assert 0 <= freshness.value < 3 * 86400


def test_a_backfill_of_an_old_day_does_not_make_the_dataset_stale(
    flights_dag, warehouse: Path, use_store: str
) -> None:
    from airflow_dataops.slo.evaluator import current_lag

    today = datetime.now(timezone.utc)
    recent, old = ((today - timedelta(days=d)).strftime("%Y-%m-%d") for d in (1, 20))
    assert _run(flights_dag, recent).state == "success"
    assert _run(flights_dag, old).state == "success"  # the on-call backfill, after the recent day

    store = StateStore.from_settings()
    first, second = sli_history(store, "flights", kind="freshness")
    assert (first.partition_key, second.partition_key) == (recent, old)
    # The dataset's newest data is still the recent day's: the backfill records the dataset's lag,
    # good, and keeps its own partition's newest data in the details.
    assert second.good is True and second.value < 3 * 86400

    def at(text: str) -> datetime:
        return datetime.fromisoformat(text.rstrip("Z"))

    assert abs(at(second.details["newest"]) - at(first.details["newest"])) < timedelta(seconds=1)
    partition_newest = at(second.details["partition_newest"])
    assert (today.replace(tzinfo=None) - partition_newest) > timedelta(days=18)
    assert current_lag(store, "flights") < 3 * 86400


def test_a_second_run_of_the_same_day_is_refused_and_appends_nothing(
    flights_dag, warehouse: Path, use_store: str
) -> None:
    key = "2026-03-04"
    assert _run(flights_dag, key).state == "success"
    before = _rows(warehouse, key)
    run = _run(flights_dag, key)
    assert run.state == "success"  # skipped, not failed (on_already_applied = skip)
    [ti] = run.get_task_instances()
    assert ti.state == "skipped"
    assert _rows(warehouse, key) == before
    actions = [e.action for e in history(StateStore.from_settings(), "flights", key)]
    assert actions == ["apply", "refused"]


def test_a_missing_contract_fails_the_task_closed(
    flights_dag, warehouse: Path, use_store: str, tmp_path: Path
) -> None:
    from airflow_dataops.exceptions import ContractError
    from airflow_dataops.operators.partitioned import DataFramePartitionOperator

    missing = tmp_path / "nope.odcs.yaml"
    op = DataFramePartitionOperator(
        task_id="t",
        python_callable=lambda partition_key: None,
        conn_id="dataops_warehouse",
        table="flights",
        partition_column="flight_date",
        contract=str(missing),
    )
    with pytest.raises(ContractError) as info:
        op.execute(context={})  # the contract is read before anything else
    assert str(info.value).startswith(f"{missing}: ")
    assert "\n" not in str(info.value)
    assert not warehouse.exists()
