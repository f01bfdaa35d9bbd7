"""No secret from a connection reaches lineage, logs or reports — with the flights DAG writing to a
real PostgreSQL warehouse whose connection carries a canary password."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from conftest import LINEAGE_FILE, ROOT
from reliability_report import record
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

CANARY = "canary-Pa55w0rd-7f3e"


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_a_canary_password_appears_nowhere(
    airflow_db, pg_url: str, use_store: str, monkeypatch, caplog, capfd
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from airflow_dataops.store import StateStore
    from airflow_dataops.store.ledger import history
    from airflow_dataops.store.records import latest_contract_results, sli_history

    url = make_url(pg_url)  # the test server trusts local connections, so any password is accepted
    conn = {
        "conn_type": "postgres",
        "host": url.host,
        "port": url.port,
        "login": url.username,
        "password": CANARY,
        "schema": url.database,
    }
    monkeypatch.setenv("AIRFLOW_CONN_DATAOPS_WAREHOUSE", json.dumps(conn))
    before = LINEAGE_FILE.read_text() if LINEAGE_FILE.exists() else ""

    dag = DagBag(dag_folder=str(ROOT / "dags" / "nycflights_daily.py")).get_dag("nycflights_daily")
    run = dag.test(logical_date=datetime(2026, 9, 9, tzinfo=timezone.utc))
    assert run.state == "success"

    engine = create_engine(pg_url)
    with engine.connect() as c:
        published = c.execute(
            text("SELECT COUNT(*) FROM flights WHERE flight_date = '2026-09-09'")
        ).scalar_one()
    assert published > 600  # the DAG really wrote to PostgreSQL

    lineage = (LINEAGE_FILE.read_text() if LINEAGE_FILE.exists() else "")[len(before) :]
    assert f"postgres://{url.host}:{url.port}" in lineage  # the events name the warehouse...
    store = StateStore.from_settings()
    reports = json.dumps(latest_contract_results(store, "flights"), default=str)
    ledger = json.dumps([vars(e) for e in history(store, "flights")], default=str)
    slis = json.dumps([vars(s) for s in sli_history(store, "flights")], default=str)
    logs = "".join(p.read_text(errors="replace") for p in Path(airflow_db / "logs").rglob("*") if p.is_file())
    out, err = capfd.readouterr()
    places = {
        "lineage": lineage,
        "contract reports": reports,
        "ledger": ledger,
        "SLIs": slis,
        "task logs": logs + caplog.text + out + err,
    }
    leaked = [name for name, content in places.items() if CANARY in content]
    assert leaked == []  # ...but never the password
    record(
        "secrets",
        scenario="Canary password on the warehouse connection (flights DAG on PostgreSQL)",
        runs=1,
        result=f"absent from lineage ({lineage.count(chr(10))} events), reports, ledger, SLIs and logs",
    )
