"""The SQL engine's cheaper forms of the same figures (#15): each must count exactly what the plain
form counts, on data made to tell them apart.

* SQLite: a short valid-values list as ``CASE`` instead of ``NOT IN``; a column's null count packed
  with one other rule of that column, and ``minimum`` with ``maximum``, into one aggregate that
  reads the column once.
* PostgreSQL: a pattern rule on a text column skips the regex for the column's most common values
  that match it (``pg_stats``), whatever the statistics' age.
"""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from airflow_dataops.contracts.engines import sql_dialects as D
from airflow_dataops.contracts.engines.pandas import evaluate_dataframe
from airflow_dataops.contracts.engines.sql import evaluate_sql
from airflow_dataops.contracts.engines.sql_elements import NotIn

from ._helpers import make_contract


# -- SQLite: NOT IN as CASE -----------------------------------------------------------------------
@pytest.fixture
def sqlite(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'fast.db'}")
    with engine.begin() as conn:
        # every affinity, and values of another type than the column's
        conn.exec_driver_sql("CREATE TABLE v (i INTEGER, t TEXT, r REAL, n NUMERIC, b)")
        rows = [1, "1", 1.0, "1.0", 2.5, "a", "A", "", None, 0, "01", " 1", 3]
        for x in rows:
            conn.exec_driver_sql("INSERT INTO v VALUES (?, ?, ?, ?, ?)", (x, x, x, x, x))
    yield engine
    engine.dispose()


@pytest.mark.parametrize(
    "values",
    [[1, 2], ["1", "a"], [1.0, "A"], [""], [0, "01", 2.5], [True], ["1.0", 3]],
)
@pytest.mark.parametrize("column", ["i", "t", "r", "n", "b"])
def test_short_list_case_gives_not_ins_verdict_for_every_affinity(sqlite, column, values):
    t = sa.table("v", sa.column(column))
    col = t.c[column]
    fast = NotIn(col, values)
    assert "CASE" in str(sa.select(fast).compile(dialect=sqlite.dialect))
    plain = col.not_in(sa.bindparam("plain", values, expanding=True, type_=sa.types.NullType()))
    with sqlite.connect() as conn:
        rows = conn.execute(sa.select(col, fast, plain)).all()
    # NULL stays NULL (never counted), TRUE/FALSE as NOT IN says
    assert [(None if f is None else bool(f)) for _, f, _ in rows] == [
        (None if p is None else bool(p)) for _, _, p in rows
    ]


def test_a_long_list_or_a_list_with_null_stays_not_in(sqlite):
    col = sa.column("t")
    for values in (list("abcdefg"), ["a", None]):
        assert "CASE" not in str(sa.select(NotIn(col, values)).compile(dialect=sqlite.dialect))


# -- SQLite: a null count shares its column's read ------------------------------------------------
def _sqlite_gate(engine, contract, df, table):
    """The row-level figures of the SQL engine on ``df`` written to ``table`` (asserted equal to the
    pandas engine's), and the aggregate statement it sent."""
    df.to_sql(table, engine, index=False)
    sent: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
    report = evaluate_sql(contract, engine_or_connection=engine, table=table)
    got = {r.name: r.failing_rows for r in report.results if r.row_level}
    assert got == {r.name: r.failing_rows for r in evaluate_dataframe(contract, df).results if r.row_level}
    return got, next(s for s in sent if "count(*)" in s)


SHARED = """\
- name: t
  properties:
    - name: c
      logicalType: string
      required: true
      logicalTypeOptions: {pattern: '^[A-Z]{2}$'}
    - name: o
      logicalType: string
      required: true
      quality:
        - name: airport
          metric: invalidValues
          arguments: {validValues: [EWR, JFK]}
          mustBe: 0
    - name: m
      logicalType: integer
      required: true
      logicalTypeOptions: {minimum: 1, maximum: 12}
"""


def test_null_count_and_one_rule_of_the_column_share_one_aggregate_with_both_counts(sqlite):
    df = pd.DataFrame(
        {
            "c": ["AA", None, None, "a1", "AB\n", "ABC", "ZZ"],
            "o": ["EWR", "JFK", None, "LGA", "ewr", "EWR", None],
            "m": [1, 12, None, 0, 13, 14, None],
        }
    ).astype({"c": "string", "o": "string", "m": "Int64"})
    got, statement = _sqlite_gate(sqlite, make_contract(SHARED), df, "s")
    # 'AB\n' matches (re.search's $), 'a1' and 'ABC' do not
    assert (got["t.c.required"], got["t.c.pattern"]) == (2, 2)
    assert (got["t.o.required"], got["t.o.airport"]) == (2, 2)
    assert (got["t.m.required"], got["t.m.minimum"], got["t.m.maximum"]) == (2, 1, 2)
    # c and o: one packed aggregate each; m's null count packed with its minimum, the maximum alone
    assert statement.count("sum(CASE WHEN") == 3
    assert "count(*) FILTER (WHERE s.c IS NULL)" not in statement


RANGES = """\
- name: t
  properties:
    - name: a
      logicalType: number
      logicalTypeOptions: {minimum: 1, maximum: 12}
    - name: b
      logicalType: number
      logicalTypeOptions: {exclusiveMinimum: 1, maximum: 12}
"""


def test_minimum_and_maximum_share_one_aggregate_and_an_exclusive_bound_does_not(sqlite):
    values = [0, 1, 12, 13, None, 0.5, 12.5, -3, 7]
    df = pd.DataFrame({"a": values, "b": values}).astype("Float64")
    got, statement = _sqlite_gate(sqlite, make_contract(RANGES), df, "r")
    assert (got["t.a.minimum"], got["t.a.maximum"]) == (3, 2)
    assert (got["t.b.exclusiveMinimum"], got["t.b.maximum"]) == (4, 2)
    assert statement.count("BETWEEN") == 1 and statement.count("sum(CASE WHEN") == 1


# -- PostgreSQL: most common values skip the regex ------------------------------------------------
CODES = """\
- name: t
  properties:
    - name: code
      logicalType: string
      logicalTypeOptions: {{pattern: '{pattern}'}}
    - name: num
      logicalType: integer
      quality:
        - name: digit
          metric: invalidValues
          arguments: {{pattern: '^[0-9]$'}}
          mustBe: 0
"""


@pytest.fixture
def pg(pg_url):
    engine = sa.create_engine(pg_url)
    yield engine
    engine.dispose()


def _gate(engine, pattern, table="c"):
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, many):
        if "count(*)" in statement:
            sent.append(cursor.mogrify(statement, dict(parameters)).decode())

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        report = evaluate_sql(
            make_contract(CODES.format(pattern=pattern)), engine_or_connection=engine, table=table
        )
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return {r.name: r.failing_rows for r in report.results if r.row_level}, sent[0]


def _by_regex(engine, pattern, table="c"):
    """The count the plain regex gives (no shortcut): the figure the gate must report."""
    with engine.connect() as conn:
        return conn.execute(
            sa.text(f"SELECT count(*) FILTER (WHERE code !~ :p) FROM {table}"),
            {"p": D.pattern_for(pattern, "postgresql")},
        ).scalar()


@pytest.mark.postgres
def test_common_values_skip_the_regex_and_counts_stay_exact_when_statistics_are_stale(pg):
    pattern = "^[A-Z]{2}$"
    with pg.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE c (code TEXT, num INTEGER)")
        conn.exec_driver_sql(
            "INSERT INTO c SELECT (ARRAY['AA','BB','CC','x1'])[1 + mod(g, 4)], mod(g, 10) FROM generate_series(1, 4000) g"
        )
        conn.exec_driver_sql("INSERT INTO c VALUES (NULL, NULL), ('AA\n', 1)")
        conn.exec_driver_sql("ANALYZE c")
    with pg.connect() as conn:
        common = D.common_matches(conn, "c", None, _measures(pattern), {"code": "string", "num": "integer"})
    assert set(common[("code", pattern)]) == {"AA", "BB", "CC"}  # 'x1' is common but does not match
    counts, statement = _gate(pg, pattern)
    assert "= ANY (ARRAY['" in statement and "'x1'" not in statement
    assert counts["t.code.pattern"] == _by_regex(pg, pattern) == 1000  # 'AA\n' matches, as re.search says
    # statistics now stale: new bad values and a matching value they do not know
    with pg.begin() as conn:
        conn.exec_driver_sql("INSERT INTO c VALUES ('zz', 1), ('DD', 2), ('AAA', 3), ('aa', 4)")
    counts, statement = _gate(pg, pattern)
    assert "= ANY (ARRAY['" in statement
    assert counts["t.code.pattern"] == _by_regex(pg, pattern) == 1003
    with pg.connect() as conn:
        df = pd.read_sql("SELECT code, num FROM c", conn).astype({"code": "string", "num": "Int64"})
    pandas = evaluate_dataframe(make_contract(CODES.format(pattern=pattern)), df)
    assert counts == {r.name: r.failing_rows for r in pandas.results if r.row_level}


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("pattern", "rows", "why"),
    [
        ("^[A-Z]+$", "(ARRAY['AA','BB'])[1 + mod(g, 2)]", "a pattern with + (not literals and classes)"),
        ("^[A-Z0-9]{6}$", "lpad(g::text, 6, '0')", "no value common enough"),
    ],
)
def test_no_shortcut_where_it_would_not_pay_or_not_be_safe(pg, pattern, rows, why):
    with pg.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE c (code TEXT, num INTEGER)")
        conn.exec_driver_sql(f"INSERT INTO c SELECT {rows}, mod(g, 10) FROM generate_series(1, 3000) g")
        conn.exec_driver_sql("ANALYZE c")
    with pg.connect() as conn:
        assert D.common_matches(conn, "c", None, _measures(pattern), {"code": "string"}) == {}, why
    counts, statement = _gate(pg, pattern)
    assert "ANY (ARRAY" not in statement
    assert counts["t.code.pattern"] == _by_regex(pg, pattern)


@pytest.mark.postgres
def test_no_statistics_no_shortcut_same_counts(pg):
    """A table ANALYZE has not seen yet (a freshly staged one): the regex alone."""
    with pg.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE c (code TEXT, num INTEGER)")
        conn.exec_driver_sql("INSERT INTO c VALUES ('AA', 1), ('x', 2), (NULL, 3)")
    counts, statement = _gate(pg, "^[A-Z]{2}$")
    assert "ANY (ARRAY" not in statement
    assert counts["t.code.pattern"] == 1 and counts["t.num.digit"] == 0


def _measures(pattern):
    from airflow_dataops.contracts import rules as R

    contract = make_contract(CODES.format(pattern=pattern))
    return R.measures(R.plan(contract, contract.schema_object(None)))


MIXED = """\
- name: t
  properties:
    - name: v
      logicalType: string
      quality:
        - name: listed
          metric: invalidValues
          arguments: {validValues: [%s]}
          mustBe: 0
"""


@pytest.mark.parametrize("values", ["1.0, A", "A, 1.0, 2, x, y, z, w, q", "A, 1, null"])
def test_a_list_of_mixed_types_is_checked_by_every_engine(sqlite, values):
    """A list typed after its first value made SQLAlchemy convert "A" to a float: a traceback."""
    from airflow_dataops.contracts.engines.gx import evaluate_gx

    df = pd.DataFrame({"v": ["A", "x", "B", None]}, dtype="string")
    df.to_sql("m", sqlite, index=False)
    contract = make_contract(MIXED % values)
    expected = {r.name: r.failing_rows for r in evaluate_dataframe(contract, df).results}
    for evaluate in (evaluate_sql, evaluate_gx):
        report = evaluate(contract, engine_or_connection=sqlite, table="m")
        assert {r.name: r.failing_rows for r in report.results} == expected, evaluate.__name__
    assert expected["t.v.listed"] == (1 if "x" in values else 2)  # 'B', and 'x' unless listed
