"""Data types and durations as contracts write them: physical type names -> logical family,
``(2, "d")`` -> seconds, timestamps -> naive UTC.

Shared by the loader, the rules, the engines, the contract diff and the SLIs; nothing here
knows about rules or reports.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

_UNIT_SECONDS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
    **dict.fromkeys(("w", "week", "weeks"), 7 * 86400),
}

#: Physical type names -> logical family.  Unknown names are not checked.
_PHYSICAL_FAMILIES: dict[str, tuple[str, ...]] = {
    "integer": (
        "int",
        "integer",
        "bigint",
        "smallint",
        "tinyint",
        "int2",
        "int4",
        "int8",
        "serial",
        "bigserial",
        "long",
    ),
    "number": (
        "double",
        "double precision",
        "float",
        "float4",
        "float8",
        "real",
        "numeric",
        "decimal",
        "number",
    ),
    "string": (
        "varchar",
        "char",
        "character",
        "character varying",
        "text",
        "string",
        "nvarchar",
        "nchar",
        "clob",
    ),
    "boolean": ("bool", "boolean"),
    "date": ("date",),
    "timestamp": (
        "timestamp",
        "datetime",
        "timestamptz",
        "timestamp with time zone",
        "timestamp without time zone",
    ),
    "time": ("time", "timetz", "time without time zone", "time with time zone"),
    "object": ("json", "jsonb", "struct", "map", "object", "record"),
    "array": ("array", "list"),
}

_PHYSICAL = {name: family for family, names in _PHYSICAL_FAMILIES.items() for name in names}


def duration_seconds(value: float, unit: str | None) -> float:
    """``(2, "d")`` -> 172800.0; units as ODCS writes them (``d``, ``day``, ``days``, ``h``, ``hour`` ...)."""
    key = (unit or "").strip().lower()
    if key not in _UNIT_SECONDS:
        raise ValueError(
            f"unit {unit!r} is not a duration unit we evaluate; use one of s, m, h, d, w (or second(s), "
            f"minute(s), hour(s), day(s), week(s))"
        )
    return float(value) * _UNIT_SECONDS[key]


def physical_family(physical_type: str | None) -> str | None:
    """``"VARCHAR(2)"`` -> ``"string"``; ``None`` for names we do not know."""
    if not physical_type:
        return None
    base = re.sub(r"\(.*?\)", "", physical_type).strip().lower()
    return _PHYSICAL.get(base)


def compatible(declared: str | None, actual: str | None) -> bool:
    """Whether a column of logical family ``actual`` satisfies a declared logical type.

    ``number`` accepts integers; ``date``/``timestamp``/``time`` accept text (ISO strings, the
    usual storage on SQLite); an unknown side is not held against the data.
    """
    if declared is None or actual is None or declared == actual:
        return True
    if declared == "number" and actual == "integer":
        return True
    return declared in ("date", "timestamp", "time") and actual == "string"


def to_utc(value: Any) -> dt.datetime | None:
    """A naive UTC datetime from a datetime, date, ISO string or pandas Timestamp; None for null."""
    if value is None:
        return None
    if isinstance(value, str):
        try:  # ISO 8601 (with "Z" on Python 3.11+) without importing pandas in a task process
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            import pandas as pd

            try:
                value = pd.Timestamp(value).to_pydatetime()
            except (ValueError, TypeError):
                return None  # not a timestamp: the rule fails; the text is data, never echoed
    elif hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    return None
