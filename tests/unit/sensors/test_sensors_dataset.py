"""The dataset sensors' poke and defer, on a real store."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sli_history import SLO_2D

from airflow_dataops.sensors.dataset import DatasetFreshnessSensor, SLOHealthySensor
from airflow_dataops.store import StateStore
from airflow_dataops.store.records import upsert_dataset
from airflow_dataops.triggers.dataset import DatasetHealthTrigger

UTC = timezone.utc
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


def test_freshness_sensor_poke(use_store, seed_slis):
    store = StateStore.from_settings()
    seed_slis(store, "fresh", last=datetime.now(UTC) - HOUR, slo=SLO_2D)
    seed_slis(store, "stale", last=datetime.now(UTC) - 3 * DAY, slo=SLO_2D)
    assert DatasetFreshnessSensor(task_id="a", dataset="fresh", max_lag=2 * HOUR).poke({})
    assert not DatasetFreshnessSensor(task_id="b", dataset="fresh", max_lag=timedelta(minutes=30)).poke({})
    assert not DatasetFreshnessSensor(task_id="c", dataset="stale", max_lag=2 * DAY).poke({})
    assert not DatasetFreshnessSensor(task_id="d", dataset="never", max_lag=2 * DAY).poke({})


def test_slo_healthy_sensor_poke(use_store, seed_slis):
    store = StateStore.from_settings()
    seed_slis(store, "fresh", last=datetime.now(UTC) - HOUR, slo=SLO_2D)
    seed_slis(store, "stale", last=datetime.now(UTC) - 3 * DAY, slo=SLO_2D)
    upsert_dataset(store, "nodata", slo=SLO_2D)
    assert SLOHealthySensor(task_id="a", dataset="fresh").poke({})
    assert not SLOHealthySensor(task_id="b", dataset="stale").poke({})
    assert not SLOHealthySensor(task_id="c", dataset="nodata").poke({})
    assert not SLOHealthySensor(task_id="d", dataset="unregistered").poke({})


def test_sensor_arguments():
    with pytest.raises(ValueError, match="max_lag must be a positive timedelta, got 5"):
        DatasetFreshnessSensor(task_id="a", dataset="x", max_lag=5)
    with pytest.raises(ValueError, match="dataset must be a non-empty string"):
        SLOHealthySensor(task_id="a", dataset="")


def test_deferrable_sensor_defers_with_the_trigger(use_store):
    from airflow.sdk.exceptions import TaskDeferred

    StateStore.from_settings().migrate()  # readers never create the store

    sensor = DatasetFreshnessSensor(
        task_id="a", dataset="late", max_lag=HOUR, deferrable=True, poke_interval=30, timeout=600
    )
    with pytest.raises(TaskDeferred) as info:
        sensor.execute({})
    trigger = info.value.trigger
    assert isinstance(trigger, DatasetHealthTrigger)
    assert (trigger.check, trigger.max_lag_seconds, trigger.poll_interval, trigger.timeout) == (
        "freshness",
        3600.0,
        30.0,
        600.0,
    )
    assert info.value.method_name == "execute_complete"
    sensor.execute_complete({}, {"status": "success", "message": "ok"})
    from airflow.sdk.exceptions import AirflowSensorTimeout

    with pytest.raises(AirflowSensorTimeout, match=r"DatasetFreshnessSensor\('late'\) timed out: lag"):
        sensor.execute_complete({}, {"status": "timeout", "message": "lag 9999 s"})
