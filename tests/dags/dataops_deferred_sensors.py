"""Test-only DAGs (bundle ``dataops-tests``, added by tests/integration/test_deferrable_sensors.py):
a deferrable sensor, then a task that runs only if the sensor succeeded."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG, task

from airflow_dataops.sensors.dataset import DatasetFreshnessSensor, SLOHealthySensor

SENSORS = {
    "dataops_deferred_freshness": lambda: DatasetFreshnessSensor(
        task_id="wait",
        dataset="orders",
        max_lag=timedelta(hours=1),
        deferrable=True,
        poke_interval=0.2,
        timeout=60,
    ),
    "dataops_deferred_slo_timeout": lambda: SLOHealthySensor(
        task_id="wait", dataset="stale", deferrable=True, poke_interval=0.2, timeout=2
    ),
    "dataops_deferred_slo_healthy": lambda: SLOHealthySensor(
        task_id="wait", dataset="healthy", deferrable=True, poke_interval=0.2, timeout=60
    ),
}

for dag_id, make_sensor in SENSORS.items():
    with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc)):

        @task
        def downstream() -> str:
            return "ran"

        make_sensor() >> downstream()
