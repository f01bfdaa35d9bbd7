"""``partitions rollback`` and ``partitions prune``: restore a kept version; clean kept versions up.

A rollback is a publish whose rows come from ``<table>__versions`` instead of a stage::

    claim     store      lock the partition's row; refuse (busy, no such version, purged) or
                         write a new history row (action rollback, applying): the new token   txn 1
    restore   warehouse  keep the current rows as their own version (so the rollback can be
                         undone), DELETE the partition, INSERT the kept version's rows, measure:
                         the checksum must equal the kept version's, else nothing changes
    fence     store      the token still ours? COMMIT the warehouse, record applied, the replaced
                         version rolled_back, the rollback row                                txn 2

So a rollback gets a new apply id: every downstream partition built from the replaced version
is stale by the ledger's own rule, and the history says who restored what and why.  A rollback
killed anywhere leaves the partition holding one whole version (the old one, or the restored one
with the ledger ``applying``); the next rollback takes its expired claim over.

Prune deletes the kept versions retention no longer covers: a version is kept while it is among
the ``[dataops] partition_versions_keep`` newest of its partition OR younger than
``partition_versions_keep_days``.  Nothing else ever deletes a kept version.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from airflow_dataops.exceptions import DataOpsError, LedgerError
from airflow_dataops.partitions.keys import validate_partition_key
from airflow_dataops.store import StateStore, states
from airflow_dataops.store import ledger as db
from airflow_dataops.store import versions as sv

DEFAULT_LEASE = timedelta(minutes=10)


class RollbackRefused(LedgerError):
    """A rollback that was not started (or changed nothing); the message says why and what to do."""


@dataclass(frozen=True, kw_only=True)
class RollbackResult:
    dataset: str
    partition_key: str
    apply_id: int  # the rollback's own apply id (the partition's new token)
    restored_apply_id: int
    replaced_apply_id: int | None
    replaced_kept: bool
    rows: int
    checksum: str
    reason: str
    requested_by: str
    run_id: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def rollback_command(target: str, key: str, to: int | None = None) -> str:
    from airflow_dataops.partitions.ledger import shell_quote

    to_part = f" --to {to}" if to is not None else ""
    return f'airflow dataops partitions rollback {shell_quote(target)} -k {shell_quote(key)}{to_part} --reason "…"'


def _available(versions: tuple[sv.VersionRecord, ...]) -> str:
    live = [
        f"{v.apply_id} ({v.rows} rows, kept {v.kept_at:%Y-%m-%d %H:%M})"
        for v in versions
        if v.purged_at is None
    ]
    return ", ".join(live) or "none"


def refusal_message(
    refusal: sv.RollbackRefusal, dataset: str, key: str, to_apply_id: int | None = None
) -> str:
    where = f"partition {key!r} of dataset {dataset!r}"
    cur = refusal.current
    kept = _available(refusal.versions)
    if refusal.code == "no_partition":
        return f"{where} is not in the ledger; nothing to roll back. Check the key with `airflow dataops partitions status {dataset}`."
    if refusal.code == "not_published":
        return (
            f"{where} is {cur.state if cur else 'not published'}, not applied; only a published partition can be "
            "rolled back. Rerun it instead."
        )
    if refusal.code == "busy":
        until = cur.lease_expires_at.isoformat(timespec="seconds") if cur and cur.lease_expires_at else "?"
        return (
            f"{where} is busy: run {cur.run_id if cur else '?'!r} holds it (apply {cur.apply_id if cur else '?'}) until "
            f"{until}; nothing was changed. Wait for it to finish (or, if it died, for its lease to expire) and retry."
        )
    if refusal.code == "no_version":
        return (
            f"{where} has no kept version to roll back to (kept versions: {kept}); a version is kept when a "
            "publish replaces it, unless [dataops] partition_versions_keep is 0. Nothing was changed."
        )
    if refusal.code == "no_such_version":
        return (
            f"{where} has no kept version with apply id {to_apply_id}; kept versions: {kept}. "
            "Nothing was changed. See them with `airflow dataops partitions versions`."
        )
    if refusal.code == "purged":
        v = refusal.version
        when = v.purged_at.isoformat(timespec="seconds") if v and v.purged_at else "?"
        return (
            f"version {v.apply_id if v else '?'} of {where} was purged at {when} by `partitions prune`; its rows are gone. "
            f"Kept versions: {kept}. Nothing was changed."
        )
    if refusal.code == "already_current":
        v = refusal.version
        return f"{where} already holds version {v.apply_id if v else '?'} (apply {cur.apply_id if cur else '?'}); nothing to do."
    return f"{where}: rollback refused ({refusal.code})"


def plan_rollback(
    store: StateStore, dataset: dict[str, Any], key: str, *, to_apply_id: int | None
) -> tuple[db.PartitionState, sv.VersionRecord]:
    """What a rollback would do, read only: the partition now and the version it would restore."""
    name = dataset["dataset"]
    key = validate_partition_key(key)
    with store.begin(write=False) as conn:
        current = db.current_row(conn, name, key, lock=False)
        if current is None:
            raise RollbackRefused(
                refusal_message(sv.RollbackRefusal(code="no_partition", current=None), name, key)
            )
        if current.state == states.APPLYING:
            live = current.lease_expires_at is not None and current.lease_expires_at > db.store_now(conn)
            if live:
                raise RollbackRefused(
                    refusal_message(sv.RollbackRefusal(code="busy", current=current), name, key)
                )
            # a dead attempt (or rollback): the rollback takes it over; the target holds the last published
            current = db.last_published(conn, name, key) or current
        if current.state not in states.PUBLISHED_STATES:
            raise RollbackRefused(
                refusal_message(sv.RollbackRefusal(code="not_published", current=current), name, key)
            )
        chosen = sv.choose_version(conn, current, sv._versions(conn, name, key), to_apply_id)
    if isinstance(chosen, sv.RollbackRefusal):
        raise RollbackRefused(refusal_message(chosen, name, key, to_apply_id))
    return current, chosen


def rollback_partition(
    store: StateStore,
    dataset: dict[str, Any],
    key: str,
    *,
    reason: str,
    requested_by: str,
    to_apply_id: int | None = None,
    engine: Any = None,
    lease: timedelta = DEFAULT_LEASE,
    run_id: str | None = None,
    before_commit: Any = None,
    after_commit: Any = None,
) -> RollbackResult:
    """Restore a kept version of partition ``key`` atomically, through the ledger.

    :param dataset: the dataset's registry row (``store.records.get_dataset``).
    :param to_apply_id: the version to restore; default the one the current apply replaced.
    :param before_commit: called inside the warehouse transaction just before the fence (tests).
    :param after_commit: called between the warehouse's commit and the ledger's (tests: a crash there).
    :raises RollbackRefused: nothing was changed, and the message says why.
    """
    from airflow_dataops.partitions.ledger import StaleClaim
    from airflow_dataops.partitions.tables import reflect_columns, transaction
    from airflow_dataops.partitions.versions import (
        KeepVersion,
        ensure_versions_table,
        keep_current,
        restore_rows,
    )
    from airflow_dataops.partitions.writer import partition_checksum

    if not reason or not reason.strip():
        raise RollbackRefused(
            'a rollback needs a reason (--reason "…"): it is kept in the ledger for whoever looks next'
        )
    name, table, column = dataset["dataset"], dataset.get("target_table"), dataset.get("partition_column")
    db_schema = dataset.get("db_schema") or None
    key = validate_partition_key(key)
    if not table or not column:
        raise DataOpsError(f"dataset {name!r} has no target table or partition column recorded")
    if engine is None:
        from airflow_dataops import warehouse

        engine = warehouse.engine(dataset["conn_id"])
    run_id = run_id or f"rollback__{datetime.now().astimezone():%Y-%m-%dT%H:%M:%S%z}"
    outcome = sv.claim_rollback(
        store,
        dataset=name,
        partition_key=key,
        to_apply_id=to_apply_id,
        reason=reason.strip(),
        requested_by=requested_by,
        run_id=run_id,
        lease=lease,
    )
    if isinstance(outcome, sv.RollbackRefusal):
        raise RollbackRefused(refusal_message(outcome, name, key, to_apply_id))
    claim, version = outcome.claim, outcome.version
    previous = claim.previous
    try:
        target = reflect_columns(engine, table, db_schema)
        versions = ensure_versions_table(engine, target, db_schema=db_schema)
        with engine.connect() as conn, transaction(conn) as tx:
            kept = None
            if previous is not None and previous.apply_id is not None and previous.checksum:
                keep = KeepVersion(
                    apply_id=previous.apply_id, rows=previous.rows_published or 0, checksum=previous.checksum
                )
                kept = keep_current(
                    conn,
                    target=target,
                    versions=versions,
                    partition_column=column,
                    partition_key=key,
                    keep=keep,
                    now=datetime.now().astimezone(),
                )
            restore_rows(
                conn,
                target=target,
                versions=versions,
                partition_column=column,
                partition_key=key,
                apply_id=version.apply_id,
            )
            rows, checksum = partition_checksum(conn, target, column, key)
            if (rows, checksum) != (version.rows, version.checksum):
                raise RollbackRefused(
                    f"the kept rows of version {version.apply_id} of partition {key!r} ({rows} rows, {checksum}) do not "
                    f"match what was kept ({version.rows} rows, {version.checksum}); the rollback was undone and the "
                    "partition is unchanged. Check `airflow dataops partitions versions` and the versions table."
                )
            if before_commit is not None:
                before_commit()
            restored = outcome.restored
            done = db.commit_fenced(
                store,
                claim,
                commit=_then(tx.commit, after_commit),
                warehouse=conn,
                also=lambda c: sv.record_rollback(c, outcome, kept),
                state=states.APPLIED,
                rows_in=rows,
                rows_published=rows,
                rows_quarantined=0,
                checksum=checksum,
                gate_verdict=restored.gate_verdict if restored else None,
                contract_version=restored.contract_version if restored else None,
            )
            if not done:
                raise StaleClaim(
                    f"partition {key!r} of dataset {name!r} was taken over while the rollback ran; the rollback was "
                    "undone. Check `airflow dataops partitions status` and retry."
                )
    except BaseException as e:
        current = db.get_partition(store, name, key)
        if current is not None and current.apply_id == claim.apply_id and current.state == states.APPLYING:
            db.fail(store, claim, error=f"{type(e).__name__}: {e}")
        raise
    return RollbackResult(
        dataset=name,
        partition_key=key,
        apply_id=claim.apply_id,
        restored_apply_id=version.apply_id,
        replaced_apply_id=previous.apply_id if previous else None,
        replaced_kept=kept is not None,
        rows=rows,
        checksum=checksum,
        reason=reason.strip(),
        requested_by=requested_by,
        run_id=run_id,
    )


def _then(commit: Callable[[], None], after: Callable[[], None] | None) -> Callable[[], None]:
    if after is None:
        return commit

    def both() -> None:
        commit()
        after()

    return both


# ---------------------------------------------------------------------------------- prune
@dataclass(frozen=True, kw_only=True)
class PruneResult:
    dataset: str
    purged: tuple[sv.VersionRecord, ...]
    kept: int
    rows_deleted: int
    dry_run: bool


def prune_plan(
    versions: list[sv.VersionRecord], *, keep: int, keep_days: int, now: datetime
) -> list[sv.VersionRecord]:
    """The live versions retention no longer covers: beyond the ``keep`` newest of their partition
    AND older than ``keep_days``."""
    by_partition: dict[str, list[sv.VersionRecord]] = {}
    for v in versions:
        if v.purged_at is None:
            by_partition.setdefault(v.partition_key, []).append(v)
    cutoff = now - timedelta(days=keep_days)
    out = []
    for live in by_partition.values():
        live.sort(key=lambda v: (v.kept_at, v.apply_id), reverse=True)
        out += [v for v in live[keep:] if v.kept_at < cutoff]
    return sorted(out, key=lambda v: (v.partition_key, v.apply_id))


def prune_dataset(
    store: StateStore,
    dataset: dict[str, Any],
    *,
    keep: int,
    keep_days: int,
    dry_run: bool,
    engine: Any = None,
) -> PruneResult:
    """Delete the kept versions retention no longer covers (the store marks them purged first)."""
    from sqlalchemy import inspect

    from airflow_dataops.partitions.tables import reflect_columns
    from airflow_dataops.partitions.versions import delete_versions, versions_table_name

    name = dataset["dataset"]
    versions = sv.list_versions(store, name)
    now = db.current_time(store)
    plan = prune_plan(versions, keep=keep, keep_days=keep_days, now=now)
    live = sum(1 for v in versions if v.purged_at is None)
    if dry_run:
        return PruneResult(
            dataset=name, purged=tuple(plan), kept=live - len(plan), rows_deleted=0, dry_run=True
        )
    sv.mark_purged(store, [v.id for v in plan])
    deleted = 0
    table, db_schema = dataset.get("target_table"), dataset.get("db_schema") or None
    if table and (plan or any(v.purged_at is not None for v in versions)):
        if engine is None:
            from airflow_dataops import warehouse

            engine = warehouse.engine(dataset["conn_id"])
        vt = versions_table_name(table)
        if inspect(engine).has_table(vt, schema=db_schema):
            # every purged version's rows: also those a prune killed after marking them left behind
            deleted = delete_versions(
                engine, reflect_columns(engine, vt, db_schema), sv.purged_apply_ids(store, name)
            )
    return PruneResult(
        dataset=name, purged=tuple(plan), kept=live - len(plan), rows_deleted=deleted, dry_run=False
    )
