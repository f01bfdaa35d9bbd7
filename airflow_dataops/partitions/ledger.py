"""The partition ledger: who may write a partition, and what is said when the answer is no.

Protocol (the target table and the store may be different databases, so there is
no cross-database transaction to lean on)::

    begin()   ledger: partition → applying (run, attempt, lease, token)  one store transaction
    write     target: replace exactly that partition, uncommitted
    fence()   ledger: lock the partition's row, check the token is ours,
              commit the target, then → applied (rows, checksum)        one store transaction

A crash between the steps leaves ``applying`` held by a dead attempt.  The next
attempt of the same run takes it over at once (its attempt number is higher);
another run takes it over once the lease has expired (leases run on the store's
clock, never a worker's).  Because the write replaces the partition, re-applying
gives the same result: nothing is ever appended twice.  An attempt that was taken
over while it still ran fails its fence and rolls its target transaction back, so
it can never overwrite the attempt that took over (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from airflow_dataops.exceptions import LedgerError, PartitionAlreadyApplied
from airflow_dataops.partitions.keys import validate_partition_key
from airflow_dataops.store import StateStore
from airflow_dataops.store import ledger as db
from airflow_dataops.store.ledger import Claim, PartitionState, Refusal
from airflow_dataops.store.states import published_state


class PartitionInProgress(LedgerError):
    """Another live attempt holds the partition."""


class StaleClaim(LedgerError):
    """This attempt's claim was taken over while it ran: its write was rolled back."""


def shell_quote(value: str) -> str:
    """Always single-quoted, so a pasted key never expands ``$(…)``, backticks or globs."""
    return "'" + value.replace("'", "'\"'\"'") + "'"


def rerun_command(dag_id: str | None, key: str) -> str:
    """The exact command an on-call engineer can paste to rerun ``key`` (placeholders for the reason)."""
    dag = (
        shell_quote(dag_id)
        if dag_id and not dag_id.replace("_", "").replace("-", "").replace(".", "").isalnum()
        else (dag_id or "<dag_id>")
    )
    return f'airflow dataops partitions rerun {dag} -k {shell_quote(key)} --reason "…"'


class PartitionLedger:
    """The ledger of one dataset.

    :param store: the state store.
    :param dataset: the dataset's name (the contract's dataset or the target table).
    :param lease: how long an ``applying`` claim protects the partition from other runs.
    """

    def __init__(self, store: StateStore, dataset: str, *, lease: timedelta = timedelta(hours=2)) -> None:
        if lease <= timedelta(0):
            raise LedgerError(f"lease must be positive, got {lease}")
        self.store = store
        self.dataset = dataset
        self.lease = lease

    def begin(
        self,
        partition_key: str,
        *,
        dag_id: str | None,
        task_id: str | None,
        run_id: str | None,
        attempt: int,
        dag_version: str | None = None,
        contract_version: str | None = None,
    ) -> Claim:
        """Claim the partition for this attempt, or raise saying why not and how to go on.

        :raises PartitionAlreadyApplied: the partition is applied and no rerun was requested.
        :raises PartitionInProgress: another attempt holds a live claim.
        """
        key = validate_partition_key(partition_key)
        outcome = db.claim(
            self.store,
            dataset=self.dataset,
            partition_key=key,
            dag_id=dag_id,
            task_id=task_id,
            run_id=run_id,
            attempt=attempt,
            dag_version=dag_version,
            contract_version=contract_version,
            lease=self.lease,
        )
        if isinstance(outcome, Refusal):
            raise self._refusal_error(outcome, dag_id)
        return outcome

    def _refusal_error(self, refusal: Refusal, dag_id: str | None) -> LedgerError:
        cur = refusal.current
        last = refusal.last_apply
        if refusal.code == "already_applied":
            when = last.finished_at.isoformat(timespec="seconds") if last and last.finished_at else "?"
            return PartitionAlreadyApplied(
                f"partition {cur.partition_key!r} of dataset {self.dataset!r} was already applied at {when} "
                f"by run {cur.run_id!r} (attempt {cur.attempt}; {cur.rows_published} rows published, "
                f"{cur.rows_quarantined or 0} quarantined, contract {cur.contract_version}, gate {cur.gate_verdict}). "
                "Applying it again without a rerun request would double-apply data, so nothing was written. "
                f"To replace it, ask for a rerun with a reason: {rerun_command(dag_id or cur.dag_id, cur.partition_key)}"
            )
        since = last.started_at.isoformat(timespec="seconds") if last else "?"
        until = cur.lease_expires_at.isoformat(timespec="seconds") if cur.lease_expires_at else "?"
        return PartitionInProgress(
            f"partition {cur.partition_key!r} of dataset {self.dataset!r} is being applied by run {cur.run_id!r} "
            f"attempt {cur.attempt} since {since}; nothing was written. If that attempt is dead, retry the same "
            f"run (a later attempt takes over at once) or wait for its lease to expire at {until}."
        )

    def finish(self, claim: Claim, **kwargs: object) -> None:
        """Record the apply as done (see ``store.ledger.finish`` for the fields)."""
        if not db.finish(self.store, claim, **kwargs):  # type: ignore[arg-type]
            raise LedgerError(
                f"partition {claim.partition_key!r} of dataset {self.dataset!r} was taken over by another attempt "
                "while this one was writing; the later attempt's write stands. Check `airflow dataops partitions "
                "status` and verify the partition."
            )

    def fence(self, claim: Claim, **fields: object) -> Callable[[Any, Callable[[], None], Any], None]:
        """The fence ``writer.publish`` calls instead of committing its target transaction.

        It proves ``claim`` still holds the partition, commits the target and records the apply
        (``fields`` as for :meth:`finish`, plus the rows and checksum the publish measured), all
        under the partition's ledger lock; if another attempt took the partition over, it raises
        :class:`StaleClaim` and the target transaction is rolled back.
        """

        def fence(result: Any, commit: Callable[[], None], warehouse: Any) -> None:
            state = published_state(result.rows_quarantined)
            kept = getattr(result, "kept", None)
            done = db.commit_fenced(
                self.store,
                claim,
                commit=commit,
                warehouse=warehouse,
                also=None if kept is None else _record_kept(claim, kept),
                state=state,
                rows_in=result.rows_in,
                rows_published=result.rows_published,
                rows_quarantined=result.rows_quarantined,
                checksum=result.checksum,
                **fields,
            )
            if not done:
                now = self.state(claim.partition_key)
                holder = f"run {now.run_id!r} attempt {now.attempt}" if now else "another attempt"
                raise StaleClaim(
                    f"partition {claim.partition_key!r} of dataset {self.dataset!r} was taken over by {holder} "
                    f"while this attempt (claim #{claim.apply_id}) was writing; its write was rolled back and the "
                    "target keeps what the current holder publishes. Nothing to do unless `airflow dataops "
                    "partitions verify` says otherwise."
                )

        return fence

    def fail(
        self, claim: Claim, *, error: str, gate_verdict: str | None = None, rows_in: int | None = None
    ) -> None:
        db.fail(self.store, claim, error=error, gate_verdict=gate_verdict, rows_in=rows_in)

    def request_rerun(
        self, keys: Sequence[str], *, reason: str, requested_by: str, dag_id: str | None
    ) -> None:
        if not reason or not reason.strip():
            raise LedgerError(
                'a rerun needs a reason (--reason "…"): it is kept in the ledger for whoever looks next'
            )
        for key in keys:
            validate_partition_key(key)
        db.request_rerun(
            self.store,
            dataset=self.dataset,
            partition_keys=list(keys),
            dag_id=dag_id,
            reason=reason.strip(),
            requested_by=requested_by,
        )

    def state(self, key: str) -> PartitionState | None:
        return db.get_partition(self.store, self.dataset, key)

    def partitions(self, *, since: str | None = None) -> list[PartitionState]:
        return db.list_partitions(self.store, self.dataset, since=since)

    def history(self, key: str | None = None) -> list[db.HistoryEntry]:
        return db.history(self.store, self.dataset, key)


def _record_kept(claim: Claim, kept: Any) -> Callable[[Any], None]:
    """Index the version a publish kept, in the fence's store transaction (``store.versions``)."""
    from airflow_dataops.store.versions import record_kept

    def record(conn: Any) -> None:
        record_kept(
            conn, dataset=claim.dataset, partition_key=claim.partition_key, kept=kept, kept_by=claim.apply_id
        )

    return record
