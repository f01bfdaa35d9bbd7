"""The dataops FastAPI app in-process: authorisation, bad input, a store that is down, sorting, escaping.

Authentication itself (401 without a token, Bearer and ``_token`` cookie) is also tested
against a real api-server in ``tests/e2e/test_ui_pages.py``; here the user and the
auth manager are replaced through FastAPI's ``dependency_overrides`` or a fake auth manager.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import ui_fixtures
from airflow.api_fastapi.core_api.security import get_user
from e2e.airflow_server import UI_DAG_ID, XSS_NAME
from fastapi.testclient import TestClient
from ui_fixtures import FakeAccess

from airflow_dataops.plugins import app as ui
from airflow_dataops.store import StateStore

store = ui_fixtures.store  # the fixture


@pytest.fixture
def client(store: StateStore) -> Iterator[TestClient]:
    ui.app.dependency_overrides[get_user] = lambda: object()
    ui.app.dependency_overrides[ui.get_access] = lambda: FakeAccess(None)
    ui.app.dependency_overrides[ui.get_store] = lambda: store
    yield TestClient(ui.app, root_path="/dataops")
    ui.app.dependency_overrides.clear()


def _names(html: str) -> list[str]:
    import re

    return re.findall(r'<a href="/dataops/datasets/[^"]*"><strong>([^<]*)</strong>', html)


# ---------------------------------------------------------------------------- authentication
@pytest.mark.parametrize(
    "path",
    ["/", "/datasets/flights", f"/dags/{UI_DAG_ID}", "/api/datasets", "/api/datasets/flights/partitions"],
)
def test_without_a_token_every_route_is_401(store: StateStore, path: str) -> None:
    ui.app.dependency_overrides[ui.get_store] = lambda: store
    try:
        response = TestClient(ui.app, root_path="/dataops").get(path)
    finally:
        ui.app.dependency_overrides.clear()
    assert response.status_code == 401
    if path.startswith("/api/"):
        assert response.json() == {"detail": "Not authenticated"}
    else:
        assert "Not signed in" in response.text


def test_the_lazy_plugin_app_serves_the_real_app() -> None:
    from airflow_dataops.plugins.plugin import DataOpsPlugin, LazyASGIApp

    lazy = DataOpsPlugin.fastapi_apps[0]["app"]
    assert isinstance(lazy, LazyASGIApp)
    response = TestClient(lazy).get("/api/datasets")
    assert (response.status_code, response.json()) == (401, {"detail": "Not authenticated"})


def test_importing_the_plugin_does_not_import_fastapi_or_the_store() -> None:
    code = (
        "import sys; import airflow.plugins_manager; before = set(sys.modules);"
        "import airflow_dataops.plugins.plugin;"
        "new = set(sys.modules) - before;"
        "print(sorted(m for m in new if m.split('.')[0] in ('fastapi', 'starlette', 'sqlalchemy')"
        " or m.startswith('airflow_dataops.store') or m == 'airflow_dataops.plugins.app'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


# ---------------------------------------------------------------------------- authorisation
def test_datasets_of_unreadable_dags_are_hidden_and_forbidden(client: TestClient) -> None:
    ui.app.dependency_overrides[ui.get_access] = lambda: FakeAccess(set())
    assert _names(client.get("/").text) == ["scratch"]  # no DAG: any signed-in user
    assert [d["dataset"] for d in client.get("/api/datasets").json()["datasets"]] == ["scratch"]
    page = client.get("/datasets/flights")
    assert page.status_code == 403
    assert f"You may not read DAG &#x27;{UI_DAG_ID}&#x27;" in page.text
    assert client.get("/api/datasets/flights/slis").status_code == 403
    assert client.get(f"/dags/{UI_DAG_ID}").status_code == 403
    assert client.get("/datasets/scratch").status_code == 200


def test_dag_access_asks_the_auth_manager(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    import airflow.api_fastapi.app as airflow_app

    calls = []

    class FakeAuthManager:
        def filter_authorized_dag_ids(self, *, dag_ids: set[str], user: object, method: str) -> set[str]:
            calls.append((frozenset(dag_ids), method))
            return set()

    monkeypatch.setattr(airflow_app, "get_auth_manager", lambda: FakeAuthManager())
    del ui.app.dependency_overrides[ui.get_access]
    assert client.get("/datasets/flights").status_code == 403
    assert calls == [(frozenset({UI_DAG_ID}), "GET")]


# ---------------------------------------------------------------------------- bad input
def test_unknown_dataset_is_a_404_page_linking_back(client: TestClient) -> None:
    response = client.get(f"/datasets/{quote('<b>nope</b>', safe='')}")
    assert response.status_code == 404
    assert "No dataset named &#x27;&lt;b&gt;nope&lt;/b&gt;&#x27;" in response.text
    assert '<a href="/dataops/">← All datasets</a>' in response.text
    assert client.get("/no/such/page").status_code == 404
    assert client.get("/api/datasets/nope").json() == {
        "detail": "No dataset named 'nope' is known to the dataops store."
    }


def test_html_in_a_dataset_is_escaped(client: TestClient) -> None:
    for path in ("/", f"/datasets/{quote(XSS_NAME, safe='')}", f"/dags/{UI_DAG_ID}"):
        body = client.get(path).text
        assert XSS_NAME not in body and "<img src=x" not in body and "<b>mallory" not in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed once the socket is


@pytest.mark.parametrize("path", ["/", "/datasets/flights", f"/dags/{UI_DAG_ID}"])
def test_a_store_that_is_down_gives_a_page_that_says_so(client: TestClient, path: str) -> None:
    down = StateStore(
        f"postgresql+psycopg2://dataops:secret@127.0.0.1:{_closed_port()}/dataops", connect_timeout=2
    )
    ui.app.dependency_overrides[ui.get_store] = lambda: down
    response = client.get(path)
    assert response.status_code == 503
    assert "Store unavailable" in response.text
    assert "The dataops store cannot be read right now." in response.text
    assert "secret" not in response.text  # the URL is shown with its password masked
    assert "Traceback" not in response.text
    api = client.get("/api/datasets")
    assert api.status_code == 503 and "cannot be read right now" in api.json()["detail"]


def test_a_malformed_slo_block_is_shown_not_raised(client: TestClient, store: StateStore) -> None:
    from airflow_dataops.store.records import upsert_dataset

    upsert_dataset(
        store,
        "broken",
        dag_id=UI_DAG_ID,
        slo={"objective": 7, "slis": {"freshness": {"threshold": 1, "unit": "h"}}},
    )
    try:
        row = next(d for d in client.get("/api/datasets").json()["datasets"] if d["dataset"] == "broken")
        assert row["status"] == "invalid" and row["slos"] == []
        assert "slo.objective" in row["error"]
        assert "Invalid SLO" in client.get("/datasets/broken").text
    finally:
        from sqlalchemy import delete

        from airflow_dataops.store import tables as t

        with store.begin() as conn:
            conn.execute(delete(t.datasets).where(t.datasets.c.dataset == "broken"))


# ---------------------------------------------------------------------------- sort and filter
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param(
            "", ["orders", "flights", "&lt;script&gt;alert(1)&lt;/script&gt;", "scratch"], id="worst-first"
        ),
        pytest.param(
            "?sort=dataset",
            ["&lt;script&gt;alert(1)&lt;/script&gt;", "flights", "orders", "scratch"],
            id="by-name",
        ),
        pytest.param(
            "?sort=dataset&dir=desc",
            ["scratch", "orders", "flights", "&lt;script&gt;alert(1)&lt;/script&gt;"],
            id="by-name-desc",
        ),
        pytest.param(
            "?sort=budget",
            ["orders", "flights", "&lt;script&gt;alert(1)&lt;/script&gt;", "scratch"],
            id="by-budget",
        ),
        pytest.param("?status=breached", ["orders", "flights"], id="status"),
        pytest.param("?q=SALES", ["orders"], id="owner-text"),
        pytest.param("?q=no+such+thing", [], id="nothing"),
        pytest.param(
            "?sort=bogus&status=bogus",
            ["orders", "flights", "&lt;script&gt;alert(1)&lt;/script&gt;", "scratch"],
            id="bad-values-ignored",
        ),
    ],
)
def test_overview_sorts_and_filters(client: TestClient, query: str, expected: list[str]) -> None:
    response = client.get(f"/{query}")
    assert response.status_code == 200
    assert _names(response.text) == expected


def test_theme_parameter_pins_the_colour_mode(client: TestClient) -> None:
    assert '<html lang="en" data-theme="dark" data-fixed="1">' in client.get("/?theme=dark").text
    assert '<html lang="en">' in client.get("/?theme=<x>").text


def test_dataset_page_shows_every_section(client: TestClient) -> None:
    body = client.get("/datasets/flights").text
    for section in (
        "Service level objectives",
        "SLI history and error budget",
        "Breaches",
        "Partition ledger",
        "Latest contract results",
    ):
        assert f"<h2>{section}" in body
    assert body.count('<svg class="chart"') == 5  # freshness, correctness: history + burn-down; timeline
    assert f"airflow dataops partitions rerun {UI_DAG_ID} -k" in body
    assert f'href="/dags/{UI_DAG_ID}/tasks/load_flights"' in body


def test_json_api_shapes(client: TestClient) -> None:
    detail = client.get("/api/datasets/flights").json()
    assert detail["status"] == "breached"
    assert {"budget_remaining", "burn_rates", "slos", "partitions", "breaches", "contract_result"} <= set(
        detail
    )
    assert len(client.get("/api/datasets/flights/partitions").json()["partitions"]) == 5
    assert client.get("/api/datasets/flights/breaches").json()["breaches"][0]["severity"] == "ticket"
    assert (
        client.get("/api/datasets/flights/contract-results").json()["contract_result"]["verdict"] == "warned"
    )
    slis = client.get("/api/datasets/flights/slis?kind=correctness").json()["slis"]
    assert list(slis) == ["correctness"] and len(slis["correctness"]) == 30
    assert client.get("/api/datasets/flights/slis?days=0").status_code == 422
    assert client.get(f"/api/datasets?dag_id={UI_DAG_ID}").json()["total_entries"] == 3


def test_the_overview_says_when_its_statuses_were_evaluated(
    client: TestClient, store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import re
    from datetime import datetime, timedelta, timezone

    from airflow_dataops.plugins import queries
    from airflow_dataops.store.records import upsert_dataset

    upsert_dataset(store, "orders", slo={"objective": 0.99})
    queries.clear_snapshots()
    client.get("/")  # the first request evaluates everything and keeps the snapshot
    snapshot = queries._SNAPSHOTS[store.url]
    # Later requests answer from the snapshot: the page shows its time, not the request's.
    later = snapshot.evaluated_at + timedelta(seconds=42)
    monkeypatch.setattr(queries, "utcnow", lambda: later)
    html = client.get("/").text
    shown = re.search(r'Statuses evaluated <time datetime="([^"]+)">', html)
    assert shown, html
    assert datetime.fromisoformat(shown.group(1)) == snapshot.evaluated_at
    assert f"{snapshot.evaluated_at:%H:%M:%S} UTC</time> (in full every 60 s" in html
    assert snapshot.evaluated_at.tzinfo == timezone.utc
