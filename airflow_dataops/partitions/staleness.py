"""Staleness: an applied partition built from an upstream version that has since been replaced.

The definition lives in one query, ``airflow_dataops.store.inputs.stale_inputs``: an applied
(or quarantined) partition is **stale** when an input its current apply recorded is now
published under a different apply id.  Any replace of the upstream writes a new apply id (a
rerun, a stale refresh, a rollback), so its downstream partitions turn stale by themselves and
stay so until they are rebuilt.  This module groups that per partition and says what to run:
``partitions status``, ``partitions verify``, ``triage``, the UI and the claim that replaces a
stale partition (``store.ledger``) all read it from there.
"""

from __future__ import annotations

import shlex
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from airflow_dataops.store import StateStore
from airflow_dataops.store.inputs import BuiltFrom, describe_change, inputs_of, stale_inputs

__all__ = ["StalePartition", "built_from", "downstream_fix_command", "stale_partitions"]

#: The reason placeholder in suggested commands.
REASON = "<why: ticket, cause>"


@dataclass(frozen=True, kw_only=True)
class StalePartition:
    """One stale partition and the upstream changes that made it so."""

    dataset: str
    partition_key: str
    apply_id: int
    dag_id: str | None
    changes: tuple[BuiltFrom, ...]

    @property
    def detail(self) -> str:
        return "; ".join(describe_change(c) for c in self.changes)

    @property
    def command(self) -> str | None:
        return downstream_fix_command(self.dag_id, self.partition_key)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "partition": self.partition_key,
            "apply_id": self.apply_id,
            "dag_id": self.dag_id,
            "changes": [c.as_dict() for c in self.changes],
            "detail": self.detail,
            "command": self.command,
        }


def downstream_fix_command(dag_id: str | None, key: str, *, reason: str = REASON) -> str | None:
    """``airflow dataops partitions rerun DAG -k KEY --downstream --reason …``: rebuilds the stale
    partition and, in dependency order, everything built from it."""
    if not dag_id:
        return None
    parts = [
        "airflow",
        "dataops",
        "partitions",
        "rerun",
        dag_id,
        "-k",
        key,
        "--downstream",
        "--reason",
        reason,
    ]
    return " ".join(shlex.quote(p) for p in parts)


def stale_partitions(store: StateStore, datasets: Collection[str] | None = None) -> list[StalePartition]:
    """Every stale partition (of ``datasets``), sorted by dataset and key: one read of the store."""
    from airflow_dataops.store.records import list_datasets

    with store.begin(write=False) as conn:
        changes = stale_inputs(conn, datasets=datasets)
    if not changes:
        return []
    dags = {d["dataset"]: d.get("dag_id") for d in list_datasets(store)}
    grouped: dict[tuple[str, str], list[BuiltFrom]] = {}
    for c in changes:
        grouped.setdefault((c.dataset, c.partition_key), []).append(c)
    return [
        StalePartition(
            dataset=ds,
            partition_key=key,
            apply_id=items[0].apply_id,
            dag_id=dags.get(ds),
            changes=tuple(items),
        )
        for (ds, key), items in sorted(grouped.items())
    ]


def built_from(
    store: StateStore, dataset: str, partition_key: str, *, apply_id: int | None = None
) -> list[BuiltFrom]:
    """What was this built from?  The inputs its current apply (or ``apply_id``) recorded, each with
    the upstream's apply id then and now."""
    return inputs_of(store, dataset, partition_key, apply_id=apply_id)
