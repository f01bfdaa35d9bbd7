"""``partitions rerun`` planning and recording on a real store (SQLite and PostgreSQL).

Airflow's side is a recording fake here (the e2e test drives the real one through a
scheduler): it answers which runs a partition has and records clears and triggers.
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

import pytest

from airflow_dataops.cli.partitions_rerun import format_plan
from airflow_dataops.partitions.ledger import PartitionLedger
from airflow_dataops.partitions.rerun import (
    RerunRefused,
    RunInfo,
    apply_rerun,
    plan_rerun,
)
from airflow_dataops.store.records import upsert_dataset

DAG = "nightly"


class FakeAirflow:
    def __init__(self, runs: dict[str, list[RunInfo]] | None = None, *, known: bool = True) -> None:
        self.runs = runs or {}
        self.known = known
        self.cleared: list[tuple[str, str]] = []
        self.triggered: list[tuple[str, str, str]] = []
        self.fail_on_trigger = False
        self.clear_error: Exception | None = None
        self.state_after_failed_clear: str | None = None

    def dag_partitioned(self, dag_id: str) -> bool | None:
        return True if self.known else None

    def runs_for(self, dag_id: str, key: str) -> list[RunInfo]:
        return self.runs.get(key, [])

    def keys_between(self, dag_id: str, start: str, end: str) -> set[str]:
        return {k for k in self.runs if start <= k <= end}

    def check_key(self, dag_id: str, key: str) -> None:
        if key.startswith("bad"):
            raise RerunRefused(f"partition {key!r}: Airflow would not create a run. Nothing was requested")

    def clear(self, dag_id: str, run_id: str) -> str:
        if self.clear_error is not None:
            # as Airflow does when another `dags clear` of the same run commits first
            for runs in self.runs.values():
                for i, r in enumerate(runs):
                    if r.run_id == run_id and self.state_after_failed_clear:
                        runs[i] = RunInfo(run_id=r.run_id, state=self.state_after_failed_clear,
                                          partition_key=r.partition_key)  # fmt: skip
            raise self.clear_error
        self.cleared.append((dag_id, run_id))
        return "Cleared 1 task instance(s) across 1 Dag run(s)."

    def trigger(self, dag_id: str, key: str, *, note: str, user: str) -> str:
        if self.fail_on_trigger:
            raise RuntimeError("api down")
        self.triggered.append((dag_id, key, note))
        return f"manual__{key}"


def _run(key: str, state: str = "success") -> RunInfo:
    return RunInfo(run_id=f"scheduled__{key}", state=state, partition_key=key)


def _applied(store: Any, key: str, rows: int = 10, run: str | None = None) -> None:
    ledger = PartitionLedger(store, "flights")
    claim = ledger.begin(key, dag_id=DAG, task_id="load", run_id=run or f"scheduled__{key}", attempt=1)
    ledger.finish(
        claim,
        state="applied",
        rows_in=rows,
        rows_published=rows,
        rows_quarantined=0,
        checksum=f"{rows}:0",
        gate_verdict="passed",
        contract_version="1.0.0",
    )


@pytest.fixture
def ledger_store(store: Any) -> Any:
    upsert_dataset(store, "flights", dag_id=DAG, task_id="load", conn_id="wh", target_table="flights",
                   partition_column="flight_date")  # fmt: skip
    return store


def test_a_dry_run_lists_what_would_rerun_and_changes_nothing(ledger_store: Any) -> None:
    _applied(ledger_store, "2026-11-01", rows=973)
    airflow = FakeAirflow({"2026-11-01": [_run("2026-11-01")]})
    history_before = PartitionLedger(ledger_store, "flights").history()
    plan = plan_rerun(
        ledger_store, DAG, reason="vendor resent", airflow=airflow, keys=["2026-11-01", "2026-11-05"]
    )
    text = format_plan(plan, dry_run=True)
    assert [(i.partition_key, i.ledger_state, i.rows, i.action) for i in plan.items] == [
        ("2026-11-01", "applied", 973, "clear"),
        ("2026-11-05", None, None, "trigger"),
    ]
    assert "clear run scheduled__2026-11-01 (success)" in text and "trigger a new run" in text
    assert "never applied" in text
    assert "2 partition(s) of nightly would rerun: 1 run(s) cleared, 1 new run(s) triggered; " in text
    assert "1 applied partition(s) (973 rows) would be replaced." in text
    assert "dry run: nothing was recorded" in text
    assert PartitionLedger(ledger_store, "flights").history() == history_before
    assert airflow.cleared == [] and airflow.triggered == []


def test_a_rerun_records_the_reason_then_clears_or_triggers(ledger_store: Any) -> None:
    _applied(ledger_store, "2026-11-01")
    airflow = FakeAirflow({"2026-11-01": [_run("2026-11-01"), _run("2026-10-31-old")]})
    plan = plan_rerun(
        ledger_store, DAG, reason="  vendor resent  ", airflow=airflow, keys=["2026-11-01", "2026-11-05"]
    )
    outcome = apply_rerun(ledger_store, plan, requested_by="oncall", airflow=airflow)
    assert airflow.cleared == [(DAG, "scheduled__2026-11-01")]  # the latest run only
    assert airflow.triggered == [(DAG, "2026-11-05", "rerun: vendor resent")]
    assert outcome.cleared == {"2026-11-01": "scheduled__2026-11-01"}
    assert outcome.triggered == {"2026-11-05": "manual__2026-11-05"}
    ledger = PartitionLedger(ledger_store, "flights")
    requested = [h for h in ledger.history() if h.action == "rerun_requested"]
    # 2026-11-05 was never applied: no request (it would never be consumed), the reason is in the run's note
    assert [(h.partition_key, h.reason, h.requested_by) for h in requested] == [
        ("2026-11-01", "vendor resent", "oncall"),
    ]
    # the cleared run's next attempt is granted as the rerun, with the reason
    claim = ledger.begin("2026-11-01", dag_id=DAG, task_id="load", run_id="scheduled__2026-11-01", attempt=2)
    assert (claim.action, claim.reason, claim.requested_by) == ("rerun", "vendor resent", "oncall")


def test_a_window_selects_the_keys_the_ledger_or_airflow_knows(ledger_store: Any) -> None:
    for key in ("2026-10-31", "2026-11-01", "2026-11-02", "2026-11-04"):
        _applied(ledger_store, key)
    airflow = FakeAirflow({k: [_run(k)] for k in ("2026-11-02", "2026-11-03", "2026-11-05")})
    plan = plan_rerun(
        ledger_store, DAG, reason="r", airflow=airflow, date_from="2026-11-01", date_to="2026-11-04"
    )
    assert plan.keys == ("2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04")
    assert plan.keys_to_trigger() == [
        "2026-11-01",
        "2026-11-04",
    ]  # applied, but no Airflow run (e.g. dag.test)


REFUSALS = [
    pytest.param({"reason": "  "}, 'a rerun needs a reason (--reason "…")', id="no-reason"),
    pytest.param({"keys": ["a"], "date_from": "a", "date_to": "b"}, "not both", id="keys-and-window"),
    pytest.param({"keys": None}, "say which partitions to rerun: -k KEY", id="no-keys"),
    pytest.param(
        {"keys": None, "date_from": "2026-11-01"}, "both --from FIRST and --to LAST", id="half-window"
    ),
    pytest.param(
        {"keys": None, "date_from": "2026-11-09", "date_to": "2026-11-01"}, "sorts after --to", id="reversed"
    ),
    pytest.param(
        {"keys": None, "date_from": "2030-01-01", "date_to": "2030-12-31"},
        "no partition of DAG 'nightly' between '2030-01-01' and '2030-12-31'",
        id="empty-window",
    ),
    pytest.param({"keys": ["a\nb"]}, "-k 'a\\nb' contains control or invisible characters", id="bad-key"),
    pytest.param({"keys": ["bad-key"]}, "Airflow would not create a run", id="airflow-refuses-key"),
    pytest.param(
        {"dag": "other"}, "DAG 'other' has published no dataset through the ledger", id="unknown-dag"
    ),
    pytest.param({"known": False}, "Airflow does not know DAG 'nightly'", id="dag-not-in-airflow"),
]


@pytest.mark.parametrize(("kwargs", "expected"), REFUSALS)
def test_refusals_say_why_and_record_nothing(
    ledger_store: Any, kwargs: dict[str, Any], expected: str
) -> None:
    _applied(ledger_store, "2026-11-01")
    kwargs = dict(kwargs)  # the param's dict is shared by the SQLite and PostgreSQL runs
    airflow = FakeAirflow({"2026-11-01": [_run("2026-11-01")]}, known=kwargs.pop("known", True))
    args = {"reason": "why", "keys": ["2026-11-01"], **kwargs}
    with pytest.raises(RerunRefused) as e:
        plan_rerun(ledger_store, args.pop("dag", DAG), airflow=airflow, **args)
    assert expected in str(e.value)
    assert "Nothing was requested" in str(e.value) or "nothing was requested" in str(e.value)
    assert not [
        h for h in PartitionLedger(ledger_store, "flights").history() if h.action == "rerun_requested"
    ]


def test_a_partition_being_applied_is_refused_unless_forced(ledger_store: Any) -> None:
    ledger = PartitionLedger(ledger_store, "flights", lease=timedelta(hours=1))
    ledger.begin("2026-11-02", dag_id=DAG, task_id="load", run_id="scheduled__2026-11-02", attempt=1)
    airflow = FakeAirflow({"2026-11-02": [_run("2026-11-02", "running")]})
    with pytest.raises(RerunRefused) as e:
        plan_rerun(ledger_store, DAG, reason="r", airflow=airflow, keys=["2026-11-02"])
    msg = str(e.value)
    assert "'2026-11-02': Airflow run 'scheduled__2026-11-02' is running" in msg
    assert "being applied by run 'scheduled__2026-11-02' attempt 1 (lease until " in msg
    assert "pass --force to clear the run anyway" in msg
    plan = plan_rerun(ledger_store, DAG, reason="r", airflow=airflow, keys=["2026-11-02"], force=True)
    assert plan.runs_to_clear() == {"2026-11-02": "scheduled__2026-11-02"}


def test_when_airflow_refuses_the_message_says_what_was_kept(ledger_store: Any) -> None:
    _applied(ledger_store, "2026-11-01")
    airflow = FakeAirflow({"2026-11-01": [_run("2026-11-01")]})
    airflow.fail_on_trigger = True
    plan = plan_rerun(ledger_store, DAG, reason="r", airflow=airflow, keys=["2026-11-01", "2026-11-07"])
    with pytest.raises(RerunRefused) as e:
        apply_rerun(ledger_store, plan, requested_by="me", airflow=airflow)
    msg = str(e.value)
    assert "Airflow refused to rerun 'nightly': RuntimeError: api down" in msg
    assert "started: ['2026-11-01']; not started: ['2026-11-07']" in msg
    assert "run the same command again" in msg


@pytest.mark.parametrize(("state_after", "accepted"), [("queued", True), ("running", True), (None, False)])
def test_a_clear_that_loses_to_a_concurrent_one_is_done_not_refused(
    ledger_store: Any, state_after: str | None, accepted: bool
) -> None:
    """Two reruns of one partition at once: Airflow refuses the second clear of the run (seen with 8
    concurrent reruns on CeleryExecutor, tests/e2e/test_celery_scaleout.py); when the run is queued
    or running again, the losing rerun's job is done; when it is not, the refusal stands."""
    _applied(ledger_store, "2026-11-01")
    airflow = FakeAirflow({"2026-11-01": [_run("2026-11-01")]})
    airflow.clear_error = RuntimeError("StaleDataError: UPDATE statement on table 'dag_run' expected 1 row")
    airflow.state_after_failed_clear = state_after
    plan = plan_rerun(ledger_store, DAG, reason="vendor resent", airflow=airflow, keys=["2026-11-01"])
    if accepted:
        outcome = apply_rerun(ledger_store, plan, requested_by="oncall", airflow=airflow)
        assert outcome.cleared == {"2026-11-01": "scheduled__2026-11-01"}
        assert outcome.messages == (
            f"run scheduled__2026-11-01 is already {state_after} again (a concurrent rerun cleared it)",
        )
    else:
        with pytest.raises(
            RerunRefused, match="Airflow refused to rerun 'nightly': RuntimeError: StaleDataError"
        ):
            apply_rerun(ledger_store, plan, requested_by="oncall", airflow=airflow)
    # either way the request is recorded, for the run that does run to consume
    requested = [
        h for h in PartitionLedger(ledger_store, "flights").history() if h.action == "rerun_requested"
    ]
    assert [(h.partition_key, h.reason) for h in requested] == [("2026-11-01", "vendor resent")]


def test_the_cli_prints_the_plan_and_exits_1_on_a_refusal(
    ledger_store: Any, store_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from airflow_dataops.cli import airflow_runs
    from airflow_dataops.cli import partitions_rerun as cli
    from airflow_dataops.store import StateStore

    monkeypatch.setenv("AIRFLOW__DATAOPS__STORE_URL", store_url)
    StateStore._shared.clear()
    _applied(ledger_store, "2026-11-01")
    fake = FakeAirflow({"2026-11-01": [_run("2026-11-01")]})
    monkeypatch.setattr(airflow_runs, "MetadataDBRuns", lambda: fake)
    parser = argparse.ArgumentParser()
    for arg in cli.rerun_cli_args():
        arg.add_to_parser(parser)
    try:
        cli.partitions_rerun(parser.parse_args([DAG, "-k", "2026-11-01", "--reason", "why", "--dry-run"]))
        out = capsys.readouterr().out
        assert "2026-11-01" in out and "dry run: nothing was recorded" in out and fake.cleared == []
        cli.partitions_rerun(parser.parse_args([DAG, "-k", "2026-11-01", "--reason", "why"]))
        out = capsys.readouterr().out
        assert "cleared run scheduled__2026-11-01 for partition '2026-11-01'" in out
        with pytest.raises(SystemExit) as e:
            cli.partitions_rerun(
                parser.parse_args([DAG, "--from", "2026-12-01", "--to", "2026-11-01", "--reason", "x"])
            )
        assert e.value.code == 1
        assert capsys.readouterr().err.startswith("error: --from '2026-12-01' sorts after --to '2026-11-01'")
    finally:
        StateStore._shared.clear()
