"""Reads for the operational report (``airflow dataops report``): what happened in a period.

One read transaction, one statement each: the datasets' owners, the breach episodes that overlap
the period, the ledger history's publish attempts and the rerun requests (from the earlier of the
period's start and the oldest such episode's opening), and the freshness SLI observations judged bad.  The arithmetic is :mod:`airflow_dataops.report`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select

from airflow_dataops.clock import as_utc
from airflow_dataops.store import tables as t
from airflow_dataops.store.engine import StateStore

__all__ = ["Attempt", "OpsRows", "read_ops_rows"]


@dataclass(frozen=True, kw_only=True)
class Attempt:
    """One publish attempt (a ledger history row of action ``apply`` or ``rerun``)."""

    dataset: str
    partition_key: str
    action: str
    state: str
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class OpsRows:
    owners: dict[str, str | None]  # dataset → owner (from its contract), every registered dataset
    attempts: list[Attempt]  # started in the period
    activity: list[tuple[str, datetime]]  # (dataset, when): attempts and rerun requests, any time
    breaches: list[dict[str, Any]]  # episodes opened before the end and not resolved before the start
    sla_violations: list[tuple[str, datetime]]  # (dataset, observed_at): bad freshness SLIs in the period


def read_ops_rows(store: StateStore, since: datetime, until: datetime) -> OpsRows:
    """Everything the report needs about ``[since, until)``, in one read transaction."""
    h, b, s, d, r = (
        t.partition_history.c,
        t.breaches.c,
        t.sli_observations.c,
        t.datasets.c,
        t.rerun_requests.c,
    )
    with store.begin(write=False) as conn:
        owners = {row.dataset: row.owner for row in conn.execute(select(d.dataset, d.owner))}
        breaches = [
            {
                "dataset": row.dataset,
                "slo": row.slo,
                "severity": row.severity,
                "opened_at": as_utc(row.opened_at),
                "resolved_at": as_utc(row.resolved_at),
            }
            for row in conn.execute(
                select(b.dataset, b.slo, b.severity, b.opened_at, b.resolved_at)
                .where(b.opened_at < until, or_(b.resolved_at.is_(None), b.resolved_at >= since))
                .order_by(b.opened_at, b.id)
            )
        ]
        # One read of the history from the earliest instant either use needs: the period's attempts,
        # and every attempt since the oldest episode opened (the activity that explains a resolution).
        first = min([since, *(e["opened_at"] for e in breaches)])
        history = [
            Attempt(
                dataset=row.dataset,
                partition_key=row.partition_key,
                action=row.action,
                state=row.state,
                started_at=as_utc(row.started_at),  # type: ignore[arg-type]
                finished_at=as_utc(row.finished_at),
            )
            for row in conn.execute(
                select(h.dataset, h.partition_key, h.action, h.state, h.started_at, h.finished_at)
                .where(h.action.in_(("apply", "rerun")), h.started_at >= first, h.started_at < until)
                .order_by(h.started_at, h.id)
            )
        ]
        attempts = [a for a in history if a.started_at >= since]
        activity = [(a.dataset, a.started_at) for a in history] + [
            (row.dataset, as_utc(row.at))
            for row in conn.execute(
                select(r.dataset, r.requested_at.label("at")).where(
                    r.requested_at >= first, r.requested_at < until
                )
            )
        ]
        violations = [
            (row.dataset, as_utc(row.observed_at))
            for row in conn.execute(
                select(s.dataset, s.observed_at).where(
                    and_(
                        s.kind == "freshness",
                        s.good.is_(False),
                        s.observed_at >= since,
                        s.observed_at < until,
                    )
                )
            )
        ]
    return OpsRows(
        owners=owners,
        attempts=attempts,
        activity=activity,  # type: ignore[arg-type]
        breaches=breaches,
        sla_violations=violations,  # type: ignore[arg-type]
    )
