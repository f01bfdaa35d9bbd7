"""Refusals and retries through the operator's ``execute()`` with a minimal real context.

Store: SQLite and PostgreSQL (``use_store``); warehouse: a SQLite file behind a real Airflow
connection (``AIRFLOW_CONN_…``).  A partition already applied is skipped (default) or fails
(``on_already_applied="fail"``) with a message saying what was applied when and how to rerun;
the target's row count never changes.  A task retry after a failure never double-applies.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import types
from pathlib import Path
from typing import Any
from unittest import mock

import pandas as pd
import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from airflow_dataops.exceptions import PartitionAlreadyApplied
from airflow_dataops.operators.partitioned import DataFramePartitionOperator

KEY = "2026-11-01"


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, use_store: str) -> Path:
    path = tmp_path / "warehouse.db"
    monkeypatch.setenv("AIRFLOW_CONN_REFUSAL_WH", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    return path


def _frame(partition_key: str, n: int = 5) -> pd.DataFrame:
    return pd.DataFrame({"flight": range(n), "origin": ["JFK"] * n, "flight_date": [partition_key] * n})


def _operator(n: int = 5, **kwargs: Any) -> DataFramePartitionOperator:
    return DataFramePartitionOperator(
        task_id="load",
        conn_id="REFUSAL_WH",
        table="flights",
        partition_column="flight_date",
        dataset="flights",
        python_callable=_frame,
        op_kwargs={"n": n},
        **kwargs,
    )


def _context(run_id: str = "scheduled__2026-11-02", try_number: int = 1, key: str = KEY) -> dict[str, Any]:
    ti = types.SimpleNamespace(
        dag_id="nightly", task_id="load", run_id=run_id, try_number=try_number, dag_version_id=None
    )
    return {"ti": ti, "partition_key": key}


def _rows(warehouse: Path, key: str = KEY) -> int:
    with sqlite3.connect(warehouse) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM flights WHERE flight_date = ?", (key,)).fetchone()[0])


def _ledger() -> Any:
    from airflow_dataops.partitions.ledger import PartitionLedger
    from airflow_dataops.store import StateStore

    return PartitionLedger(StateStore.from_settings(), "flights")


def test_an_applied_partition_is_skipped_by_default_and_never_appended(warehouse: Path) -> None:
    assert _operator().execute(_context())["state"] == "applied"
    with pytest.raises(AirflowSkipException) as e:
        _operator(n=9).execute(_context(run_id="manual__again"))
    msg = str(e.value)
    assert f"partition '{KEY}' of dataset 'flights' was already applied at " in msg
    assert "by run 'scheduled__2026-11-02' (attempt 1; 5 rows published" in msg
    assert "nothing was written" in msg
    assert f"airflow dataops partitions rerun nightly -k '{KEY}' --reason" in msg
    assert _rows(warehouse) == 5
    assert [h.action for h in _ledger().history(KEY)] == ["apply", "refused"]


def test_on_already_applied_fail_fails_the_task_without_retries(warehouse: Path) -> None:
    _operator().execute(_context())
    with pytest.raises(
        PartitionAlreadyApplied, match=r"was already applied at .* To replace it, ask for a rerun"
    ):
        _operator(n=9, on_already_applied="fail").execute(_context(run_id="manual__again"))
    assert issubclass(PartitionAlreadyApplied, AirflowFailException)  # a retry cannot help: no retries burnt
    assert _rows(warehouse) == 5


def test_the_same_run_applying_again_is_refused_too(warehouse: Path) -> None:
    """A cleared run without a rerun request (someone used `airflow dags clear` directly)."""
    _operator().execute(_context())
    with pytest.raises(AirflowSkipException):
        _operator(n=9).execute(_context(try_number=2))
    assert _rows(warehouse) == 5


def test_a_retry_after_a_failure_before_publish_applies_once(warehouse: Path) -> None:
    calls = {"n": 0}

    def flaky(partition_key: str) -> pd.DataFrame:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("source went away")
        return _frame(partition_key, 7)

    op = DataFramePartitionOperator(
        task_id="load", conn_id="REFUSAL_WH", table="flights", partition_column="flight_date",
        dataset="flights", python_callable=flaky,
    )  # fmt: skip
    with pytest.raises(ConnectionError):
        op.execute(_context(try_number=1))
    assert _ledger().state(KEY).state == "failed"
    assert op.execute(_context(try_number=2))["rows_published"] == 7
    assert _rows(warehouse) == 7
    state = _ledger().state(KEY)
    assert (state.state, state.attempt) == ("applied", 2)


def _fail_after_publish(warehouse: Path) -> None:
    """Try 1 publishes and the ledger records it, then the task fails (here: recording SLIs); try 2 runs."""
    op = _operator(n=6)

    def broken(*a: Any, **k: Any) -> None:
        raise RuntimeError("SLI store hiccup")

    from airflow_dataops.wap.protocol import PartitionWrite

    with (
        mock.patch.object(PartitionWrite, "record_slis", broken),
        pytest.raises(RuntimeError, match="SLI store hiccup"),
    ):
        op.execute(_context(try_number=1))
    with contextlib.suppress(AirflowSkipException):
        _operator(n=6).execute(_context(try_number=2))


def test_a_retry_after_a_failure_after_publish_never_double_applies(warehouse: Path) -> None:
    _fail_after_publish(warehouse)
    assert _rows(warehouse) == 6
    assert _ledger().state(KEY).state == "applied"


def test_a_failure_after_the_ledger_recorded_the_apply_does_not_unrecord_it(warehouse: Path) -> None:
    _fail_after_publish(warehouse)
    assert [(h.action, h.state) for h in _ledger().history(KEY)] == [
        ("apply", "applied"),
        ("refused", "refused"),
    ]


def test_a_rerun_request_lets_the_next_apply_replace_the_partition(warehouse: Path) -> None:
    _operator(n=5).execute(_context())
    _ledger().request_rerun([KEY], reason="late corrections", requested_by="oncall", dag_id="nightly")
    summary = _operator(n=8).execute(_context(try_number=2))
    assert (summary["action"], summary["rows_published"]) == ("rerun", 8)
    assert _rows(warehouse) == 8
    history = _ledger().history(KEY)
    assert [(h.action, h.state) for h in history] == [
        ("apply", "superseded"),
        ("rerun_requested", "requested"),
        ("rerun", "applied"),
    ]
    assert history[-1].reason == "late corrections" and history[-1].requested_by == "oncall"
    with pytest.raises(AirflowSkipException):  # the request was used up
        _operator(n=8).execute(_context(try_number=3))
