"""High-water marks of the store: what changed since a reader last looked.

The UI keeps an evaluated snapshot of every dataset; on each request it reads these marks
(max SLI id, latest registration and partition write, breach ids) and re-evaluates only the
datasets that changed since, instead of every dataset.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from airflow_dataops.store import tables as t
from airflow_dataops.store.engine import StateStore


@dataclass(frozen=True)
class StoreMarks:
    """High-water marks of everything the overview shows (SLIs and breaches are append-mostly)."""

    sli_id: int | None
    datasets: int
    datasets_at: datetime | None
    partitions_at: datetime | None
    breach_id: int | None
    resolved: int


def read_marks(store: StateStore) -> StoreMarks:
    with store.begin(write=False) as conn:
        sli = conn.execute(select(func.max(t.sli_observations.c.id))).scalar()
        ds = conn.execute(select(func.count(), func.max(t.datasets.c.updated_at))).first()
        parts = conn.execute(select(func.max(t.partitions.c.updated_at))).scalar()
        br = conn.execute(select(func.max(t.breaches.c.id), func.count(t.breaches.c.resolved_at))).first()
    return StoreMarks(
        sli,
        int(ds[0]) if ds else 0,
        ds[1] if ds else None,
        parts,
        br[0] if br else None,
        int(br[1]) if br else 0,
    )


def changed_datasets(store: StateStore, old: StoreMarks, new: StoreMarks, evaluated_at: datetime) -> set[str]:
    """The datasets with a new SLI, partition write, registration or breach change since ``old``."""
    changed: set[str] = set()
    sli, d, p, b = t.sli_observations.c, t.datasets.c, t.partitions.c, t.breaches.c
    with store.begin(write=False) as conn:
        if new.sli_id != old.sli_id:
            changed.update(
                conn.execute(select(sli.dataset).where(sli.id > (old.sli_id or 0)).distinct()).scalars()
            )
        if new.datasets_at != old.datasets_at and old.datasets_at is not None:
            changed.update(conn.execute(select(d.dataset).where(d.updated_at > old.datasets_at)).scalars())
        if new.partitions_at != old.partitions_at:
            query = select(p.dataset).distinct()
            if old.partitions_at is not None:
                query = query.where(p.updated_at > old.partitions_at)
            changed.update(conn.execute(query).scalars())
        if (new.breach_id, new.resolved) != (old.breach_id, old.resolved):
            since = evaluated_at - timedelta(minutes=5)
            changed.update(
                conn.execute(
                    select(b.dataset)
                    .where((b.id > (old.breach_id or 0)) | (b.resolved_at >= since))
                    .distinct()
                ).scalars()
            )
    return changed


def dataset_rows(store: StateStore, names: Collection[str]) -> list[dict[str, Any]]:
    """The registration rows of ``names`` (those that exist)."""
    if not names:
        return []
    with store.begin(write=False) as conn:
        query = select(t.datasets).where(t.datasets.c.dataset.in_(sorted(names)))
        return [dict(r._mapping) for r in conn.execute(query)]
