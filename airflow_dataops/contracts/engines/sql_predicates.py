"""A contract's rules as SQL: the aggregate of each measure and the predicate of each row-level rule.

The SQL engine (:mod:`~airflow_dataops.contracts.engines.sql`) selects every aggregate in ONE
``SELECT`` over the table or partition; the quarantine (the writer's publish, the stand-alone
gate) selects the rows each row-level predicate is TRUE for (:func:`row_predicates`); the GX
engine sends the same predicates as its unexpected-rows queries.  Identifiers are quoted by the
dialect and every value (valid values, missing markers, patterns, the partition value) is a
bound parameter.  Counts are compiled the cheap way where one exists:

* nulls: ``COUNT(*) FILTER (WHERE col IS NULL)`` (0.92x the time of ``COUNT(*) - COUNT(col)`` on
  SQLite, 0.96x on PostgreSQL, eight such figures over 3.4M rows); on SQLite shared with one more
  rule of the same column, which then reads the column once (:func:`aggregates`)
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
    NotIn,
    PatternMatch,
    bound_param,
    list_param,
)
from airflow_dataops.contracts.model import Contract

__all__ = [
    "PACK",
    "Scope",
    "aggregate",
    "aggregates",
    "failing_row_predicate",
    "measure_predicate",
    "row_predicates",
    "sql_type_family",
    "unpack",
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
    referenced table lives, the columns' logical families, and (PostgreSQL) the most common values
    of a text column known to match a pattern (:func:`~.sql_dialects.common_matches`)."""

    def __init__(
        self,
        table: sa.TableClause | None,
        partition_column: str | None,
        partition_value: str | None,
        db_schema: str | None,
        families: Mapping[str, str | None] | None,
        *,
        common_matches: Mapping[tuple[str, str], tuple[str, ...]] | None = None,
    ) -> None:
        self.table = table
        self.partition_column = partition_column
        self.partition_value = partition_value
        self.db_schema = db_schema
        self.families = families
        self.common_matches = common_matches or {}

    def col(self, name: str) -> ColumnElement[Any]:
        return self.table.c[name] if self.table is not None else sa.column(name)

    def family(self, name: str) -> str | None:
        return (self.families or {}).get(name)

    def common(self, column: str, pattern: str) -> tuple[str, ...]:
        """Values of text ``column`` known to match ``pattern`` (empty: ask the regex engine for all;
        :func:`~.sql_dialects.common_matches` lists text columns only)."""
        return self.common_matches.get((column, pattern), ())


_GROUP_KINDS = R.GROUP_KINDS
#: kinds whose aggregate is COUNT(CASE WHEN <the row predicate> THEN 1 END)
_ROW_KINDS = frozenset({"missing", "invalid", "range", "length", "multiple", "format", "orphans"})


#: SQLite: a column's null count and one more row-level count of it share one aggregate, packed
#: as ``nulls + other * PACK`` (see :func:`aggregates`).  Exact while the table has fewer than 2**31
#: rows; beyond, SQLite's SUM raises "integer overflow": an error, never a wrong count.
PACK = 2**32
#: row-level kinds whose predicate is NULL exactly for a NULL value (no NULL in a valid-values list)
_NULL_FOR_NULL = frozenset({"invalid", "format", "range", "length", "multiple"})


def aggregates(
    measures: list[R.Measure], t: sa.TableClause, where: ColumnElement[bool], scope: Scope, dialect: Dialect
) -> list[tuple[tuple[R.Measure, ...], ColumnElement[Any]]]:
    """The gate statement's aggregate columns, each with the measures it yields (:func:`unpack`).

    One column per measure (:func:`aggregate`), except on SQLite (3.30+), where two rules of one
    column that never fail on the same row share one ``SUM(CASE WHEN <first fails> THEN 1 ELSE
    PACK END) FILTER (WHERE <either fails>)``, the guard written so that it reads the column once
    (SQLite evaluates each aggregate's FILTER on its own, and reads a column again for each use):

    * the column's null count and one other row-level rule of it: ``COALESCE(<rule>, 1)``;
    * ``minimum`` with ``maximum``: ``NOT (col BETWEEN :min AND :max)``.

    Over 3.4M rows, three null pairs and a range pair: about 0.94x the time of one figure per rule.
    """
    version = dialect.server_version_info or ()
    fuse = dialect.name == "sqlite" and version >= (3, 30)
    partner = _pairs(measures, scope) if fuse else {}
    out: list[tuple[tuple[R.Measure, ...], ColumnElement[Any]]] = []
    done: set[R.Measure] = set()
    for m in measures:
        if m in done:
            continue
        if m not in partner:
            out.append(((m,), aggregate(m, t, where, scope)))
            continue
        first, second = partner[m]
        done.update((first, second))
        col = t.c[first.column]
        if first.kind == "range":  # first: value < min, second: value > max
            fails: ColumnElement[bool] = measure_predicate(first, scope)
            between = col.between(bound_param("bound", first.bound), bound_param("bound", second.bound))
            guard: ColumnElement[Any] = sa.not_(between)
        else:  # first: the null count
            fails = col.is_(None)
            guard = sa.func.coalesce(measure_predicate(second, scope), sa.true())
        packed = sa.func.sum(sa.case((fails, 1), else_=PACK)).filter(guard)
        out.append(((first, second), packed))
    return out


def unpack(measures: tuple[R.Measure, ...], value: Any) -> tuple[Any, ...]:
    """The values of ``measures`` from their aggregate column's value (see :func:`aggregates`)."""
    if len(measures) == 1:
        return (value,)
    packed = int(value or 0)
    return (packed % PACK, packed // PACK)


def _pairs(measures: list[R.Measure], scope: Scope) -> dict[R.Measure, tuple[R.Measure, R.Measure]]:
    """Measure -> (first, second) for the pairs :func:`aggregates` packs, by either member."""
    out: dict[R.Measure, tuple[R.Measure, R.Measure]] = {}
    nulls: dict[str, R.Measure] = {}
    for m in measures:
        if (m.kind == "nulls" or (m.kind == "missing" and not m.markers)) and m.column not in nulls:
            nulls[m.column] = m
    for m in measures:
        n = nulls.get(m.column) if len(m.columns) == 1 else None
        if n is None or n in out or m in out or not _null_for_null(m, scope):
            continue
        out[n] = out[m] = (n, m)
    plain = [m for m in measures if m.kind == "range" and m.temporal is None and m not in out]
    lows = {m.column: m for m in plain if m.op == "<"}
    for high in (m for m in plain if m.op == ">"):
        low = lows.get(high.column)
        if low is not None and low not in out:
            out[low] = out[high] = (low, high)
    return out


def _null_for_null(m: R.Measure, scope: Scope) -> bool:
    if m.kind not in _NULL_FOR_NULL or (m.kind == "range" and m.temporal is not None):
        return False
    if m.kind == "format" and scope.family(m.column) not in ("string", None):
        return False  # counted as a literal 0, see aggregate()
    if m.kind == "invalid":
        if m.valid_values is not None:
            return None not in m.valid_values  # "x NOT IN (…, NULL)" is NULL for every x outside
        return bool(m.pattern)
    return True


def aggregate(
    m: R.Measure, t: sa.TableClause, where: ColumnElement[bool], scope: Scope
) -> ColumnElement[Any]:
    """The value of measure ``m`` over the rows of ``t`` matching ``where``, as one aggregate column."""
    if m.kind == "rows":
        return sa.func.count()
    col = t.c[m.column]
    if m.kind == "nulls" or (m.kind == "missing" and not m.markers):
        return CountWhere(col.is_(None))
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


def measure_predicate(m: R.Measure, scope: Scope | None = None) -> ColumnElement[bool]:
    """TRUE for a row that breaks measure ``m`` (may be NULL for a NULL value: callers that select
    rows wrap it in COALESCE, see :func:`row_predicates`)."""
    scope = scope or Scope(None, None, None, None, None)
    col = scope.col(m.column)
    if m.kind == "nulls":
        return col.is_(None)
    if m.kind == "missing":
        return sa.or_(col.is_(None), col.in_(list_param(m.markers))) if m.markers else col.is_(None)
    # invalid / format: NULL in, NULL out (never counted, COALESCEd to false when selecting rows), so
    # no "IS NOT NULL AND": it cost ~20% of a SQLite scan.  A text column is matched as it is.
    text = col if scope.family(m.column) == "string" else sa.cast(col, sa.String)
    if m.kind == "invalid":
        bad: list[ColumnElement[bool]] = []
        if m.valid_values is not None:
            bad.append(NotIn(col, m.valid_values))
        if m.pattern:
            bad.append(PatternMatch(text, m.pattern, negate=True, common=scope.common(m.column, m.pattern)))
        if not bad:
            return sa.false()
        return sa.or_(*bad) if len(bad) > 1 else bad[0]
    if m.kind == "format":
        if scope.family(m.column) not in ("string", None):
            return sa.false()
        pattern = m.pattern or ""
        return PatternMatch(text, pattern, negate=True, common=scope.common(m.column, pattern))
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
