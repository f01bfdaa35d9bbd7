"""Deferrable sensors through Airflow's own deferral path, with dag.test().

dag.test() takes a deferring task through the same steps as a deployment: the task raises
TaskDeferred, the trigger's kwargs are serialized and deserialized, the trigger class is
imported by its classpath and run by Airflow's in-process trigger supervisor, and the task
resumes in ``execute_complete`` with the event. Only the triggerer *process* is replaced by
running the trigger in line (a real triggerer needs a scheduler and a metadata database
server; tests/e2e runs the scheduler for the partition DAGs). The DAGs live in
tests/dags/dataops_deferred_sensors.py, a second DAG bundle added for these tests only.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sli_history import seed_slis

from airflow_dataops.store import StateStore
from airflow_dataops.store.records import upsert_dataset

SLO = {"objective": 0.9, "window_days": 7, "slis": {"freshness": {"threshold": 2, "unit": "d"}}}


def _publish(store: StateStore, dataset: str, age: timedelta, days: int = 7) -> None:
    """``days`` daily publishes, the newest ``age`` ago."""
    seed_slis(store, dataset, last=datetime.now(timezone.utc) - age, n=days, keys="p{i}")


@pytest.fixture
def resumed(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """The events the sensors resumed with (a spy: the real execute_complete still runs)."""
    from airflow_dataops.sensors import dataset as sensors

    events: list[dict] = []
    real = sensors._DatasetSensor.execute_complete

    def spy(self, context, event=None):
        events.append(event)
        return real(self, context, event)

    monkeypatch.setattr(sensors._DatasetSensor, "execute_complete", spy)
    return events


def _states(run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_deferred_freshness_sensor_resumes_when_the_upstream_publishes(
    load_test_dag, use_store, resumed, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_dataops.triggers import dataset as triggers

    store = StateStore.from_settings()
    upsert_dataset(store, "orders", slo=SLO)
    _publish(store, "orders", timedelta(days=3))  # stale when the DAG starts

    # A spy, not a mock: every check still runs against the store. The upstream publishes only
    # once the sensor has poked (stale) and the trigger has polled at least once (stale), so the
    # task can only succeed through the deferral.
    real_check, results = triggers.check_dataset, []
    polled = threading.Event()

    def spy(*args, **kwargs):
        outcome = real_check(*args, **kwargs)
        results.append(outcome[0])
        if len(results) >= 2:
            polled.set()
        return outcome

    monkeypatch.setattr(triggers, "check_dataset", spy)

    def upstream_publishes_once_polled() -> None:
        if polled.wait(120):
            _publish(store, "orders", timedelta(minutes=5), days=1)

    publisher = threading.Thread(target=upstream_publishes_once_polled, daemon=True)
    publisher.start()
    run = load_test_dag("dataops_deferred_sensors.py", "dataops_deferred_freshness").test()
    publisher.join(5)
    assert run.state == "success"
    assert _states(run) == {"wait": "success", "downstream": "success"}
    # stale at the poke, stale at the trigger's first poll(s), then fresh once published
    assert results[:2] == [False, False] and results[-1] is True, results
    [event] = resumed
    assert event["status"] == "success" and event["message"].startswith("dataset 'orders' lag ")


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_deferred_slo_sensor_times_out_and_fails_the_task(load_test_dag, use_store, resumed) -> None:
    store = StateStore.from_settings()
    upsert_dataset(store, "stale", slo=SLO)
    _publish(store, "stale", timedelta(days=3))  # breached, and nothing will publish

    dag = load_test_dag("dataops_deferred_sensors.py", "dataops_deferred_slo_timeout")
    run = dag.test()
    assert run.state == "failed"
    states = _states(run)
    assert states["wait"] == "failed"
    assert states["downstream"] in ("upstream_failed", None)
    [event] = resumed  # failed by the trigger's timeout event, not by anything else
    assert (event["status"], event["dataset"], event["check"]) == ("timeout", "stale", "slo")
    assert "SLO status: breached" in event["message"]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_deferred_slo_sensor_passes_at_once_for_a_healthy_dataset(
    load_test_dag, use_store, resumed
) -> None:
    store = StateStore.from_settings()
    upsert_dataset(store, "healthy", slo=SLO)
    _publish(store, "healthy", timedelta(hours=1))

    dag = load_test_dag("dataops_deferred_sensors.py", "dataops_deferred_slo_healthy")
    run = dag.test()
    assert run.state == "success"
    assert _states(run) == {"wait": "success", "downstream": "success"}
    assert resumed == []  # healthy at the first poke: it never deferred
