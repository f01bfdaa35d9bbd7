"""Check an in-process pandas DataFrame against a contract.

Gives the same verdicts and the same numbers as :mod:`airflow_dataops.contracts.engines.sql`
on the same data: both compute the measures of :mod:`airflow_dataops.contracts.rules` with
the same semantics (nulls are never invalid; NULLs are equal in tuple duplicates; patterns
use ``re.search`` on the text of the value) and leave the arithmetic to :func:`rules.judge`.
ODCS ``sql`` rules need a database and are skipped here with a warning in the report.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from airflow_dataops.contracts import rules as R
from airflow_dataops.contracts.model import Contract
from airflow_dataops.contracts.report import GateReport, RuleResult

if TYPE_CHECKING:
    import pandas as pd


def evaluate_dataframe(
    contract: Contract,
    df: pd.DataFrame,
    *,
    schema_object: str | None = None,
    dataset: str | None = None,
    partition: str | None = None,
    now: dt.datetime | None = None,
) -> GateReport:
    """Evaluate ``contract``'s rules for ``schema_object`` on ``df``.

    :param now: reference time for ``latency``/``freshness`` (default: the current UTC time).
    """
    obj = contract.schema_object(schema_object)
    results: list[RuleResult] = [
        R.schema_result(
            obj, p, series_family(df[p.column]) if p.column in df.columns else None, p.column in df.columns
        )
        for p in obj.properties
    ]
    warnings = list(contract.warnings)
    values: dict[R.Measure, Any] = {R.ROWS: len(df)}
    for check in R.plan(contract, obj):
        if check.measure.kind == "sql":
            warnings.append(f"{check.name}: sql rules are not evaluated by the pandas engine")
            continue
        if check.measure.kind == "orphans":
            warnings.append(
                f"{check.name}: not evaluated: a foreign key needs the referenced table (use the sql engine)"
            )
            continue
        if not all(c in df.columns for c in check.measure.columns):
            results.append(R.missing_column_result(check))
            continue
        if check.measure not in values:
            values[check.measure] = _measure(check.measure, df)
        results.append(R.judge(check, values, now=now))
    return GateReport(
        contract_id=contract.id,
        contract_version=contract.version,
        dataset=dataset or obj.table,
        partition=partition,
        engine="pandas",
        row_count=len(df),
        results=tuple(results),
        warnings=tuple(warnings),
    )


def failing_row_mask(
    contract: Contract, df: pd.DataFrame, schema_object: str | None = None, *, rules: set[str] | None = None
) -> pd.Series:
    """Boolean Series, True for rows that break ANY row-level rule (or one of ``rules`` if given)."""
    import pandas as pd

    obj = contract.schema_object(schema_object)
    mask = pd.Series(False, index=df.index)
    for check in R.plan(contract, obj):
        m = check.measure
        if (
            check.row_level
            and m.kind != "orphans"
            and (rules is None or check.name in rules)
            and all(c in df.columns for c in m.columns)
        ):
            mask |= _row_mask(m, df)
    return mask


_ROW_KINDS = ("nulls", "missing", "invalid", "range", "length", "multiple", "format")


def _measure(m: R.Measure, df: pd.DataFrame) -> Any:
    if m.kind in _ROW_KINDS:
        return int(_row_mask(m, df).sum())
    if m.kind == "duplicates":
        s = df[m.column].dropna()
        return int(s.duplicated().sum())
    if m.kind == "tuple_duplicates":
        return int(df[list(m.columns)].duplicated().sum())
    if m.kind == "max":
        s = df[m.column].dropna()
        return None if s.empty else s.max()
    raise ValueError(f"no pandas measure for kind {m.kind!r}")


def _row_mask(m: R.Measure, df: pd.DataFrame) -> pd.Series:
    import pandas as pd

    if m.kind == "tuple_duplicates":  # every member of a duplicated key (NULLs equal), as the SQL engine
        return df[list(m.columns)].duplicated(keep=False).astype(bool)
    s = df[m.column]
    isna = s.isna().astype(bool)
    if m.kind == "duplicates":
        return (~isna & s.duplicated(keep=False)).astype(bool)
    if m.kind in ("range", "length", "multiple"):
        return _compare_mask(m, s, isna)
    if m.kind == "format":
        if series_family(s) not in ("string", None):
            return pd.Series(False, index=df.index)
        m = R.Measure(kind="invalid", columns=m.columns, pattern=m.pattern)
    if m.kind == "nulls":
        return isna
    if m.kind == "missing":
        return isna | (s.isin(list(m.markers)).fillna(False).astype(bool) & ~isna) if m.markers else isna
    if m.kind == "invalid":
        valid = pd.Series(True, index=df.index)
        if m.valid_values is not None:
            valid &= s.isin(list(m.valid_values)).fillna(False).astype(bool)
        if m.pattern:
            import re

            rx = re.compile(m.pattern)
            matched = [
                not gone and rx.search(str(v)) is not None for v, gone in zip(s.tolist(), isna.tolist())
            ]
            valid &= pd.Series(matched, index=df.index, dtype=bool)
        if m.valid_values is None and not m.pattern:
            return pd.Series(False, index=df.index)
        return ~isna & ~valid
    raise ValueError(f"measure kind {m.kind!r} is not row-level")


def _compare_mask(m: R.Measure, s: pd.Series, isna: pd.Series) -> pd.Series:
    """Range, length and multipleOf, with the SQL engine's semantics (NULLs and values that do not
    parse as the bound's type never fail)."""
    import numpy as np
    import pandas as pd

    if m.kind == "length":
        values = pd.Series([None if gone else len(str(v)) for v, gone in zip(s.tolist(), isna.tolist())])
        values = values.astype("Float64").set_axis(s.index)
    elif m.kind == "multiple":
        q = pd.to_numeric(s, errors="coerce").astype("float64") / float(m.bound)
        return ((q - np.round(q)).abs() > R.MULTIPLE_TOLERANCE).fillna(False).astype(bool)
    elif m.temporal is not None:
        values = _instants(s, m.temporal)
    else:
        values = pd.to_numeric(s, errors="coerce").astype("Float64")
    bound = m.bound
    if m.temporal is not None:
        bound = (
            tuple(_instant(b, m.temporal) for b in bound)
            if isinstance(bound, tuple)
            else _instant(bound, m.temporal)
        )
    if m.op == "outside":
        out = (values < bound[0]) | (values > bound[1])
    else:
        out = {"<": values.lt, "<=": values.le, ">": values.gt, ">=": values.ge}[m.op or "<"](bound)
    return pd.Series(out, index=s.index).fillna(False).astype(bool)


def _instant(value: Any, temporal: str) -> Any:
    import pandas as pd

    if temporal == "time":
        return _seconds(value)
    stamp = pd.to_datetime(value, errors="coerce", utc=True, format="ISO8601")
    return pd.NaT if pd.isna(stamp) else stamp.tz_localize(None)


def _instants(s: pd.Series, temporal: str) -> pd.Series:
    """Values as comparable instants (naive UTC; seconds of the day for ``time``); NaT/NA when unparseable."""
    import pandas as pd

    if temporal == "time":
        return pd.Series([_seconds(v) for v in s.tolist()], index=s.index, dtype="Float64")
    from pandas.api import types as t

    if t.is_datetime64_any_dtype(s):
        return s.dt.tz_convert("UTC").dt.tz_localize(None) if s.dt.tz is not None else s
    text = s.astype("string")
    return pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601").dt.tz_localize(None)


def _seconds(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    try:
        t = value if isinstance(value, dt.time) else dt.time.fromisoformat(str(value).strip())
    except ValueError:
        return None
    return t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6


def frame_families(frame: pd.DataFrame) -> dict[str, str | None]:
    """Column name -> logical family (:func:`series_family`) of every column of ``frame``."""
    return {str(c): series_family(frame[c]) for c in frame.columns}


def partition_rows(frame: pd.DataFrame, partition_column: str, partition_value: Any) -> pd.DataFrame:
    """The rows of one partition: those whose ``partition_column``, as text, equals ``partition_value``."""
    return frame[frame[partition_column].astype(str) == str(partition_value)]


def series_family(s: pd.Series) -> str | None:
    """The logical family (``integer``, ``string``, ``timestamp`` ...) of a pandas column; ``None`` if unknown."""
    from pandas.api import types as t

    if t.is_bool_dtype(s):
        return "boolean"
    if t.is_integer_dtype(s):
        return "integer"
    if t.is_float_dtype(s):
        return "number"
    if t.is_datetime64_any_dtype(s):
        return "timestamp"
    if t.is_string_dtype(s) or isinstance(s.dtype, __import__("pandas").CategoricalDtype):
        return "string"
    return None
