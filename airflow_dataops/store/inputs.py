"""What each applied partition was built from: the SQL behind lineage inputs and staleness.

Every apply records, in the same store transaction that marks it applied, the upstream
dataset partitions it read and the apply id each of them held when it was read
(``dataops_partition_inputs``).  From that the ledger answers:

- *what was this built from?* (:func:`inputs_of`);
- *which applied partitions are stale?* (:func:`stale_inputs`, the one definition: an applied
  partition is stale when an input it recorded is now published under a different apply id);
- *what was built from this?* (:func:`dependents`, for ``rerun --downstream``).

An upstream partition being applied right now (or whose rerun failed) still holds its last
published rows, so what counts as its *current* apply id is its last published one.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, select

from airflow_dataops.store import tables as t
from airflow_dataops.store.engine import StateStore
from airflow_dataops.store.states import PUBLISHED_STATES

SOURCES = ("event", "declared", "sql")
_UP = t.partitions.alias("upstream")  # the input's current row, beside the partition's own


@dataclass(frozen=True, kw_only=True)
class InputRef:
    """An upstream partition an apply reads, and how we know (``event``, ``declared``, ``sql``)."""

    dataset: str
    partition_key: str
    source: str


@dataclass(frozen=True, kw_only=True)
class InputRecord:
    """An input as recorded with an apply: the upstream partition and the apply id it held then."""

    input_dataset: str
    input_partition_key: str
    input_apply_id: int
    source: str


@dataclass(frozen=True, kw_only=True)
class BuiltFrom:
    """One recorded input of an apply, next to what the upstream partition holds now."""

    dataset: str
    partition_key: str
    apply_id: int
    input_dataset: str
    input_partition_key: str
    input_apply_id: int
    source: str
    current_apply_id: int | None  # the upstream's published apply id now (None: nothing published)
    current_state: str | None
    current_run_id: str | None

    @property
    def changed(self) -> bool:
        return self.current_apply_id is not None and self.current_apply_id != self.input_apply_id

    def as_dict(self) -> dict[str, Any]:
        return {
            "input_dataset": self.input_dataset,
            "input_partition": self.input_partition_key,
            "built_from_apply": self.input_apply_id,
            "current_apply": self.current_apply_id,
            "current_state": self.current_state,
            "source": self.source,
            "changed": self.changed,
        }


def _published_id(conn: Connection, dataset: str, key: str) -> int | None:
    """The apply id whose rows the upstream partition holds: its current one if published, else its
    last published one (a rerun in flight or one that failed has not replaced the rows)."""
    p, h = t.partitions.c, t.partition_history.c
    row = conn.execute(
        select(p.state, p.apply_id).where(p.dataset == dataset, p.partition_key == key)
    ).first()
    if row is None:
        return None
    if row.state in PUBLISHED_STATES and row.apply_id is not None:
        return int(row.apply_id)
    last = conn.execute(
        select(h.id)
        .where(h.dataset == dataset, h.partition_key == key, h.state.in_(PUBLISHED_STATES))
        .order_by(h.id.desc())
        .limit(1)
    ).scalar()
    return int(last) if last is not None else None


def resolve_inputs(store: StateStore, refs: Iterable[InputRef]) -> tuple[list[InputRecord], list[InputRef]]:
    """The apply id each input holds now (read before the apply reads the data).

    :returns: (inputs with their apply ids, inputs the ledger has never published).
    """
    found: list[InputRecord] = []
    unknown: list[InputRef] = []
    seen: set[tuple[str, str]] = set()
    with store.begin(write=False) as conn:
        for ref in refs:
            if (ref.dataset, ref.partition_key) in seen:
                continue
            seen.add((ref.dataset, ref.partition_key))
            apply_id = _published_id(conn, ref.dataset, ref.partition_key)
            if apply_id is None:
                unknown.append(ref)
            else:
                found.append(
                    InputRecord(
                        input_dataset=ref.dataset,
                        input_partition_key=ref.partition_key,
                        input_apply_id=apply_id,
                        source=ref.source,
                    )
                )
    return found, unknown


def record_inputs(
    conn: Connection, *, dataset: str, partition_key: str, apply_id: int, inputs: Sequence[InputRecord]
) -> None:
    """Insert an apply's inputs; called inside the transaction that records the apply."""
    rows = [
        {
            "apply_id": apply_id,
            "dataset": dataset,
            "partition_key": partition_key,
            "input_dataset": i.input_dataset,
            "input_partition_key": i.input_partition_key,
            "input_apply_id": i.input_apply_id,
            "source": i.source,
        }
        for i in {(i.input_dataset, i.input_partition_key): i for i in inputs}.values()
    ]
    if rows:  # each claim records once: its apply id is new, so the primary key cannot clash
        conn.execute(t.partition_inputs.insert(), rows)


def _built_from_query() -> Any:
    i, d, u = t.partition_inputs, t.partitions, _UP
    return (
        select(
            i.c.dataset,
            i.c.partition_key,
            i.c.apply_id,
            i.c.input_dataset,
            i.c.input_partition_key,
            i.c.input_apply_id,
            i.c.source,
            u.c.state.label("up_state"),
            u.c.apply_id.label("up_apply_id"),
            u.c.run_id.label("up_run_id"),
        )
        .select_from(
            i.join(d, and_(d.c.dataset == i.c.dataset, d.c.partition_key == i.c.partition_key)).outerjoin(
                u, and_(u.c.dataset == i.c.input_dataset, u.c.partition_key == i.c.input_partition_key)
            )
        )
        .order_by(i.c.dataset, i.c.partition_key, i.c.input_dataset, i.c.input_partition_key)
    )


def _built_from(row: Any) -> BuiltFrom:
    published = row.up_state in PUBLISHED_STATES
    return BuiltFrom(
        dataset=row.dataset,
        partition_key=row.partition_key,
        apply_id=int(row.apply_id),
        input_dataset=row.input_dataset,
        input_partition_key=row.input_partition_key,
        input_apply_id=int(row.input_apply_id),
        source=row.source,
        current_apply_id=int(row.up_apply_id) if published and row.up_apply_id is not None else None,
        current_state=row.up_state,
        current_run_id=row.up_run_id,
    )


def inputs_of(
    store: StateStore, dataset: str, partition_key: str, *, apply_id: int | None = None
) -> list[BuiltFrom]:
    """What this partition was built from: its current apply's inputs (or ``apply_id``'s)."""
    i, d = t.partition_inputs.c, t.partitions.c
    query = _built_from_query().where(i.dataset == dataset, i.partition_key == partition_key)
    query = (
        query.where(i.apply_id == apply_id) if apply_id is not None else query.where(i.apply_id == d.apply_id)
    )
    with store.begin(write=False) as conn:
        return [_built_from(r) for r in conn.execute(query)]


def stale_inputs(
    conn: Connection,
    *,
    datasets: Collection[str] | None = None,
    partition_key: str | None = None,
) -> list[BuiltFrom]:
    """THE definition of stale: for each published partition (of ``datasets``), the inputs its current
    apply recorded whose upstream partition is now published under another apply id.

    A replace of the upstream (rerun, stale refresh, rollback) writes a new apply id, so every
    downstream partition built from the old one shows here until it is rebuilt.
    """
    i, d, u = t.partition_inputs.c, t.partitions.c, _UP.c
    query = _built_from_query().where(
        i.apply_id == d.apply_id,
        d.state.in_(PUBLISHED_STATES),
        u.state.in_(PUBLISHED_STATES),
        u.apply_id != i.input_apply_id,
    )
    if datasets is not None:
        query = query.where(i.dataset.in_(sorted(datasets)))
    if partition_key is not None:
        query = query.where(i.partition_key == partition_key)
    return [_built_from(r) for r in conn.execute(query)]


def dependents(store: StateStore, dataset: str, partition_key: str) -> list[BuiltFrom]:
    """The partitions whose current apply read ``dataset``'s ``partition_key`` (one level down)."""
    i, d = t.partition_inputs.c, t.partitions.c
    query = _built_from_query().where(
        i.input_dataset == dataset, i.input_partition_key == partition_key, i.apply_id == d.apply_id
    )
    with store.begin(write=False) as conn:
        return [_built_from(r) for r in conn.execute(query)]


def describe_change(b: BuiltFrom) -> str:
    """``orders 2026-11-28 was replaced (built from apply #3, now #7)``: one input's change."""
    return (
        f"{b.input_dataset} {b.input_partition_key} was replaced "
        f"(built from apply #{b.input_apply_id}, now #{b.current_apply_id})"
    )
