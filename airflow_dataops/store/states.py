"""The ledger's partition states, in one place: every module that reads or writes a state names it from here.

::

    applying     an attempt holds the partition (a live lease) and has not finished
    applied      published; every staged row passed the gate
    quarantined  published, with some rows moved to ``<table>__quarantine``
    failed       the attempt ended without publishing; the previous version (if any) stands
    superseded   a published apply that a later apply (or a rollback) replaced, kept in history
    refused      an attempt the ledger turned away (already applied, being applied, a fence lost)
"""

from __future__ import annotations

APPLYING = "applying"
APPLIED = "applied"
QUARANTINED = "quarantined"
FAILED = "failed"
SUPERSEDED = "superseded"
REFUSED = "refused"

#: The states whose partition is live in the warehouse.
PUBLISHED_STATES = (APPLIED, QUARANTINED)


def published_state(rows_quarantined: int | None) -> str:
    """The state a successful publish records: ``quarantined`` when it moved rows aside."""
    return QUARANTINED if rows_quarantined else APPLIED


__all__ = (
    "APPLIED",
    "APPLYING",
    "FAILED",
    "PUBLISHED_STATES",
    "QUARANTINED",
    "REFUSED",
    "SUPERSEDED",
    "published_state",
)
