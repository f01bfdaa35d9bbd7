"""Fast resolution (#17): a fix asks for an SLO re-check; the evaluator answers it at once.

Real DAG runs (dag.test()) on SQLite and PostgreSQL stores; the trigger runs its real poll loop
against the store.  The end-to-end proof on a real scheduler, triggerer included, is
tests/e2e/test_oncall_e2e.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

import pytest
from airflow.sdk import BaseNotifier

# the DAG-running fixtures of the SLO parity tests (same DAG, same warehouse)
from integration.test_slo_parity import DATASET, outcomes  # noqa: F401  (`warehouse` is tests/conftest.py's)

from airflow_dataops.store import StateStore
from airflow_dataops.store.breaches import open_breaches
from airflow_dataops.store.rechecks import consume_rechecks, pending_recheck, request_recheck


class Capture(BaseNotifier):
    def __init__(self) -> None:
        super().__init__()
        self.breaches: list[dict[str, Any]] = []

    def notify(self, context: Any) -> None:
        self.breaches.append(context["breach"])


def test_requests_are_consumed_once_and_a_request_made_later_stays_pending(store: StateStore) -> None:
    assert pending_recheck(store) is None
    first = request_recheck(store, "orders", reason="rerun applied", requested_by="orders_daily.load")
    second = request_recheck(store, "revenue", reason="verify", requested_by="oncall")
    assert pending_recheck(store) == second > first
    consumed = consume_rechecks(store)
    assert [(r.dataset, r.reason, r.requested_by) for r in consumed] == [
        ("orders", "rerun applied", "orders_daily.load"),
        ("revenue", "verify", "oncall"),
    ]
    assert pending_recheck(store) is None and consume_rechecks(store) == []
    third = request_recheck(store, "orders", reason="again", requested_by="oncall")
    assert pending_recheck(store) == third


def test_the_watcher_fires_once_per_new_request_and_never_for_an_old_one(store: StateStore) -> None:
    from airflow_dataops.triggers.recheck import SLORecheckTrigger

    trigger = SLORecheckTrigger(poll_interval=0.05, store_url=store.url)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_dataops.triggers.recheck.SLORecheckTrigger"
    assert SLORecheckTrigger(**kwargs).serialize() == (classpath, kwargs)

    async def scenario() -> list[Any]:
        fired: list[Any] = []

        async def collect() -> None:
            async for event in trigger.run():
                fired.append(event)

        async def settle(n: int) -> None:
            for _ in range(400):  # bounded: a watcher that never fires fails here, not by hanging
                if len(fired) >= n:
                    return
                await asyncio.sleep(0.02)
            raise AssertionError(f"the watcher fired {len(fired)} events, expected {n}")

        task = asyncio.create_task(collect())
        try:
            await asyncio.sleep(0.3)  # six polls of an empty queue
            assert fired == []
            first = request_recheck(store, "orders", reason="fix", requested_by="t")
            await settle(1)
            await asyncio.sleep(0.3)  # still unconsumed, but already fired for: no second event
            assert [e.payload for e in fired] == [{"recheck_request_id": first}]
            newer = request_recheck(store, "orders", reason="another fix", requested_by="t")
            await settle(2)
            assert fired[1].payload == {"recheck_request_id": newer}
        finally:
            task.cancel()
        return fired

    assert len(asyncio.run(scenario())) == 2


def test_a_refused_day_fixed_by_a_rerun_resolves_its_breach_at_the_next_evaluation(
    outcomes,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    from airflow_dataops.cli.commands import partitions_verify
    from airflow_dataops.operators.slo import SLOEvaluationOperator
    from airflow_dataops.store.ledger import request_rerun

    for days_ago in (5, 4, 3, 2):
        assert outcomes(days_ago, "ok")[1] == "success"
    bad_key, state = outcomes(1, "short")  # refused: an aggregate rule fails
    assert state == "failed"
    store = StateStore.from_settings()
    notifier = Capture()
    evaluator = SLOEvaluationOperator(task_id="evaluate_slos", notifiers=[notifier], emit_lineage=False)
    evaluator.execute({})
    opened = {b["slo"] for b in notifier.breaches if b["state"] == "open"}
    assert "correctness" in opened and len(opened) == len(notifier.breaches)
    assert pending_recheck(store) is None  # a failed publish asks for nothing

    # the fix: a rerun with a reason; its successful apply asks for a re-check
    request_rerun(
        store,
        dataset=DATASET,
        partition_keys=[bad_key],
        dag_id="dataops_slo_outcomes",
        reason="vendor file replaced",
        requested_by="oncall",
    )
    assert outcomes(1, "ok")[1] == "success"
    asked = pending_recheck(store)
    assert asked is not None
    announced = len(notifier.breaches)
    evaluator.execute({})
    resolved = [b["slo"] for b in notifier.breaches[announced:]]
    assert "correctness" in resolved and all(b["state"] == "resolved" for b in notifier.breaches[announced:])
    assert pending_recheck(store) is None  # answered
    announced = len(notifier.breaches)
    evaluator.execute({})  # announced once: a later evaluation says nothing more
    assert len(notifier.breaches) == announced

    # verify: all partitions right but no open breach -> no request; with a breach open -> one
    from airflow_dataops.store.breaches import resolve_breach

    for _, slo in open_breaches(store, datasets=[DATASET]):  # what else the gaps keep open
        resolve_breach(store, DATASET, slo)
    capsys.readouterr()
    partitions_verify(argparse.Namespace(target=DATASET, since=None, output="json"))
    out = capsys.readouterr()
    assert all(f["status"] == "ok" for f in json.loads(out.out)) and pending_recheck(store) is None
    from airflow_dataops.store.breaches import open_breach

    open_breach(store, DATASET, "completeness", severity="page", burn_rates={})
    assert open_breaches(store, datasets=[DATASET])
    partitions_verify(argparse.Namespace(target=DATASET, since=None, output="json"))
    out = capsys.readouterr()
    json.loads(out.out)  # stdout is still one JSON document
    assert f"{DATASET} has an open breach: asked the SLO evaluator to re-check it now" in out.err
    (request,) = consume_rechecks(store)
    assert request.dataset == DATASET and request.reason.startswith("partitions verify")
