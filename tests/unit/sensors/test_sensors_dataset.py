"""Callbacks recording SLIs, the dataset sensors' poke, and DatasetHealthTrigger.run() on a real store."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from airflow_dataops.callbacks import sli_callbacks
from airflow_dataops.sensors.dataset import DatasetFreshnessSensor, SLOHealthySensor
from airflow_dataops.store import StateStore
from airflow_dataops.store.records import sli_history, upsert_dataset
from airflow_dataops.triggers.dataset import DatasetHealthTrigger

UTC = timezone.utc
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
SLO_2D = {
    "objective": 0.99,
    "window_days": 30,
    "cadence": "1d",
    "slis": {"freshness": {"threshold": 2, "unit": "d"}},
}


def ti(start):
    return SimpleNamespace(dag_id="dag", task_id="load", run_id="manual__1", start_date=start)


# ------------------------------------------------------------------------------- callbacks
def test_success_callback_records_freshness_correctness_cost(store):
    cbs = sli_callbacks("orders", store=store)
    assert set(cbs) == {"on_success_callback", "on_failure_callback"}
    start = datetime.now(UTC) - timedelta(seconds=42)
    cbs["on_success_callback"]({"ti": ti(start), "partition_key": "2026-11-21"})

    rows = {r.kind: r for r in sli_history(store, "orders")}
    assert set(rows) == {"freshness", "correctness", "cost"}
    assert (rows["freshness"].value, rows["freshness"].good, rows["freshness"].unit) == (0.0, True, "s")
    assert (rows["correctness"].value, rows["correctness"].good) == (1.0, True)
    assert rows["cost"].value == pytest.approx(42, abs=2) and rows["cost"].good is None
    assert {r.partition_key for r in rows.values()} == {"2026-11-21"}
    assert rows["cost"].dag_id == "dag" and rows["cost"].task_id == "load"


def test_failure_callback_records_bad_correctness(store):
    cbs = sli_callbacks("orders", kinds=("freshness", "correctness"), store=store)
    cbs["on_failure_callback"]({"ti": ti(datetime.now(UTC)), "run_id": "manual__1"})
    (row,) = sli_history(store, "orders")
    assert (row.kind, row.value, row.good) == ("correctness", 0.0, False)


def test_callback_never_raises(caplog):
    broken = StateStore("sqlite:////nonexistent-dir/x.db")
    sli_callbacks("orders", store=broken)["on_success_callback"]({"ti": ti(datetime.now(UTC))})
    assert "dataops: could not record SLIs of 'orders' on success" in caplog.text


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        pytest.param(("",), {}, "dataset must be a non-empty string", id="dataset"),
        pytest.param(("x",), {"kinds": ("speed",)}, r"kinds \['speed'\] not allowed", id="kind"),
    ],
)
def test_sli_callbacks_bad_arguments(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        sli_callbacks(*args, **kwargs)


def test_callback_slis_feed_the_evaluator(store):
    from airflow_dataops.slo.evaluator import evaluate_datasets

    upsert_dataset(store, "orders", slo=SLO_2D)
    sli_callbacks("orders", store=store)["on_success_callback"]({"ti": ti(datetime.now(UTC))})
    (result,) = evaluate_datasets(store, datasets=["orders"])
    assert result.status == "healthy"


# --------------------------------------------------------------------------------- sensors
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


# --------------------------------------------------------------------------------- trigger
def run_trigger(trigger):
    async def first():
        async for event in trigger.run():
            return event.payload
        return None

    return asyncio.run(asyncio.wait_for(first(), timeout=30))


def test_trigger_fires_when_the_dataset_becomes_fresh(store, store_url, seed_slis):
    trigger = DatasetHealthTrigger(
        dataset="late",
        check="freshness",
        max_lag_seconds=3600,
        poll_interval=0.2,
        timeout=20,
        store_url=store_url,
    )

    async def scenario():
        async def publish_later():
            await asyncio.sleep(0.5)
            await asyncio.to_thread(
                lambda: seed_slis(store, "late", last=datetime.now(UTC) - timedelta(minutes=5), slo=SLO_2D)
            )

        task = asyncio.create_task(publish_later())
        async for event in trigger.run():
            await task
            return event.payload
        return None

    payload = asyncio.run(asyncio.wait_for(scenario(), timeout=30))
    assert payload["status"] == "success" and payload["dataset"] == "late"
    # The lag is about 300 s (the SLI was seeded 5 minutes old); a wall-clock step on a busy
    # CI machine can move it by a second either way, so the figure is checked in a band.
    match = re.fullmatch(r"dataset 'late' lag (\d+) s \(max 3600 s\)", payload["message"])
    assert match, payload["message"]
    assert 290 <= int(match.group(1)) <= 360


def test_trigger_times_out(store, store_url, seed_slis):
    seed_slis(store, "stale", last=datetime.now(UTC) - 3 * DAY, slo=SLO_2D)
    payload = run_trigger(
        DatasetHealthTrigger(
            dataset="stale", check="slo", poll_interval=0.1, timeout=0.3, store_url=store_url
        )
    )
    assert payload == {
        "status": "timeout",
        "dataset": "stale",
        "check": "slo",
        "message": "dataset 'stale' SLO status: breached",
    }


def test_trigger_slo_success_and_serialize(store, store_url, seed_slis):
    seed_slis(store, "fresh", last=datetime.now(UTC) - HOUR, slo=SLO_2D)
    trigger = DatasetHealthTrigger(
        dataset="fresh", check="slo", poll_interval=0.1, timeout=5, store_url=store_url
    )
    assert run_trigger(trigger)["status"] == "success"
    path, kwargs = trigger.serialize()
    assert path == "airflow_dataops.triggers.dataset.DatasetHealthTrigger"
    assert DatasetHealthTrigger(**kwargs).serialize() == (path, kwargs)


def test_trigger_arguments():
    with pytest.raises(ValueError, match="check='age'; use one of freshness, slo"):
        DatasetHealthTrigger(dataset="x", check="age")
    with pytest.raises(ValueError, match="check='freshness' needs max_lag_seconds"):
        DatasetHealthTrigger(dataset="x", check="freshness")


def test_a_store_not_created_yet_keeps_the_sensor_waiting(use_store):
    from airflow_dataops.triggers.dataset import check_dataset

    for check, lag in (("slo", None), ("freshness", 3600.0)):
        ok, reason = check_dataset("orders", check, lag)
        assert ok is False
        assert reason.startswith("dataset 'orders': the store cannot be read yet: dataops state store ")
        assert "airflow dataops db migrate" in reason  # no file (SQLite) or no tables (PostgreSQL)
