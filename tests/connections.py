"""Airflow connections for test warehouses: a plain module (no fixtures, no side effects), so the
e2e harness and the benchmarks that import it do not load tests/conftest.py."""

from __future__ import annotations

import json
from typing import Any


def connection(url: str) -> dict[str, Any]:
    """The Airflow connection (as a dict) of a warehouse URL, of the provider's own type."""
    import sqlalchemy as sa

    u = sa.make_url(url)
    backend = u.get_backend_name()
    if backend in ("sqlite", "duckdb"):
        return {"conn_type": backend, "host": u.database}
    conn_type = {"postgresql": "postgres", "mysql": "mysql"}[backend]
    extra = {"charset": "utf8mb4"} if backend == "mysql" else {}
    return {
        "conn_type": conn_type,
        "host": u.host,
        "port": u.port,
        "login": u.username,
        "password": u.password or "",
        "schema": u.database,
        "extra": extra,
    }


def connection_json(url: str) -> str:
    """The ``AIRFLOW_CONN_…`` value of a warehouse URL."""
    return json.dumps(connection(url))
