"""Kept partition versions and rollbacks: the SQL behind ``partitions rollback`` and ``prune``.

``dataops_partition_versions`` indexes the superseded versions kept in the warehouse
(``<table>__versions``); ``dataops_rollbacks`` says which version each rollback restored.
A rollback claims the partition like an apply (same row lock, same fencing token: a new
history row, ``action = rollback``), so it is fenced, taken over and failed by the same code
as a publish (``store.ledger.commit_fenced`` / ``fail``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select, update

from airflow_dataops.clock import as_utc, utc_fields
from airflow_dataops.store import tables as t
from airflow_dataops.store.engine import StateStore
from airflow_dataops.store.ledger import (
    APPLYING,
    PUBLISHED_STATES,
    SUPERSEDED,
    Claim,
    HistoryEntry,
    PartitionState,
    current_row,
    history_row,
    last_published,
    mark_taken_over,
    store_now,
)

ROLLBACK = "rollback"  # the history action of a rollback
ROLLED_BACK = "rolled_back"  # the history state of the version a rollback replaced


@dataclass(frozen=True, kw_only=True)
class VersionRecord:
    """One kept version of a partition (its rows are in ``versions_table`` unless purged)."""

    id: int
    dataset: str
    partition_key: str
    apply_id: int
    rows: int
    checksum: str
    versions_table: str
    db_schema: str | None
    kept_at: datetime
    kept_by_apply: int | None
    purged_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> VersionRecord:
        return cls(**utc_fields(row._mapping, "kept_at", "purged_at"))

    def as_dict(self) -> dict[str, Any]:
        return {
            "apply_id": self.apply_id,
            "rows": self.rows,
            "checksum": self.checksum,
            "kept_at": self.kept_at.isoformat(timespec="seconds"),
            "replaced_by": self.kept_by_apply,
            "table": self.versions_table,
            "purged_at": self.purged_at.isoformat(timespec="seconds") if self.purged_at else None,
        }


@dataclass(frozen=True, kw_only=True)
class RollbackClaim:
    """Permission to restore ``version`` into the partition, fenced by ``claim.apply_id``."""

    claim: Claim
    version: VersionRecord
    restored: HistoryEntry | None  # the history row of the restored version (contract, gate)


@dataclass(frozen=True, kw_only=True)
class RollbackRefusal:
    """Why a rollback was not started: ``no_partition``, ``not_published``, ``busy``,
    ``no_version``, ``no_such_version``, ``purged`` or ``already_current``."""

    code: str
    current: PartitionState | None
    versions: tuple[VersionRecord, ...] = ()
    version: VersionRecord | None = None


def record_kept(conn: Connection, *, dataset: str, partition_key: str, kept: Any, kept_by: int) -> None:
    """Index a version a replace kept (inside the store transaction that records the replace)."""
    v = t.partition_versions
    values = {
        "rows": kept.rows,
        "checksum": kept.checksum,
        "versions_table": kept.versions_table,
        "db_schema": kept.db_schema,
        "kept_at": store_now(conn),
        "kept_by_apply": kept_by,
        "purged_at": None,
    }
    found = conn.execute(
        select(v.c.id).where(
            v.c.dataset == dataset, v.c.partition_key == partition_key, v.c.apply_id == kept.apply_id
        )
    ).first()
    if found is None:
        conn.execute(
            v.insert().values(dataset=dataset, partition_key=partition_key, apply_id=kept.apply_id, **values)
        )
    else:
        conn.execute(update(v).where(v.c.id == found.id).values(**values))


def _versions(conn: Connection, dataset: str, key: str | None) -> list[VersionRecord]:
    v = t.partition_versions
    query = select(v).where(v.c.dataset == dataset)
    if key is not None:
        query = query.where(v.c.partition_key == key)
    return [
        VersionRecord.from_row(r)
        for r in conn.execute(query.order_by(v.c.partition_key, v.c.apply_id.desc()))
    ]


def list_versions(store: StateStore, dataset: str, key: str | None = None) -> list[VersionRecord]:
    """Kept versions of a dataset (or one partition), newest first per partition, purged ones too."""
    with store.begin(write=False) as conn:
        return _versions(conn, dataset, key)


def restored_by(store: StateStore, dataset: str, key: str | None = None) -> dict[int, dict[str, Any]]:
    """Rollback apply id → which version it restored and which it replaced."""
    r = t.rollbacks
    query = select(r).where(r.c.dataset == dataset)
    if key is not None:
        query = query.where(r.c.partition_key == key)
    with store.begin(write=False) as conn:
        return {row.apply_id: dict(row._mapping) for row in conn.execute(query)}


def choose_version(
    conn: Connection, current: PartitionState, versions: list[VersionRecord], to_apply_id: int | None
) -> VersionRecord | RollbackRefusal:
    """The version a rollback restores: ``to_apply_id``, or the one the current apply replaced."""
    if to_apply_id is not None:
        chosen = next((v for v in versions if v.apply_id == to_apply_id), None)
        if chosen is None:
            return RollbackRefusal(code="no_such_version", current=current, versions=tuple(versions))
    else:
        live = [v for v in versions if v.purged_at is None]
        chosen = next((v for v in live if v.kept_by_apply == current.apply_id), None) or next(
            (v for v in live if v.apply_id != current.apply_id), None
        )
        if chosen is None:
            return RollbackRefusal(code="no_version", current=current, versions=tuple(versions))
    if chosen.purged_at is not None:
        return RollbackRefusal(code="purged", current=current, versions=tuple(versions), version=chosen)
    restored = conn.execute(
        select(t.rollbacks.c.restored_apply_id).where(t.rollbacks.c.apply_id == current.apply_id)
    ).scalar()
    if chosen.apply_id in (current.apply_id, restored):
        return RollbackRefusal(
            code="already_current", current=current, versions=tuple(versions), version=chosen
        )
    return chosen


def claim_rollback(
    store: StateStore,
    *,
    dataset: str,
    partition_key: str,
    to_apply_id: int | None,
    reason: str,
    requested_by: str,
    run_id: str,
    lease: timedelta,
) -> RollbackClaim | RollbackRefusal:
    """Claim the partition for a rollback, under the ledger's row lock, or say why not.

    A live apply (or rollback) holding the partition refuses it (``busy``); one whose lease
    expired (killed) is taken over, exactly as a publish would take it over.
    """
    h, p = t.partition_history, t.partitions
    with store.begin() as conn:
        current = current_row(conn, dataset, partition_key, lock=True)
        now = store_now(conn)
        if current is None:
            return RollbackRefusal(code="no_partition", current=None)
        took_over = None
        if current.state == APPLYING:
            if current.lease_expires_at is not None and current.lease_expires_at > now:
                return RollbackRefusal(code="busy", current=current)
            last = history_row(conn, current.apply_id)
            if last is not None:
                why = (
                    f"{last.action} {last.run_id} attempt {last.attempt} did not finish (killed or lost); "
                    f"taken over by a rollback requested by {requested_by}"
                )
                mark_taken_over(conn, last, why, now)
            took_over = last
            current = last_published(conn, dataset, partition_key)
            if current is None:
                return RollbackRefusal(code="not_published", current=None)
        elif current.state not in PUBLISHED_STATES:
            return RollbackRefusal(code="not_published", current=current)
        chosen = choose_version(conn, current, _versions(conn, dataset, partition_key), to_apply_id)
        if isinstance(chosen, RollbackRefusal):
            return chosen
        restored = history_row(conn, chosen.apply_id)
        apply_id = conn.execute(  # type: ignore[index]
            h.insert().values(
                dataset=dataset,
                partition_key=partition_key,
                action=ROLLBACK,
                state=APPLYING,
                dag_id=current.dag_id,
                task_id=restored.task_id if restored else None,
                run_id=run_id,
                attempt=1,
                contract_version=restored.contract_version if restored else None,
                requested_by=requested_by,
                reason=reason,
                started_at=now,
            )
        ).inserted_primary_key[0]
        conn.execute(
            update(p)
            .where(p.c.dataset == dataset, p.c.partition_key == partition_key)
            .values(
                state=APPLYING,
                apply_id=apply_id,
                run_id=run_id,
                attempt=1,
                lease_expires_at=now + lease,
                updated_at=now,
            )
        )
        claim = Claim(
            apply_id=int(apply_id),
            dataset=dataset,
            partition_key=partition_key,
            action=ROLLBACK,
            reason=reason,
            requested_by=requested_by,
            previous=current,
            took_over_from=took_over,
        )
        return RollbackClaim(claim=claim, version=chosen, restored=restored)


def record_rollback(conn: Connection, rc: RollbackClaim, kept: Any) -> None:
    """In the rollback's fence transaction: the replaced version is kept and marked rolled back."""
    claim, h = rc.claim, t.partition_history
    previous = claim.previous.apply_id if claim.previous else None
    if kept is not None:
        record_kept(
            conn, dataset=claim.dataset, partition_key=claim.partition_key, kept=kept, kept_by=claim.apply_id
        )
    if previous is not None:
        conn.execute(
            update(h)
            .where(h.c.id == previous, h.c.state.in_((SUPERSEDED, *PUBLISHED_STATES)))
            .values(state=ROLLED_BACK)
        )
    conn.execute(
        t.rollbacks.insert().values(
            apply_id=claim.apply_id,
            dataset=claim.dataset,
            partition_key=claim.partition_key,
            restored_apply_id=rc.version.apply_id,
            replaced_apply_id=previous,
        )
    )


def mark_purged(store: StateStore, ids: list[int]) -> datetime:
    """Mark kept versions purged (before their rows are deleted: never claim rows that are gone)."""
    v = t.partition_versions
    with store.begin() as conn:
        now = store_now(conn)
        if ids:
            conn.execute(
                update(v).where(v.c.id.in_(sorted(ids)), v.c.purged_at.is_(None)).values(purged_at=now)
            )
        return now


def purged_apply_ids(store: StateStore, dataset: str) -> list[int]:
    v = t.partition_versions
    with store.begin(write=False) as conn:
        return list(
            conn.execute(
                select(v.c.apply_id).where(v.c.dataset == dataset, v.c.purged_at.is_not(None))
            ).scalars()
        )


def versions_by_partition(store: StateStore, dataset: str) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Per partition: its kept versions (``superseded``, ``rolled_back`` or ``purged``) and the
    rollbacks that completed, newest first, with who asked and why (the UI's ledger table)."""
    r, h = t.rollbacks, t.partition_history
    with store.begin(write=False) as conn:
        versions = _versions(conn, dataset, None)
        query = (
            select(
                r.c.apply_id,
                r.c.partition_key,
                r.c.restored_apply_id,
                r.c.replaced_apply_id,
                h.c.reason,
                h.c.requested_by,
                h.c.finished_at,
            )
            .join(h, h.c.id == r.c.apply_id)
            .where(r.c.dataset == dataset)
            .order_by(r.c.apply_id.desc())
        )
        rollbacks = list(conn.execute(query))
    by_rollback = {row.apply_id for row in rollbacks}
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for v in versions:
        item = v.as_dict()
        item["state"] = (
            "purged" if v.purged_at else ROLLED_BACK if v.kept_by_apply in by_rollback else SUPERSEDED
        )
        out.setdefault(v.partition_key, {"versions": [], "rollbacks": []})["versions"].append(item)
    for row in rollbacks:
        at = as_utc(row.finished_at)
        out.setdefault(row.partition_key, {"versions": [], "rollbacks": []})["rollbacks"].append(
            {
                "apply_id": row.apply_id,
                "restored": row.restored_apply_id,
                "replaced": row.replaced_apply_id,
                "reason": row.reason,
                "requested_by": row.requested_by,
                "at": at.isoformat(timespec="seconds") if at else None,
            }
        )
    return out
