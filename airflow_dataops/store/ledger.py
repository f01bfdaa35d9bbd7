"""Ledger primitives: the SQL behind claim → finish / fail, refusals and rerun requests.

The policy (what to say, whether to skip or fail) lives in
``airflow_dataops.partitions.ledger``; this module only reads and writes rows,
each decision inside one write transaction so that two appliers cannot both win.

Why one module of ~650 lines: it is one protocol (claim → fence → finish / fail, the row
lock and the store's clock it runs on, docs/architecture.md "Ledger protocol and fencing"),
and the row types and row readers are the ones every step of it uses; split apart, the
locking rules would be read in two places.  The read-only helpers at the end are a few
lines each; ``store.versions`` (rollbacks) reuses the row readers.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, and_, func, select, update
from sqlalchemy.exc import IntegrityError

from airflow_dataops.clock import as_utc, utc_fields, utcnow  # utcnow: records only, never a lease
from airflow_dataops.store import inputs as lineage_inputs
from airflow_dataops.store import tables as t
from airflow_dataops.store.engine import StateStore
from airflow_dataops.store.states import (
    APPLYING,
    FAILED,
    PUBLISHED_STATES,
    REFUSED,
    SUPERSEDED,
)


def store_now(conn: Connection) -> datetime:
    """The store's clock, read inside the ledger's transaction.

    Leases and ledger times come from here, never from a worker's ``datetime.now()``: a worker
    whose clock runs 3 h fast (or slow) would otherwise see a live lease as expired (or grant
    one that is already over).  Every attempt is judged by the one clock they all share.
    """
    if conn.dialect.name == "sqlite":
        raw = conn.exec_driver_sql("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')").scalar_one()
        return datetime.fromisoformat(str(raw)).replace(tzinfo=timezone.utc)
    if conn.dialect.name == "postgresql":
        # clock_timestamp(), not now(): a claim may have waited on the row lock since BEGIN
        value = conn.execute(select(func.clock_timestamp())).scalar_one()
    else:
        value = conn.execute(select(func.current_timestamp())).scalar_one()
    return as_utc(value) or utcnow()


@dataclass(frozen=True, kw_only=True)
class PartitionState:
    """The ledger's current row for one partition of one dataset."""

    dataset: str
    partition_key: str
    state: str
    apply_id: int | None
    dag_id: str | None
    run_id: str | None
    attempt: int | None
    lease_expires_at: datetime | None
    rows_published: int | None
    rows_quarantined: int | None
    checksum: str | None
    contract_version: str | None
    gate_verdict: str | None
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> PartitionState:
        return cls(**utc_fields(row._mapping, "lease_expires_at", "updated_at"))


@dataclass(frozen=True, kw_only=True)
class HistoryEntry:
    """One append-only history row."""

    id: int
    dataset: str
    partition_key: str
    action: str
    state: str
    dag_id: str | None
    task_id: str | None
    run_id: str | None
    attempt: int | None
    dag_version: str | None
    contract_version: str | None
    rows_in: int | None
    rows_published: int | None
    rows_quarantined: int | None
    checksum: str | None
    gate_verdict: str | None
    requested_by: str | None
    reason: str | None
    error: str | None
    started_at: datetime
    finished_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> HistoryEntry:
        return cls(**utc_fields(row._mapping, "started_at", "finished_at"))


@dataclass(frozen=True, kw_only=True)
class Claim:
    """Permission to write one partition, fenced by ``apply_id``.

    ``apply_id`` is the fencing token: every claim of a partition gets a larger one (the
    history row it inserts), and a publish commits only while the partition's row still
    holds this token (``commit_fenced``).
    """

    apply_id: int
    dataset: str
    partition_key: str
    action: str  # apply | rerun | stale (an applied partition replaced because an input changed)
    reason: str | None
    requested_by: str | None
    previous: PartitionState | None
    took_over_from: HistoryEntry | None = None


@dataclass(frozen=True, kw_only=True)
class Refusal:
    """Why a claim was refused: ``already_applied`` or ``in_progress``."""

    code: str
    current: PartitionState
    last_apply: HistoryEntry | None


def current_row(conn: Connection, dataset: str, key: str, *, lock: bool) -> PartitionState | None:
    """The partition's current row, locked ``FOR UPDATE`` on PostgreSQL when ``lock``."""
    query = select(t.partitions).where(t.partitions.c.dataset == dataset, t.partitions.c.partition_key == key)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    return PartitionState.from_row(row) if row is not None else None


def history_row(conn: Connection, apply_id: int | None) -> HistoryEntry | None:
    """The history row whose id is ``apply_id`` (a claim's token), if any."""
    if apply_id is None:
        return None
    row = conn.execute(select(t.partition_history).where(t.partition_history.c.id == apply_id)).first()
    return HistoryEntry.from_row(row) if row is not None else None


def mark_taken_over(conn: Connection, dead: HistoryEntry, why: str, now: datetime) -> None:
    """Record that the attempt ``dead`` (its lease expired) failed: ``why`` names who took over."""
    h = t.partition_history
    conn.execute(update(h).where(h.c.id == dead.id).values(state=FAILED, error=why, finished_at=now))


def claim(store: StateStore, **kwargs: Any) -> Claim | Refusal:
    """Decide, under a write lock, whether this attempt may write the partition.

    On PostgreSQL, ``SELECT … FOR UPDATE`` locks nothing while the partition has no row yet:
    two first claims can both see none, and the second INSERT then violates the primary
    key.  That loser retries once; its retry finds the row, waits on its lock and is refused
    with the usual message instead of failing with an ``IntegrityError``.
    """
    for tries in range(3):
        try:
            return _claim_once(store, **kwargs)
        except IntegrityError:
            if tries == 2:
                raise
    raise AssertionError("unreachable")


def last_published(conn: Connection, dataset: str, key: str) -> PartitionState | None:
    """The partition as its last published apply left it (what the target holds if later attempts died)."""
    h = t.partition_history
    row = conn.execute(
        select(h)
        .where(h.c.dataset == dataset, h.c.partition_key == key, h.c.state.in_(PUBLISHED_STATES))
        .order_by(h.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    e = HistoryEntry.from_row(row)
    return PartitionState(
        dataset=dataset,
        partition_key=key,
        state=e.state,
        apply_id=e.id,
        dag_id=e.dag_id,
        run_id=e.run_id,
        attempt=e.attempt,
        lease_expires_at=None,
        rows_published=e.rows_published,
        rows_quarantined=e.rows_quarantined,
        checksum=e.checksum,
        contract_version=e.contract_version,
        gate_verdict=e.gate_verdict,
        updated_at=e.finished_at or e.started_at,
    )


def _claim_once(
    store: StateStore,
    *,
    dataset: str,
    partition_key: str,
    dag_id: str | None,
    task_id: str | None,
    run_id: str | None,
    attempt: int,
    dag_version: str | None,
    contract_version: str | None,
    lease: timedelta,
    now: datetime | None = None,
) -> Claim | Refusal:
    h, p = t.partition_history, t.partitions
    with store.begin() as conn:
        current = current_row(conn, dataset, partition_key, lock=True)
        now = now or store_now(conn)  # after the lock: the lease runs from when it was granted
        action, reason, requested_by, took_over = "apply", None, None, None
        if current is not None:
            last = history_row(conn, current.apply_id)
            request = conn.execute(
                select(t.rerun_requests)
                .where(
                    t.rerun_requests.c.dataset == dataset,
                    t.rerun_requests.c.partition_key == partition_key,
                    t.rerun_requests.c.consumed_at.is_(None),
                )
                .order_by(t.rerun_requests.c.id.desc())
            ).first()
            if current.state in PUBLISHED_STATES:
                changed = (
                    lineage_inputs.stale_inputs(conn, datasets=[dataset], partition_key=partition_key)
                    if request is None
                    else []
                )
                if changed:
                    # built from an upstream version that has since been replaced: not a double apply
                    action = "stale"
                    reason = "stale: " + "; ".join(lineage_inputs.describe_change(b) for b in changed)
                elif request is None:
                    _record_refusal(
                        conn, dataset, partition_key, dag_id, task_id, run_id, attempt, "already_applied", now
                    )
                    return Refusal(code="already_applied", current=current, last_apply=last)
            elif current.state == APPLYING:
                same_run = current.run_id == run_id and current.dag_id == dag_id
                retry = same_run and (current.attempt or 0) < attempt
                expired = current.lease_expires_at is not None and current.lease_expires_at <= now
                if not (retry or expired):
                    _record_refusal(
                        conn, dataset, partition_key, dag_id, task_id, run_id, attempt, "in_progress", now
                    )
                    return Refusal(code="in_progress", current=current, last_apply=last)
                took_over = last
                if last is not None:
                    why = (
                        f"attempt {last.attempt} of run {last.run_id} did not finish (killed or lost); "
                        f"taken over by attempt {attempt} of run {run_id}"
                    )
                    mark_taken_over(conn, last, why, now)
                    if last.action in ("rerun", "stale") and request is None:
                        # the dead attempt had consumed the rerun request (or was replacing a stale
                        # partition): its retry is still that rerun
                        action, reason, requested_by = last.action, last.reason, last.requested_by
                # what the target holds now is what the last published apply wrote (or nothing)
                current = last_published(conn, dataset, partition_key) or current
            if request is not None:
                action, reason, requested_by = "rerun", request.reason, request.requested_by
                conn.execute(
                    update(t.rerun_requests)
                    .where(
                        t.rerun_requests.c.dataset == dataset,
                        t.rerun_requests.c.partition_key == partition_key,
                        t.rerun_requests.c.consumed_at.is_(None),
                    )
                    .values(consumed_at=now, consumed_by_run=run_id)
                )
        apply_id = conn.execute(  # type: ignore[index]
            h.insert().values(
                dataset=dataset,
                partition_key=partition_key,
                action=action,
                state=APPLYING,
                dag_id=dag_id,
                task_id=task_id,
                run_id=run_id,
                attempt=attempt,
                dag_version=dag_version,
                contract_version=contract_version,
                requested_by=requested_by,
                reason=reason,
                started_at=now,
            )
        ).inserted_primary_key[0]
        values = {
            "state": APPLYING,
            "apply_id": apply_id,
            "dag_id": dag_id,
            "run_id": run_id,
            "attempt": attempt,
            "lease_expires_at": now + lease,
            "updated_at": now,
        }
        if current is None:
            conn.execute(p.insert().values(dataset=dataset, partition_key=partition_key, **values))
        else:
            conn.execute(
                update(p).where(p.c.dataset == dataset, p.c.partition_key == partition_key).values(**values)
            )
        return Claim(
            apply_id=int(apply_id),
            dataset=dataset,
            partition_key=partition_key,
            action=action,
            reason=reason,
            requested_by=requested_by,
            previous=current,
            took_over_from=took_over,
        )


def _record_refusal(
    conn: Connection,
    dataset: str,
    key: str,
    dag_id: str | None,
    task_id: str | None,
    run_id: str | None,
    attempt: int,
    code: str,
    now: datetime,
) -> None:
    conn.execute(
        t.partition_history.insert().values(
            dataset=dataset,
            partition_key=key,
            action=REFUSED,
            state=REFUSED,
            dag_id=dag_id,
            task_id=task_id,
            run_id=run_id,
            attempt=attempt,
            error=code,
            started_at=now,
            finished_at=now,
        )
    )


def _record_finish(
    conn: Connection,
    claim_: Claim,
    *,
    now: datetime,
    state: str,
    rows_in: int,
    rows_published: int,
    rows_quarantined: int,
    checksum: str,
    gate_verdict: str | None,
    contract_version: str | None,
    inputs: Sequence[lineage_inputs.InputRecord] = (),
) -> None:
    h, p = t.partition_history, t.partitions
    lineage_inputs.record_inputs(
        conn,
        dataset=claim_.dataset,
        partition_key=claim_.partition_key,
        apply_id=claim_.apply_id,
        inputs=inputs,
    )
    if claim_.previous is not None and claim_.previous.apply_id is not None:
        conn.execute(
            update(h)
            .where(and_(h.c.id == claim_.previous.apply_id, h.c.state.in_(PUBLISHED_STATES)))
            .values(state=SUPERSEDED)
        )
    conn.execute(
        update(h)
        .where(h.c.id == claim_.apply_id)
        .values(
            state=state,
            rows_in=rows_in,
            rows_published=rows_published,
            rows_quarantined=rows_quarantined,
            checksum=checksum,
            gate_verdict=gate_verdict,
            contract_version=contract_version,
            finished_at=now,
        )
    )
    conn.execute(
        update(p)
        .where(p.c.dataset == claim_.dataset, p.c.partition_key == claim_.partition_key)
        .values(
            state=state,
            lease_expires_at=None,
            rows_published=rows_published,
            rows_quarantined=rows_quarantined,
            checksum=checksum,
            gate_verdict=gate_verdict,
            contract_version=contract_version,
            updated_at=now,
        )
    )


def _holds(current: PartitionState | None, claim_: Claim) -> bool:
    """The partition's row still carries this claim's token, and nothing finished it yet."""
    return current is not None and current.apply_id == claim_.apply_id and current.state == APPLYING


def _mark_superseded(store: StateStore, claim_: Claim, now: datetime | None = None) -> None:
    h = t.partition_history
    with store.begin() as conn:
        conn.execute(
            update(h)
            .where(h.c.id == claim_.apply_id, h.c.state.in_((APPLYING, FAILED)))
            .values(
                state=SUPERSEDED,
                finished_at=now or store_now(conn),
                error="taken over by a later attempt before it finished",
            )
        )


def finish(
    store: StateStore,
    claim_: Claim,
    *,
    now: datetime | None = None,
    **fields: Any,
) -> bool:
    """Mark the claimed apply done.  Returns False if another attempt took the partition over meanwhile.

    This records an apply whose target write was committed without a fence; publishes go
    through ``commit_fenced``, which proves the claim before the target commits.
    """
    with store.begin() as conn:
        current = current_row(conn, claim_.dataset, claim_.partition_key, lock=True)
        if current is None or current.apply_id != claim_.apply_id:
            superseded = True
        else:
            superseded = False
            _record_finish(conn, claim_, now=now or store_now(conn), **fields)
    if superseded:
        _mark_superseded(store, claim_, now)
        return False
    return True


def same_sqlite_file(store: StateStore, conn: Connection) -> bool:
    """True if ``conn`` is a connection to the store's own SQLite file (store and warehouse in one)."""
    mine = store.sqlite_path()
    if mine is None or conn.dialect.name != "sqlite" or not conn.engine.url.database:
        return False
    other = conn.engine.url.database
    other = other[len("file:") :] if other.startswith("file:") else other
    try:
        return mine.resolve() == Path(other).expanduser().resolve()
    except OSError:
        return False


def commit_fenced(
    store: StateStore,
    claim_: Claim,
    *,
    commit: Callable[[], None],
    warehouse: Connection | None = None,
    also: Callable[[Connection], None] | None = None,
    **fields: Any,
) -> bool:
    """Prove the claim is still current, commit the target's transaction, record the apply.

    The partition's ledger row is locked (``SELECT … FOR UPDATE`` / ``BEGIN IMMEDIATE``) and
    its token compared with ``claim_.apply_id``; only if it matches is ``commit()`` (the
    target's replace transaction) called, with the lock still held, and the apply recorded
    ``applied`` in that same store transaction.  No other attempt can claim the partition
    between the check and the target's commit, so an attempt whose lease expired while it
    ran cannot overwrite the winner: it gets False and must roll its target transaction back.

    When the store and the target are one SQLite file, the check and the record run on the
    target's own connection, inside its transaction (one commit covers both).

    :param also: more to record in the same store transaction (e.g. the version the publish kept).

    :returns: False, having committed nothing, if another attempt holds the partition.
    """
    if warehouse is not None and same_sqlite_file(store, warehouse):
        current = current_row(warehouse, claim_.dataset, claim_.partition_key, lock=True)
        if not _holds(current, claim_):
            return False
        _record_finish(warehouse, claim_, now=store_now(warehouse), **fields)
        if also is not None:
            also(warehouse)
        commit()
        return True
    with store.begin() as conn:
        current = current_row(conn, claim_.dataset, claim_.partition_key, lock=True)
        if not _holds(current, claim_):
            stale = True
        else:
            stale = False
            now = store_now(conn)
            commit()
            _record_finish(conn, claim_, now=now, **fields)
            if also is not None:
                also(conn)
    if stale:
        _mark_superseded(store, claim_)
        return False
    return True


def fail(
    store: StateStore,
    claim_: Claim,
    *,
    error: str,
    gate_verdict: str | None = None,
    rows_in: int | None = None,
    now: datetime | None = None,
) -> None:
    """Record a failed attempt.  A previously published partition keeps its published state."""
    h, p = t.partition_history, t.partitions
    with store.begin() as conn:
        now = now or store_now(conn)
        conn.execute(
            update(h)
            .where(h.c.id == claim_.apply_id, h.c.state == APPLYING)  # never un-record a finished apply
            .values(
                state=FAILED, error=error[:4000], gate_verdict=gate_verdict, rows_in=rows_in, finished_at=now
            )
        )
        current = current_row(conn, claim_.dataset, claim_.partition_key, lock=True)
        if current is None or current.apply_id != claim_.apply_id or current.state != APPLYING:
            return
        previous = claim_.previous
        if previous is not None and previous.state in PUBLISHED_STATES:
            # The target still holds the earlier apply (our transaction rolled back): say so.
            values = {
                "state": previous.state,
                "apply_id": previous.apply_id,
                "run_id": previous.run_id,
                "attempt": previous.attempt,
                "dag_id": previous.dag_id,
            }
        else:
            values = {"state": FAILED, "gate_verdict": gate_verdict}
        conn.execute(
            update(p)
            .where(p.c.dataset == claim_.dataset, p.c.partition_key == claim_.partition_key)
            .values(lease_expires_at=None, updated_at=now, **values)
        )
        if claim_.action == "rerun":
            # The rerun did not happen: reopen the request so the next attempt still carries the reason.
            conn.execute(
                t.rerun_requests.insert().values(
                    dataset=claim_.dataset,
                    partition_key=claim_.partition_key,
                    dag_id=current.dag_id,
                    reason=claim_.reason or "",
                    requested_by=claim_.requested_by or "unknown",
                    requested_at=now,
                )
            )


def request_rerun(
    store: StateStore,
    *,
    dataset: str,
    partition_keys: Sequence[str],
    dag_id: str | None,
    reason: str,
    requested_by: str,
    now: datetime | None = None,
) -> None:
    """Record a person's rerun request (with its reason) for each partition."""
    with store.begin() as conn:
        now = now or store_now(conn)
        for key in partition_keys:
            conn.execute(
                t.rerun_requests.insert().values(
                    dataset=dataset,
                    partition_key=key,
                    dag_id=dag_id,
                    reason=reason,
                    requested_by=requested_by,
                    requested_at=now,
                )
            )
            conn.execute(
                t.partition_history.insert().values(
                    dataset=dataset,
                    partition_key=key,
                    action="rerun_requested",
                    state="requested",
                    dag_id=dag_id,
                    requested_by=requested_by,
                    reason=reason,
                    started_at=now,
                    finished_at=now,
                )
            )


def current_time(store: StateStore) -> datetime:
    """The store's clock (see ``store_now``), for decisions about leases made outside a claim."""
    with store.begin(write=False) as conn:
        return store_now(conn)


def get_partition(store: StateStore, dataset: str, key: str) -> PartitionState | None:
    with store.begin(write=False) as conn:
        return current_row(conn, dataset, key, lock=False)


def list_partitions(store: StateStore, dataset: str, *, since: str | None = None) -> list[PartitionState]:
    query = select(t.partitions).where(t.partitions.c.dataset == dataset)
    if since:
        query = query.where(t.partitions.c.partition_key >= since)
    with store.begin(write=False) as conn:
        return [
            PartitionState.from_row(r) for r in conn.execute(query.order_by(t.partitions.c.partition_key))
        ]


def history(store: StateStore, dataset: str, key: str | None = None) -> list[HistoryEntry]:
    query = select(t.partition_history).where(t.partition_history.c.dataset == dataset)
    if key is not None:
        query = query.where(t.partition_history.c.partition_key == key)
    with store.begin(write=False) as conn:
        return [HistoryEntry.from_row(r) for r in conn.execute(query.order_by(t.partition_history.c.id))]


def latest_partitions(
    store: StateStore, datasets: Collection[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Each dataset's highest partition key and its state: one aggregate query."""
    p = t.partitions.c
    newest = select(p.dataset, func.max(p.partition_key).label("key")).group_by(p.dataset)
    if datasets is not None:
        newest = newest.where(p.dataset.in_(sorted(datasets)))
    sub = newest.subquery()
    query = select(p.dataset, p.partition_key, p.state, p.updated_at, p.rows_published).join(
        sub, (p.dataset == sub.c.dataset) & (p.partition_key == sub.c.key)
    )
    with store.begin(write=False) as conn:
        return {
            r.dataset: {
                "key": r.partition_key,
                "state": r.state,
                "at": as_utc(r.updated_at),
                "rows": r.rows_published,
            }
            for r in conn.execute(query)
        }
