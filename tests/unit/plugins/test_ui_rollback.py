"""The dataset page's partition ledger shows rollbacks (who, why, to which version) and kept versions,
from a real store and warehouse after real publishes and a real rollback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from airflow.api_fastapi.core_api.security import get_user
from fastapi.testclient import TestClient
from partition_workers import warehouse_engine
from rollback_workers import DATASET_ROW, publish_version

from airflow_dataops.partitions.rollback import rollback_partition
from airflow_dataops.plugins import app as ui
from airflow_dataops.plugins import queries
from airflow_dataops.store import StateStore
from airflow_dataops.store.records import upsert_dataset

KEY = "2026-11-28"


class Everyone:
    def readable(self, dag_ids: set[str]) -> set[str]:
        return set(dag_ids)

    def can_read(self, dag_id: str | None) -> bool:
        return True


@pytest.fixture
def rolled_back(tmp_path: Path) -> Iterator[tuple[StateStore, dict[str, int]]]:
    store_url, warehouse_url = f"sqlite:///{tmp_path / 'store.db'}", f"sqlite:///{tmp_path / 'w.db'}"
    store = StateStore(store_url)
    store.migrate()
    upsert_dataset(store, "flights", dag_id="dag", target_table="flights", partition_column="flight_date")
    first = publish_version(store_url, warehouse_url, KEY, "run_1", 200, rerun=False)
    second = publish_version(store_url, warehouse_url, KEY, "run_2", 120, rerun=True)
    engine = warehouse_engine(warehouse_url)
    result = rollback_partition(
        store, DATASET_ROW, KEY, reason="<b>bad</b> resend", requested_by="oncall", engine=engine
    )
    engine.dispose()
    queries.clear_snapshots()
    yield store, {"first": first, "second": second, "rollback": result.apply_id}
    store.dispose()


@pytest.fixture
def client(rolled_back: tuple[StateStore, dict[str, int]]) -> Iterator[TestClient]:
    store, _ = rolled_back
    ui.app.dependency_overrides[get_user] = lambda: object()
    ui.app.dependency_overrides[ui.get_access] = lambda: Everyone()
    ui.app.dependency_overrides[ui.get_store] = lambda: store
    yield TestClient(ui.app, root_path="/dataops")
    ui.app.dependency_overrides.clear()


def test_partition_ledger_page_shows_the_rollback_and_kept_versions(client: TestClient, rolled_back) -> None:
    _, ids = rolled_back
    [p] = client.get("/api/datasets/flights/partitions").json()["partitions"]
    assert [(v["apply_id"], v["rows"], v["state"]) for v in p["versions"]] == [
        (ids["second"], 120, "rolled_back"),
        (ids["first"], 200, "superseded"),
    ]
    [rb] = p["rollbacks"]
    assert (rb["apply_id"], rb["restored"], rb["replaced"], rb["requested_by"]) == (
        ids["rollback"],
        ids["first"],
        ids["second"],
        "oncall",
    )
    body = client.get("/datasets/flights").text
    assert "<th>Kept versions</th>" in body
    assert f'<span class="chip rolled_back">rolled_back</span> to version {ids["first"]}' in body
    assert "by oncall: &lt;b&gt;bad&lt;/b&gt; resend" in body  # escaped
    assert f'<code>{ids["second"]}</code> 120 rows <span class="chip rolled_back">' in body
