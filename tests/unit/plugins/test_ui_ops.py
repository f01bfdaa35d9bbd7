# ruff: noqa: RUF001 - the page writes an en dash for "no figure"
"""The overview's "Operations" section and ``/api/report`` say what ``airflow dataops report`` says.

Through the real FastAPI app (Starlette's TestClient; the user and DAG access replaced by
``dependency_overrides`` as in ``test_ui_app.py``) over the store ``build_ui_store`` writes:
``flights`` has 5 published partitions, a resolved ticket breach and 2 bad freshness days;
``orders`` an open page breach and 10 bad freshness days.  The expected figures are the CLI's
(``airflow dataops report -o json``), run on the same store for the same period.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import ui_fixtures
from airflow.api_fastapi.core_api.security import get_user
from e2e.airflow_server import UI_DAG_ID
from fastapi.testclient import TestClient
from ui_fixtures import FakeAccess

from airflow_dataops.plugins import app as ui
from airflow_dataops.plugins import ops
from airflow_dataops.store import StateStore

store = ui_fixtures.store  # the fixture


def _client(store: StateStore, dags: set[str] | None = None) -> TestClient:
    ops.clear()
    ui.app.dependency_overrides[get_user] = lambda: object()
    ui.app.dependency_overrides[ui.get_access] = lambda: FakeAccess(dags)
    ui.app.dependency_overrides[ui.get_store] = lambda: store
    return TestClient(ui.app, root_path="/dataops")


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    yield
    ui.app.dependency_overrides.clear()
    ops.clear()


def _cli_report(
    capsys: pytest.CaptureFixture[str], store: StateStore, since: str, until: str
) -> dict[str, Any]:
    """``airflow dataops report --since --until -o json`` on the same store, as the CLI prints it."""
    from argparse import Namespace

    from airflow_dataops.cli.report import report_command

    capsys.readouterr()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW__DATAOPS__STORE_URL", store.url)
        report_command(Namespace(since=since, until=until, output="json"))
    return json.loads(capsys.readouterr().out)


def test_api_report_equals_the_cli_report_for_the_same_period(
    store: StateStore, capsys: pytest.CaptureFixture[str]
) -> None:
    client = _client(store)
    since, until = "2026-01-01T00:00:00+00:00", datetime.now().astimezone().isoformat()
    api = client.get("/api/report", params={"since": since, "until": until}).json()
    assert api == _cli_report(capsys, store, since, until)
    flights = api["datasets"]["flights"]  # the scenario, counted by hand
    assert flights["runs"] == {"succeeded": 5, "failed": 0, "unfinished": 0, "success_rate": 1.0}
    assert (flights["breaches"]["opened"], flights["breaches"]["resolved"]) == (1, 1)
    assert sum(api["datasets"]["orders"]["sla_violations_per_month"].values()) == 10
    assert api["lineage_coverage"]["value"] is None and "not measured" in api["lineage_coverage"]["reason"]


def test_the_default_period_is_the_reports_last_30_days(
    store: StateStore, capsys: pytest.CaptureFixture[str]
) -> None:
    api = _client(store).get("/api/report").json()
    start, end = datetime.fromisoformat(api["since"]), datetime.fromisoformat(api["until"])
    assert (end - start).days == 30
    assert api == _cli_report(capsys, store, api["since"], api["until"])


def test_the_overview_section_shows_the_reports_figures(store: StateStore) -> None:
    client = _client(store)
    data = client.get("/api/report").json()  # the cached default period: the page shows the same one
    page = client.get("/").text
    section = page[page.index('<section class="ops"') :]
    assert "<h2>Operations" in section
    owner = re.search(r'<tr data-owner="data-platform">(.*?)</tr>', section)
    assert owner is not None
    m = data["owners"]["data-platform"]
    assert '<td class="num m1">5/5 (100.0%)</td>' in owner.group(1)
    assert f"{m['breaches']['opened']} opened, {m['breaches']['resolved']} resolved" in owner.group(1)
    assert f'<td class="num m14">{m["breaches"]["per_week"]:.2f}</td>' in owner.group(1)
    assert "48.0 h" in owner.group(1)  # MTTR: the breach resolved two days after it opened
    orders = re.search(r'<tr data-dataset="orders">(.*?)</tr>', section)
    months = data["datasets"]["orders"]["sla_violations_per_month"]
    assert orders is not None and sum(months.values()) == 10
    assert ", ".join(f"{k}: {v}" for k, v in months.items()) in orders.group(1)
    assert "M11 lineage coverage:</strong> –" in section and "not measured" in section
    assert "<b>mallory</b>" not in section and "&lt;b&gt;mallory&lt;/b&gt;" in section  # escaped


def test_the_overview_filter_narrows_the_per_dataset_rows(store: StateStore) -> None:
    section = _client(store).get("/?q=orders").text.split('<section class="ops"')[1]
    assert re.findall(r'<tr data-dataset="([^"]*)"', section) == ["orders"]


def test_datasets_of_unreadable_dags_are_left_out_of_the_report(store: StateStore) -> None:
    everything = _client(store).get("/api/report").json()
    assert {"flights", "orders", "scratch"} <= set(everything["datasets"])
    hidden = _client(store, dags=set()).get("/api/report").json()  # may not read UI_DAG_ID
    # flights, orders and the <script> dataset are produced by UI_DAG_ID; scratch has no DAG
    assert list(hidden["datasets"]) == ["scratch"]
    assert list(hidden["owners"]) == ["(no owner)"]
    assert hidden["owners"]["(no owner)"] == everything["owners"]["(no owner)"]
    page = _client(store, dags=set()).get("/").text
    assert re.findall(r'<tr data-(?:dataset|owner)="([^"]*)"', page) == ["(no owner)", "scratch"]
    only = _client(store, dags={UI_DAG_ID}).get("/api/report").json()
    assert (only["datasets"], only["owners"]) == (everything["datasets"], everything["owners"])


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("since=yesterday", "since='yesterday' is not an ISO date or datetime"),
        ("until=2026-13-01", "until='2026-13-01' is not an ISO date or datetime"),
        ("since=2026-11-02&until=2026-11-01", "is not before until="),
    ],
)
def test_a_bad_period_is_a_400_that_says_what_to_send(store: StateStore, query: str, message: str) -> None:
    response = _client(store).get(f"/api/report?{query}")
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert message in detail and "\n" not in detail


def test_the_report_route_needs_a_signed_in_user(store: StateStore) -> None:
    ui.app.dependency_overrides[ui.get_store] = lambda: store
    assert TestClient(ui.app, root_path="/dataops").get("/api/report").status_code == 401
