"""``partitions rerun``: replace applied partitions on purpose, with a reason, through Airflow.

A rerun is two steps, in this order::

    1. ledger   request_rerun(keys, reason)    the next apply of each partition may replace it
    2. Airflow  clear the partition's latest run (``airflow dags clear DAG --run-id R``),
                or trigger a new run with ``partition_key=K`` when the partition never ran

We never write Airflow's tables ourselves: step 2 calls Airflow's own ``dags clear``
command and ``trigger_dag`` function, and the scheduler does the rest.  The task that
runs then claims the partition, finds the open request, consumes it (the reason goes
into the partition's history) and replaces the partition in one target transaction.

Everything is decided before anything is written: :func:`plan_rerun` resolves the DAG's
datasets and the partition keys, looks up the ledger and Airflow's runs, and refuses
(with the reason and the override) before :func:`apply_rerun` records anything.  A dry
run prints the plan and stops there.

This module is the plan and its two steps only.  Airflow is reached through the
:class:`AirflowRuns` protocol; its real implementation, which reads Airflow's metadata DB and
clears runs with Airflow's own commands, is ``cli.airflow_runs.MetadataDBRuns`` (only the CLI
process may use the metadata DB).  The plan as text is ``cli.partitions_rerun``'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypedDict

from airflow_dataops.exceptions import LedgerError
from airflow_dataops.partitions.keys import validate_partition_key
from airflow_dataops.store import StateStore, states
from airflow_dataops.store import ledger as db

ACTIVE_RUN_STATES = ("queued", "running")
CLEAR, TRIGGER = "clear", "trigger"


class RerunRefused(LedgerError):
    """A rerun that was not started; the message says why and how to go on."""


@dataclass(frozen=True, kw_only=True)
class RunInfo:
    """What the rerun needs to know about one Airflow DAG run."""

    run_id: str
    state: str | None
    partition_key: str | None
    logical_date: datetime | None = None


class AirflowRuns(Protocol):
    """The few things a rerun asks of Airflow; ``cli.airflow_runs.MetadataDBRuns`` is the real one."""

    def dag_partitioned(self, dag_id: str) -> bool | None:
        """True for a partitioned timetable, False for another one, None if Airflow does not know the DAG."""

    def runs_for(self, dag_id: str, key: str) -> list[RunInfo]:
        """The DAG's runs for partition ``key``, newest first."""

    def keys_between(self, dag_id: str, start: str, end: str) -> set[str]:
        """Partition keys of the DAG's runs with ``start <= key <= end``."""

    def check_key(self, dag_id: str, key: str) -> None:
        """Raise ``RerunRefused`` if Airflow would refuse a run for ``key``."""

    def clear(self, dag_id: str, run_id: str) -> str:
        """Clear the run so the scheduler runs it again; return what Airflow said."""

    def trigger(self, dag_id: str, key: str, *, note: str, user: str) -> str:
        """Create a run for partition ``key``; return its run id."""


class RerunSelection(TypedDict, total=False):
    """Which partitions a rerun is about, as :func:`plan_rerun` takes them (``-k`` / ``--from`` ``--to``),
    and whether to go on while they are being worked on (``--force``)."""

    keys: Sequence[str] | None
    date_from: str | None
    date_to: str | None
    force: bool


@dataclass(frozen=True, kw_only=True)
class PlannedRerun:
    """One partition of one dataset in a rerun plan: what it is now and what will happen."""

    dataset: str
    partition_key: str
    ledger_state: str | None  # None: the ledger never saw it
    rows: int | None
    last_run: str | None  # the ledger's last run id for the partition
    updated_at: datetime | None
    action: str  # clear | trigger
    airflow_run: str | None  # the run that will be cleared (None for trigger)
    airflow_run_state: str | None

    @property
    def replaces(self) -> bool:
        return self.ledger_state in states.PUBLISHED_STATES

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "partition": self.partition_key,
            "state": self.ledger_state or "never applied",
            "rows": self.rows,
            "last_run": self.last_run,
            "updated": self.updated_at.isoformat(timespec="seconds") if self.updated_at else None,
            "action": self.action,
            "airflow_run": self.airflow_run,
            "airflow_run_state": self.airflow_run_state,
            "replaces": self.replaces,
        }


@dataclass(frozen=True, kw_only=True)
class RerunPlan:
    dag_id: str
    reason: str
    keys: tuple[str, ...]
    datasets: tuple[str, ...]
    items: tuple[PlannedRerun, ...]

    def runs_to_clear(self) -> dict[str, str]:
        """partition key → run id, one run per key."""
        return {i.partition_key: i.airflow_run for i in self.items if i.action == CLEAR and i.airflow_run}

    def keys_to_trigger(self) -> list[str]:
        return sorted({i.partition_key for i in self.items if i.action == TRIGGER})


@dataclass(frozen=True, kw_only=True)
class RerunOutcome:
    plan: RerunPlan
    cleared: dict[str, str] = field(default_factory=dict)  # key → run id
    triggered: dict[str, str] = field(default_factory=dict)  # key → new run id
    messages: tuple[str, ...] = ()


# ------------------------------------------------------------------------------ planning
def select_keys(
    store: StateStore,
    datasets: Sequence[str],
    airflow: AirflowRuns,
    dag_id: str,
    *,
    keys: Sequence[str] | None,
    date_from: str | None,
    date_to: str | None,
) -> list[str]:
    """The partition keys a rerun is about: given with ``-k``, or those known in ``[from, to]``.

    A window selects the keys the ledger holds for the DAG's datasets and the keys of the
    DAG's runs, compared as strings (ISO dates sort as dates).  A partition that never ran
    and was never applied is unknown to both: name it with ``-k``.
    """
    if keys and (date_from or date_to):
        raise RerunRefused(
            "give either partition keys (-k KEY …) or a window (--from/--to), not both; nothing was requested"
        )
    try:
        if keys:
            return list(dict.fromkeys(validate_partition_key(key, source="-k") for key in keys))
        if date_from:
            validate_partition_key(date_from, source="--from")
        if date_to:
            validate_partition_key(date_to, source="--to")
    except RerunRefused:
        raise
    except LedgerError as e:
        raise RerunRefused(f"{e}. Nothing was requested") from e
    if not (date_from and date_to):
        raise RerunRefused(
            "say which partitions to rerun: -k KEY (repeatable) or both --from FIRST and --to LAST "
            "(inclusive, e.g. --from 2026-11-01 --to 2026-11-03); nothing was requested"
        )
    if date_from > date_to:
        raise RerunRefused(
            f"--from {date_from!r} sorts after --to {date_to!r}; swap them. Nothing was requested"
        )
    found = set(airflow.keys_between(dag_id, date_from, date_to))
    for ds in datasets:
        found |= {
            p.partition_key
            for p in db.list_partitions(store, ds, since=date_from)
            if p.partition_key <= date_to
        }
    if not found:
        raise RerunRefused(
            f"no partition of DAG {dag_id!r} between {date_from!r} and {date_to!r} is known to the ledger or "
            "has an Airflow run; name partitions that never ran with -k KEY. Nothing was requested"
        )
    return sorted(found)


def plan_rerun(
    store: StateStore,
    dag_id: str,
    *,
    reason: str,
    airflow: AirflowRuns,
    keys: Sequence[str] | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    force: bool = False,
) -> RerunPlan:
    """Decide what a rerun would do, refusing (before anything is written) when it should not start.

    :raises RerunRefused: no reason, unknown DAG, no keys, a partition being applied right now, …
    """
    from airflow_dataops.store.records import list_datasets

    if not reason or not reason.strip():
        raise RerunRefused(
            'a rerun needs a reason (--reason "…"): it is kept in the ledger for whoever looks next. '
            "Nothing was requested"
        )
    datasets = [d["dataset"] for d in list_datasets(store, dag_id=dag_id)]
    if not datasets:
        known = sorted({d["dag_id"] for d in list_datasets(store) if d.get("dag_id")})
        raise RerunRefused(
            f"DAG {dag_id!r} has published no dataset through the ledger in the dataops store {store.url} "
            f"(DAGs known: {', '.join(known) or 'none'}); run it once normally, or check "
            "[dataops] store_url. Nothing was requested"
        )
    partitioned = airflow.dag_partitioned(dag_id)
    if partitioned is None:
        raise RerunRefused(
            f"Airflow does not know DAG {dag_id!r} (not parsed yet, or removed); check `airflow dags list` "
            "and the dags folder. Nothing was requested"
        )
    selected = select_keys(store, datasets, airflow, dag_id, keys=keys, date_from=date_from, date_to=date_to)
    items: list[PlannedRerun] = []
    busy: list[str] = []
    now = db.current_time(store)  # the store's clock, as the lease was granted on it
    for key in selected:
        runs = airflow.runs_for(dag_id, key)
        latest = runs[0] if runs else None
        if latest is None:
            airflow.check_key(dag_id, key)
        if latest is not None and latest.state in ACTIVE_RUN_STATES:
            busy.append(f"{key!r}: Airflow run {latest.run_id!r} is {latest.state}")
        for ds in datasets:
            cur = db.get_partition(store, ds, key)
            if (
                cur is not None
                and cur.state == states.APPLYING
                and cur.lease_expires_at is not None
                and cur.lease_expires_at > now
            ):
                busy.append(
                    f"{key!r} of {ds!r}: being applied by run {cur.run_id!r} attempt {cur.attempt} "
                    f"(lease until {cur.lease_expires_at.isoformat(timespec='seconds')})"
                )
            items.append(
                PlannedRerun(
                    dataset=ds,
                    partition_key=key,
                    ledger_state=cur.state if cur else None,
                    rows=cur.rows_published if cur else None,
                    last_run=cur.run_id if cur else None,
                    updated_at=cur.updated_at if cur else None,
                    action=CLEAR if latest else TRIGGER,
                    airflow_run=latest.run_id if latest else None,
                    airflow_run_state=latest.state if latest else None,
                )
            )
    if busy and not force:
        raise RerunRefused(
            "these partitions are being worked on right now, and a rerun could race the running attempt:\n  "
            + "\n  ".join(busy)
            + "\nWait for the run to finish (airflow dataops partitions status "
            + f"{dag_id}), then ask again; or pass --force to clear the run anyway. Nothing was requested"
        )
    return RerunPlan(
        dag_id=dag_id,
        reason=reason.strip(),
        keys=tuple(selected),
        datasets=tuple(datasets),
        items=tuple(items),
    )


def apply_rerun(
    store: StateStore, plan: RerunPlan, *, requested_by: str, airflow: AirflowRuns
) -> RerunOutcome:
    """Record the reason in the ledger for every partition it holds, then have Airflow run them again.

    The requests are recorded first: a run that starts must find them, or it would refuse
    the partition as already applied.  If Airflow then refuses, the requests stay open and
    the message says so (the next run of that partition consumes them).
    """
    record_requests(store, plan, requested_by=requested_by)
    return start_runs(plan, requested_by=requested_by, airflow=airflow)


def record_requests(store: StateStore, plan: RerunPlan, *, requested_by: str) -> None:
    """Step 1: a rerun request with the plan's reason for every partition the ledger holds."""
    from airflow_dataops.partitions.ledger import PartitionLedger

    for ds in plan.datasets:
        # A partition the ledger has never seen needs no request (its first apply is granted), and
        # the ledger only consumes requests of partitions it holds: one made for a new partition
        # would stay open and later let an unrequested apply replace it.  Its reason goes into
        # the new run's note instead.
        known = [i.partition_key for i in plan.items if i.dataset == ds and i.ledger_state is not None]
        if known:
            PartitionLedger(store, ds).request_rerun(
                known, reason=plan.reason, requested_by=requested_by, dag_id=plan.dag_id
            )


#: Run states that mean "the scheduler will run it again": what a clear is for.
_RUNNING_AGAIN = ("queued", "running")


def _clear(airflow: AirflowRuns, dag_id: str, key: str, run_id: str) -> str:
    """Clear one run; a clear that Airflow refuses because the run was just cleared by someone else
    (two `dags clear` of one run at once collide in Airflow's own tables) is that clear's job done:
    the run is queued again and will consume this rerun's request with the others'."""
    try:
        return airflow.clear(dag_id, run_id)
    except Exception:
        again = [r for r in airflow.runs_for(dag_id, key) if r.run_id == run_id and r.state in _RUNNING_AGAIN]
        if not again:
            raise
        return f"run {run_id} is already {again[0].state} again (a concurrent rerun cleared it)"


def start_runs(plan: RerunPlan, *, requested_by: str, airflow: AirflowRuns) -> RerunOutcome:
    """Step 2: clear each partition's latest run, or trigger one, through Airflow's own commands."""
    cleared: dict[str, str] = {}
    triggered: dict[str, str] = {}
    messages: list[str] = []
    try:
        for key, run_id in plan.runs_to_clear().items():
            messages.append(_clear(airflow, plan.dag_id, key, run_id))
            cleared[key] = run_id
        for key in plan.keys_to_trigger():
            triggered[key] = airflow.trigger(
                plan.dag_id, key, note=f"rerun: {plan.reason}", user=requested_by
            )
    except Exception as e:
        done = [*cleared, *triggered]
        left = [k for k in plan.keys if k not in done]
        raise RerunRefused(
            f"Airflow refused to rerun {plan.dag_id!r}: {type(e).__name__}: {e}. The ledger already holds the "
            f"rerun requests (reason {plan.reason!r}); started: {done or 'none'}; not started: {left}. "
            "Fix the cause and run the same command again (the requests are reused), or clear the runs with "
            f"`airflow dags clear {plan.dag_id} --partition-key KEY -y`."
        ) from e
    return RerunOutcome(plan=plan, cleared=cleared, triggered=triggered, messages=tuple(messages))
