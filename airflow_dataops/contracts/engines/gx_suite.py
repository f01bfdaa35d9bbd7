"""A contract's measures as Great Expectations expectations, and GX's results back as measure values.

The two halves of the GX engine's mapping (the table in :mod:`~airflow_dataops.contracts.engines.gx`):
:func:`expectations_for` adds to a :class:`Suite` the expectations that measure one
:class:`~airflow_dataops.contracts.rules.Measure`, deduplicated; after the run,
:func:`measure_value` turns their results into the measure's value, which
:func:`~airflow_dataops.contracts.rules.judge` then judges like any engine's.  A row predicate
GX has no expectation for runs, on SQL, as an ``UnexpectedRowsExpectation`` whose query is the
SQL engine's own predicate (:mod:`~airflow_dataops.contracts.engines.sql_predicates`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_dataops.contracts import rules as R
from airflow_dataops.contracts.engines import sql_dialects as D
from airflow_dataops.contracts.model import Contract
from airflow_dataops.exceptions import ContractError

__all__ = [
    "Suite",
    "expectations_for",
    "measure_value",
    "observed_value",
    "raise_if_errored",
    "sql_dialect",
    "unexpected_count",
]


@dataclass
class Suite:
    """Expectations to run, deduplicated, and what each one measures."""

    expectations: list[Any] = field(default_factory=list)
    keys: dict[tuple[Any, ...], str] = field(default_factory=dict)

    def add(self, cls: Any, **kwargs: Any) -> str:
        key = (cls.__name__, tuple(sorted((k, repr(v)) for k, v in kwargs.items())))
        if key not in self.keys:
            ident = f"e{len(self.keys)}"
            self.keys[key] = ident
            self.expectations.append(cls(**kwargs, meta={"dataops_id": ident}))
        return self.keys[key]


_PY_OPS = {"<": "min", "<=": "min_strict", ">": "max", ">=": "max_strict"}


def expectations_for(
    m: R.Measure,
    suite: Suite,
    E: Any,
    columns: Mapping[str, str | None],
    *,
    dialect: Any = None,
    db_schema: str | None = None,
) -> dict[str, str] | None:
    """The expectations that measure ``m``, added to ``suite``: ``{role: expectation id}``
    (``None``: not measurable this way on a DataFrame).  ``dialect``: the SQL source's dialect,
    where row predicates run as ``UnexpectedRowsExpectation`` queries; ``None`` for a DataFrame."""
    sql = dialect is not None
    col = m.column if m.columns else None
    if m.kind == "format" and columns.get(m.column) not in ("string", None):
        return {"zero": ""}  # a native date/time column holds only well-formed values
    if m.kind in ("range", "length", "multiple", "format", "orphans"):
        if sql:
            from airflow_dataops.contracts.engines.sql_predicates import Scope, measure_predicate

            scope = Scope(None, None, None, db_schema, columns)
            where = _compile(measure_predicate(m, scope), dialect).replace("{", "{{").replace("}", "}}")
            query = f"SELECT 1 AS dataops_row FROM {{batch}} WHERE {where}"
            return {"observed": suite.add(E.UnexpectedRowsExpectation, unexpected_rows_query=query)}
        if m.kind == "format":
            return {"unexpected": suite.add(E.ExpectColumnValuesToMatchRegex, column=col, regex=m.pattern)}
        if m.kind == "range" and m.temporal is None:
            if m.op == "outside":
                kwargs: dict[str, Any] = {"min_value": m.bound[0], "max_value": m.bound[1]}
            else:  # the failing condition "value < bound" is the expectation "value >= bound"
                side = _PY_OPS[m.op or "<"]
                kwargs = {
                    side.split("_")[0] + "_value": m.bound,
                    "strict_" + side.split("_")[0]: side.endswith("strict"),
                }
            return {"unexpected": suite.add(E.ExpectColumnValuesToBeBetween, column=col, **kwargs)}
        if m.kind == "length":
            key = "min_value" if m.op == "<" else "max_value"
            return {
                "unexpected": suite.add(E.ExpectColumnValueLengthsToBeBetween, column=col, **{key: m.bound})
            }
        return None
    if m.kind in ("nulls", "missing") or (m.kind == "duplicates"):
        ids = {"nulls": suite.add(E.ExpectColumnValuesToNotBeNull, column=col)}
        if m.kind == "missing" and m.markers:
            ids["markers"] = suite.add(
                E.ExpectColumnValuesToNotBeInSet, column=col, value_set=list(m.markers)
            )
        if m.kind == "duplicates":
            ids["distinct"] = suite.add(E.ExpectColumnUniqueValueCountToBeBetween, column=col)
        return ids
    if m.kind == "invalid":
        if m.valid_values is None and not m.pattern:
            return {"zero": ""}
        # GX types a value set after its first value ([1.0, "A"] fails converting "A" to a float):
        # on a database a list of mixed types goes through our own predicate below
        mixed = len({type(v) for v in m.valid_values or () if v is not None}) > 1
        if m.valid_values is not None and not m.pattern and not (sql and mixed):
            return {
                "unexpected": suite.add(
                    E.ExpectColumnValuesToBeInSet, column=col, value_set=list(m.valid_values)
                )
            }
        if m.pattern and m.valid_values is None:
            # on a database, the pattern in its regex dialect with re.search's meaning (sql_dialects)
            regex = D.pattern_for(m.pattern, dialect.name) if sql else m.pattern
            return {"unexpected": suite.add(E.ExpectColumnValuesToMatchRegex, column=col, regex=regex)}
        if not sql:
            return None
        from airflow_dataops.contracts.engines.sql_predicates import measure_predicate

        # GX formats the query with str.format: braces of a regex quantifier must be doubled
        where = _compile(measure_predicate(m), dialect).replace("{", "{{").replace("}", "}}")
        query = f"SELECT 1 AS dataops_row FROM {{batch}} WHERE {where}"
        return {"observed": suite.add(E.UnexpectedRowsExpectation, unexpected_rows_query=query)}
    if m.kind == "tuple_duplicates":
        if not sql:
            return None
        import sqlalchemy as sa

        cols = (
            ", ".join(_compile(sa.column(c), dialect) for c in m.columns)
            .replace("{", "{{")
            .replace("}", "}}")
        )
        query = (
            "SELECT 1 AS dataops_row FROM (SELECT ROW_NUMBER() OVER (PARTITION BY "
            f"{cols}) AS dataops_rn FROM {{batch}}) AS dataops_numbered WHERE dataops_rn > 1"
        )
        return {"observed": suite.add(E.UnexpectedRowsExpectation, unexpected_rows_query=query)}
    if m.kind == "max":
        return {"observed": suite.add(E.ExpectColumnMaxToBeBetween, column=col)}
    if m.kind == "rows":
        return {"rows": ""}
    return None


def _compile(expr: Any, dialect: Any) -> str:
    """``expr`` as SQL text for ``dialect``, values rendered inline (GX takes a query text)."""
    return str(expr.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def sql_dialect(name: str | None, url: str | None) -> Any:
    """The SQLAlchemy dialect a SQL source's queries are written in (``name``, else ``url``'s)."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect: Any = {"postgresql": postgresql.dialect(), "sqlite": sqlite.dialect()}.get(name or "")
    if dialect is None:
        from sqlalchemy import create_engine

        dialect = create_engine(url or "sqlite://").dialect
    return dialect


def raise_if_errored(result: Any, contract: Contract, rule: str, path: str | None = None) -> None:
    info = result.exception_info or {}
    if isinstance(info, dict) and "raised_exception" not in info:
        info = next(iter(info.values()), {}) if info else {}
    if isinstance(info, dict) and info.get("raised_exception"):
        message = str(info.get("exception_message") or "unknown error").splitlines()[0][:300]
        raise ContractError(
            f"Great Expectations could not evaluate rule {rule!r} "
            f"({result.expectation_config.type}): {message}",
            file=contract.source,
            path=path,
        )


def observed_value(outcome: Mapping[str, Any], ident: str, contract: Contract, rule: str) -> Any:
    result = outcome[ident]
    raise_if_errored(result, contract, rule)
    return (result.result or {}).get("observed_value")


def unexpected_count(outcome: Mapping[str, Any], ident: str, contract: Contract, rule: str) -> int:
    result = outcome[ident]
    raise_if_errored(result, contract, rule)
    return int((result.result or {}).get("unexpected_count") or 0)


def measure_value(
    check: R.Check, ids: Mapping[str, str], outcome: Mapping[str, Any], rows: int, contract: Contract
) -> Any:
    m = check.measure
    name = check.name
    path = check.rule.path if check.rule else None
    for ident in ids.values():
        if ident:
            raise_if_errored(outcome[ident], contract, name, path)
    if "zero" in ids:
        return 0
    if m.kind in ("nulls", "missing", "duplicates"):
        nulls = unexpected_count(outcome, ids["nulls"], contract, name)
        if m.kind == "nulls":
            return nulls
        if m.kind == "missing":
            return nulls + (
                unexpected_count(outcome, ids["markers"], contract, name) if "markers" in ids else 0
            )
        distinct = int(observed_value(outcome, ids["distinct"], contract, name) or 0)
        return rows - nulls - distinct
    if "unexpected" in ids:
        return unexpected_count(outcome, ids["unexpected"], contract, name)
    observed = observed_value(outcome, ids["observed"], contract, name)
    if m.kind == "max":
        return observed
    return int(observed or 0)
