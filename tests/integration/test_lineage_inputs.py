"""Lineage of ``PartitionedSQLOperator``: the tables its query reads are inputs, and the quarantine
table is an output with its own row count; every event validates against the OpenLineage spec (#16)."""

from __future__ import annotations

import json
import sqlite3
import textwrap
import types
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import LINEAGE_FILE
from lineage_validation import validate_event

from airflow_dataops.operators.partitioned import PartitionedSQLOperator

CONTRACT = textwrap.dedent(
    """
    apiVersion: v3.1.0
    kind: DataContract
    id: urn:test:departures
    version: 1.0.0
    status: active
    schema:
      - name: departures
        physicalName: departures
        properties:
          - {name: day, logicalType: string, required: true}
          - name: origin
            logicalType: string
            required: true
            quality:
              - {name: nycAirport, metric: invalidValues, mustBe: 0, arguments: {validValues: [EWR, JFK, LGA]}, severity: error}
    """
)


def _events() -> list[dict[str, Any]]:
    return [json.loads(line) for line in LINEAGE_FILE.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_sql_operator_lists_the_tables_it_reads(
    load_test_dag: Any, warehouse: Path, use_store: str
) -> None:
    day = datetime(2026, 2, 3, tzinfo=timezone.utc)
    assert load_test_dag("dataops_orders_chain.py", "orders_daily").test(logical_date=day).state == "success"
    down = load_test_dag("dataops_orders_chain.py", "orders_revenue").test(logical_date=day)
    assert down.state == "success"
    [complete] = [
        e
        for e in _events()
        if e["eventType"] == "COMPLETE"
        and e["job"]["name"] == "orders_revenue.daily_revenue"
        and e["run"]["facets"].get("dataops_partitionLedger", {}).get("runId") == down.run_id
    ]
    assert [(i["namespace"], i["name"]) for i in complete["inputs"]] == [(f"sqlite://{warehouse}", "orders")]
    assert [o["name"] for o in complete["outputs"]] == ["daily_revenue"]
    assert validate_event(complete) == []


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_quarantine_table_is_an_output_with_its_own_row_count(
    warehouse: Path, tmp_path: Path, use_store: str
) -> None:
    from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
    from openlineage.client.serde import Serde

    with sqlite3.connect(warehouse) as conn:
        conn.execute("CREATE TABLE raw (day TEXT, origin TEXT)")
        conn.executemany(
            "INSERT INTO raw VALUES (?, ?)",
            [("2026-02-03", "JFK"), ("2026-02-03", "XXX"), ("2026-02-03", "LGA")],
        )
    contract = tmp_path / "departures.odcs.yaml"
    contract.write_text(CONTRACT)
    op = PartitionedSQLOperator(
        task_id="departures",
        conn_id="dataops_warehouse",
        sql="SELECT r.day, r.origin FROM main.raw AS r WHERE r.day = :partition_key",
        table="departures",
        partition_column="day",
        contract=str(contract),
        mode="quarantine",
    )
    ti = types.SimpleNamespace(
        dag_id="q", task_id="departures", run_id="manual__q", try_number=1, dag_version_id=None
    )
    summary = op.execute({"ti": ti, "partition_key": "2026-02-03"})
    assert (summary["rows_published"], summary["rows_quarantined"]) == (2, 1)
    lineage = op.get_openlineage_facets_on_complete(None)
    event = RunEvent(
        eventType=RunState.COMPLETE,
        eventTime=datetime.now(timezone.utc).isoformat(),
        run=Run(runId="01931f3e-0000-7000-8000-000000000001", facets=lineage.run_facets),
        job=Job(namespace="dataops-tests", name="q.departures"),
        inputs=lineage.inputs,
        outputs=lineage.outputs,
        producer="https://github.com/airflow-dataops/airflow-dataops",
    )
    data = Serde.to_dict(event)
    assert validate_event(data) == []
    outputs = {o["name"]: o["outputFacets"] for o in data["outputs"]}
    assert outputs["departures"]["outputStatistics"]["rowCount"] == 2
    assert outputs["departures__quarantine"]["outputStatistics"]["rowCount"] == 1
    assert (
        outputs["departures__quarantine"]["subset"]["outputCondition"]["partitions"][0]["identifier"]
        == "2026-02-03"
    )
    assert {i["name"] for i in data["inputs"]} == {"departures", "raw"}  # the gated stage, and the table read
