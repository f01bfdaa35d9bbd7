"""This process's clock, and the one rule for the datetimes we read back, in one place.

``utcnow()`` is for records and display (when a result was checked, when a page was drawn).
Leases and ledger times never use it: they read the store's clock inside the ledger's
transaction (:func:`airflow_dataops.store.ledger.store_now`), so a worker whose clock is off
cannot expire a live lease.  Modules import the function by name (``from airflow_dataops.clock
import utcnow``), so a test can still pin the time of one module with ``monkeypatch.setattr``.

``as_utc()`` reads a stored time: everything we store is UTC, and SQLite hands datetimes back
naive, so a naive value is UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, overload


def utcnow() -> datetime:
    """Now, timezone-aware in UTC, by this process's clock."""
    return datetime.now(timezone.utc)


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: None) -> None: ...
@overload
def as_utc(value: datetime | None) -> datetime | None: ...
def as_utc(value: datetime | None) -> datetime | None:
    """A stored time, timezone-aware: a naive value is taken as UTC, an aware one is kept."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def utc_fields(row: Mapping[str, Any], *names: str) -> dict[str, Any]:
    """``row`` as a dict, with the datetimes under ``names`` made aware (:func:`as_utc`)."""
    out = dict(row)
    for name in names:
        out[name] = as_utc(out[name])
    return out


__all__ = ("as_utc", "utc_fields", "utcnow")
