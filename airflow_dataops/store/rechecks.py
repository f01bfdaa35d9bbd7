"""SLO re-check requests: "evaluate this dataset's SLOs now, do not wait for the schedule".

Written by whatever may have just fixed a dataset (a successful rerun of one of its partitions,
a publish while a breach is open, a ``partitions verify`` that found every partition right);
read by the evaluator DAG's asset watcher (``triggers/recheck.SLORecheckTrigger``), which fires
as soon as an unconsumed request exists; answered by ``SLOEvaluationOperator``, which marks the
requests it saw consumed before it evaluates (so a request made during an evaluation is answered
by the next one, never lost).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update

from airflow_dataops.clock import utcnow
from airflow_dataops.store import tables as t
from airflow_dataops.store.engine import StateStore

__all__ = ["RecheckRequest", "consume_rechecks", "pending_recheck", "request_recheck"]


@dataclass(frozen=True)
class RecheckRequest:
    id: int
    dataset: str
    reason: str
    requested_by: str
    requested_at: datetime


def request_recheck(store: StateStore, dataset: str, *, reason: str, requested_by: str) -> int:
    """Record one request; returns its id."""
    with store.begin() as conn:
        new_id = conn.execute(
            t.slo_rechecks.insert()
            .values(
                dataset=dataset, reason=reason[:2000], requested_by=requested_by[:250], requested_at=utcnow()
            )
            .returning(t.slo_rechecks.c.id)
        ).scalar_one()
        return int(new_id)


def pending_recheck(store: StateStore) -> int | None:
    """The newest unconsumed request's id, or None: the watcher's one cheap poll (an index read)."""
    c = t.slo_rechecks.c
    with store.begin(write=False) as conn:
        value = conn.execute(select(func.max(c.id)).where(c.consumed_at.is_(None))).scalar_one_or_none()
    return None if value is None else int(value)


def consume_rechecks(store: StateStore) -> list[RecheckRequest]:
    """Mark every unconsumed request consumed and return them (oldest first)."""
    c = t.slo_rechecks.c
    with store.begin() as conn:
        rows = conn.execute(select(t.slo_rechecks).where(c.consumed_at.is_(None)).order_by(c.id)).all()
        if rows:
            conn.execute(
                update(t.slo_rechecks)
                .where(c.id <= rows[-1].id, c.consumed_at.is_(None))
                .values(consumed_at=utcnow())
            )
    return [RecheckRequest(r.id, r.dataset, r.reason, r.requested_by, r.requested_at) for r in rows]
