"""The Airflow plugin of airflow-dataops (entry point ``airflow.plugins`` and the provider's ``plugins``).

Kept import-light: Airflow loads plugins in every process (tasks, CLI, scheduler), but
only the API server serves the UI.  ``fastapi_apps`` therefore holds a small ASGI
callable that imports the real FastAPI app (``airflow_dataops.plugins.app``) on the
first request, so importing this module never imports FastAPI or our store.

What it adds to Airflow 3's UI:

* ``/dataops`` — the app: HTML pages and a JSON API (see ``airflow_dataops.plugins.app``);
* a "Data SLOs" entry in the navigation (``destination: "nav"``);
* a "Datasets" tab on every DAG (``destination: "dag"``, ``{DAG_ID}`` filled in by the UI).
"""

from __future__ import annotations

import threading
from typing import Any

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/dataops"

# A gauge, drawn in the UI's nav (a data: URI needs no route and no authentication).
_ICON = (
    "data:image/svg+xml;utf8,<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 24 24' fill='none' "
    "stroke='%23{c}' stroke-width='2' stroke-linecap='round'><path d='M4 18a8 8 0 1 1 16 0'/>"
    "<path d='M12 18l4-6'/></svg>"
)


class LazyASGIApp:
    """An ASGI app that imports ``airflow_dataops.plugins.app:app`` on its first call."""

    def __init__(self) -> None:
        self._app: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._app is None:
            with self._lock:
                if self._app is None:
                    from airflow_dataops.plugins.app import app

                    self._app = app
        return self._app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self._load()(scope, receive, send)


class DataOpsPlugin(AirflowPlugin):
    name = "dataops"
    fastapi_apps = [{"app": LazyASGIApp(), "url_prefix": URL_PREFIX, "name": "dataops"}]
    external_views = [
        {
            "name": "Data SLOs",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "url_route": "dataops",
            "icon": _ICON.format(c="4a5568"),
            "icon_dark_mode": _ICON.format(c="e2e8f0"),
        },
        {
            "name": "Datasets",
            "href": f"{URL_PREFIX}/dags/{{DAG_ID}}",
            "destination": "dag",
            "url_route": "dataops-dag",
        },
    ]
