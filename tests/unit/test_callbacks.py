"""SLI callbacks (``sli_callbacks``) recording freshness, correctness and cost on a real store."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from sli_history import SLO_2D

from airflow_dataops.callbacks import sli_callbacks
from airflow_dataops.store import StateStore
from airflow_dataops.store.records import sli_history, upsert_dataset

UTC = timezone.utc


def ti(start):
    return SimpleNamespace(dag_id="dag", task_id="load", run_id="manual__1", start_date=start)


def test_success_callback_records_freshness_correctness_cost(store):
    cbs = sli_callbacks("orders", store=store)
    assert set(cbs) == {"on_success_callback", "on_failure_callback"}
    start = datetime.now(UTC) - timedelta(seconds=42)
    cbs["on_success_callback"]({"ti": ti(start), "partition_key": "2026-11-21"})

    rows = {r.kind: r for r in sli_history(store, "orders")}
    assert set(rows) == {"freshness", "correctness", "cost"}
    assert (rows["freshness"].value, rows["freshness"].good, rows["freshness"].unit) == (0.0, True, "s")
    assert (rows["correctness"].value, rows["correctness"].good) == (1.0, True)
    assert rows["cost"].value == pytest.approx(42, abs=2) and rows["cost"].good is None
    assert {r.partition_key for r in rows.values()} == {"2026-11-21"}
    assert rows["cost"].dag_id == "dag" and rows["cost"].task_id == "load"


def test_failure_callback_records_bad_correctness(store):
    cbs = sli_callbacks("orders", kinds=("freshness", "correctness"), store=store)
    cbs["on_failure_callback"]({"ti": ti(datetime.now(UTC)), "run_id": "manual__1"})
    (row,) = sli_history(store, "orders")
    assert (row.kind, row.value, row.good) == ("correctness", 0.0, False)


def test_callback_never_raises(caplog):
    broken = StateStore("sqlite:////nonexistent-dir/x.db")
    sli_callbacks("orders", store=broken)["on_success_callback"]({"ti": ti(datetime.now(UTC))})
    assert "dataops: could not record SLIs of 'orders' on success" in caplog.text


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        pytest.param(("",), {}, "dataset must be a non-empty string", id="dataset"),
        pytest.param(("x",), {"kinds": ("speed",)}, r"kinds \['speed'\] not allowed", id="kind"),
    ],
)
def test_sli_callbacks_bad_arguments(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        sli_callbacks(*args, **kwargs)


def test_callback_slis_feed_the_evaluator(store):
    from airflow_dataops.slo.evaluator import evaluate_datasets

    upsert_dataset(store, "orders", slo=SLO_2D)
    sli_callbacks("orders", store=store)["on_success_callback"]({"ti": ti(datetime.now(UTC))})
    (result,) = evaluate_datasets(store, datasets=["orders"])
    assert result.status == "healthy"


# --------------------------------------------------------------------------------- sensors
