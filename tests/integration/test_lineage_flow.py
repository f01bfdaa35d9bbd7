"""Lineage as a consumer sees it: the gate's assertions sit on the dataset the publish wrote,
and a lineage backend that is down never fails (or stalls) the pipeline."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import LINEAGE_FILE, ROOT


def _events() -> list[dict]:
    return [json.loads(line) for line in LINEAGE_FILE.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_assertions_and_publish_meet_on_one_dataset(airflow_db, warehouse: Path, use_store: str) -> None:
    from airflow.dag_processing.dagbag import DagBag

    key = "2026-07-14"
    dag = DagBag(dag_folder=str(ROOT / "dags" / "nycflights_daily.py")).get_dag("nycflights_daily")
    run = dag.test(logical_date=datetime(2026, 7, 14, tzinfo=timezone.utc))
    assert run.state == "success"

    [complete] = [
        e
        for e in _events()
        if e["eventType"] == "COMPLETE"
        and e["job"]["name"] == "nycflights_daily.load_flights"
        and e["run"]["facets"].get("dataops_partitionLedger", {}).get("partitionKey") == key
        and e["run"]["facets"]["dataops_partitionLedger"]["decision"] == "applied"
    ]
    [inp] = complete["inputs"]
    [out, quarantine] = complete["outputs"]  # quarantine mode: the quarantine table is written too
    assert quarantine["name"] == "flights__quarantine"
    assert (
        quarantine["outputFacets"]["outputStatistics"]["rowCount"]
        == complete["run"]["facets"]["dataops_partitionLedger"]["rowsQuarantined"]
    )
    assert (
        (inp["namespace"], inp["name"])
        == (out["namespace"], out["name"])
        == (f"sqlite://{warehouse}", "flights")
    )
    assertions = inp["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert {a["name"] for a in assertions} >= {"flights.origin.nycAirport", "flights.carrier.carrierCode"}
    assert all(isinstance(a["success"], bool) for a in assertions)
    ledger = complete["run"]["facets"]["dataops_partitionLedger"]
    assert out["outputFacets"]["outputStatistics"]["rowCount"] == ledger["rowsPublished"] > 0
    assert out["outputFacets"]["subset"]["outputCondition"]["partitions"][0]["dimensions"] == {
        "flight_date": key
    }
    assert [f["name"] for f in out["facets"]["schema"]["fields"]][:3] == ["year", "month", "day"]
    gate = complete["run"]["facets"]["dataops_gate"]
    assert (gate["contractId"], gate["rulesTotal"]) == ("urn:dataops:nycflights13:flights", len(assertions))


def test_a_lineage_backend_that_is_down_never_fails_the_pipeline(airflow_db, tmp_path: Path) -> None:
    """The provider's HTTP transport at a closed port: the run succeeds, each failed emission logs one
    warning (retries off, so no retry noise), and the delay is bounded by the transport's timeout."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    script = textwrap.dedent(
        """
        import sys, time
        from datetime import datetime, timezone
        from airflow.dag_processing.dagbag import DagBag
        dag = DagBag(dag_folder=sys.argv[1]).get_dag("nycflights_daily")
        t = time.monotonic()
        run = dag.test(logical_date=datetime(2026, 8, 1, tzinfo=timezone.utc))
        print("RESULT", run.state, round(time.monotonic() - t, 1))
        """
    )
    env = {
        **os.environ,
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "http", "url": f"http://127.0.0.1:{port}", "timeout": 2, "retry": {"total": 0}}
        ),
        "AIRFLOW__DATAOPS__STORE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "AIRFLOW_CONN_DATAOPS_WAREHOUSE": json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "w.db")}),
    }
    proc = subprocess.run(
        [sys.executable, "-c", script, str(ROOT / "dags" / "nycflights_daily.py")],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    output = proc.stdout + proc.stderr
    [result] = [line for line in output.splitlines() if line.startswith("RESULT ")]
    _, state, seconds = result.split()
    assert state == "success", output[-3000:]
    failures = [line for line in output.splitlines() if "Failed to emit OpenLineage" in line]
    emitted_kinds = {kind for kind in ("START", "COMPLETE") for line in failures if f"`{kind}`" in line}
    assert emitted_kinds == {"START", "COMPLETE"}
    assert len(failures) <= 4  # one per event (task START/COMPLETE, DAG run START/COMPLETE), never per retry
    assert "Retrying (Retry(" not in output
    assert float(seconds) < 120
    from reliability_report import record

    record(
        "outage-lineage",
        scenario="OpenLineage HTTP transport pointing at a closed port (flights DAG run)",
        runs=1,
        result=f"run {state} in {seconds} s; {len(failures)} warnings (one per event, no retry noise)",
    )


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_forced_breach_lands_on_the_published_dataset(
    warehouse: Path, use_store: str, seed_slis: Any
) -> None:
    """A dataset whose last publish is 3 days old against a 2-day SLA: the evaluator opens a breach and
    emits it on the same (namespace, name) the publish wrote, with our SLO facet."""
    from datetime import timedelta

    from sli_history import SLO_2D

    from airflow_dataops.operators.slo import SLOEvaluationOperator
    from airflow_dataops.store import StateStore
    from airflow_dataops.store.records import upsert_dataset

    store = StateStore.from_settings()
    dataset = "flights_stale"
    upsert_dataset(store, dataset, conn_id="dataops_warehouse", target_table="flights", slo=SLO_2D)
    seed_slis(store, dataset, last=datetime.now(timezone.utc) - timedelta(days=3))
    summary = SLOEvaluationOperator(task_id="evaluate").execute({})
    assert summary["opened"] == [f"{dataset}/freshness"]
    [event] = [e for e in _events() if e["job"]["name"] == f"dataops_slo.{dataset}"]
    [inp] = event["inputs"]
    assert (inp["namespace"], inp["name"]) == (f"sqlite://{warehouse}", "flights")
    facet = event["run"]["facets"]["dataops_sloEvaluation"]
    assert (facet["breachState"], facet["sliKind"], facet["objective"]) == ("open", "freshness", 0.99)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_breach_episode_emits_one_open_and_one_resolved_event(
    warehouse: Path, use_store: str, seed_slis: Any
) -> None:
    """Five days without a publish open a ticket; a day of fresh publishes resolves it: one event each."""
    from datetime import timedelta

    from airflow_dataops.operators.slo import SLOEvaluationOperator
    from airflow_dataops.slo.evaluator import run_evaluation
    from airflow_dataops.store import StateStore
    from airflow_dataops.store.records import upsert_dataset

    store = StateStore.from_settings()
    dataset = "flights_outage"
    slo = {
        "objective": 0.9,
        "window_days": 90,
        "cadence": "1d",
        "slis": {"freshness": {"threshold": 2, "unit": "d"}},
    }
    upsert_dataset(store, dataset, conn_id="dataops_warehouse", target_table="flights", slo=slo)
    t0 = datetime(2026, 11, 1, tzinfo=timezone.utc)

    seed_slis(store, dataset, last=t0, n=90, keys="p{i}")
    announcer = SLOEvaluationOperator(task_id="evaluate", datasets=[dataset])
    states = []
    for hours, fresh in ((120, False), (121, True), (145, True), (169, True)):
        if fresh:
            seed_slis(store, dataset, last=t0 + timedelta(hours=hours), n=1, keys=f"n{hours}")
        for transition in run_evaluation(
            store, datasets=[dataset], now=t0 + timedelta(hours=hours, minutes=5)
        ).transitions:
            announcer.announce(transition, {})
            states.append((hours, transition.state))
    assert states == [(120, "open"), (145, "resolved")]
    events = [e for e in _events() if e["job"]["name"] == f"dataops_slo.{dataset}"]
    assert [e["run"]["facets"]["dataops_sloEvaluation"]["breachState"] for e in events] == [
        "open",
        "resolved",
    ]
    assert {(e["inputs"][0]["namespace"], e["inputs"][0]["name"]) for e in events} == {
        (f"sqlite://{warehouse}", "flights")
    }


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_refused_rerun_reports_its_own_run_not_the_previous_one(
    airflow_db, warehouse: Path, use_store: str
) -> None:
    """The same operator object runs twice in one process (dag.test): the refusal's lineage must not carry
    the first run's gate result, and must name its own run."""
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(ROOT / "dags" / "nycflights_daily.py")).get_dag("nycflights_daily")
    dag.test(logical_date=datetime(2026, 6, 2, tzinfo=timezone.utc))
    second = dag.test(logical_date=datetime(2026, 6, 2, tzinfo=timezone.utc))
    [refused] = [
        e
        for e in _events()
        if e["eventType"] == "COMPLETE"
        and e["run"]["facets"].get("dataops_partitionLedger", {}).get("decision") == "refused"
        and e["run"]["facets"]["dataops_partitionLedger"]["partitionKey"] == "2026-06-02"
    ]
    facets = refused["run"]["facets"]
    assert "dataops_gate" not in facets
    assert facets["dataops_partitionLedger"]["runId"] == second.run_id


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_partition_refused_by_its_contract_is_labelled_failed(
    load_test_dag, warehouse: Path, use_store: str
) -> None:
    """A gate failure is a ``failed`` ledger decision in the task's FAIL event, never ``skipped``."""
    dag = load_test_dag("dataops_slo_outcomes.py", "dataops_slo_outcomes")
    plan = dag.task_dict["orders_for_day"].python_callable.__globals__["OUTCOMES"]
    plan["2026-05-05"] = "short"  # one order: the aggregate rowCount rule refuses the partition
    try:
        run = dag.test(logical_date=datetime(2026, 5, 5, tzinfo=timezone.utc))
    finally:
        plan.clear()
    assert run.state == "failed"
    [failed] = [
        e
        for e in _events()
        if e["eventType"] == "FAIL"
        and e["job"]["name"] == "dataops_slo_outcomes.orders_for_day"
        and e["run"]["facets"].get("dataops_partitionLedger", {}).get("partitionKey") == "2026-05-05"
    ]
    ledger = failed["run"]["facets"]["dataops_partitionLedger"]
    assert ledger["decision"] == "failed"
    assert "rowCount" in (ledger.get("reason") or "")
