"""One SLO truth: the CLI, the UI's JSON API and the evaluator agree, on gate outcomes made by
real DAG runs (dag.test()), on SQLite and PostgreSQL stores.

The partitions come from ``tests/dags/dataops_slo_outcomes.py``: clean, refused (an aggregate
rule fails in quarantine mode), quarantined, late, missing, and refused then fixed by a new run, plus a
rerun with a reason.  Every view is asked at the same instant (``now``), so any difference is a
difference in what they compute.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_dataops.store import StateStore
from airflow_dataops.store.records import sli_history

ROOT = Path(__file__).resolve().parents[2]
DATASET = "slo_orders"
#: What every view must agree on, per SLO.
COMPARED = (
    "status",
    "good_events",
    "bad_events",
    "missing_events",
    "total_events",
    "budget_remaining",
    "burn_rates",
)


class Outcomes:
    """Runs the outcome DAG for ``(days ago, outcome)`` and says when to look at the result.

    What is missing depends on the time of day: a daily partition is missing from noon of the day
    after its interval ended (half a cadence late).  So "today" is the UTC midnight at least six
    hours back, and :meth:`at` is never earlier than 12:01 after it: every view is asked at an
    instant where yesterday's partition is missing and today's is not, whenever the suite runs.
    """

    def __init__(self, dag: Any, plan: dict[str, str]) -> None:
        self.dag, self.plan = dag, plan
        self.today = (datetime.now(timezone.utc) - timedelta(hours=6)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )

    def __call__(self, days_ago: int, outcome: str) -> tuple[str, str]:
        day = self.today - timedelta(days=days_ago)
        key = day.strftime("%Y-%m-%d")
        self.plan[key] = outcome
        return key, self.dag.test(logical_date=day).state

    def at(self) -> datetime:
        """The instant to evaluate at: now, or 12:01 after "today" if that is still ahead."""
        return max(datetime.now(timezone.utc), self.today + timedelta(hours=12, minutes=1))


@pytest.fixture
def outcomes(load_test_dag, warehouse: Path, use_store: str) -> Any:
    """The outcome DAG's runner (:class:`Outcomes`); ``warehouse`` and ``use_store`` set it up."""
    dag = load_test_dag("dataops_slo_outcomes.py", "dataops_slo_outcomes")
    # The module DagBag loaded (under its own name): the one whose OUTCOMES the task reads.
    plan: dict[str, str] = dag.task_dict["orders_for_day"].python_callable.__globals__["OUTCOMES"]
    yield Outcomes(dag, plan)
    plan.clear()


def _cli(store: StateStore, now: datetime) -> dict[str, Any]:
    from airflow_dataops.cli.slo import status_json

    (item,) = status_json(store, DATASET, now=now)
    return item


def _ui(store: StateStore, now: datetime, monkeypatch: pytest.MonkeyPatch) -> tuple[dict, dict]:
    """The dataset's JSON from the real plugin app: its page's API and its overview row."""
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi.testclient import TestClient

    from airflow_dataops.plugins import app as ui
    from airflow_dataops.plugins import queries

    class Everyone:
        def readable(self, dag_ids: set[str]) -> set[str]:
            return set(dag_ids)

        def can_read(self, dag_id: str | None) -> bool:
            return True

    monkeypatch.setattr(queries, "utcnow", lambda: now)
    queries.clear_snapshots()
    ui.app.dependency_overrides[get_user] = lambda: object()
    ui.app.dependency_overrides[ui.get_access] = lambda: Everyone()
    ui.app.dependency_overrides[ui.get_store] = lambda: store
    try:
        client = TestClient(ui.app, root_path="/dataops")
        page = client.get(f"/api/datasets/{DATASET}")
        overview = client.get("/api/datasets")
    finally:
        ui.app.dependency_overrides.clear()
        queries.clear_snapshots()
    assert page.status_code == 200, page.text
    (row,) = [d for d in overview.json()["datasets"] if d["dataset"] == DATASET]
    return page.json(), row


def _evaluator(store: StateStore, now: datetime) -> dict[str, Any]:
    from airflow_dataops.slo.evaluator import run_evaluation

    (result,) = run_evaluation(store, datasets=[DATASET], now=now).results
    return result.to_dict()


def _essence(view: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": view["status"],
        "error": view["error"],
        "slos": {s["slo"]: {k: s[k] for k in COMPARED} for s in view["slos"]},
    }


def _all_views(
    store: StateStore, monkeypatch: pytest.MonkeyPatch, now: datetime
) -> dict[str, dict[str, Any]]:
    page, row = _ui(store, now, monkeypatch)
    views = {
        "cli": _essence(_cli(store, now)),
        "ui_dataset": _essence(page),
        "ui_overview": _essence(row),
        "evaluator": _essence(_evaluator(store, now)),
    }
    return views


def _assert_identical(views: dict[str, dict[str, Any]]) -> dict[str, Any]:
    first = views["evaluator"]
    for name, view in views.items():
        assert view == first, f"{name} disagrees with the evaluator"
    return first


def test_a_refused_middle_day_is_one_bad_correctness_event_in_every_view(
    outcomes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The acceptance scenario: five daily partitions, the middle one refused by its contract."""
    states = [outcomes(days_ago, "short" if days_ago == 3 else "ok") for days_ago in (5, 4, 3, 2, 1)]
    assert [s for _, s in states] == ["success", "success", "failed", "success", "success"]
    refused = states[2][0]

    store = StateStore.from_settings()
    correctness = sli_history(store, DATASET, kind="correctness")
    assert [(r.partition_key, r.good) for r in correctness if not r.good] == [(refused, False)]
    assert {r.partition_key for r in correctness} == {key for key, _ in states}

    truth = _assert_identical(_all_views(store, monkeypatch, outcomes.at()))
    assert truth["slos"]["correctness"]["bad_events"] == 1
    assert truth["slos"]["correctness"]["good_events"] == 4
    assert truth["slos"]["completeness"]["bad_events"] == 1  # the ledger has the day as failed
    assert truth["slos"]["correctness"]["status"] == "breached"  # 1 bad of 5 on a 90% objective
    assert truth["status"] == "breached"


def test_failed_quarantined_late_missing_and_rerun_partitions_agree(
    outcomes, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from airflow_dataops.store.ledger import request_rerun

    plan = [(8, "ok"), (7, "quarantine"), (6, "short"), (4, "late"), (3, "short"), (2, "ok")]
    states = dict(outcomes(days_ago, outcome) for days_ago, outcome in plan)  # day 5 is missing
    keys = list(states)
    assert list(states.values()) == ["success", "success", "failed", "success", "failed", "success"]
    assert outcomes(3, "ok")[1] == "success"  # a new run fixes the refused day
    store = StateStore.from_settings()
    request_rerun(
        store,
        dataset=DATASET,
        partition_keys=[keys[-1]],
        dag_id="dataops_slo_outcomes",
        reason="late vendor file replaced",
        requested_by="oncall",
    )
    assert outcomes(2, "ok")[1] == "success"  # the rerun

    truth = _assert_identical(_all_views(store, monkeypatch, outcomes.at()))
    correctness = truth["slos"]["correctness"]
    # 6 days with a partition: the quarantine keeps 3 of 4 rows (0.75 < 0.9: bad), the day still
    # refused is bad, the fixed day is good (its later event supersedes the refusal), the late day
    # is good (lateness is freshness's business), the rerun day is one event.
    assert (correctness["good_events"], correctness["bad_events"]) == (4, 2)
    completeness = truth["slos"]["completeness"]
    # the day still refused, plus two missing: day 5 and yesterday (due at midnight, never run)
    assert (completeness["bad_events"], completeness["missing_events"]) == (3, 2)
    late = [r for r in sli_history(store, DATASET, kind="correctness") if r.partition_key == keys[3]]
    assert [r.good for r in late] == [True]  # a late day is not a correctness failure

    # What failed, where on-call looks: `partitions status` and the dataset page.
    from airflow_dataops.cli.commands import partitions_status

    capsys.readouterr()
    partitions_status(argparse.Namespace(target=DATASET, since=None, output="json"))
    listed = {p["partition"]: p for p in json.loads(capsys.readouterr().out)}
    refused = listed[keys[2]]
    assert refused["state"] == "failed"
    errors = [
        (r["rule"], r["expected"], r["actual"]) for r in refused["failed_rules"] if r["severity"] == "error"
    ]
    assert errors == [("slo_orders.rowCount", "mustBeGreaterThan 2 rows", 1)]
    quarantined = listed[keys[1]]["failed_rules"]
    assert [r["rule"] for r in quarantined if r["severity"] == "error"] == [
        "slo_orders.amount.nonNegativeAmount"
    ]
    assert [(r["reason"], r["requested_by"]) for r in listed[keys[-1]]["reruns"]] == [
        ("late vendor file replaced", "oncall")
    ]
    partitions_status(argparse.Namespace(target=DATASET, since=None, output="table"))
    table = capsys.readouterr().out
    assert (
        f"{DATASET} {keys[2]}: [error] slo_orders.rowCount: expected mustBeGreaterThan 2 rows, got 1" in table
    )
    assert "by oncall: late vendor file replaced" in table
    page, _ = _ui(store, datetime.now(timezone.utc), monkeypatch)
    on_page = {p["partition_key"]: p for p in page["partitions"]}
    assert on_page[keys[2]]["failed_rules"] == refused["failed_rules"]
    assert on_page[keys[-1]]["reruns"] == listed[keys[-1]]["reruns"]


def test_the_real_command_prints_what_the_evaluator_says(outcomes, use_store: str) -> None:
    """``airflow dataops slo status DATASET -o json`` in a subprocess, against the same store."""
    for days_ago in (3, 2, 1):
        outcomes(days_ago, "short" if days_ago == 2 else "ok")
    env = {**os.environ, "AIRFLOW__DATAOPS__STORE_URL": use_store}
    done = subprocess.run(
        [sys.executable, "-m", "airflow", "dataops", "slo", "status", DATASET, "-o", "json"],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert done.returncode == 1, done.stderr  # breached
    (printed,) = json.loads(done.stdout)
    truth = _evaluator(StateStore.from_settings(), datetime.now(timezone.utc))
    assert _essence(printed)["slos"]["correctness"]["bad_events"] == 1
    assert {k: v["status"] for k, v in _essence(printed)["slos"].items()} == {
        k: v["status"] for k, v in _essence(truth)["slos"].items()
    }


_ALLOWED = {"slo/budget.py", "slo/burn_rate.py", "slo/evaluation.py"}
_JUDGES = {"evaluate_series", "EventSeries", "budget_status"}


def test_no_view_computes_a_status_on_its_own() -> None:
    """Only slo/evaluation.py (and the budget arithmetic it uses) may turn events into a status:
    a new view that calls the budget machinery itself fails here; it must call the evaluator."""
    offenders = []
    package = ROOT / "airflow_dataops"
    for path in package.rglob("*.py"):
        rel = path.relative_to(package).as_posix()
        if rel in _ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.ImportFrom):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.Attribute):
                names = [node.attr]
            offenders += [f"{rel}:{node.lineno} uses {n}" for n in names if n in _JUDGES]  # type: ignore[attr-defined]
    assert offenders == []
