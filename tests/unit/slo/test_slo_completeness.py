"""Completeness from the ledger: present / expected partitions by cadence over the window."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_dataops.slo.evaluator import evaluate_datasets, run_evaluation
from airflow_dataops.store import ledger, states
from airflow_dataops.store.records import upsert_dataset

UTC = timezone.utc
DAY = timedelta(days=1)
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
SLO = {
    "objective": 0.9,
    "window_days": 30,
    "cadence": "1d",
    "slis": {"completeness": {"threshold": 1, "unit": "ratio"}},
}


def apply(store, dataset, key, *, fail=False):
    claim = ledger.claim(
        store,
        dataset=dataset,
        partition_key=key,
        dag_id="d",
        task_id="t",
        run_id=f"r-{key}",
        attempt=1,
        dag_version=None,
        contract_version=None,
        lease=timedelta(hours=1),
    )
    if fail:
        ledger.fail(store, claim, error="boom")
    else:
        ledger.finish(
            store,
            claim,
            state=states.APPLIED,
            rows_in=1,
            rows_published=1,
            rows_quarantined=0,
            checksum="x",
            gate_verdict="pass",
            contract_version=None,
        )


def days(n, end=NOW - DAY):
    return [(end - i * DAY).strftime("%Y-%m-%d") for i in range(n)][::-1]


def test_all_partitions_present_is_healthy(store):
    upsert_dataset(store, "orders", slo=SLO)
    for key in days(20):
        apply(store, "orders", key)
    (result,) = evaluate_datasets(store, now=NOW)
    (ev,) = result.evaluations
    assert result.status == "healthy"
    assert (ev.good_events, ev.bad_events, ev.sli_value) == (20, 0, 1.0)


def test_gaps_and_failures_are_bad(store):
    upsert_dataset(store, "orders", slo=SLO)
    keys = days(20)
    for i, key in enumerate(keys):
        if i in (5, 6, 7):
            continue  # never ran: expected, missing
        apply(store, "orders", key, fail=(i == 10))
    (result,) = evaluate_datasets(store, now=NOW)
    (ev,) = result.evaluations
    assert (ev.good_events, ev.bad_events, ev.missing_events) == (16, 4, 3)
    assert ev.sli_value == pytest.approx(16 / 20)


def test_silent_pipeline_breaches_completeness(store):
    upsert_dataset(store, "orders", slo=SLO)
    for key in days(20, end=NOW - 6 * DAY):
        apply(store, "orders", key)
    run = run_evaluation(store, now=NOW)
    (result,) = run.results
    assert result.evaluations[0].missing_events == 5
    assert result.status == "breached"
    assert [(t.state, t.slo) for t in run.transitions] == [("open", "completeness")]


def test_completeness_without_ledger_rows_is_no_data(store):
    upsert_dataset(store, "orders", slo=SLO)
    (result,) = evaluate_datasets(store, now=NOW)
    assert result.status == "no_data"
