"""ODCS v3.1 ``logicalTypeOptions`` and ``relationships`` of a property, validated at load.

The loader calls :func:`logical_type_options` and :func:`property_relationships` while it
builds a :class:`~airflow_dataops.contracts.model.Property`; they return what the engines
evaluate (normalised values) and the warnings for what they do not.  A value that cannot mean
anything (a bound that is not finite, ``minLength`` above ``maxLength``, a pattern that does not
compile, a date that does not parse) is a :class:`ContractError` naming file, line and path.

=====================  =============================================  ==========================
logicalType            evaluated                                      not evaluated (warning)
=====================  =============================================  ==========================
string                 minLength, maxLength, pattern, format (email,   other formats (uri,
                       uuid, ipv4)                                    hostname, ipv6, password…)
integer                minimum, maximum, exclusiveMinimum,            format i64 / i128 (any
                       exclusiveMaximum, multipleOf, format i8…u64    integer column holds them)
number                 minimum, maximum, exclusive*, multipleOf       format f32 / f64
date, timestamp, time  minimum, maximum, exclusive* (ISO 8601),       timezone, defaultTimezone,
                       format (yyyy MM dd HH mm ss SSS, literals)     other format letters
object, array          nothing: not portable across SQLite and        every option
                       PostgreSQL
=====================  =============================================  ==========================
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from airflow_dataops.contracts.model import Relationship

Fail = Callable[[str, list[str | int]], Exception]

BOUNDS = ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum")
TEMPORAL = ("date", "timestamp", "time")
#: Regular expressions for the string formats that have a portable check.
STRING_FORMATS: dict[str, str] = {
    "email": r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
    "uuid": r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
    "ipv4": r"^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$",
}
#: Rust integer formats -> (smallest, largest); i64/i128 are what any integer column holds.
INTEGER_FORMATS: dict[str, tuple[int | None, int | None]] = {
    "i8": (-(2**7), 2**7 - 1),
    "i16": (-(2**15), 2**15 - 1),
    "i32": (-(2**31), 2**31 - 1),
    "u8": (0, 2**8 - 1),
    "u16": (0, 2**16 - 1),
    "u32": (0, 2**32 - 1),
    "u64": (0, None),
    "u128": (0, None),
    "i64": (None, None),
    "i128": (None, None),
}
#: JDK DateTimeFormatter letters we translate, longest first.
_JDK_TOKENS = (
    ("yyyy", "[0-9]{4}"),
    ("uuuu", "[0-9]{4}"),
    ("yy", "[0-9]{2}"),
    ("MM", "[0-9]{2}"),
    ("dd", "[0-9]{2}"),
    ("HH", "[0-9]{2}"),
    ("mm", "[0-9]{2}"),
    ("ss", "[0-9]{2}"),
)


def logical_type_options(
    raw: Any, *, family: str | None, parts: list[str | int], fail: Fail
) -> tuple[dict[str, Any], list[str]]:
    """``(options we evaluate, warnings)`` for a property's ``logicalTypeOptions``.

    ``family`` is the property's logicalType (or the family of its physicalType).  Returned
    options: ``minimum``/``maximum``/``exclusiveMinimum``/``exclusiveMaximum`` (numbers as written,
    or ISO text for date/timestamp/time), ``multipleOf`` (a number), ``minLength``/``maxLength`` (int),
    ``pattern`` (a regular expression) and ``format_pattern`` (the regular expression of ``format``).
    """
    if not raw:
        return {}, []
    here = [*parts, "logicalTypeOptions"]
    where = _fmt_path(here)
    if not isinstance(raw, dict):
        raise fail(f"logicalTypeOptions must be a mapping, got {type(raw).__name__}", here)
    if family is None:
        return {}, [f"{where}: not evaluated: the property declares no logicalType (or known physicalType)"]
    if family in ("object", "array", "boolean"):
        return {}, [
            f"{where}.{k}: not evaluated: {family} options are not portable across SQLite and PostgreSQL"
            for k in raw
        ]
    out: dict[str, Any] = {}
    warnings: list[str] = []
    for key, value in raw.items():
        at = [*here, key]
        if family == "string" and key in ("minLength", "maxLength"):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise fail(f"{key} must be a non-negative integer (e.g. 1), got {value!r}", at)
            out[key] = value
        elif family == "string" and key == "pattern":
            out[key] = _regex(value, at, fail)
        elif family in ("integer", "number") and key in (*BOUNDS, "multipleOf"):
            if not _finite(value):
                raise fail(f"{key} must be a finite number, got {value!r}", at)
            if key == "multipleOf" and value <= 0:
                raise fail(f"multipleOf must be greater than 0, got {value!r}", at)
            # an int stays an int: PostgreSQL compares a BIGINT column with 1.0 as NUMERIC, row by row
            out[key] = value if isinstance(value, int) else float(value)
        elif family in TEMPORAL and key in BOUNDS:
            out[key] = _instant(value, family, at, fail)
        elif key == "format":
            regex, bounds, reason = _format(value, family)
            if reason:
                warnings.append(f"{_fmt_path(at)}: format {value!r} is not evaluated: {reason}")
            if regex:
                out["format_pattern"] = regex
            for name, bound in bounds:
                out[f"format_{name}"] = bound
        else:
            warnings.append(f"{_fmt_path(at)}: {key} is not evaluated for logicalType {family}")
    _check_consistent(out, here, fail)
    return out, warnings


def property_relationships(
    raw: Any, *, column: str, parts: list[str | int], fail: Fail
) -> tuple[tuple[Relationship, ...], list[str]]:
    """Property-level ``relationships`` (``from`` is the property itself)."""
    return _relationships(raw, default_from=column, parts=[*parts, "relationships"], fail=fail)


def object_relationships(
    raw: Any, *, parts: list[str | int], fail: Fail
) -> tuple[tuple[Relationship, ...], list[str]]:
    """Schema-level ``relationships`` (``from`` and ``to`` given, ``table.column`` each)."""
    return _relationships(raw, default_from=None, parts=[*parts, "relationships"], fail=fail)


# -- internals ---------------------------------------------------------------------------------


def _relationships(
    raw: Any, *, default_from: str | None, parts: list[str | int], fail: Fail
) -> tuple[tuple[Relationship, ...], list[str]]:
    out: list[Relationship] = []
    warnings: list[str] = []
    for i, rel in enumerate(raw or []):
        at = [*parts, i]
        path = _fmt_path(at)
        if not isinstance(rel, dict):
            continue  # the JSON Schema has refused it already
        if rel.get("type", "foreignKey") != "foreignKey":
            warnings.append(f"{path}: relationship type {rel.get('type')!r} is not evaluated")
            continue
        to = _as_list(rel.get("to"))
        frm = [default_from] if default_from is not None else _as_list(rel.get("from"))
        if default_from is None:
            frm = [f.rpartition(".")[2] for f in frm]
        if len(frm) != len(to):
            raise fail(f"relationship from {frm} and to {to} must name as many columns each", at)
        targets = [t.rpartition(".") for t in to]
        objects = {obj for obj, dot, _ in targets if dot}
        if any("/" in t for t in to) or len(objects) != 1 or any(not dot for _, dot, _ in targets):
            reason = "only table.column references (one table) are evaluated, not fully qualified ids"
            out.append(Relationship(columns=tuple(frm), to_object=None, reason=reason, path=path))
            warnings.append(f"{path}: relationship to {to} is not evaluated: {reason}")
            continue
        out.append(
            Relationship(
                columns=tuple(frm),
                to_object=objects.pop(),
                to_columns=tuple(col for _, _, col in targets),
                path=path,
            )
        )
    return tuple(out), warnings


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _regex(value: Any, at: list[str | int], fail: Fail) -> str:
    if not isinstance(value, str) or not value:
        raise fail(f"pattern must be a non-empty regular expression, got {value!r}", at)
    try:
        re.compile(value)
    except re.error as e:
        raise fail(f"pattern {value!r} is not a valid regular expression: {e}", at) from e
    return value


def _instant(value: Any, family: str, at: list[str | int], fail: Fail) -> str:
    """An ISO 8601 date / timestamp / time as normalised text (timestamps in naive UTC)."""
    text = value.isoformat() if isinstance(value, (dt.date, dt.time)) else value
    example = {"date": "2024-01-31", "timestamp": "2024-01-31T12:00:00Z", "time": "08:30:00"}[family]
    if not isinstance(text, str):
        raise fail(f"a {family} bound must be ISO 8601 text such as {example!r}, got {value!r}", at)
    try:
        if family == "date":
            return dt.date.fromisoformat(text.strip()).isoformat()
        if family == "time":
            return dt.time.fromisoformat(text.strip()).isoformat()
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError as e:
        raise fail(f"{text!r} is not an ISO 8601 {family}; write it like {example!r}", at) from e
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment.isoformat(sep=" ")


def _format(value: Any, family: str) -> tuple[str | None, list[tuple[str, int]], str | None]:
    """``(regex, [(bound name, value)], reason not evaluated)`` for a ``format``."""
    if family == "string":
        regex = STRING_FORMATS.get(str(value).lower())
        if regex is None:
            return None, [], f"no portable check (evaluated: {', '.join(STRING_FORMATS)})"
        return regex, [], None
    if family == "integer":
        low, high = INTEGER_FORMATS.get(str(value), (None, None))
        bounds = [(n, b) for n, b in (("minimum", low), ("maximum", high)) if b is not None]
        return None, bounds, None if bounds else "any integer column holds it"
    if family == "number":
        return None, [], "a float column holds it"
    regex = _jdk_regex(str(value))
    if regex is None:
        return None, [], "only the letters yyyy, yy, MM, dd, HH, mm, ss, S… and quoted literals are checked"
    return regex, [], None


def _jdk_regex(fmt: str) -> str | None:
    """``yyyy-MM-dd`` -> ``^[0-9]{4}\\-[0-9]{2}\\-[0-9]{2}$``; ``None`` for letters we do not translate."""
    out, i = "", 0
    while i < len(fmt):
        if fmt[i] == "'":
            end = fmt.find("'", i + 1)
            if end < 0:
                return None
            out += re.escape(fmt[i + 1 : end]) if end > i + 1 else "'"
            i = end + 1
            continue
        for token, regex in _JDK_TOKENS:
            if fmt.startswith(token, i):
                out, i = out + regex, i + len(token)
                break
        else:
            if fmt[i] == "S":
                n = len(fmt[i:]) - len(fmt[i:].lstrip("S"))
                out, i = out + f"[0-9]{{{n}}}", i + n
            elif fmt[i].isalpha():
                return None
            else:
                out, i = out + re.escape(fmt[i]), i + 1
    return f"^{out}$" if out else None


def _check_consistent(out: dict[str, Any], here: list[str | int], fail: Fail) -> None:
    if out.get("minLength", 0) > out.get("maxLength", math.inf):
        raise fail(
            f"minLength {out['minLength']} is greater than maxLength {out['maxLength']}; no value could pass",
            here,
        )
    lows = [(k, out[k]) for k in ("minimum", "exclusiveMinimum") if k in out]
    highs = [(k, out[k]) for k in ("maximum", "exclusiveMaximum") if k in out]
    for lk, low in lows:
        for hk, high in highs:
            if low > high or (low == high and (lk != "minimum" or hk != "maximum")):
                raise fail(f"{lk} {low!r} and {hk} {high!r} leave no value that could pass", here)


def _fmt_path(parts: Sequence[str | int]) -> str:
    from airflow_dataops.contracts.paths import format_path

    return format_path(parts)
