"""``partitions rerun --downstream`` planned from the ledger's recorded inputs (SQLite and PostgreSQL) (#16).

The ledger is real; Airflow's side is a recording fake (as in ``test_ledger_rerun.py``): the
scheduler e2e (``tests/e2e/test_staleness_e2e.py``) drives the real one.
"""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from airflow_dataops.cli.partitions_rerun import format_downstream
from airflow_dataops.partitions.downstream import AWAIT, apply_downstream, plan_downstream
from airflow_dataops.partitions.ledger import PartitionLedger
from airflow_dataops.partitions.rerun import RerunRefused, RunInfo
from airflow_dataops.store.inputs import InputRecord
from airflow_dataops.store.records import upsert_dataset

K = "2026-11-28"


class FakeAirflow:
    def __init__(self) -> None:
        self.cleared: list[tuple[str, str]] = []
        self.triggered: list[tuple[str, str]] = []

    def dag_partitioned(self, dag_id: str) -> bool | None:
        return True

    def runs_for(self, dag_id: str, key: str) -> list[RunInfo]:
        return [RunInfo(run_id=f"{dag_id}__{key}", state="success", partition_key=key)]

    def keys_between(self, dag_id: str, start: str, end: str) -> set[str]:
        return set()

    def check_key(self, dag_id: str, key: str) -> None:
        return None

    def clear(self, dag_id: str, run_id: str) -> str:
        self.cleared.append((dag_id, run_id))
        return "cleared"

    def trigger(self, dag_id: str, key: str, *, note: str, user: str) -> str:
        self.triggered.append((dag_id, key))
        return f"manual__{key}"


def apply(
    store: Any,
    dataset: str,
    dag: str,
    key: str = K,
    inputs: tuple[tuple[str, str], ...] | list[tuple[str, str]] = (),
    *,
    attempt: int = 1,
    request: bool = True,
) -> int:
    """Publish a partition through the ledger, recording what it read (source per input)."""
    ledger = PartitionLedger(store, dataset)
    if request and ledger.state(key) is not None:
        ledger.request_rerun([key], reason="setup", requested_by="t", dag_id=dag)
    claim = ledger.begin(key, dag_id=dag, task_id="t", run_id=f"{dag}__{key}", attempt=attempt)
    records = []
    for up, source in inputs:
        state = PartitionLedger(store, up).state(key)
        assert state is not None and state.apply_id is not None
        records.append(
            InputRecord(
                input_dataset=up, input_partition_key=key, input_apply_id=state.apply_id, source=source
            )
        )
    ledger.finish(claim, state="applied", rows_in=1, rows_published=1, rows_quarantined=0, checksum="x",
                  gate_verdict="passed", contract_version=None, inputs=records)  # fmt: skip
    return claim.apply_id


@pytest.fixture
def chain(store: Any) -> Any:
    """orders (orders_daily) → daily_revenue (orders_revenue, by asset event) → report (reports, by SQL),
    and report also reads orders directly (declared): a diamond."""
    for ds, dag in (("orders", "orders_daily"), ("daily_revenue", "orders_revenue"), ("report", "reports")):
        upsert_dataset(
            store, ds, dag_id=dag, task_id="t", conn_id="wh", target_table=ds, partition_column="d"
        )
    apply(store, "orders", "orders_daily")
    apply(store, "daily_revenue", "orders_revenue", inputs=[("orders", "event")])
    apply(store, "report", "reports", inputs=[("daily_revenue", "sql"), ("orders", "declared")])
    return store


def test_the_plan_orders_the_chain_across_dags(chain: Any) -> None:
    airflow = FakeAirflow()
    plan = plan_downstream(chain, "orders_daily", reason="30 orders cancelled", airflow=airflow, keys=[K])
    steps = [
        (s.level, s.dag_id, [(i.dataset, i.partition_key, i.action) for i in s.plan.items])
        for s in plan.steps
    ]
    assert steps == [
        (0, "orders_daily", [("orders", K, "clear")]),
        (1, "orders_revenue", [("daily_revenue", K, AWAIT)]),  # fed by asset events: its run comes from them
        (2, "reports", [("report", K, "clear")]),  # after daily_revenue, although it reads orders too
    ]
    assert plan.steps[2].fed_by == {K: (f"orders_daily {K}", f"orders_revenue {K}")}
    text = format_downstream(plan, dry_run=True)
    assert "runs on the upstream's asset event" in text
    assert f"clear run reports__{K} (success)" in text
    assert "3 partition(s) in 3 step(s) across 3 DAG(s) would rerun" in text
    assert "dry run: nothing was recorded" in text
    assert airflow.cleared == [] and not [
        h for h in PartitionLedger(chain, "report").history() if h.action == "rerun_requested"
    ]


def test_applying_records_one_reason_and_clears_each_step_after_the_ones_it_reads(chain: Any) -> None:
    airflow = FakeAirflow()
    plan = plan_downstream(chain, "orders_daily", reason="30 orders cancelled", airflow=airflow, keys=[K])
    waits: list[float] = []

    def scheduler(seconds: float) -> None:  # what the scheduler does while the CLI waits
        waits.append(seconds)
        assert airflow.cleared == [("orders_daily", f"orders_daily__{K}")]  # reports not cleared yet
        apply(chain, "orders", "orders_daily", attempt=2, request=False)  # consumes the CLI's request
        apply(
            chain, "daily_revenue", "orders_revenue", inputs=[("orders", "event")], attempt=2, request=False
        )

    apply_downstream(
        chain, plan, requested_by="oncall", airflow=airflow, poll=1, sleep=scheduler, say=lambda m: None
    )
    assert waits == [1]
    assert airflow.cleared == [("orders_daily", f"orders_daily__{K}"), ("reports", f"reports__{K}")]
    for ds in ("orders", "daily_revenue", "report"):
        asked = [h for h in PartitionLedger(chain, ds).history(K) if h.action == "rerun_requested"]
        assert [(h.reason, h.requested_by) for h in asked] == [("30 orders cancelled", "oncall")], ds
    for ds in ("orders", "daily_revenue"):  # the runs consumed them: the reason is in their history
        last = PartitionLedger(chain, ds).history(K)[-1]
        assert (last.action, last.reason, last.requested_by) == ("rerun", "30 orders cancelled", "oncall")


def test_a_cycle_is_refused(store: Any) -> None:
    for ds, dag in (("x", "dx"), ("y", "dy")):
        upsert_dataset(
            store, ds, dag_id=dag, task_id="t", conn_id="wh", target_table=ds, partition_column="d"
        )
    apply(store, "x", "dx")
    apply(store, "y", "dy", inputs=[("x", "sql")])
    apply(store, "x", "dx", inputs=[("y", "declared")], attempt=2)  # x now reads y, which read x
    with pytest.raises(RerunRefused) as e:
        plan_downstream(store, "dx", reason="r", airflow=FakeAirflow(), keys=[K])
    assert "the recorded inputs form a cycle" in str(e.value)
    assert f"dx '{K}', dy '{K}'" in str(e.value) and "Nothing was requested" in str(e.value)


def test_a_downstream_dataset_without_a_dag_is_refused(store: Any) -> None:
    upsert_dataset(
        store,
        "orders",
        dag_id="orders_daily",
        task_id="t",
        conn_id="wh",
        target_table="o",
        partition_column="d",
    )
    upsert_dataset(
        store, "adhoc", dag_id=None, task_id=None, conn_id="wh", target_table="a", partition_column="d"
    )
    apply(store, "orders", "orders_daily")
    apply(store, "adhoc", "somebody", inputs=[("orders", "sql")])
    with pytest.raises(RerunRefused, match="no DAG is recorded as publishing 'adhoc'"):
        plan_downstream(store, "orders_daily", reason="r", airflow=FakeAirflow(), keys=[K])


def test_the_cli_dry_run_prints_the_chain(chain: Any, store_url: str, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    from airflow_dataops.cli import airflow_runs
    from airflow_dataops.cli import partitions_rerun as cli
    from airflow_dataops.store import StateStore

    monkeypatch.setenv("AIRFLOW__DATAOPS__STORE_URL", store_url)
    StateStore._shared.clear()
    fake = FakeAirflow()
    monkeypatch.setattr(airflow_runs, "MetadataDBRuns", lambda: fake)
    parser = argparse.ArgumentParser()
    for arg in cli.rerun_cli_args():
        arg.add_to_parser(parser)
    try:
        cli.partitions_rerun(
            parser.parse_args(["orders_daily", "-k", K, "--downstream", "--reason", "r", "--dry-run"])
        )
        out = capsys.readouterr().out
        assert "orders_revenue  daily_revenue" in out and "reports" in out and fake.cleared == []
        with pytest.raises(SystemExit) as e:
            cli.partitions_rerun(parser.parse_args(["orders_daily", "-k", K, "--downstream", "--reason", "r",
                                                    "--wait-timeout", "-1"]))  # fmt: skip
        assert e.value.code == 2
    finally:
        StateStore._shared.clear()


def test_the_plan_marks_partitions_that_are_stale_already(chain: Any) -> None:
    apply(chain, "orders", "orders_daily", attempt=2)  # the upstream replaced: both downstream now stale
    plan = plan_downstream(chain, "orders_revenue", reason="rebuild", airflow=FakeAirflow(), keys=[K])
    assert plan.stale == {("daily_revenue", K), ("report", K)}
    text = format_downstream(plan, dry_run=True)
    assert "applied (stale)" in text
    assert [p["stale"] for s in plan.as_dict()["steps"] for p in s["partitions"]] == [True, True]
