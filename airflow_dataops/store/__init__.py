"""The one door to our state database: ledger, SLI history, contract results, breaches.

``StateStore`` owns the engine and the migrations; the ledger primitives live in
``store.ledger`` and the rest of the records in ``store.records``.  Tasks, the
CLI and the API-server plugin all come through here.
"""

from __future__ import annotations

from airflow_dataops.store.engine import StateStore, redact_url

__all__ = ["StateStore", "redact_url"]
