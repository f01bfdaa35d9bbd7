"""`partitions verify` reads the table in the schema its partitions were published to.

The trap: ``analytics.events`` (where the operator publishes, ``db_schema="analytics"``) loses
900 of its 1,000 rows while ``public.events`` holds an intact copy.  Reading ``public`` would say
"ok"; verify must read ``analytics`` (persisted per dataset in the store) and report the loss.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pandas as pd
import pytest
from connections import connection_json
from sqlalchemy import create_engine, text

from airflow_dataops.cli import commands
from airflow_dataops.operators.partitioned import DataFramePartitionOperator
from airflow_dataops.store import StateStore
from airflow_dataops.store.records import get_dataset

KEY = "2026-11-07"


def _events(partition_key: str) -> pd.DataFrame:
    return pd.DataFrame({"event_id": range(1000), "kind": ["click", "view"] * 500, "day": partition_key})


@pytest.mark.postgres
def test_verify_reports_a_loss_in_the_dataset_s_schema_not_in_public(
    pg_url: str, sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_EVENTS_WAREHOUSE", connection_json(pg_url))
    monkeypatch.setenv("AIRFLOW__DATAOPS__STORE_URL", sqlite_url)
    StateStore._shared.clear()
    warehouse = create_engine(pg_url)
    with warehouse.begin() as conn:
        conn.execute(text("CREATE SCHEMA analytics"))
    _events(KEY).to_sql("events", warehouse, index=False)  # public.events: the intact decoy
    op = DataFramePartitionOperator(
        task_id="load_events",
        python_callable=_events,
        conn_id="events_warehouse",
        table="events",
        partition_column="day",
        dataset="events",
        db_schema="analytics",
        partition_key=KEY,
    )
    ti = SimpleNamespace(
        dag_id="events_dag", task_id="load_events", run_id="run_1", try_number=1, dag_version_id=None
    )
    try:
        summary = op.execute({"ti": ti, "run_id": "run_1", "outlet_events": None})
        assert summary["rows_published"] == 1000
        assert get_dataset(StateStore.from_settings(), "events")["db_schema"] == "analytics"
        with warehouse.begin() as conn:
            conn.execute(text("DELETE FROM analytics.events WHERE event_id >= 100"))
            assert conn.execute(text("SELECT COUNT(*) FROM public.events")).scalar_one() == 1000
        args = SimpleNamespace(target="events", since=None, output="json")
        capsys.readouterr()  # only what verify prints
        with pytest.raises(SystemExit) as exit_info:
            commands.partitions_verify(args)
        assert exit_info.value.code == 1
        [finding] = json.loads(capsys.readouterr().out)
        assert (finding["status"], finding["ledger_rows"], finding["target_rows"]) == (
            "rows_differ",
            1000,
            100,
        )
    finally:
        for store in StateStore._shared.values():
            store.dispose()
        StateStore._shared.clear()
        warehouse.dispose()
