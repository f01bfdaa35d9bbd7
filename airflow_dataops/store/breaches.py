"""SLO breach episodes in ``dataops_breaches``.

:func:`open_breaches` lists the open ones in one read; :func:`open_breach` and
:func:`resolve_breach` decide in one write transaction, and stamp ``notified_open_at`` /
``notified_resolve_at`` in that same transaction, so when two evaluators run at once exactly
one of them is told to notify.  SQLite serialises the two with ``BEGIN IMMEDIATE``; PostgreSQL
with a transaction-level advisory lock on ``(dataset, slo)`` (an insert has no row to lock yet).

Notification is "at most once": the stamp is written when the decision is made, before the
notifier runs; a notifier that fails afterwards is logged by the caller, not retried.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, desc, select, text, update

from airflow_dataops.clock import as_utc, utcnow
from airflow_dataops.store import tables as t
from airflow_dataops.store.engine import StateStore

__all__ = [
    "BreachChange",
    "BreachEpisode",
    "apply_breach_changes",
    "list_breaches",
    "open_breach",
    "open_breaches",
    "resolve_breach",
]


@dataclass(frozen=True, kw_only=True)
class BreachEpisode:
    """One breach of one SLO of one dataset, from the alert that opened it to its resolution."""

    id: int
    dataset: str
    slo: str
    severity: str
    opened_at: datetime
    resolved_at: datetime | None
    burn_rates: Mapping[str, Any] | None
    notified_open_at: datetime | None
    notified_resolve_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    @classmethod
    def from_row(cls, row: Any) -> BreachEpisode:
        m = row._mapping
        return cls(
            id=int(m["id"]),
            dataset=m["dataset"],
            slo=m["slo"],
            severity=m["severity"],
            opened_at=as_utc(m["opened_at"]),  # type: ignore[arg-type]
            resolved_at=as_utc(m["resolved_at"]),
            burn_rates=m["burn_rates"],
            notified_open_at=as_utc(m["notified_open_at"]),
            notified_resolve_at=as_utc(m["notified_resolve_at"]),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "dataset": self.dataset,
            "slo": self.slo,
            "severity": self.severity,
            "opened_at": self.opened_at.isoformat(),
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
            "burn_rates": dict(self.burn_rates or {}),
        }


def open_breaches(
    store: StateStore, *, datasets: Collection[str] | None = None
) -> dict[tuple[str, str], BreachEpisode]:
    """The open episodes, keyed by ``(dataset, slo)``, in one read."""
    b = t.breaches.c
    query = select(t.breaches).where(b.resolved_at.is_(None))
    if datasets is not None:
        query = query.where(b.dataset.in_(sorted(set(datasets))))
    with store.begin(write=False) as conn:
        return {
            (e.dataset, e.slo): e for e in map(BreachEpisode.from_row, conn.execute(query.order_by(b.id)))
        }


def list_breaches(store: StateStore, dataset: str | None = None, *, limit: int = 100) -> list[BreachEpisode]:
    """Episodes, newest first."""
    b = t.breaches.c
    query = select(t.breaches)
    if dataset is not None:
        query = query.where(b.dataset == dataset)
    with store.begin(write=False) as conn:
        return [BreachEpisode.from_row(r) for r in conn.execute(query.order_by(desc(b.id)).limit(limit))]


@dataclass(frozen=True, kw_only=True)
class BreachChange:
    """What an evaluator wants for one SLO: ``open=True`` (with a severity) or resolve."""

    dataset: str
    slo: str
    open: bool
    severity: str = "ticket"
    burn_rates: Mapping[str, Any] = field(default_factory=dict)


def _lock(conn: Connection, store: StateStore, keys: Collection[tuple[str, str]]) -> None:
    """Serialise deciders of these ``(dataset, slo)`` (SQLite already holds its write lock)."""
    if store.dialect != "postgresql":
        return
    for dataset, slo in sorted(set(keys)):  # one order everywhere: no deadlock between two evaluators
        digest = hashlib.blake2b(f"dataops-breach\x00{dataset}\x00{slo}".encode(), digest_size=8).digest()
        conn.execute(
            text("SELECT pg_advisory_xact_lock(:k)"), {"k": int.from_bytes(digest, "big", signed=True)}
        )


def _open_rows(conn: Connection, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], BreachEpisode]:
    b = t.breaches.c
    names = sorted({d for d, _ in keys})
    rows = conn.execute(
        select(t.breaches).where(and_(b.dataset.in_(names), b.resolved_at.is_(None))).order_by(b.id)
    )
    wanted = set(keys)
    return {(e.dataset, e.slo): e for e in map(BreachEpisode.from_row, rows) if (e.dataset, e.slo) in wanted}


def apply_breach_changes(
    store: StateStore, changes: Collection[BreachChange], *, now: datetime | None = None
) -> list[tuple[str, BreachEpisode]]:
    """Open and resolve episodes in ONE write transaction; return what THIS call changed.

    Each change is re-checked under the lock: an open request for an SLO that already has an
    open episode does not open another (it raises the episode's severity to ``page`` when
    asked, silently); a resolve request for an SLO without an open episode does nothing.
    Opening stamps ``notified_open_at``, resolving ``notified_resolve_at``, in the same
    transaction: the caller must notify for each ``("open" | "resolved", episode)`` returned.
    """
    now = now or utcnow()
    b = t.breaches.c
    keys = [(c.dataset, c.slo) for c in changes]
    if not keys:
        return []
    out: list[tuple[str, BreachEpisode]] = []
    with store.begin() as conn:
        _lock(conn, store, keys)
        current = _open_rows(conn, keys)
        opened_ids: list[int] = []
        resolved_ids: list[int] = []
        for change in changes:
            key = (change.dataset, change.slo)
            episode = current.get(key)
            if change.open:
                if episode is None:
                    new_id = conn.execute(
                        t.breaches.insert().values(
                            dataset=change.dataset,
                            slo=change.slo,
                            severity=change.severity,
                            opened_at=now,
                            burn_rates=dict(change.burn_rates),
                            notified_open_at=now,
                        )
                    ).inserted_primary_key[0]  # type: ignore[index]
                    opened_ids.append(int(new_id))
                    current[key] = BreachEpisode(
                        id=int(new_id),
                        dataset=change.dataset,
                        slo=change.slo,
                        severity=change.severity,
                        opened_at=now,
                        resolved_at=None,
                        burn_rates=dict(change.burn_rates),
                        notified_open_at=now,
                        notified_resolve_at=None,
                    )
                elif change.severity == "page" and episode.severity != "page":
                    conn.execute(
                        update(t.breaches)
                        .where(b.id == episode.id)
                        .values(severity="page", burn_rates=dict(change.burn_rates))
                    )
            elif episode is not None:
                conn.execute(
                    update(t.breaches)
                    .where(and_(b.id == episode.id, b.resolved_at.is_(None)))
                    .values(resolved_at=now, notified_resolve_at=now, burn_rates=dict(change.burn_rates))
                )
                resolved_ids.append(episode.id)
                del current[key]
        ids = opened_ids + resolved_ids
        if ids:
            rows = {
                r.id: BreachEpisode.from_row(r) for r in conn.execute(select(t.breaches).where(b.id.in_(ids)))
            }
            out = [("open", rows[i]) for i in opened_ids] + [("resolved", rows[i]) for i in resolved_ids]
    return out


def open_breach(
    store: StateStore,
    dataset: str,
    slo: str,
    *,
    severity: str,
    burn_rates: Mapping[str, Any],
    now: datetime | None = None,
) -> tuple[BreachEpisode, bool]:
    """Open an episode for ``(dataset, slo)`` unless one is open (see :func:`apply_breach_changes`).

    :returns: ``(episode, True)`` when this call opened it (the caller must notify),
        ``(open episode, False)`` when one was already open.
    """
    change = BreachChange(dataset=dataset, slo=slo, open=True, severity=severity, burn_rates=burn_rates)
    done = apply_breach_changes(store, [change], now=now)
    if done:
        return done[0][1], True
    episode = open_breaches(store, datasets=[dataset])[(dataset, slo)]
    return episode, False


def resolve_breach(
    store: StateStore,
    dataset: str,
    slo: str,
    *,
    burn_rates: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> BreachEpisode | None:
    """Resolve the open episode of ``(dataset, slo)``: the episode if this call resolved it
    (the caller must notify), ``None`` when none was open."""
    change = BreachChange(dataset=dataset, slo=slo, open=False, burn_rates=burn_rates or {})
    done = apply_breach_changes(store, [change], now=now)
    return done[0][1] if done else None
