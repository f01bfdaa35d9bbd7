"""``DatasetHealthTrigger.run()`` and ``check_dataset`` on a real store."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta, timezone

import pytest
from sli_history import SLO_2D

from airflow_dataops.triggers.dataset import DatasetHealthTrigger

UTC = timezone.utc
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


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
