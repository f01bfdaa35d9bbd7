"""`airflow dataops triage`: on gate outcomes made by real DAG runs (dag.test()), on SQLite and
PostgreSQL stores, it names every partition that needs action with its numbers and the command
that fixes it, agrees with the SLO evaluation on what is missing, and exits 0 once all is fixed.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import pytest
from integration.test_slo_parity import outcomes  # noqa: F401  (the DAG-run fixture; `warehouse` is tests/conftest.py's)

from airflow_dataops.store import StateStore
from airflow_dataops.store.ledger import request_rerun
from airflow_dataops.store.records import get_dataset
from airflow_dataops.triage import missing_keys, triage

DATASET = "slo_orders"
DAG_ID = "dataops_slo_outcomes"


def _cli(capsys: pytest.CaptureFixture[str], *argv: str, dag: str | None = None) -> tuple[int, str, str]:
    from airflow_dataops.cli.triage import triage_command

    capsys.readouterr()
    ns = argparse.Namespace(
        dataset=argv[0] if argv else None, dag_id=dag, output=argv[1] if argv[1:] else "table"
    )
    with pytest.raises(SystemExit) as exit_info:
        triage_command(ns)
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out, captured.err


def test_triage_names_each_partition_to_fix_with_its_numbers_and_command(
    outcomes: Any,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import airflow_dataops.triage as triage_module

    plan = [(6, "ok"), (5, "quarantine"), (4, "short"), (2, "ok")]  # day 3 missing; day 1 due, never run
    keys = [outcomes(days_ago, outcome)[0] for days_ago, outcome in plan]
    ok6, quarantined, refused, ok2 = keys
    store = StateStore.from_settings()
    at = outcomes.at()  # past noon after "today": yesterday's partition is missing, today's is not
    monkeypatch.setattr(triage_module, "utcnow", lambda: at)

    code, out, _ = _cli(capsys, DATASET, "json")
    report = json.loads(out)
    assert code == 1
    by_key = {(a["partition"], a["problem"]): a for a in report["actions"]}
    failed = by_key[(refused, "failed")]
    assert "[error] slo_orders.rowCount: expected mustBeGreaterThan 2 rows, got 1" in failed["detail"]
    assert failed["command"] == (
        f"airflow dataops partitions rerun {DAG_ID} -k {refused} --reason '<why: ticket, cause>'"
    )
    q = by_key[(quarantined, "quarantined")]
    assert q["detail"][0].startswith("1 row(s) in slo_orders__quarantine, 3 published")
    missing = sorted(k for k, problem in by_key if problem == "missing")
    assert len(missing) == 2 and missing[0] > refused and missing[1] > ok2  # day 3, and yesterday
    assert {a["partition"] for a in report["actions"]} == {quarantined, refused, *missing}
    assert ok6 not in {a["partition"] for a in report["actions"]}

    # One number, one meaning: triage lists exactly the partitions completeness counts as missing.
    completeness = next(s for s in report["datasets"][0]["slos"] if s["slo"] == "completeness")
    assert completeness["missing_events"] == len(missing)

    # The same report by DAG, and on one screen.
    code_dag, out_dag, _ = _cli(capsys, dag=DAG_ID)
    assert code_dag == 1
    assert f"{DATASET} {refused}  FAILED" in out_dag
    assert f"$ airflow dataops partitions rerun {DAG_ID} -k {refused}" in out_dag

    # Fix everything the report names (reruns with a reason for the published ones), then triage is clean.
    request_rerun(
        store,
        dataset=DATASET,
        partition_keys=[quarantined],
        dag_id=DAG_ID,
        reason="vendor fixed the negative amount",
        requested_by="oncall",
    )
    for days_ago in (5, 4, 3, 1):
        assert outcomes(days_ago, "ok")[1] == "success"
    at = outcomes.at()  # after the fixing runs
    monkeypatch.setattr(triage_module, "utcnow", lambda: at)
    code, out, _ = _cli(capsys, DATASET)
    assert "no partition needs action" in out
    fixed = triage(store, [get_dataset(store, DATASET)], target=DATASET, now=at)  # type: ignore[list-item]
    assert fixed.actions == ()
    assert code == fixed.exit_code


def test_unknown_targets_and_bad_arguments_exit_with_the_documented_codes(
    use_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    StateStore.from_settings().migrate()
    code, _, err = _cli(capsys, "no_such_dataset")
    assert (code, err.count("\n")) == (3, 1)
    assert "dataset 'no_such_dataset' is not registered" in err
    code, _, err = _cli(capsys, dag="no_such_dag")
    assert (code, err.count("\n")) == (3, 1)
    assert "DAG 'no_such_dag' has published no dataset" in err
    code, _, err = _cli(capsys)
    assert (code, err.strip()) == (2, "error: name one dataset, or one DAG with --dag (not both)")


@pytest.mark.parametrize(
    ("keys", "cadence_h", "expected"),
    [
        pytest.param(["2026-11-01", "2026-11-04"], 24, ["2026-11-02", "2026-11-03"], id="daily-gap"),
        pytest.param(["2026-11-01", "2026-11-02"], 24, [], id="daily-none"),
        pytest.param(
            ["2026-11-01T00:00:00", "2026-11-01T03:00:00"],
            1,
            ["2026-11-01T01:00:00", "2026-11-01T02:00:00"],
            id="hourly",
        ),
        pytest.param(["a", "b"], 24, None, id="not-dates"),
        pytest.param(["2026-11-01", "2026-11-03"], 1, None, id="dates-with-hourly-cadence"),
    ],
)
def test_missing_keys(keys: list[str], cadence_h: int, expected: list[str] | None) -> None:
    from datetime import timedelta

    assert missing_keys(keys, timedelta(hours=cadence_h)) == expected


def test_missing_keys_runs_up_to_the_last_partition_missing() -> None:
    from datetime import datetime, timedelta, timezone

    # 2026-11-28 ended at 11-29 00:00 and is missing from 11-29 12:00 (half a cadence late);
    # 2026-11-29 ended at 11-30 00:00 and is missing only from 11-30 12:00
    morning = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)
    assert missing_keys(["2026-11-26", "2026-11-27"], timedelta(days=1), now=morning) == ["2026-11-28"]
    noon = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
    assert missing_keys(["2026-11-26", "2026-11-27"], timedelta(days=1), now=noon) == [
        "2026-11-28",
        "2026-11-29",
    ]


@pytest.mark.parametrize("cadence_h", [24, 6, 1])
def test_triage_lists_as_many_missing_as_the_completeness_slo_counts_at_every_hour(cadence_h: int) -> None:
    """One number, one meaning, whatever the time of day: triage's missing partitions are the
    completeness SLO's missing events (a morning run of the suite once found 2 against 1)."""
    from datetime import datetime, timedelta, timezone

    from airflow_dataops.slo.budget import EventSeries
    from airflow_dataops.slo.evaluation import completeness_columns
    from airflow_dataops.slo.sli import SLIKind
    from airflow_dataops.slo.spec import SLOSpec

    cadence = timedelta(hours=cadence_h)
    spec = SLOSpec(
        dataset="d",
        kind=SLIKind.COMPLETENESS,
        objective=0.9,
        window_days=30,
        threshold=1,
        unit="ratio",
        cadence=cadence,
    )
    start = datetime(2026, 11, 20, tzinfo=timezone.utc)
    fmt = "%Y-%m-%d" if cadence_h == 24 else "%Y-%m-%dT%H:%M:%S"
    present = [start + cadence * i for i in (0, 1, 3, 4)]  # one gap inside
    keys = [t.strftime(fmt) for t in present]
    ledger = [(k, "applied", t) for k, t in zip(keys, present, strict=True)]
    times, goods = completeness_columns(spec, ledger)
    last = present[-1] + cadence  # the newest partition's interval ends
    for step in range(0, 4 * 24 * 4):  # every quarter hour for four days after it
        now = last + timedelta(minutes=15 * step)
        series = EventSeries.from_columns(times, goods, spec, now)
        counted = series.count(start.timestamp(), now.timestamp()).missing
        listed = missing_keys(keys, cadence, now=now)
        assert listed is not None and len(listed) == counted, (now, listed, counted)
