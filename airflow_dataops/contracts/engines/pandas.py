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
            obj, p, _family(df[p.column]) if p.column in df.columns else None, p.column in df.columns
        )
        for p in obj.properties
    ]
    warnings = list(contract.warnings)
    values: dict[R.Measure, Any] = {R.ROWS: len(df)}
    for check in R.plan(contract, obj):
        if check.measure.kind == "sql":
            warnings.append(f"{check.name}: sql rules are not evaluated by the pandas engine")
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
        if check.row_level and (rules is None or check.name in rules) and check.measure.column in df.columns:
            mask |= _row_mask(check.measure, df)
    return mask


def _measure(m: R.Measure, df: pd.DataFrame) -> Any:
    if m.kind in ("nulls", "missing", "invalid"):
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

    s = df[m.column]
    isna = s.isna().astype(bool)
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


def _family(s: pd.Series) -> str | None:
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
