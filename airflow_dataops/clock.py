"""This process's clock, in one place.

``utcnow()`` is for records and display (when a result was checked, when a page was drawn).
Leases and ledger times never use it: they read the store's clock inside the ledger's
transaction (:func:`airflow_dataops.store.ledger.store_now`), so a worker whose clock is off
cannot expire a live lease.  Modules import the function by name (``from airflow_dataops.clock
import utcnow``), so a test can still pin the time of one module with ``monkeypatch.setattr``.
"""

from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    """Now, timezone-aware in UTC, by this process's clock."""
    return datetime.now(timezone.utc)


__all__ = ("utcnow",)
