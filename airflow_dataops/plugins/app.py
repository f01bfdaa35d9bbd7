"""The dataops FastAPI app, mounted by Airflow's API server at ``/dataops``.

Routes (all under ``/dataops``)::

    GET /                                    overview page (nav entry "Data SLOs")
    GET /datasets/{dataset}                  dataset page
    GET /dags/{dag_id}                       DAG tab: the datasets a DAG produces
    GET /api/datasets                        overview as JSON (?dag_id= to narrow)
    GET /api/datasets/{dataset}              status, SLOs, budgets, burn rates, breaches, ledger, results
    GET /api/datasets/{dataset}/slis         SLI history (?kind=, ?days=)
    GET /api/datasets/{dataset}/breaches     breach episodes
    GET /api/datasets/{dataset}/partitions   the partition ledger, with rerun commands
    GET /api/datasets/{dataset}/contract-results   latest contract results, per rule
    GET /api/report                          operational metrics (M1, M10, M11, M13, M14, M15) as
                                             `airflow dataops report -o json` (?since=, ?until=)

Authentication: a mounted app does not inherit Airflow's, so every route depends on
``airflow.api_fastapi.core_api.security.get_user`` (the ``Authorization: Bearer``
header, else the ``_token`` cookie the UI sends to same-origin iframes); without a
valid token the answer is 401.  Authorisation: a dataset is visible to a user who may
read (``GET``) the DAG that produces it (datasets without a DAG: every signed-in user);
a DAG tab needs read access to that DAG; otherwise 403.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Annotated, Any

from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from airflow_dataops.clock import as_utc
from airflow_dataops.exceptions import ConfigError, StoreError
from airflow_dataops.plugins import ops, pages, queries
from airflow_dataops.plugins.dataset_page import dataset_page as render_dataset_page
from airflow_dataops.store import StateStore

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------ dependencies
def get_store() -> StateStore:
    """The store of ``[dataops]`` (overridden in tests and benchmarks)."""
    return StateStore.from_settings()


class DagAccess:
    """What the signed-in user may read, asked of Airflow's auth manager."""

    def __init__(self, user: Any) -> None:
        self.user = user

    def readable(self, dag_ids: set[str]) -> set[str]:
        from airflow.api_fastapi.app import get_auth_manager

        if not dag_ids:
            return set()
        return set(
            get_auth_manager().filter_authorized_dag_ids(dag_ids=dag_ids, user=self.user, method="GET")
        )

    def can_read(self, dag_id: str | None) -> bool:
        return dag_id is None or dag_id in self.readable({dag_id})


def get_access(user: GetUserDep) -> DagAccess:
    return DagAccess(user)


StoreDep = Annotated[StateStore, Depends(get_store)]
AccessDep = Annotated[DagAccess, Depends(get_access)]


def _base(request: Request) -> str:
    return str(request.scope.get("root_path") or "").rstrip("/")


def _theme(theme: str | None) -> str | None:
    return theme if theme in ("light", "dark") else None


def _wants_html(request: Request) -> bool:
    path, root = str(request.scope.get("path") or ""), _base(request)
    if root and path.startswith(root + "/"):
        path = path[len(root) :]
    return not path.startswith("/api/")


def _visible(
    store: StateStore, access: DagAccess, *, dag_id: str | None = None
) -> list[queries.DatasetSummary]:
    return queries.overview(store, readable=access.readable, dag_id=dag_id)


def _report(
    store: StateStore,
    rows: list[queries.DatasetSummary],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """``airflow dataops report``'s figures without the datasets of DAGs the caller may not read
    (``rows``: the visible ones)."""
    visible = {r.dataset for r in rows}
    return ops.report_data(store, visible, since=since, until=until, ttl=queries.SNAPSHOT_TTL)


def _when(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(
            400,
            f"{name}={value!r} is not an ISO date or datetime; use e.g. {name}=2026-11-01 or "
            f"{name}=2026-11-01T06:00 (UTC unless an offset is given)",
        ) from None
    return as_utc(at)


def _detail_or_error(store: StateStore, access: DagAccess, dataset: str) -> queries.DatasetDetail:
    row = queries.get_dataset(store, dataset)
    if row is None:
        raise HTTPException(404, f"No dataset named {dataset!r} is known to the dataops store.")
    if not access.can_read(row.get("dag_id")):
        raise HTTPException(
            403, f"You may not read DAG {row.get('dag_id')!r}, which produces dataset {dataset!r}."
        )
    detail = queries.dataset_detail(store, dataset)
    if detail is None:  # deleted between the two reads
        raise HTTPException(404, f"No dataset named {dataset!r} is known to the dataops store.")
    return detail


def _detail_field(field: str, name: str) -> Any:
    """The route ``name`` that answers ``{"dataset": …, field: <that field of the dataset's detail>}``."""

    def route(dataset: str, store: StoreDep, access: AccessDep) -> dict[str, Any]:
        detail = _detail_or_error(store, access, dataset)
        return {"dataset": dataset, field: getattr(detail, field)}

    route.__name__ = route.__qualname__ = name
    return route


# ------------------------------------------------------------------------------------ app
def create_app() -> FastAPI:
    app = FastAPI(
        title="airflow-dataops",
        description="Dataset SLOs, error budgets, breaches, partition ledger and contract results.",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Any:
        if not _wants_html(request):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        theme = _theme(request.query_params.get("theme"))
        base = _base(request)
        if exc.status_code == 401:
            html = pages.message_page(
                "Not signed in",
                "Sign in to Airflow to see the dataops pages.",
                base=base,
                theme=theme,
                back=False,
                sign_in=True,
            )
        elif exc.status_code == 403:
            html = pages.message_page("Not allowed", str(exc.detail), base=base, theme=theme)
        elif exc.status_code == 404:
            detail = (
                exc.detail
                if isinstance(exc.detail, str) and exc.detail != "Not Found"
                else "There is no dataops page at this address."
            )
            html = pages.message_page("Not found", detail, base=base, theme=theme)
        else:
            html = pages.message_page(f"Error {exc.status_code}", str(exc.detail), base=base, theme=theme)
        return HTMLResponse(html, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(StoreError)
    @app.exception_handler(ConfigError)
    async def _store_down(request: Request, exc: Exception) -> Any:
        log.warning("dataops UI: the store cannot be read: %s", exc)
        message = f"The dataops store cannot be read right now. {exc}"
        if not _wants_html(request):
            return JSONResponse({"detail": message}, status_code=503)
        html = pages.message_page(
            "Store unavailable",
            message,
            base=_base(request),
            theme=_theme(request.query_params.get("theme")),
            back=False,
        )
        return HTMLResponse(html, status_code=503)

    # ---------------------------------------------------------------- pages
    @app.get("/", response_class=HTMLResponse)
    def overview_page(
        request: Request,
        store: StoreDep,
        access: AccessDep,
        q: str = "",
        status: str = "",
        sort: str = "status",
        dir: str = "asc",
        theme: str | None = None,
    ) -> HTMLResponse:
        rows = _visible(store, access)
        sort = sort if sort in queries.SORT_FIELDS else "status"
        status = status if status in queries.STATUS_ORDER else ""
        shown = queries.filter_summaries(rows, text=q, status=status)
        shown = queries.sort_summaries(shown, sort, descending=dir == "desc")
        html = pages.overview_page(
            shown,
            total=len(rows),
            base=_base(request),
            now=queries.utcnow(),
            sort=sort,
            desc=dir == "desc",
            text=q,
            status=status,
            theme=_theme(theme),
            evaluated=queries.evaluated_at(store),
            extra=ops.ops_section(
                _report(store, rows), base=_base(request), datasets={s.dataset for s in shown}
            ),
        )
        return HTMLResponse(html)

    @app.get("/datasets/{dataset:path}", response_class=HTMLResponse)
    def dataset_page(
        request: Request, dataset: str, store: StoreDep, access: AccessDep, theme: str | None = None
    ) -> HTMLResponse:
        detail = _detail_or_error(store, access, dataset)
        return HTMLResponse(render_dataset_page(detail, base=_base(request), theme=_theme(theme)))

    @app.get("/dags/{dag_id}", response_class=HTMLResponse)
    def dag_tab(
        request: Request, dag_id: str, store: StoreDep, access: AccessDep, theme: str | None = None
    ) -> HTMLResponse:
        if not access.can_read(dag_id):
            raise HTTPException(403, f"You may not read DAG {dag_id!r}.")
        from airflow_dataops.partitions.staleness import stale_partitions

        rows = _visible(store, access, dag_id=dag_id)
        stale = stale_partitions(store, [r.dataset for r in rows]) if rows else []
        return HTMLResponse(
            pages.dag_page(
                dag_id, rows, base=_base(request), now=queries.utcnow(), theme=_theme(theme), stale=stale
            )
        )

    # ---------------------------------------------------------------- JSON
    @app.get("/api/datasets")
    def api_datasets(store: StoreDep, access: AccessDep, dag_id: str | None = None) -> JSONResponse:
        if dag_id is not None and not access.can_read(dag_id):
            raise HTTPException(403, f"You may not read DAG {dag_id!r}.")
        rows = _visible(store, access, dag_id=dag_id)
        # Already JSON-safe: skip FastAPI's per-field encoder (a third of the time at 1,000 datasets).
        return JSONResponse({"datasets": [r.to_dict() for r in rows], "total_entries": len(rows)})

    @app.get("/api/report")
    def api_report(
        store: StoreDep, access: AccessDep, since: str | None = None, until: str | None = None
    ) -> JSONResponse:
        start, end = _when(since, "since"), _when(until, "until")
        if start is not None and end is not None and start >= end:
            raise HTTPException(400, f"since={since!r} is not before until={until!r}; give an earlier since")
        return JSONResponse(_report(store, _visible(store, access), since=start, until=end))

    @app.get("/api/datasets/{dataset:path}/slis")
    def api_slis(
        dataset: str,
        store: StoreDep,
        access: AccessDep,
        kind: str | None = None,
        days: Annotated[int, Query(ge=1, le=90)] = 90,
    ) -> dict[str, Any]:
        detail = _detail_or_error(store, access, dataset)
        since = detail.evaluated_at - timedelta(days=days)
        history = queries.history_to_dict(detail)
        out = {
            k: [p for p in v if p["observed_at"] >= since.isoformat()]
            for k, v in history.items()
            if kind is None or k == kind
        }
        return {"dataset": dataset, "slis": out}

    for path, field, name in (
        ("breaches", "breaches", "api_breaches"),
        ("partitions", "partitions", "api_partitions"),
        ("contract-results", "contract_result", "api_results"),
    ):
        app.get(f"/api/datasets/{{dataset:path}}/{path}")(_detail_field(field, name))

    @app.get("/api/datasets/{dataset:path}")
    def api_dataset(dataset: str, store: StoreDep, access: AccessDep) -> dict[str, Any]:
        detail = _detail_or_error(store, access, dataset)
        return queries.detail_to_dict(detail)

    return app


app = create_app()
