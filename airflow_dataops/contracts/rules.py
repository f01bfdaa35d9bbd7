"""What to measure for a schema object, and how a measurement becomes a ``RuleResult``.

Both engines share this module: they compute the same :class:`Measure` values (plain
counts, a max, a query's number) in their own way, then call :func:`judge`.  All of the
arithmetic (percentages, ages, operator comparisons) happens here, in Python, so the SQL
and pandas engines give the same verdicts and the same numbers on the same data.

Why one module of ~440 lines: the plan (which :class:`Measure` each rule needs) and the judgement
(how that measure becomes a result) share :class:`Measure` and :class:`Check` and must change in
step; data types and durations live in :mod:`~airflow_dataops.contracts.datatypes`.
"""

from __future__ import annotations

import datetime as dt
import operator as _op
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from airflow_dataops.contracts.datatypes import (
    compatible,
    duration_seconds,
    physical_family,
    to_utc,
)
from airflow_dataops.contracts.model import (
    DEFAULT_DIMENSION,
    NON_BLOCKING_SEVERITIES,
    Contract,
    Property,
    QualityRule,
    SchemaObject,
)
from airflow_dataops.contracts.report import RuleResult, Severity

#: Duplicate measures: in quarantine mode their failing rows are whole groups of equal keys.
GROUP_KINDS = frozenset({"duplicates", "tuple_duplicates"})
GROUP_NOTE = "quarantine moves every row of each duplicated key (none is kept as the winner)"

#: ``multipleOf``: a value fails when ``|v/m - round(v/m)|`` exceeds this (floats are not exact).
MULTIPLE_TOLERANCE = 1e-9


@dataclass(frozen=True, kw_only=True)
class Measure:
    """One number an engine computes over the table (or partition).

    kinds: ``rows``; ``nulls`` (column); ``missing`` (column, ``markers``); ``invalid`` (column,
    ``valid_values`` and/or ``pattern``; nulls are never invalid); ``duplicates`` (column: non-null
    values minus distinct non-null values); ``tuple_duplicates`` (columns: rows minus distinct
    tuples, nulls equal); ``max`` (column); ``sql`` (``query``).  From ``logicalTypeOptions``:
    ``range`` (non-null values with ``value <op> bound``, ``op`` one of ``<  <=  >  >=``, or
    ``outside`` a ``(low, high)`` bound; ``temporal`` names date/timestamp/time bounds given as
    ISO text); ``length`` (the text's length ``<op> bound``); ``multiple`` (not a multiple of
    ``bound``); ``format`` (text not matching ``pattern``; a column whose type is not text, e.g. a
    native date, holds only well-formed values and counts 0).  From ``relationships``:
    ``orphans`` (rows whose non-null ``columns`` have no match in ``ref_columns`` of ``ref_table``).
    """

    kind: str
    columns: tuple[str, ...] = ()
    markers: tuple[Any, ...] = ()
    valid_values: tuple[Any, ...] | None = None
    pattern: str | None = None
    query: str | None = None
    op: str | None = None
    bound: Any = None
    temporal: str | None = None
    ref_table: str | None = None
    ref_columns: tuple[str, ...] = ()

    @property
    def column(self) -> str:
        return self.columns[0]


ROWS = Measure(kind="rows")


@dataclass(frozen=True, kw_only=True)
class Check:
    """One rule to judge: a measure, an operator and a threshold (or an age limit)."""

    name: str
    dimension: str
    severity: Severity
    measure: Measure
    operator: str = "mustBe"
    threshold: Any = 0.0
    unit: str = "rows"
    column: str | None = None
    row_level: bool = False
    max_age: float | None = None  # seconds, for latency / freshness
    age_unit: str | None = None
    condition: str | None = None  # what a failing row is, e.g. "amount < 0"
    rule: QualityRule | None = field(default=None, compare=False)

    @property
    def expected(self) -> str:
        if self.condition is not None:
            return f"mustBe 0 rows with {self.condition}"
        if self.max_age is not None:
            return f"max({self.column}) not older than {_num(self.threshold)} {self.age_unit}"
        if isinstance(self.threshold, tuple):
            value = f"[{_num(self.threshold[0])}, {_num(self.threshold[1])}]"
        else:
            value = _num(self.threshold)
        unit = "" if self.measure.kind == "sql" else f" {self.unit}"
        return f"{self.operator} {value}{unit}"


_COMPARE = {
    "mustBe": _op.eq,
    "mustNotBe": _op.ne,
    "mustBeGreaterThan": _op.gt,
    "mustBeGreaterOrEqualTo": _op.ge,
    "mustBeLessThan": _op.lt,
    "mustBeLessOrEqualTo": _op.le,
    "mustBeBetween": lambda v, t: t[0] <= v <= t[1],
    "mustNotBeBetween": lambda v, t: not (t[0] <= v <= t[1]),
}


def compare(operator: str, value: float, threshold: Any) -> bool:
    """Apply an ODCS operator: ``compare("mustBeLessThan", 3, 5)`` is True."""
    return bool(_COMPARE[operator](value, threshold))


def severity_of(text: str | None) -> Severity:
    """``warning``/``info`` -> WARNING; anything else (``error``, ``critical``, ``fatal``, unknown) -> ERROR:
    a value we do not know never weakens a gate (the loader refuses it anyway)."""
    return Severity.WARNING if (text or "error").lower() in NON_BLOCKING_SEVERITIES else Severity.ERROR


@dataclass(frozen=True)
class Unmeasured:
    """A measure an engine could not take (an ``sql`` rule that was refused or failed to run): the
    rule fails, blocking whatever its severity, with ``reason`` as its actual value."""

    reason: str


def plan(contract: Contract, obj: SchemaObject) -> tuple[Check, ...]:
    """Every evaluable check of ``obj``: required, unique, logicalTypeOptions, relationships, primary
    key, library and sql rules, latency."""
    checks: list[Check] = []
    for prop in obj.properties:
        col = prop.column
        if prop.required:
            checks.append(
                _check(obj, prop, "required", Measure(kind="nulls", columns=(col,)), "completeness", True)
            )
        if prop.unique:
            checks.append(
                _check(obj, prop, "unique", Measure(kind="duplicates", columns=(col,)), "uniqueness", True)
            )
        for label, measure, condition in option_measures(prop):
            checks.append(replace(_check(obj, prop, label, measure, "conformity", True), condition=condition))
        for rel in prop.relationships:
            check = _relationship_check(contract, obj, rel, prefix=f"{obj.name}.{prop.name}")
            if check is not None:
                checks.append(check)
        for rule in prop.quality:
            found = _rule_measure(rule, (col,))
            if found is not None:
                checks.append(_rule_check(obj, prop, rule, found))
    for rel in obj.relationships:
        check = _relationship_check(contract, obj, rel, prefix=obj.name)
        if check is not None:
            checks.append(check)
    keys = obj.primary_key
    if keys:
        measure = Measure(kind="tuple_duplicates", columns=tuple(p.column for p in keys))
        checks.append(_check(obj, None, "primaryKey", measure, "uniqueness", True))
    for rule in obj.quality:
        cols = tuple(_column_of(obj, c) for c in rule.arguments.get("properties") or ())
        found = _rule_measure(rule, cols)
        if found is not None:
            checks.append(_rule_check(obj, None, rule, found))
    for sla in contract.sla_properties:
        if sla.property not in ("latency", "freshness") or not sla.element:
            continue
        for element in sla.element.split(","):
            obj_name, _, col = element.strip().rpartition(".")
            target = obj.get_property(col)
            if (obj_name and obj_name not in (obj.name, obj.physical_name)) or target is None:
                continue
            checks.append(
                Check(
                    name=f"{obj.name}.{target.name}.{sla.property}",
                    dimension="timeliness",
                    severity=Severity.WARNING,
                    measure=Measure(kind="max", columns=(target.column,)),
                    operator="mustBeLessOrEqualTo",
                    threshold=float(sla.value),
                    unit=sla.unit or "d",
                    column=target.column,
                    max_age=duration_seconds(sla.value, sla.unit),
                    age_unit=sla.unit,
                )
            )
    return _unique_names(checks)


_OPTION_BOUNDS = (("minimum", "<"), ("exclusiveMinimum", "<="), ("maximum", ">"), ("exclusiveMaximum", ">="))


def option_measures(prop: Property) -> list[tuple[str, Measure, str]]:
    """``(rule label, measure, condition of a failing row)`` for each evaluated logicalTypeOption."""
    opts, col = prop.options, prop.column
    temporal = prop.logical_type if prop.logical_type in ("date", "timestamp", "time") else None
    out: list[tuple[str, Measure, str]] = []
    for key, op in _OPTION_BOUNDS:
        if key in opts:
            m = Measure(kind="range", columns=(col,), op=op, bound=opts[key], temporal=temporal)
            out.append((key, m, f"{col} {op} {_num(opts[key])}"))
    for key, op in (("minLength", "<"), ("maxLength", ">")):
        if key in opts:
            m = Measure(kind="length", columns=(col,), op=op, bound=opts[key])
            out.append((key, m, f"length({col}) {op} {opts[key]}"))
    if "pattern" in opts:
        m = Measure(kind="invalid", columns=(col,), pattern=opts["pattern"])
        out.append(("pattern", m, f"{col} not matching {opts['pattern']!r}"))
    if "multipleOf" in opts:
        m = Measure(kind="multiple", columns=(col,), bound=opts["multipleOf"])
        out.append(("multipleOf", m, f"{col} not a multiple of {_num(opts['multipleOf'])}"))
    if "format_pattern" in opts:
        m = Measure(kind="format", columns=(col,), pattern=opts["format_pattern"])
        out.append(("format", m, f"{col} not matching {opts['format_pattern']!r}"))
    low, high = opts.get("format_minimum"), opts.get("format_maximum")
    if low is not None or high is not None:
        if low is not None and high is not None:
            m = Measure(kind="range", columns=(col,), op="outside", bound=(low, high))
            condition = f"{col} outside [{_num(low)}, {_num(high)}]"
        else:
            m = Measure(kind="range", columns=(col,), op="<", bound=low)
            condition = f"{col} < {_num(low)}"
        out.append(("format", m, condition))
    return out


def _relationship_check(contract: Contract, obj: SchemaObject, rel: Any, *, prefix: str) -> Check | None:
    if rel.to_object is None:
        return None
    target = next((o for o in contract.schema if rel.to_object in (o.name, o.physical_name)), None)
    table = target.table if target is not None else rel.to_object
    ref_cols = tuple(
        (target.get_property(c).column if target is not None and target.get_property(c) else c)  # type: ignore[union-attr]
        for c in rel.to_columns
    )
    cols = tuple(_column_of(obj, c) for c in rel.columns)
    return Check(
        name=f"{prefix}.foreignKey",
        dimension="consistency",
        severity=Severity.ERROR,
        measure=Measure(kind="orphans", columns=cols, ref_table=table, ref_columns=ref_cols),
        column=cols[0] if len(cols) == 1 else None,
        row_level=True,
        condition=f"({', '.join(cols)}) not found in {table}({', '.join(ref_cols)})",
    )


def measures(checks: Iterable[Check]) -> list[Measure]:
    """The distinct measures ``checks`` need, the row count first."""
    out = [ROWS]
    for c in checks:
        if c.measure not in out:
            out.append(c.measure)
    return out


def judge(check: Check, values: dict[Measure, Any], *, now: dt.datetime | None = None) -> RuleResult:
    """Turn the measured ``values`` into the check's ``RuleResult``."""
    rows = int(values[ROWS] or 0)
    raw = values.get(check.measure)
    base: dict[str, Any] = dict(
        name=check.name,
        dimension=check.dimension,
        severity=check.severity,
        expected=check.expected,
        column=check.column,
        row_level=check.row_level,
    )
    if check.max_age is not None:
        latest = to_utc(raw)
        if latest is None:
            return RuleResult(**base, actual=None, passed=False)
        now = to_utc(now) or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        age = (now - latest).total_seconds()
        scale = check.max_age / check.threshold if check.threshold else 1.0
        return RuleResult(**base, actual=round(age / scale, 3), passed=age <= check.max_age)
    if isinstance(raw, Unmeasured):
        return RuleResult(**{**base, "severity": Severity.ERROR}, actual=raw.reason, passed=False)
    if raw is None:
        return RuleResult(**base, actual=None, passed=False)
    count = float(raw) if check.measure.kind == "sql" else int(raw)
    actual: float | int = count
    if check.unit == "percent" and check.measure.kind not in ("rows", "sql"):
        actual = round(100.0 * count / rows, 6) if rows else 0.0
    failing = int(count) if check.row_level else None
    return RuleResult(
        **base,
        actual=actual,
        passed=compare(check.operator, actual, check.threshold),
        failing_rows=failing,
        quarantinable=check.row_level and _zero_tolerance(check),
        quarantine_note=GROUP_NOTE if check.row_level and check.measure.kind in GROUP_KINDS else None,
    )


def _zero_tolerance(check: Check) -> bool:
    """True when no failing row at all is allowed: 0 passes and the smallest non-zero amount fails."""
    smallest = 1e-9 if check.unit == "percent" else 1
    try:
        return compare(check.operator, 0, check.threshold) and not compare(
            check.operator, smallest, check.threshold
        )
    except (TypeError, ValueError):
        return False


def schema_result(obj: SchemaObject, prop: Property, actual_family: str | None, present: bool) -> RuleResult:
    """``<object>.<property>.schema``: the column exists and its type fits logicalType and physicalType."""
    wanted = [f for f in (prop.logical_type, physical_family(prop.physical_type)) if f]
    expected = "present" + (f", {prop.logical_type}" if prop.logical_type else "")
    if prop.physical_type:
        expected += f" ({prop.physical_type})"
    passed = present and all(compatible(w, actual_family) for w in wanted)
    return RuleResult(
        name=f"{obj.name}.{prop.name}.schema",
        dimension="conformity",
        severity=Severity.ERROR,
        expected=expected,
        actual=(actual_family or "unknown") if present else "missing",
        passed=passed,
        column=prop.column,
    )


def missing_column_result(check: Check) -> RuleResult:
    return RuleResult(
        name=check.name,
        dimension=check.dimension,
        severity=check.severity,
        expected=check.expected,
        actual="column missing",
        passed=False,
        column=check.column,
        row_level=check.row_level,
    )


def _column_of(obj: SchemaObject, name: str) -> str:
    prop = obj.get_property(str(name))
    return prop.column if prop else str(name)


def _rule_measure(rule: QualityRule, cols: tuple[str, ...]) -> Measure | None:
    if rule.type == "sql":
        return Measure(kind="sql", columns=cols, query=rule.query)
    if rule.type != "library":
        return None
    args = rule.arguments
    if rule.metric == "rowCount":
        return ROWS
    if rule.metric == "nullValues":
        return Measure(kind="nulls", columns=cols)
    if rule.metric == "missingValues":
        markers = tuple(v for v in args.get("missingValues") or () if v is not None)
        return Measure(kind="missing", columns=cols, markers=markers)
    if rule.metric == "invalidValues":
        valid = args.get("validValues")
        return Measure(
            kind="invalid",
            columns=cols,
            valid_values=None if valid is None else tuple(v for v in valid if v is not None),
            pattern=args.get("pattern"),
        )
    if rule.metric == "duplicateValues":
        return Measure(
            kind="duplicates"
            if len(cols) == 1 and rule.arguments.get("properties") is None
            else "tuple_duplicates",
            columns=cols,
        )
    return None


def _check(
    obj: SchemaObject,
    prop: Property | None,
    label: str,
    measure: Measure,
    dimension: str,
    row_level: bool = False,
) -> Check:
    prefix = f"{obj.name}.{prop.name}" if prop else obj.name
    return Check(
        name=f"{prefix}.{label}",
        dimension=dimension,
        severity=Severity.ERROR,
        measure=measure,
        column=prop.column if prop else None,
        row_level=row_level,
    )


def _rule_check(obj: SchemaObject, prop: Property | None, rule: QualityRule, measure: Measure) -> Check:
    prefix = f"{obj.name}.{prop.name}" if prop else obj.name
    return Check(
        name=f"{prefix}.{rule.label}",
        dimension=rule.dimension or DEFAULT_DIMENSION.get(rule.metric or rule.type, "accuracy"),
        severity=severity_of(rule.severity),
        measure=measure,
        operator=rule.operator or "mustBe",
        threshold=rule.threshold if rule.threshold is not None else 0.0,
        unit=rule.unit,
        column=prop.column if prop else None,
        row_level=measure.kind in ("nulls", "missing", "invalid", "duplicates", "tuple_duplicates"),
        rule=rule,
    )


def _unique_names(checks: list[Check]) -> tuple[Check, ...]:
    seen: dict[str, int] = {}
    out = []
    for c in checks:
        n = seen.get(c.name, 0) + 1
        seen[c.name] = n
        out.append(c if n == 1 else replace(c, name=f"{c.name}#{n}"))
    return tuple(out)


def _num(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
