"""SLI columns for the evaluator, and SLO breach episodes.

Two jobs, both SQL:

* :func:`read_sli_columns` reads the SLI rows the evaluator needs as plain columns
  (Unix seconds computed by the database, ``value``, ``good``, ``unit``, ``partition_key``),
  in ONE query for all datasets, sorted, with no ORM object and no ``datetime`` per row.
  :func:`latest_sli` finds the newest row of a dataset and kind however old it is (the
  evaluator needs it to see a dataset that went silent).
* Breach episodes in ``dataops_breaches``: :func:`open_breaches` lists the open ones in one
  read; :func:`open_breach` and :func:`resolve_breach` decide in one write transaction, and
  stamp ``notified_open_at`` / ``notified_resolve_at`` in that same transaction, so when two
  evaluators run at once exactly one of them is told to notify.  SQLite serialises the two
  with ``BEGIN IMMEDIATE``; PostgreSQL with a transaction-level advisory lock on
  ``(dataset, slo)`` (an insert has no row to lock yet).

Notification is "at most once": the stamp is written when the decision is made, before the
notifier runs; a notifier that fails afterwards is logged by the caller, not retried.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, cast, desc, extract, func, select, text, update
from sqlalchemy.types import Float

from airflow_dataops.store import tables as t
from airflow_dataops.store.engine import StateStore
from airflow_dataops.store.ledger import _aware, utcnow

__all__ = [
    "BreachEpisode",
    "SLIColumns",
    "latest_sli",
    "list_breaches",
    "open_breach",
    "open_breaches",
    "read_sli_columns",
    "resolve_breach",
]

_UNIX_EPOCH_JULIAN = 2440587.5


@dataclass(slots=True)
class SLIColumns:
    """The SLI rows of one dataset and kind, ascending by time, as parallel lists."""

    times: list[float] = field(default_factory=list)  # Unix seconds
    values: list[float | None] = field(default_factory=list)
    goods: list[bool | None] = field(default_factory=list)
    units: list[str] = field(default_factory=list)
    partitions: list[str | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.times)


def _epoch(store: StateStore, column: Any) -> Any:
    """``column`` as Unix seconds (float), computed by the database."""
    if store.dialect == "sqlite":
        # SQLAlchemy stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC here).
        return (func.julianday(column) - _UNIX_EPOCH_JULIAN) * 86400.0
    return cast(extract("epoch", column), Float)


def read_sli_columns(
    store: StateStore,
    *,
    since: datetime,
    until: datetime,
    datasets: Collection[str] | None = None,
    kinds: Collection[str] | None = None,
) -> dict[tuple[str, str], SLIColumns]:
    """SLI rows observed in ``(since, until]``, grouped by ``(dataset, kind)``, in one query.

    :param datasets: only these datasets (default: all).
    :param kinds: only these kinds (default: all).
    :returns: ``{(dataset, kind): SLIColumns}`` sorted by time (ties by insertion order).
    """
    c = t.sli_observations.c
    query = select(
        c.dataset, c.kind, _epoch(store, c.observed_at), c.value, c.good, c.unit, c.partition_key
    ).where(c.observed_at > since, c.observed_at <= until)
    if datasets is not None:
        names = sorted(set(datasets))
        if not names:
            return {}
        query = query.where(c.dataset.in_(names))
    if kinds is not None:
        query = query.where(c.kind.in_(sorted(set(kinds))))
    query = query.order_by(c.dataset, c.kind, c.observed_at, c.id)
    out: dict[tuple[str, str], SLIColumns] = {}
    key: tuple[str, str] | None = None
    cols = SLIColumns()
    with store.begin(write=False) as conn:
        result = conn.execute(query)
        while rows := result.fetchmany(20_000):
            for dataset, kind, epoch, value, good, unit, part in rows:
                if key is None or key[0] != dataset or key[1] != kind:
                    key = (dataset, kind)
                    cols = out.setdefault(key, SLIColumns())
                cols.times.append(epoch)
                cols.values.append(value)
                cols.goods.append(None if good is None else bool(good))
                cols.units.append(unit)
                cols.partitions.append(part)
    return out


def latest_sli(
    store: StateStore, dataset: str, kind: str, *, until: datetime | None = None, with_value: bool = False
) -> tuple[float, float | None, bool | None, str, Mapping[str, Any] | None] | None:
    """The newest SLI row of ``dataset`` and ``kind`` observed at or before ``until``.

    :param with_value: skip rows whose ``value`` is NULL.
    :returns: ``(unix seconds, value, good, unit, details)`` or ``None`` when there is none.
    """
    c = t.sli_observations.c
    query = select(_epoch(store, c.observed_at), c.value, c.good, c.unit, c.details).where(
        c.dataset == dataset, c.kind == kind
    )
    if until is not None:
        query = query.where(c.observed_at <= until)
    if with_value:
        query = query.where(c.value.is_not(None))
    query = query.order_by(desc(c.observed_at), desc(c.id)).limit(1)
    with store.begin(write=False) as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    epoch, value, good, unit, details = row
    return float(epoch), value, None if good is None else bool(good), unit, details


# ---------------------------------------------------------------------------------- breaches


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
            opened_at=_aware(m["opened_at"]),  # type: ignore[arg-type]
            resolved_at=_aware(m["resolved_at"]),
            burn_rates=m["burn_rates"],
            notified_open_at=_aware(m["notified_open_at"]),
            notified_resolve_at=_aware(m["notified_resolve_at"]),
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


def _lock(conn: Connection, store: StateStore, dataset: str, slo: str) -> None:
    """Serialise deciders of one ``(dataset, slo)`` (SQLite already holds its write lock)."""
    if store.dialect == "postgresql":
        digest = hashlib.blake2b(f"dataops-breach\x00{dataset}\x00{slo}".encode(), digest_size=8).digest()
        key = int.from_bytes(digest, "big", signed=True)
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def _current_open(conn: Connection, dataset: str, slo: str) -> BreachEpisode | None:
    b = t.breaches.c
    row = conn.execute(
        select(t.breaches)
        .where(and_(b.dataset == dataset, b.slo == slo, b.resolved_at.is_(None)))
        .order_by(desc(b.id))
        .limit(1)
    ).first()
    return BreachEpisode.from_row(row) if row is not None else None


def open_breach(
    store: StateStore,
    dataset: str,
    slo: str,
    *,
    severity: str,
    burn_rates: Mapping[str, Any],
    now: datetime | None = None,
) -> tuple[BreachEpisode, bool]:
    """Open an episode for ``(dataset, slo)`` unless one is open; one write transaction.

    :returns: ``(episode, True)`` when this call opened it (and stamped ``notified_open_at``:
        the caller must notify), ``(open episode, False)`` when one was already open (its
        severity is raised to ``page`` if ``severity`` is ``page``; nobody is notified again).
    """
    now = now or utcnow()
    b = t.breaches.c
    with store.begin() as conn:
        _lock(conn, store, dataset, slo)
        current = _current_open(conn, dataset, slo)
        if current is not None:
            if severity == "page" and current.severity != "page":
                conn.execute(
                    update(t.breaches)
                    .where(b.id == current.id)
                    .values(severity="page", burn_rates=dict(burn_rates))
                )
                current = _current_open(conn, dataset, slo)
            return current, False  # type: ignore[return-value]
        new_id = conn.execute(
            t.breaches.insert().values(
                dataset=dataset,
                slo=slo,
                severity=severity,
                opened_at=now,
                burn_rates=dict(burn_rates),
                notified_open_at=now,
            )
        ).inserted_primary_key[0]
        row = conn.execute(select(t.breaches).where(b.id == new_id)).first()
        return BreachEpisode.from_row(row), True


def resolve_breach(
    store: StateStore,
    dataset: str,
    slo: str,
    *,
    burn_rates: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> BreachEpisode | None:
    """Resolve the open episode of ``(dataset, slo)``; one write transaction.

    :returns: the resolved episode when this call resolved it (and stamped
        ``notified_resolve_at``: the caller must notify), ``None`` when none was open.
    """
    now = now or utcnow()
    b = t.breaches.c
    with store.begin() as conn:
        _lock(conn, store, dataset, slo)
        current = _current_open(conn, dataset, slo)
        if current is None:
            return None
        values: dict[str, Any] = {"resolved_at": now, "notified_resolve_at": now}
        if burn_rates is not None:
            values["burn_rates"] = dict(burn_rates)
        conn.execute(
            update(t.breaches).where(and_(b.id == current.id, b.resolved_at.is_(None))).values(**values)
        )
        row = conn.execute(select(t.breaches).where(b.id == current.id)).first()
        return BreachEpisode.from_row(row)
