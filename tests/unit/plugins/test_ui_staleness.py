"""The dataset page and the DAG tab show stale partitions, what changed upstream and the fix (#16)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from airflow.api_fastapi.core_api.security import get_user
from fastapi.testclient import TestClient

from airflow_dataops.partitions.ledger import PartitionLedger
from airflow_dataops.plugins import app as ui
from airflow_dataops.store import StateStore
from airflow_dataops.store.inputs import InputRecord
from airflow_dataops.store.records import upsert_dataset

K = "2026-11-28"


class AllowAll:
    def readable(self, dag_ids: set[str]) -> set[str]:
        return set(dag_ids)

    def can_read(self, dag_id: str | None) -> bool:
        return True


def _apply(
    store: StateStore, dataset: str, dag: str, inputs: list[InputRecord], *, rerun: bool = False
) -> int:
    ledger = PartitionLedger(store, dataset)
    if rerun:
        ledger.request_rerun([K], reason="upstream fixed", requested_by="t", dag_id=dag)
    claim = ledger.begin(K, dag_id=dag, task_id="t", run_id=f"r{int(rerun)}", attempt=1)
    ledger.finish(claim, state="applied", rows_in=1, rows_published=1, rows_quarantined=0, checksum="c",
                  gate_verdict="passed", contract_version=None, inputs=inputs)  # fmt: skip
    return claim.apply_id


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    store = StateStore(f"sqlite:///{tmp_path / 'store.db'}")
    store.migrate()
    upsert_dataset(
        store, "orders", dag_id="orders_daily", task_id="t", target_table="orders", partition_column="d"
    )
    upsert_dataset(store, "daily_revenue", dag_id="orders_revenue", task_id="t", target_table="daily_revenue",
                   partition_column="d")  # fmt: skip
    first = _apply(store, "orders", "orders_daily", [])
    _apply(store, "daily_revenue", "orders_revenue",
           [InputRecord(input_dataset="orders", input_partition_key=K, input_apply_id=first, source="event")])  # fmt: skip
    _apply(store, "orders", "orders_daily", [], rerun=True)
    ui.app.dependency_overrides[get_user] = lambda: object()
    ui.app.dependency_overrides[ui.get_access] = lambda: AllowAll()
    ui.app.dependency_overrides[ui.get_store] = lambda: store
    yield TestClient(ui.app, root_path="/dataops")
    ui.app.dependency_overrides.clear()
    store.dispose()


def test_the_dataset_page_marks_the_partition_stale_with_its_fix(client: TestClient) -> None:
    html = client.get("/datasets/daily_revenue").text
    assert '<span class="chip stale">stale</span>' in html
    assert f"stale: orders {K} was replaced (built from apply #1, now #" in html
    assert f"airflow dataops partitions rerun orders_revenue -k {K} --downstream --reason" in html
    assert "chip stale" not in client.get("/datasets/orders").text


def test_the_dag_tab_lists_the_stale_partitions(client: TestClient) -> None:
    html = client.get("/dags/orders_revenue").text
    assert "Stale partitions" in html and f"orders {K} was replaced" in html
    assert "Stale partitions" not in client.get("/dags/orders_daily").text
