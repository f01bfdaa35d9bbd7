"""`airflow dataops report`: the operational metrics against a scenario counted by hand, on the
SQLite and PostgreSQL stores, written through the store's own functions (ledger claims and
finishes, breach episodes, SLI records) at fixed instants."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_dataops.store import StateStore
from airflow_dataops.store.breaches import open_breach, resolve_breach
from airflow_dataops.store.ledger import Claim, claim, fail, finish
from airflow_dataops.store.records import SLIRecord, record_slis, upsert_dataset

UTC = timezone.utc
SINCE = datetime(2026, 10, 1, tzinfo=UTC)
UNTIL = datetime(2026, 11, 1, tzinfo=UTC)
WEEKS = 31 / 7


def at(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def _attempt(store: StateStore, dataset: str, key: str, when: datetime, outcome: str) -> None:
    c = claim(
        store,
        dataset=dataset,
        partition_key=key,
        dag_id=f"{dataset}_daily",
        task_id="load",
        run_id=f"run-{key}-{when:%d%H}",
        attempt=1,
        dag_version=None,
        contract_version="1.0.0",
        lease=timedelta(hours=1),
        now=when,
    )
    assert isinstance(c, Claim), c  # a claim, not a refusal
    if outcome == "applied":
        assert finish(
            store,
            c,
            now=when + timedelta(minutes=5),
            state="applied",
            rows_in=10,
            rows_published=10,
            rows_quarantined=0,
            checksum=None,
            gate_verdict="passed",
            contract_version="1.0.0",
        )
    elif outcome == "failed":
        fail(store, c, error="gate refused", gate_verdict="failed", now=when + timedelta(minutes=5))


def _episode(store: StateStore, dataset: str, slo: str, opened: datetime, resolved: datetime | None) -> None:
    open_breach(store, dataset, slo, severity="page", burn_rates={"1h": 20.0}, now=opened)
    if resolved is not None:
        assert resolve_breach(store, dataset, slo, now=resolved) is not None


@pytest.fixture
def scenario(store: StateStore) -> StateStore:
    upsert_dataset(store, "orders", owner="team-a", dag_id="orders_daily")
    upsert_dataset(store, "payments", owner="team-a", dag_id="payments_daily")
    upsert_dataset(store, "flights", owner="team-b", dag_id="flights_daily")
    # orders: before the period (not counted), 3 published, 1 failed, 1 left applying
    _attempt(store, "orders", "2026-09-24", at(9, 25), "applied")
    _attempt(store, "orders", "2026-10-01", at(10, 2), "applied")
    _attempt(store, "orders", "2026-10-02", at(10, 3), "failed")
    _attempt(store, "orders", "2026-10-02", at(10, 4), "applied")
    _attempt(store, "orders", "2026-10-04", at(10, 5), "applied")
    _attempt(store, "orders", "2026-10-05", at(10, 6), "applying")
    _attempt(store, "payments", "2026-10-09", at(10, 10), "failed")
    # breaches: orders recovers after its rerun (24 h), orders/freshness goes away alone (6 h),
    # payments still open, flights opened before the period and resolved in it with nothing done
    _episode(store, "orders", "completeness", at(10, 3, 12), at(10, 4, 12))
    _episode(store, "orders", "freshness", at(10, 20), at(10, 20, 6))
    _episode(store, "payments", "correctness", at(10, 10, 6), None)
    _episode(store, "flights", "freshness", at(9, 28), at(10, 2))
    # SLA misses: bad freshness observations; the ones outside [since, until) and the good one don't count
    records = [
        ("flights", at(9, 30), False),
        ("flights", at(10, 5), False),
        ("flights", at(10, 25), False),
        ("flights", at(11, 1), False),
        ("orders", at(10, 20), False),
        ("orders", at(10, 21), True),
    ]
    record_slis(
        store,
        [
            SLIRecord(dataset=d, kind="freshness", value=1.0, unit="s", good=good, observed_at=when)
            for d, when, good in records
        ],
    )
    return store


def test_report_matches_the_hand_count(scenario: StateStore) -> None:
    from airflow_dataops.report import operational_report

    data = operational_report(scenario, since=SINCE, until=UNTIL).to_dict()
    orders, payments, flights = (data["datasets"][n] for n in ("orders", "payments", "flights"))

    assert orders["runs"] == {"succeeded": 3, "failed": 1, "unfinished": 1, "success_rate": 0.75}
    assert orders["breaches"] == {
        "opened": 2,
        "resolved": 2,
        "mttr_seconds": 15 * 3600,
        "worst_recovery_seconds": 24 * 3600,
        "per_week": pytest.approx(2 / WEEKS),
    }
    assert orders["alert_noise"] == {"resolved_without_action": 1, "resolved": 2, "ratio": 0.5}
    assert orders["sla_violations_per_month"] == {"2026-10": 1}

    assert payments["runs"] == {"succeeded": 0, "failed": 1, "unfinished": 0, "success_rate": 0.0}
    assert (payments["breaches"]["opened"], payments["breaches"]["mttr_seconds"]) == (1, None)
    assert payments["alert_noise"]["ratio"] is None

    assert flights["runs"]["success_rate"] is None
    assert flights["breaches"]["opened"] == 0
    assert flights["alert_noise"] == {"resolved_without_action": 1, "resolved": 1, "ratio": 1.0}
    assert flights["sla_violations_per_month"] == {"2026-10": 2}

    team_a = data["owners"]["team-a"]
    assert team_a["runs"] == {"succeeded": 3, "failed": 2, "unfinished": 1, "success_rate": 0.6}
    assert team_a["breaches"]["opened"] == 3
    assert team_a["breaches"]["per_week"] == pytest.approx(3 / WEEKS)
    assert data["owners"]["team-b"]["sla_violations_per_month"] == {"2026-10": 2}
    assert data["lineage_coverage"]["value"] is None and "not measured" in data["lineage_coverage"]["reason"]


def _cli(capsys: pytest.CaptureFixture[str], **kw: Any) -> tuple[int, str, str]:
    from airflow_dataops.cli.report import report_command

    capsys.readouterr()
    ns = argparse.Namespace(**{"since": None, "until": None, "output": "table", **kw})
    code = 0
    try:
        report_command(ns)
    except SystemExit as e:
        code = int(e.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_command_prints_the_same_figures(
    scenario: StateStore, store_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from airflow_dataops.report import operational_report

    monkeypatch.setenv("AIRFLOW__DATAOPS__STORE_URL", store_url)
    StateStore._shared.clear()
    code, out, _ = _cli(capsys, since="2026-10-01", until="2026-11-01", output="json")
    assert code == 0
    assert json.loads(out) == json.loads(
        json.dumps(operational_report(scenario, since=SINCE, until=UNTIL).to_dict(), default=str)
    )
    code, out, _ = _cli(capsys, since="2026-10-01", until="2026-11-01")
    assert code == 0
    orders_line = next(line for line in out.splitlines() if line.startswith("orders "))
    assert "3/4" in orders_line and "75.0%" in orders_line and "15.0 h" in orders_line
    assert "M11 lineage coverage: not measured" in out
    code, _, err = _cli(capsys, since="yesterday")
    assert (code, err.count("\n")) == (2, 1)
    code, _, err = _cli(capsys, since="2026-11-02", until="2026-11-01")
    assert code == 2
    StateStore._shared.clear()
