"""``partitions rerun --downstream``: rerun partitions and everything built from them, in order.

The chain comes from the ledger, not from DAG definitions: each apply recorded the upstream
partitions it read (``dataops_partition_inputs``), so the partitions built from a partition
are known exactly, across DAGs and across partition keys (a partition mapper's doing).

Planning (nothing is written)::

    roots       the DAG's partitions named by -k / --from --to (as ``partitions rerun``)
    walk        what each partition's current apply fed, level by level, to the end of the chain
    refuse      a cycle (a DAG's partition feeding itself through others), a downstream dataset
                with no DAG in the registry, or two DAGs claiming one dataset
    order       each (DAG, key) run after every run it reads from (longest path from a root)

Applying: one rerun request with the one reason for every partition of the chain, then each
step as ``partitions rerun`` does it (clear the latest run, or trigger one).  A downstream
partition built from asset events is **not** cleared: the upstream's rerun publishes a new
asset event, Airflow creates the downstream run from it, and that run consumes the request
(clearing the old run as well would race it).  Any other downstream step is cleared once the
steps before it are applied again in the ledger (``wait``), so it never reads the old upstream.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from airflow_dataops.partitions.rerun import (
    AirflowRuns,
    PlannedRerun,
    RerunOutcome,
    RerunPlan,
    RerunRefused,
    RerunSelection,
    plan_rerun,
    record_requests,
    start_runs,
)
from airflow_dataops.store import StateStore, states
from airflow_dataops.store import ledger as db
from airflow_dataops.store.inputs import dependents

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing's own from Python 3.11

AWAIT = "await"  # the run comes from the upstream's asset event

Unit = tuple[str, str]  # (dag_id, partition key): one Airflow run


@dataclass(frozen=True, kw_only=True)
class DownstreamStep:
    """One DAG's runs at one depth of the chain, and which upstream runs feed them."""

    level: int
    plan: RerunPlan
    fed_by: dict[str, tuple[str, ...]]  # key -> "dag_id key" of the runs it reads from

    @property
    def dag_id(self) -> str:
        return self.plan.dag_id


@dataclass(frozen=True, kw_only=True)
class DownstreamPlan:
    dag_id: str
    reason: str
    steps: tuple[DownstreamStep, ...]
    stale: frozenset[tuple[str, str]] = frozenset()  # (dataset, key) stale when planned

    @property
    def items(self) -> list[PlannedRerun]:
        return [i for s in self.steps for i in s.plan.items]

    def as_dict(self) -> dict[str, Any]:
        return {
            "dag_id": self.dag_id,
            "reason": self.reason,
            "steps": [
                {
                    "level": s.level,
                    "dag_id": s.dag_id,
                    "partitions": [
                        i.as_dict() | {"stale": (i.dataset, i.partition_key) in self.stale}
                        for i in s.plan.items
                    ],
                    "fed_by": {k: list(v) for k, v in s.fed_by.items()},
                }
                for s in self.steps
            ],
        }


def plan_downstream(
    store: StateStore,
    dag_id: str,
    *,
    reason: str,
    airflow: AirflowRuns,
    **selection: Unpack[RerunSelection],
) -> DownstreamPlan:
    """The whole chain below ``dag_id``'s partitions, in dependency order; refuses before writing anything.

    ``selection`` names the root partitions as for ``plan_rerun`` (``keys``, or ``date_from`` and
    ``date_to``; ``force``); ``force`` applies to every step.

    :raises RerunRefused: as ``plan_rerun``, and for a cycle or an ambiguous downstream dataset.
    """
    from airflow_dataops.store.records import list_datasets

    root = plan_rerun(store, dag_id, reason=reason, airflow=airflow, **selection)
    registry = {d["dataset"]: d.get("dag_id") for d in list_datasets(store)}
    # walk the ledger: unit -> the units it feeds, and how each edge was learned
    edges: dict[Unit, set[Unit]] = {}
    sources: dict[tuple[Unit, Unit], set[str]] = {}
    seen_parts: set[tuple[str, str]] = set()
    frontier = [(ds, k) for ds in root.datasets for k in root.keys]
    while frontier:
        ds, key = frontier.pop()
        if (ds, key) in seen_parts:
            continue
        seen_parts.add((ds, key))
        here: Unit = (registry.get(ds) or dag_id, key)
        for b in dependents(store, ds, key):
            down_dag = registry.get(b.dataset)
            if not down_dag:
                raise RerunRefused(
                    f"{b.dataset} {b.partition_key!r} was built from {ds} {key!r}, but no DAG is recorded as "
                    f"publishing {b.dataset!r}; run its DAG once so the registry knows it, or rerun it by hand. "
                    "Nothing was requested"
                )
            current = db.get_partition(store, b.dataset, b.partition_key)
            if current is not None and current.dag_id and current.dag_id != down_dag:
                raise RerunRefused(
                    f"dataset {b.dataset!r} is published by two DAGs ({down_dag!r} per the registry, "
                    f"{current.dag_id!r} per partition {b.partition_key!r}); which one should rerun it is "
                    "ambiguous. Rerun the right DAG by hand. Nothing was requested"
                )
            there: Unit = (down_dag, b.partition_key)
            if there != here:
                edges.setdefault(here, set()).add(there)
                sources.setdefault((here, there), set()).add(b.source)
            frontier.append((b.dataset, b.partition_key))
    roots = {(dag_id, k) for k in root.keys}
    levels = _levels(roots, edges)
    by_level: dict[tuple[int, str], list[str]] = {}
    fed_by: dict[Unit, list[Unit]] = {}
    for up, down in sources:
        fed_by.setdefault(down, []).append(up)
    for (dag, key), level in levels.items():
        if level > 0 and (dag, key) not in roots:
            by_level.setdefault((level, dag), []).append(key)
    steps = [DownstreamStep(level=0, plan=root, fed_by={})]
    for (level, dag), dag_keys in sorted(by_level.items()):
        plan = plan_rerun(
            store,
            dag,
            reason=reason,
            airflow=airflow,
            keys=sorted(dag_keys),
            force=selection.get("force", False),
        )
        items = []
        for item in plan.items:
            ups = fed_by.get((dag, item.partition_key), [])
            by_event = bool(ups) and all(sources[(u, (dag, item.partition_key))] == {"event"} for u in ups)
            items.append(replace(item, action=AWAIT) if by_event and item.ledger_state else item)
        steps.append(
            DownstreamStep(
                level=level,
                plan=replace(plan, items=tuple(items)),
                fed_by={
                    k: tuple(f"{u[0]} {u[1]}" for u in sorted(fed_by.get((dag, k), []))) for k in dag_keys
                },
            )
        )
    from airflow_dataops.partitions.staleness import stale_partitions

    planned = {i.dataset for st in steps for i in st.plan.items}
    stale = frozenset((sp.dataset, sp.partition_key) for sp in stale_partitions(store, planned))
    return DownstreamPlan(dag_id=dag_id, reason=root.reason, steps=tuple(steps), stale=stale)


def _levels(roots: set[Unit], edges: dict[Unit, set[Unit]]) -> dict[Unit, int]:
    """Longest distance from a root, so every run comes after all it reads; refuses a cycle."""
    indegree: dict[Unit, int] = {u: 0 for u in roots}
    for a, outs in edges.items():
        indegree.setdefault(a, 0)
        for b in outs:
            indegree[b] = indegree.get(b, 0) + 1
    level = {u: 0 for u, d in indegree.items() if d == 0}
    ready = sorted(level)
    done: set[Unit] = set()
    while ready:
        u = ready.pop()
        done.add(u)
        for v in sorted(edges.get(u, ())):
            level[v] = max(level.get(v, 0), level[u] + 1)
            indegree[v] -= 1
            if indegree[v] == 0:
                ready.append(v)
    stuck = sorted(set(indegree) - done)
    if stuck:
        raise RerunRefused(
            "the recorded inputs form a cycle, so there is no order to rerun them in: "
            + ", ".join(f"{d} {k!r}" for d, k in stuck)
            + " each (directly or through the others) read what the others publish. Rerun them one by one "
            "without --downstream. Nothing was requested"
        )
    return level


def apply_downstream(
    store: StateStore,
    plan: DownstreamPlan,
    *,
    requested_by: str,
    airflow: AirflowRuns,
    wait_timeout: float = 3600,
    poll: float = 5,
    sleep: Callable[[float], None] = time.sleep,
    say: Callable[[str], None] = print,
) -> list[RerunOutcome]:
    """Record the reason for every partition of the chain, then start each step in order.

    Steps fed by asset events start themselves; before clearing any other step, wait (up to
    ``wait_timeout`` seconds) until the partitions of the steps before it are applied again.
    """
    before = {(i.dataset, i.partition_key): _apply_id(store, i.dataset, i.partition_key) for i in plan.items}
    outcomes: list[RerunOutcome] = []
    # every request first, with the one reason: a run that starts early still finds its own
    for step in plan.steps:
        record_requests(store, step.plan, requested_by=requested_by)
    started: list[PlannedRerun] = []
    for step in plan.steps:
        runnable = tuple(i for i in step.plan.items if i.action != AWAIT)
        if runnable and started:
            _wait_applied(store, started, before, wait_timeout=wait_timeout, poll=poll, sleep=sleep, say=say)
        if runnable:
            outcomes.append(
                start_runs(replace(step.plan, items=runnable), requested_by=requested_by, airflow=airflow)
            )
        started += list(step.plan.items)
    return outcomes


def _apply_id(store: StateStore, dataset: str, key: str) -> int | None:
    cur = db.get_partition(store, dataset, key)
    return cur.apply_id if cur is not None else None


def _wait_applied(
    store: StateStore,
    items: Sequence[PlannedRerun],
    before: dict[tuple[str, str], int | None],
    *,
    wait_timeout: float,
    poll: float,
    sleep: Callable[[float], None],
    say: Callable[[str], None],
) -> None:
    deadline = time.monotonic() + wait_timeout
    pending = list(items)
    say(f"waiting for {len(pending)} upstream partition(s) to be applied again before the next step …")
    while True:
        left = []
        for i in pending:
            cur = db.get_partition(store, i.dataset, i.partition_key)
            if (
                cur is not None
                and cur.state in states.PUBLISHED_STATES
                and cur.apply_id != before.get((i.dataset, i.partition_key))
            ):
                continue
            if cur is not None and cur.state == states.FAILED:
                raise RerunRefused(
                    f"{i.dataset} {i.partition_key!r} failed while rerunning; the steps after it were not started "
                    f"(their rerun requests stay open). Fix it, then rerun it with --downstream."
                )
            left.append(i)
        if not left:
            return
        if time.monotonic() >= deadline:
            raise RerunRefused(
                f"still waiting after {wait_timeout:.0f} s for "
                + ", ".join(f"{i.dataset} {i.partition_key!r}" for i in left)
                + "; the steps after them were not started (their rerun requests stay open). Check the runs, then "
                "rerun the next DAG by hand or this command again"
            )
        pending = left
        sleep(poll)
