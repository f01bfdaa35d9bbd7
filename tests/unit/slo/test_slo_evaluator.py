"""The SLO evaluator on a real store (SQLite and PostgreSQL): specs, SLI reads, silent decay."""

from __future__ import annotations

import textwrap
from datetime import datetime, timedelta, timezone

import pytest
from sli_history import SLO_2D
from sqlalchemy import event

from airflow_dataops.slo.evaluator import (
    current_lag,
    evaluate_datasets,
    run_evaluation,
)
from airflow_dataops.slo.loader import load_specs
from airflow_dataops.store.records import SLIRecord, record_slis, upsert_dataset
from airflow_dataops.store.slo_reads import read_sli_columns

UTC = timezone.utc
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


#: partition keys named after the dataset: a second history of one dataset reruns the same partitions
KEYS = "{dataset}-{i}"


def by_name(results):
    return {r.dataset: r for r in results}


def test_silent_decay_stale_dataset_breaches_fresh_one_does_not(store, seed_slis):
    upsert_dataset(store, "stale", slo=SLO_2D)
    upsert_dataset(store, "fresh", slo=SLO_2D)
    seed_slis(store, "stale", last=NOW - 3 * DAY, keys=KEYS)
    seed_slis(store, "fresh", last=NOW - HOUR, keys=KEYS)

    results = by_name(evaluate_datasets(store, now=NOW))

    stale, fresh = results["stale"], results["fresh"]
    assert stale.status == "breached"
    assert stale.evaluations[0].sli_value == pytest.approx(3 * 86400, abs=1)
    assert any(a.fired for a in stale.evaluations[0].alerts)
    assert fresh.status == "healthy"
    assert fresh.evaluations[0].sli_value == pytest.approx(3600, abs=1)
    assert not fresh.evaluations[0].firing


def test_silent_decay_beyond_the_read_window(store, seed_slis):
    """Published once, 40 days ago: nothing in the window, still breaches (not 'no data')."""
    upsert_dataset(store, "ancient", slo=SLO_2D)
    seed_slis(store, "ancient", last=NOW - 40 * DAY, n=1, keys=KEYS)
    (result,) = evaluate_datasets(store, now=NOW)
    assert result.status == "breached"
    assert result.evaluations[0].sli_value == pytest.approx(40 * 86400, abs=1)


def test_stale_lag_from_publish_details(store, seed_slis):
    """A publish records lag to the newest row: newest data time = observed_at - value."""
    upsert_dataset(store, "lagging", slo=SLO_2D)
    # Published 1 hour ago, but the data it published was already 47 hours old.
    seed_slis(store, "lagging", last=NOW - HOUR, value=47 * 3600.0, n=1, keys=KEYS)
    (result,) = evaluate_datasets(store, now=NOW)
    assert result.evaluations[0].sli_value == pytest.approx(48 * 3600, abs=1)
    assert current_lag(store, "lagging", now=NOW) == pytest.approx(48 * 3600, abs=1)
    assert current_lag(store, "never", now=NOW) is None


def test_missing_slis_are_no_data_never_healthy(store):
    upsert_dataset(store, "silent", slo=SLO_2D)
    (result,) = evaluate_datasets(store, now=NOW)
    assert result.status == "no_data"
    assert not result.healthy


def test_some_slos_without_data_make_the_dataset_no_data(store, seed_slis):
    slo = {
        **SLO_2D,
        "slis": {
            "freshness": {"threshold": 2, "unit": "d"},
            "correctness": {"threshold": 95, "unit": "percent"},
        },
    }
    upsert_dataset(store, "half", slo=slo)
    seed_slis(store, "half", last=NOW - HOUR, keys=KEYS)
    (result,) = evaluate_datasets(store, now=NOW)
    assert [e.status.value for e in result.evaluations] == ["healthy", "no_data"]
    assert result.status == "no_data"


@pytest.mark.parametrize(
    ("slo", "message"),
    [
        pytest.param(
            {**SLO_2D, "objective": 1.5},
            "dataset 'bad': slo.objective must be strictly between 0 and 1, got 1.5",
            id="objective",
        ),
        pytest.param(
            {**SLO_2D, "window_days": 0},
            "dataset 'bad': slo.window_days must be greater than 0, got 0",
            id="window",
        ),
        pytest.param(
            {**SLO_2D, "slis": {"speed": {"threshold": 1, "unit": "s"}}},
            "dataset 'bad': slo.slis: unknown SLI kind 'speed'",
            id="unknown-sli",
        ),
        pytest.param(
            {**SLO_2D, "slis": {"freshness": {"threshold": 2}}},
            "dataset 'bad': slo.slis.freshness.unit is required",
            id="no-unit",
        ),
        pytest.param(
            {**SLO_2D, "window_days": 100000000},
            "dataset 'bad': slo.window_days must be at most 3660 (10 years), got 100000000",
            id="window-overflows-a-date",
        ),
        pytest.param(
            {**SLO_2D, "cadence": "100000000d"},
            "dataset 'bad': slo.cadence must be at most 3660 days, got '100000000d'",
            id="cadence-overflows-a-date",
        ),
    ],
)
def test_invalid_definition_is_reported_and_others_still_evaluated(store, slo, message, seed_slis):
    upsert_dataset(store, "bad", slo=slo)
    upsert_dataset(store, "good", slo=SLO_2D)
    seed_slis(store, "good", last=NOW - HOUR, keys=KEYS)
    seed_slis(store, "bad", last=NOW - HOUR, keys=KEYS)

    run = run_evaluation(store, now=NOW)
    results = by_name(run.results)

    assert results["bad"].status == "invalid" and results["bad"].error.startswith(message)
    assert results["bad"].evaluations == ()
    assert results["good"].status == "healthy"
    assert "bad" in run.summary()["invalid"]


def test_unregistered_dataset_is_an_error(store):
    (result,) = evaluate_datasets(store, datasets=["nope"], now=NOW)
    assert result.status == "invalid" and result.error.startswith("dataset 'nope' is not registered")


def test_dataset_without_slo_block(store):
    upsert_dataset(store, "plain")
    (result,) = evaluate_datasets(store, now=NOW)
    assert result.status == "no_slo"


def test_specs_from_contract_file_with_sidecar(store, tmp_path):
    contract = tmp_path / "orders.odcs.yaml"
    contract.write_text(
        textwrap.dedent("""\
        apiVersion: v3.1.0
        kind: DataContract
        id: orders
        version: 1.0.0
        status: active
        schema:
          - name: orders
            properties:
              - {name: id, logicalType: integer}
        slaProperties:
          - {property: latency, value: 6, unit: h}
          - {property: frequency, value: 1, unit: h}
        """)
    )
    (tmp_path / "orders.odcs.slo.yaml").write_text("slo:\n  objective: 0.95\n  window_days: 7\n")
    upsert_dataset(store, "orders", contract_path=str(contract), slo={"objective": 0.5})
    specs = load_specs(store)["orders"]
    assert not isinstance(specs, Exception), specs
    (spec,) = specs
    assert (spec.kind.value, spec.objective, spec.window_days) == ("freshness", 0.95, 7)
    assert spec.canonical_threshold == (6 * 3600, "s")
    assert spec.cadence == HOUR


def test_missing_contract_file_falls_back_to_stored_block(store, tmp_path):
    upsert_dataset(store, "moved", contract_path=str(tmp_path / "gone.yaml"), slo=SLO_2D)
    (spec,) = load_specs(store)["moved"]
    assert spec.objective == 0.99


def test_unreadable_contract_is_invalid_not_fatal(store, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: [\n")
    upsert_dataset(store, "broken", contract_path=str(broken))
    upsert_dataset(store, "ok", slo=SLO_2D)
    results = by_name(evaluate_datasets(store, now=NOW))
    assert results["broken"].status == "invalid"
    assert results["broken"].error.startswith("dataset 'broken': contract ")
    assert results["ok"].status == "no_data"


def test_rows_are_judged_by_the_spec_threshold_and_reruns_count_once(store):
    slo = {
        "objective": 0.9,
        "window_days": 30,
        "cadence": "1d",
        "slis": {"correctness": {"threshold": 95, "unit": "percent"}},
    }
    upsert_dataset(store, "judged", slo=slo)
    rows = []
    for i in range(10):
        # recorded good=True but 0.5 < 95%: the contract decides -> bad
        rows.append(
            SLIRecord(
                dataset="judged",
                kind="correctness",
                value=0.5 if i == 0 else 1.0,
                unit="ratio",
                good=True,
                observed_at=NOW - (10 - i) * DAY + HOUR,
                partition_key=f"p{i}",
            )
        )
    # a rerun of p0 fixed it: the latest row of a partition wins
    rows.append(
        SLIRecord(
            dataset="judged",
            kind="correctness",
            value=1.0,
            unit="ratio",
            good=True,
            observed_at=NOW - HOUR,
            partition_key="p0",
        )
    )
    record_slis(store, rows)
    (result,) = evaluate_datasets(store, now=NOW)
    (ev,) = result.evaluations
    assert (ev.good_events, ev.bad_events) == (10, 0)

    record_slis(
        store,
        [
            SLIRecord(
                dataset="judged",
                kind="correctness",
                value=0.5,
                unit="ratio",
                good=True,
                observed_at=NOW - HOUR / 2,
                partition_key="p9",
            )
        ],
    )
    (result,) = evaluate_datasets(store, now=NOW)
    assert result.evaluations[0].bad_events == 1


def test_one_query_reads_all_datasets(store, monkeypatch, seed_slis):
    for name in ("a", "b", "c"):
        upsert_dataset(store, name, slo=SLO_2D)
        seed_slis(store, name, last=NOW - HOUR, keys=KEYS)
    specs = load_specs(store)
    selects = []

    def count(conn, cursor, statement, *args):
        if "dataops_sli" in statement and statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    import airflow_dataops.store.slo_reads as breaches

    calls = []
    real = breaches.read_sli_columns
    monkeypatch.setattr(breaches, "read_sli_columns", lambda *a, **k: calls.append(k) or real(*a, **k))
    event.listen(store.engine, "before_cursor_execute", count)
    try:
        results = evaluate_datasets(store, now=NOW, specs=specs)
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert [r.status for r in results] == ["healthy"] * 3
    assert len(calls) == 1  # one query on the DB-API cursor for all datasets ...
    assert selects == []  # ... and no other read of dataops_sli


def test_read_sli_columns_window_and_order(store):
    record_slis(
        store,
        [
            SLIRecord(
                dataset="d",
                kind="freshness",
                value=float(i),
                unit="s",
                good=i % 2 == 0,
                observed_at=NOW - i * HOUR,
                partition_key=str(i),
            )
            for i in range(5)
        ],
    )
    cols = read_sli_columns(store, since=NOW - 3 * HOUR, until=NOW - HOUR)
    got = cols[("d", "freshness")]
    assert got.values == [2.0, 1.0]  # (since, until], ascending
    assert got.goods == [True, False]
    assert got.times[1] == pytest.approx((NOW - HOUR).timestamp(), abs=0.01)
    assert read_sli_columns(store, since=NOW - DAY, until=NOW, datasets=[]) == {}


def test_read_sli_columns_across_chunks_units_and_filters(store, monkeypatch):
    import airflow_dataops.store.slo_reads as breaches

    monkeypatch.setattr(breaches, "_CHUNK", 3)  # groups straddle fetch chunks
    rows = []
    for name in ("a", "b", "c"):
        for i in range(4):
            rows.append(
                SLIRecord(
                    dataset=name,
                    kind="cost",
                    value=float(i),
                    unit="rows" if i == 3 else "s",
                    good=None,
                    observed_at=NOW - (4 - i) * HOUR,
                    partition_key=f"{name}{i}",
                )
            )
    rows.append(  # a rerun of partition a1: the keys of ("a", "cost") must be read
        SLIRecord(
            dataset="a",
            kind="cost",
            value=9.0,
            unit="s",
            good=None,
            observed_at=NOW - HOUR / 2,
            partition_key="a1",
        )
    )
    rows.append(
        SLIRecord(
            dataset="b",
            kind="freshness",
            value=1.0,
            unit="weird",
            good=True,
            observed_at=NOW - HOUR,
            partition_key=None,
        )
    )
    record_slis(store, rows)
    cols = read_sli_columns(store, since=NOW - DAY, until=NOW)
    assert sorted(cols) == [("a", "cost"), ("b", "cost"), ("b", "freshness"), ("c", "cost")]
    assert cols[("a", "cost")].partitions == ["a0", "a1", "a2", "a3", "a1"]
    assert cols[("a", "cost")].values == [0.0, 1.0, 2.0, 3.0, 9.0]
    assert cols[("b", "cost")].values == [0.0, 1.0, 2.0, 3.0]
    assert cols[("b", "cost")].units == ["s", "s", "s", "rows"]
    # keys are read where a partition repeats (SQLite skips them otherwise)
    assert cols[("b", "cost")].partitions in (["b0", "b1", "b2", "b3"], [None] * 4)
    assert cols[("b", "freshness")].units in (["?"], ["weird"])  # unknown units: judged by `good`
    only = read_sli_columns(store, since=NOW - DAY, until=NOW, datasets=["c"], kinds=["cost"])
    assert list(only) == [("c", "cost")] and len(only[("c", "cost")]) == 4
