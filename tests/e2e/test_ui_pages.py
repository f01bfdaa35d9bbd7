"""The dataops UI in a real ``airflow api-server`` (plugin loaded from its entry point) and a real Chromium.

One api-server for the whole module (about a minute to migrate, serialise the DAG and
start).  The store is built in a temp SQLite with the store API (``build_ui_store``).
Screenshots land in ``.test-artifacts/ui/`` (light and dark, 1280 px wide).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

import pytest
from e2e.airflow_server import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DAG_FILE,
    UI_DAG_ID,
    XSS_DESCRIPTION,
    XSS_NAME,
    XSS_RULE,
    AirflowServer,
    build_ui_store,
)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".test-artifacts" / "ui"
VIEWPORT = {"width": 1280, "height": 900}

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

PROTECTED = [
    "/dataops/",
    "/dataops/datasets/flights",
    f"/dataops/dags/{UI_DAG_ID}",
    "/dataops/api/datasets",
    "/dataops/api/datasets/flights",
    "/dataops/api/datasets/flights/slis",
    "/dataops/api/datasets/flights/breaches",
    "/dataops/api/datasets/flights/partitions",
    "/dataops/api/datasets/flights/contract-results",
    "/dataops/api/datasets/no-such-dataset",
    "/dataops/api/report",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowServer]:
    base = tmp_path_factory.mktemp("ui-e2e")
    dags = base / "dags"
    dags.mkdir()
    (dags / "ui_dataops_dag.py").write_text(DAG_FILE)
    url = f"sqlite:///{base / 'dataops.db'}"
    build_ui_store(url)
    srv = AirflowServer(base / "airflow", dags_folder=dags, env={"AIRFLOW__DATAOPS__STORE_URL": url})
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def token(server: AirflowServer) -> str:
    return server.token()


# ------------------------------------------------------------------------------ HTTP
@pytest.mark.parametrize("path", PROTECTED)
def test_every_route_answers_401_without_a_token(server: AirflowServer, path: str) -> None:
    status, _, _ = server.get(path)
    assert status == 401


def test_a_forged_token_is_refused(server: AirflowServer) -> None:
    from reliability_report import record

    status, _, _ = server.get("/dataops/api/datasets", token="not-a-jwt")
    assert status in (401, 403)
    statuses = {path: server.get(path)[0] for path in PROTECTED}
    assert set(statuses.values()) == {401}
    record(
        "security-ui",
        scenario="UI JSON API and pages without a token / with a forged token (real api-server)",
        runs=len(PROTECTED) + 1,
        result=f"{len(PROTECTED)} routes answered 401 without a token; forged token answered {status}",
    )


def test_the_bearer_header_and_the_ui_cookie_are_both_accepted(server: AirflowServer, token: str) -> None:
    by_header = server.get("/dataops/api/datasets", token=token)
    by_cookie = server.get("/dataops/api/datasets", cookie=token)
    assert by_header[0] == by_cookie[0] == 200
    assert json.loads(by_header[2]) == json.loads(by_cookie[2])
    page = server.get("/dataops/", cookie=token)
    assert page[0] == 200 and page[1].startswith("text/html")


def test_the_401_page_offers_to_sign_in(server: AirflowServer) -> None:
    status, ctype, body = server.get("/dataops/")
    assert (status, ctype.split(";")[0]) == (401, "text/html")
    assert "Not signed in" in body and 'href="/"' in body


def test_api_lists_datasets_worst_first(server: AirflowServer, token: str) -> None:
    status, _, body = server.get("/dataops/api/datasets", token=token)
    data = json.loads(body)
    assert status == 200
    assert [(d["dataset"], d["status"]) for d in data["datasets"]] == [
        ("orders", "breached"),
        ("flights", "breached"),
        (XSS_NAME, "healthy"),
        ("scratch", "no_slo"),
    ]
    orders = data["datasets"][0]
    assert orders["open_breaches"] == 1
    assert orders["budget_remaining"] < 0
    assert set(orders["burn_rates"]) == {"1d", "12d", "30d"}


def test_api_report_is_the_cli_report_of_the_same_store(server: AirflowServer, token: str) -> None:
    from airflow_dataops.report import operational_report
    from airflow_dataops.store import StateStore

    period = "since=2026-01-01T00:00:00%2B00:00&until=2030-01-01T00:00:00%2B00:00"
    status, _, body = server.get(f"/dataops/api/report?{period}", token=token)
    assert status == 200
    store = StateStore(server.environment()["AIRFLOW__DATAOPS__STORE_URL"])
    since, until = datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2030, 1, 1, tzinfo=timezone.utc)
    expected = json.loads(json.dumps(operational_report(store, since=since, until=until).to_dict()))
    store.dispose()
    assert json.loads(body) == expected
    assert expected["datasets"]["flights"]["runs"]["succeeded"] == 5


def test_api_dataset_detail(server: AirflowServer, token: str) -> None:
    status, _, body = server.get("/dataops/api/datasets/flights", token=token)
    d = json.loads(body)
    assert status == 200
    assert [s["slo"] for s in d["slos"]] == ["freshness", "correctness"]
    assert len(d["partitions"]) == 5
    newest = d["partitions"][0]
    assert newest["rerun_command"] == (
        f"airflow dataops partitions rerun {UI_DAG_ID} -k '{newest['partition_key']}' --reason \"…\""
    )
    assert [p["state"] for p in d["partitions"]].count("quarantined") == 1
    rules = {r["name"]: r["passed"] for r in d["contract_result"]["rules"]}
    assert rules == {
        "flights.dep_time.not_null": True,
        "flights.carrier.allowed_values": False,
        "flights.row_count": True,
    }
    assert [(b["slo"], b["resolved_at"] is not None) for b in d["breaches"]] == [("freshness", True)]

    slis = json.loads(server.get("/dataops/api/datasets/flights/slis?kind=freshness&days=8", token=token)[2])
    assert list(slis["slis"]) == ["freshness"] and len(slis["slis"]["freshness"]) == 7


def test_unknown_dataset_is_a_404_page_that_links_back(server: AirflowServer, token: str) -> None:
    status, ctype, body = server.get("/dataops/datasets/no-such-dataset", cookie=token)
    assert (status, ctype.split(";")[0]) == (404, "text/html")
    assert "No dataset named &#x27;no-such-dataset&#x27;" in body
    assert '<a href="/dataops/">← All datasets</a>' in body
    status, ctype, body = server.get("/dataops/api/datasets/no-such-dataset", token=token)
    assert (status, ctype) == (404, "application/json")


def test_html_in_names_descriptions_and_rules_is_escaped(server: AirflowServer, token: str) -> None:
    overview = server.get("/dataops/", cookie=token)[2]
    page_status, _, page = server.get(f"/dataops/datasets/{quote(XSS_NAME, safe='')}", cookie=token)
    assert page_status == 200
    for body in (overview, page):
        assert XSS_NAME not in body
        assert "<img src=x" not in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
        assert "&lt;b&gt;mallory&lt;/b&gt;" in body
    assert XSS_RULE not in page and "&lt;script&gt;alert(&#x27;rule&#x27;)&lt;/script&gt;" in page
    assert XSS_DESCRIPTION not in page


def test_plugin_declares_nav_entry_and_dag_tab(server: AirflowServer, token: str) -> None:
    plugins = json.loads(server.get("/api/v2/plugins", token=token)[2])["plugins"]
    ours = next(p for p in plugins if p["name"] == "dataops")
    assert [(v["name"], v["destination"], v["href"]) for v in ours["external_views"]] == [
        ("Data SLOs", "nav", "/dataops/"),
        ("Datasets", "dag", "/dataops/dags/{DAG_ID}"),
    ]
    assert ours["fastapi_apps"][0]["url_prefix"] == "/dataops"


# ------------------------------------------------------------------------------ browser
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def page(browser: object, server: AirflowServer) -> Iterator[object]:
    """A page signed in through Airflow's own login form (simple auth manager, user admin)."""
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[attr-defined]
    pg = context.new_page()
    pg.dialogs = []  # type: ignore[attr-defined]
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))  # type: ignore[attr-defined]
    pg.set_default_timeout(20_000)
    pg.goto(f"{server.url}/")
    pg.locator("input[name=username]").fill("admin")
    pg.locator("input[name=password]").fill(server.password())
    pg.keyboard.press("Enter")
    pg.wait_for_url(lambda u: "/auth/login" not in u)
    yield pg
    context.close()


#: Screenshots docs/ui.md shows; with DATAOPS_UPDATE_DOCS_IMG=1 they are also copied to docs/img/.
DOCS_IMG = ("overview-light", "overview-dark", "dag-tab-light", "dataset-full-light")


def _shot(pg: object, name: str, *, full: bool = False) -> Path:
    """Save a screenshot under .test-artifacts/ui/ (a record of the run, not an assertion)."""
    path = ARTIFACTS / f"{name}.png"
    pg.screenshot(path=str(path), full_page=full)  # type: ignore[attr-defined]
    if name in DOCS_IMG and os.environ.get("DATAOPS_UPDATE_DOCS_IMG") == "1":
        target = ROOT / "docs" / "img"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target / f"ui-{name}.png")
    return path


def test_overview_from_the_nav_entry(page: object, server: AirflowServer) -> None:
    page.emulate_media(color_scheme="light")
    page.goto(f"{server.url}/")
    page.get_by_role("link", name="Data SLOs").click()
    page.wait_for_url("**/plugin/dataops**")
    frame = page.frame_locator("iframe[title='Data SLOs']")
    rows = frame.locator("table.datasets tbody tr")
    rows.first.wait_for()
    assert rows.count() == 4
    assert rows.nth(0).locator("td").nth(1).inner_text().startswith("orders")
    assert "Breached" in rows.nth(0).inner_text()
    assert frame.locator("svg.bar").count() == 3  # a budget bar for each dataset with an SLO
    owner = frame.locator("table.ops.owners tr[data-owner='data-platform']")  # flights' figures
    assert owner.locator("td.m1").inner_text() == "5/5 (100.0%)"
    assert owner.locator("td.m10").inner_text() == "1 opened, 1 resolved"
    assert frame.locator("p.m11").inner_text().startswith("M11 lineage coverage: – (not measured")  # noqa: RUF001
    _shot(page, "overview-light")

    frame.locator("input[name=q]").fill("flig")
    frame.get_by_role("button", name="Filter").click()
    frame.locator("h1", has_text="1 of 4 datasets").wait_for()
    assert frame.locator("table.datasets tbody tr").count() == 1
    frame.get_by_role("link", name="Dataset", exact=True).click()  # sort by name
    frame.locator("th a.on", has_text="Dataset").wait_for()


def test_dataset_page_by_clicking_through(page: object, server: AirflowServer) -> None:
    page.emulate_media(color_scheme="light")
    page.goto(f"{server.url}/plugin/dataops")
    frame = page.frame_locator("iframe[title='Data SLOs']")
    frame.get_by_role("link", name="flights", exact=True).click()
    frame.locator("h1", has_text="flights").wait_for()
    text = frame.locator("body").inner_text()
    for expected in (
        "Service level objectives",
        "SLI history and error budget",
        "Breaches",
        "Partition ledger",
        "Latest contract results",
        "flights.carrier.allowed_values",
        "quarantined",
        f"airflow dataops partitions rerun {UI_DAG_ID} -k",
    ):
        assert expected in text
    assert frame.locator("svg.chart").count() >= 5  # 2 SLI charts (+cost none), 2 burn-downs, 1 timeline
    _shot(page, "dataset-in-airflow-light")
    # A link to the producing DAG opens Airflow's DAG page in the top window, not inside the iframe.
    frame.get_by_role("link", name=UI_DAG_ID).first.click()
    page.wait_for_url(f"**/dags/{UI_DAG_ID}")


def test_dag_tab(page: object, server: AirflowServer) -> None:
    page.emulate_media(color_scheme="light")
    page.goto(f"{server.url}/dags/{UI_DAG_ID}")
    page.get_by_text("Datasets", exact=True).first.click()
    frame = page.frame_locator("iframe[title='Datasets']")
    frame.locator("h1", has_text=f"Datasets of {UI_DAG_ID}").wait_for()
    assert frame.locator("table.datasets tbody tr").count() == 3  # scratch has no DAG
    _shot(page, "dag-tab-light")


def test_dark_mode_follows_airflow(page: object, server: AirflowServer) -> None:
    page.emulate_media(color_scheme="dark")
    page.goto(f"{server.url}/plugin/dataops")
    frame = page.frame_locator("iframe[title='Data SLOs']")
    frame.locator("table.datasets").wait_for()
    background = frame.locator("body").evaluate("b => getComputedStyle(b).backgroundColor")
    assert background == "rgb(17, 24, 39)"
    _shot(page, "overview-dark")
    page.goto(f"{server.url}/dags/{UI_DAG_ID}")
    page.get_by_text("Datasets", exact=True).first.click()
    tab = page.frame_locator("iframe[title='Datasets']")
    tab.locator("table.datasets").wait_for()
    assert tab.locator("body").evaluate("b => getComputedStyle(b).backgroundColor") == background
    _shot(page, "dag-tab-dark")


@pytest.mark.parametrize(
    ("theme", "background"), [("light", "rgb(255, 255, 255)"), ("dark", "rgb(17, 24, 39)")]
)
def test_the_full_dataset_page_follows_the_colour_scheme(
    page: object, server: AirflowServer, theme: str, background: str
) -> None:
    """The stand-alone page (no Airflow frame around it) takes the browser's colour scheme."""
    page.emulate_media(color_scheme=theme)
    page.goto(f"{server.url}/dataops/datasets/flights")
    page.locator("h2", has_text="Latest contract results").wait_for()
    assert page.locator("body").evaluate("b => getComputedStyle(b).backgroundColor") == background
    headings = page.locator("h2").all_inner_texts()
    for section in ("Service level objectives", "Breaches", "Partition ledger", "Latest contract results"):
        assert any(h.startswith(section) for h in headings), (section, headings)
    assert page.locator("svg.chart").count() >= 5
    _shot(page, f"dataset-full-{theme}", full=True)
    page.emulate_media(color_scheme="light")


def test_a_dataset_named_like_a_script_runs_no_script(page: object, server: AirflowServer) -> None:
    page.dialogs.clear()
    page.goto(f"{server.url}/plugin/dataops")
    frame = page.frame_locator("iframe[title='Data SLOs']")
    frame.get_by_role("link", name=XSS_NAME).click()
    frame.locator("h1", has_text=XSS_NAME).wait_for()
    page.wait_for_timeout(300)
    assert page.dialogs == []
    _shot(page, "dataset-xss-escaped")
