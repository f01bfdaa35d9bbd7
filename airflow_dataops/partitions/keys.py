"""Partition keys: where they come from in a task, and what a valid one looks like."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from airflow_dataops.exceptions import LedgerError

MAX_KEY_LENGTH = 250  # Airflow's own limit for DagRun.partition_key


def validate_partition_key(key: object, *, source: str = "partition key") -> str:
    """Return ``key`` if it is a usable partition key, else raise a ``LedgerError`` naming it.

    Keys are always bound as SQL parameters, so quotes and semicolons are harmless;
    what is refused is what cannot round-trip or be read by a person at 3 a.m.:
    empty or blank keys, keys over 250 characters, control characters.
    """
    if not isinstance(key, str):
        raise LedgerError(f"{source} must be a string, got {type(key).__name__} {key!r}")
    if not key.strip():
        raise LedgerError(f"{source} must not be empty or blank, got {key!r}")
    if len(key) > MAX_KEY_LENGTH:
        raise LedgerError(
            f"{source} is {len(key)} characters long; the limit is {MAX_KEY_LENGTH}: {key[:40]!r}…"
        )
    bad = [ch for ch in key if unicodedata.category(ch) in ("Cc", "Cf", "Cs")]
    if bad:
        raise LedgerError(
            f"{source} {key!r} contains control or invisible characters {sorted(set(bad))!r}; "
            "use printable characters only"
        )
    return key


def resolve_partition_key(
    context: Mapping[str, Any], explicit: str | None = None, *, date_format: str = "%Y-%m-%d"
) -> str:
    """The partition key for this task: explicit, else the run's ``partition_key``, else its logical date.

    Airflow 3.3 partitioned timetables set ``context["partition_key"]``; other DAGs fall
    back to the logical date (or the data interval start) formatted with ``date_format``.
    """
    if explicit:
        return validate_partition_key(explicit, source="partition_key argument")
    key = context.get("partition_key")
    if key:
        return validate_partition_key(key, source="the run's partition_key")
    for name in ("logical_date", "data_interval_start"):
        value = context.get(name)
        if value is not None:
            return validate_partition_key(value.strftime(date_format), source=f"the run's {name}")
    raise LedgerError(
        "this task has no partition key: the run has no partition_key (not a partitioned timetable) and no "
        "logical date (a manual or asset-triggered run); pass partition_key=… to the operator"
    )
