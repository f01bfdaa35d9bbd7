"""A contract's rules as SQL: the aggregate of each measure and the predicate of each row-level rule.

The SQL engine (:mod:`~airflow_dataops.contracts.engines.sql`) selects every aggregate in ONE
``SELECT`` over the table or partition; the quarantine (the writer's publish, the stand-alone
gate) selects the rows each row-level predicate is TRUE for (:func:`row_predicates`); the GX
engine sends the same predicates as its unexpected-rows queries.  Identifiers are quoted by the
dialect and every value (valid values, missing markers, patterns, the partition value) is a
bound parameter.  Counts are compiled the cheap way where one exists:

* nulls: ``COUNT(*) - COUNT(col)``
* duplicates of one column: ``COUNT(col) - COUNT(DISTINCT col)``
* duplicates of a column tuple / primary key: ``COUNT(*) - (SELECT COUNT(*) FROM (SELECT DISTINCT ...))``
  as a scalar subquery of the same statement
* every other row-level rule (missing / invalid values, logicalTypeOptions ranges, lengths,
  patterns, formats, multipleOf, foreign-key orphans): ``COUNT(*) FILTER (WHERE <predicate>)``
  (``COUNT(CASE WHEN … THEN 1 END)`` on a SQLite older than 3.30), the predicate NULL for NULL
  values instead of guarded by ``IS NOT NULL``, a negated pattern as ``!~`` / ``NOT GLOB``, a
  text column matched without a CAST, integer bounds bound as integers (PostgreSQL compares a
  BIGINT with ``1.0`` as NUMERIC)

The dialect-specific pieces are the elements of :mod:`~airflow_dataops.contracts.engines.sql_elements`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement

from airflow_dataops.contracts import rules as R
from airflow_dataops.contracts.engines.sql_elements import (
    CharLength,
    Compare,
    CountWhere,
    PatternMatch,
    bound_param,
)
from airflow_dataops.contracts.model import Contract

__all__ = [
    "Scope",
    "aggregate",
    "failing_row_predicate",
    "measure_predicate",
    "row_predicates",
    "sql_type_family",
]


def row_predicates(
    contract: Contract,
    schema_object: str | None = None,
    *,
    table: sa.TableClause | None = None,
    partition_column: str | None = None,
    partition_value: str | None = None,
    db_schema: str | None = None,
    columns: Mapping[str, Any] | None = None,
) -> dict[str, ColumnElement[bool]]:
    """Rule name -> boolean expression TRUE (never NULL) for the rows that break that row-level rule.

    Without ``table`` the columns are unbound ``sqlalchemy.column()`` objects and the duplicate
    rules (``unique``, ``primaryKey``, ``duplicateValues``), which must look at the other rows, are
    left out.  With ``table`` (the very Table the statement selects from, e.g. the staged one) they
    are included: a row fails when its key value belongs to a group of two or more rows of the
    table (of its partition, if given), so quarantine moves EVERY member of a duplicated key and
    picks no winner.  ``columns`` (name -> SQLAlchemy type) lets a ``format`` rule know that a
    native date column needs no text check; ``db_schema`` is where a foreign key's table is.
    """
    obj = contract.schema_object(schema_object)
    families = {n: sql_type_family(t) for n, t in columns.items()} if columns is not None else None
    scope = Scope(table, partition_column, partition_value, db_schema, families)
    out: dict[str, ColumnElement[bool]] = {}
    for check in R.plan(contract, obj):
        if not check.row_level or (table is None and check.measure.kind in _GROUP_KINDS):
            continue
        out[check.name] = sa.func.coalesce(measure_predicate(check.measure, scope), sa.false())
    return out


def failing_row_predicate(
    contract: Contract,
    schema_object: str | None,
    dialect: Dialect | str | None = None,
    *,
    rules: set[str] | frozenset[str] | None = None,
    table: sa.TableClause | None = None,
    db_schema: str | None = None,
) -> ColumnElement[bool] | None:
    """An expression TRUE for rows that break ANY row-level rule (see :func:`row_predicates`).

    ``rules`` restricts it to the named rules (e.g. the failed ones of a report), so that a
    tolerated threshold (``nullValues mustBeLessOrEqualTo 5 percent``) need not quarantine rows.
    Without ``table``, columns are unbound ``sqlalchemy.column()`` objects (use it in
    ``select(t).where(...)``) and duplicate rules are left out.  ``dialect`` is accepted for
    symmetry; the expression compiles on any dialect.
    """
    preds = [
        p
        for name, p in row_predicates(contract, schema_object, table=table, db_schema=db_schema).items()
        if rules is None or name in rules
    ]
    if not preds:
        return None
    return sa.or_(*preds)


def sql_type_family(sql_type: Any) -> str | None:
    """The logical family (``integer``, ``string``, ``timestamp`` ...) of a SQLAlchemy type; ``None`` if unknown."""
    if sql_type is None:
        return None
    st = sa.types
    for cls, family in (
        (st.Boolean, "boolean"),
        (st.Integer, "integer"),
        (st.Float, "number"),  # not a Numeric subclass since SQLAlchemy 2.1
        (st.Numeric, "number"),
        (st.DateTime, "timestamp"),
        (st.Date, "date"),
        (st.Time, "time"),
        (st.JSON, "object"),
        (st.ARRAY, "array"),
        (st.String, "string"),
    ):
        if isinstance(sql_type, cls):
            if (
                family == "number"
                and getattr(sql_type, "scale", None) == 0
                and not isinstance(sql_type, st.Float)
            ):
                return "integer"
            return family
    return None


class Scope:
    """What a predicate may refer to: the table the statement reads (and its partition), where a
    referenced table lives, and the columns' logical families."""

    def __init__(
        self,
        table: sa.TableClause | None,
        partition_column: str | None,
        partition_value: str | None,
        db_schema: str | None,
        families: Mapping[str, str | None] | None,
    ) -> None:
        self.table = table
        self.partition_column = partition_column
        self.partition_value = partition_value
        self.db_schema = db_schema
        self.families = families

    def col(self, name: str) -> ColumnElement[Any]:
        return self.table.c[name] if self.table is not None else sa.column(name)

    def family(self, name: str) -> str | None:
        return (self.families or {}).get(name)


_GROUP_KINDS = R.GROUP_KINDS
#: kinds whose aggregate is COUNT(CASE WHEN <the row predicate> THEN 1 END)
_ROW_KINDS = frozenset({"missing", "invalid", "range", "length", "multiple", "format", "orphans"})


def aggregate(
    m: R.Measure, t: sa.TableClause, where: ColumnElement[bool], scope: Scope
) -> ColumnElement[Any]:
    """The value of measure ``m`` over the rows of ``t`` matching ``where``, as one aggregate column."""
    if m.kind == "rows":
        return sa.func.count()
    col = t.c[m.column]
    if m.kind == "nulls":
        return sa.func.count() - sa.func.count(col)
    if m.kind == "missing" and not m.markers:
        return sa.func.count() - sa.func.count(col)
    if m.kind == "format" and scope.family(m.column) not in ("string", None):
        return sa.literal(0)  # a native date/time column holds only well-formed values
    if m.kind in _ROW_KINDS:
        return CountWhere(measure_predicate(m, scope))
    if m.kind == "duplicates":
        return sa.func.count(col) - sa.func.count(sa.distinct(col))
    if m.kind == "tuple_duplicates":
        distinct = sa.select(*(t.c[c] for c in m.columns)).where(where).distinct().subquery()
        return sa.func.count() - sa.select(sa.func.count()).select_from(distinct).scalar_subquery()
    if m.kind == "max":
        return sa.func.max(col)
    raise ValueError(f"no aggregate for measure kind {m.kind!r}")


def _values(values: Any) -> Any:
    """An expanding bind parameter with a name of our own: SQLAlchemy would otherwise derive it from
    the column's name, and a hostile name (a tab, brackets) breaks the parameter's rendering."""
    return sa.bindparam("values", list(values), expanding=True, unique=True)


def measure_predicate(m: R.Measure, scope: Scope | None = None) -> ColumnElement[bool]:
    """TRUE for a row that breaks measure ``m`` (may be NULL for a NULL value: callers that select
    rows wrap it in COALESCE, see :func:`row_predicates`)."""
    scope = scope or Scope(None, None, None, None, None)
    col = scope.col(m.column)
    if m.kind == "nulls":
        return col.is_(None)
    if m.kind == "missing":
        return sa.or_(col.is_(None), col.in_(_values(m.markers))) if m.markers else col.is_(None)
    # invalid / format: NULL in, NULL out (never counted, COALESCEd to false when selecting rows), so
    # no "IS NOT NULL AND": it cost ~20% of a SQLite scan.  A text column is matched as it is.
    text = col if scope.family(m.column) == "string" else sa.cast(col, sa.String)
    if m.kind == "invalid":
        bad: list[ColumnElement[bool]] = []
        if m.valid_values is not None:
            bad.append(col.not_in(_values(m.valid_values)))
        if m.pattern:
            bad.append(PatternMatch(text, m.pattern, negate=True))
        if not bad:
            return sa.false()
        return sa.or_(*bad) if len(bad) > 1 else bad[0]
    if m.kind == "format":
        if scope.family(m.column) not in ("string", None):
            return sa.false()
        return PatternMatch(text, m.pattern or "", negate=True)
    if m.kind == "range":
        return Compare(col, m.op or "<", m.bound, m.temporal, text=scope.family(m.column) == "string")
    if m.kind == "length":
        return Compare(CharLength(sa.cast(col, sa.String)), m.op or "<", m.bound, None)
    if m.kind == "multiple":
        quotient = sa.cast(col, sa.Float) / bound_param("multiple", float(m.bound))
        return sa.func.abs(quotient - sa.func.round(quotient)) > bound_param(
            "tolerance", R.MULTIPLE_TOLERANCE
        )
    if m.kind == "orphans":
        ref = sa.table(m.ref_table or "", *(sa.column(c) for c in m.ref_columns), schema=scope.db_schema)
        ref_cols = [ref.c[c] for c in m.ref_columns]
        present = sa.select(*ref_cols).where(*(c.is_not(None) for c in ref_cols))
        cols = [scope.col(c) for c in m.columns]
        key: Any = cols[0] if len(cols) == 1 else sa.tuple_(*cols)
        return sa.and_(*(c.is_not(None) for c in cols), sa.not_(key.in_(present)))
    if m.kind in _GROUP_KINDS:
        return _in_duplicate_group(m, scope)
    raise ValueError(f"measure kind {m.kind!r} is not row-level")


def _in_duplicate_group(m: R.Measure, scope: Scope) -> ColumnElement[bool]:
    """The row's key belongs to a group of 2+ rows of the table (and partition): every member fails.

    One column (``unique``): NULLs are never duplicates, as in the count.  A tuple (``primaryKey``,
    ``duplicateValues`` over properties): NULLs are equal, as in the count.
    """
    if scope.table is None:
        raise ValueError("a duplicate rule's failing rows need the table they are selected from")
    other = scope.table.alias("dataops_dup")
    part = (
        [other.c[scope.partition_column] == bound_param("partition_value", scope.partition_value)]
        if scope.partition_column
        else []
    )
    keys = [other.c[c] for c in m.columns]
    if m.kind == "duplicates":
        values = sa.select(keys[0]).where(*part, keys[0].is_not(None)).group_by(keys[0])
        return scope.col(m.column).in_(values.having(sa.func.count() > 1))
    groups = (
        sa.select(*keys).where(*part).group_by(*keys).having(sa.func.count() > 1).subquery("dataops_dups")
    )
    same = [groups.c[i].is_not_distinct_from(scope.col(c)) for i, c in enumerate(m.columns)]
    return sa.exists(sa.select(sa.literal(1)).select_from(groups).where(*same))
