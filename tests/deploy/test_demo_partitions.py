"""`make demo` prints the same verdicts whatever the hour it runs.

The demo (``scripts/demo.py``) chooses its partitions relative to today; the flights contract's
2-day ``latency`` SLA compares *now* with each partition's newest ``time_hour``. Here the real gate
judges the demo's partitions, built by the example DAG's own loader, at the first and the last
second of several days of the year (both sides of the US daylight-saving switch the replayed 2013
data follows): the latency verdict of each partition must be the same at both ends of the day
(the lag grows monotonically through the day, so the same verdict at both ends means at every hour).
"""

from __future__ import annotations

import importlib.util
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from airflow_dataops.contracts.evaluate import evaluate
from airflow_dataops.contracts.loader import load_contract

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "dags" / "contracts" / "flights.odcs.yaml"

pytestmark = pytest.mark.slow


def demo_module():
    spec = importlib.util.spec_from_file_location("dataops_demo", ROOT / "scripts" / "demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_contract_is_what_the_demo_was_chosen_for() -> None:
    """The demo's choice of days rests on a 2-day latency SLA; a change to it must revisit the demo."""
    (sla,) = [s for s in load_contract(CONTRACT).sla_properties if s.property == "latency"]
    assert (sla.value, sla.unit, sla.element) == (2, "d", "flights.time_hour")


@pytest.mark.parametrize(
    "today", ["2026-01-15", "2026-03-10", "2026-03-14", "2026-07-05", "2026-11-04", "2027-01-02"]
)
def test_latency_verdict_does_not_depend_on_the_hour(tmp_path: Path, today: str) -> None:
    from nycflights_daily import flights_for_day

    demo = demo_module()
    start = datetime.fromisoformat(today).replace(tzinfo=timezone.utc)
    end = start + timedelta(days=1) - timedelta(seconds=1)
    keys = demo.partitions(start)
    assert keys == demo.partitions(end)  # the same partitions all day
    contract = load_contract(CONTRACT)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'warehouse.db'}")
    verdicts = {}
    try:
        for key in keys:
            flights_for_day(key).to_sql("flights", engine, index=False, if_exists="replace")
            for now in (start, end):
                report = evaluate(
                    contract,
                    engine="sql",
                    sql_engine=engine,
                    table="flights",
                    partition_column="flight_date",
                    partition_value=key,
                    now=now,
                )
                (latency,) = [r for r in report.results if r.name.endswith(".latency")]
                verdicts.setdefault(key, set()).add(latency.passed)
    finally:
        engine.dispose()
    # yesterday and the day before are on time, the week-old backfill is late, at any hour
    expected = {key: {days_back != 7} for key, days_back in zip(keys, demo.DAYS_BACK)}
    assert verdicts == expected
