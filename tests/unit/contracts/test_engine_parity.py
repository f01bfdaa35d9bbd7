"""Property: the pandas and SQL engines give the same verdicts and numbers on the same data."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_dataops.contracts.engines.pandas import evaluate_dataframe, failing_row_mask
from airflow_dataops.contracts.engines.sql import evaluate_sql
from airflow_dataops.contracts.engines.sql_predicates import failing_row_predicate

from ._helpers import make_contract

CONTRACT = make_contract(
    """\
    - name: t
      properties:
        - name: k
          logicalType: integer
          required: true
          unique: true
          primaryKey: true
          logicalTypeOptions: {minimum: -1, exclusiveMaximum: 5, multipleOf: 2, format: u8}
          quality:
            - metric: nullValues
              mustBeLessOrEqualTo: 20
              unit: percent
            - metric: duplicateValues
              mustBeLessThan: 2
        - name: s
          logicalType: string
          logicalTypeOptions: {minLength: 1, maxLength: 2, pattern: "^[a-z]", format: email}
          quality:
            - name: inSet
              metric: invalidValues
              mustBeLessOrEqualTo: 25
              unit: percent
              arguments: {validValues: [a, b, A1, "", null]}
            - name: lower
              metric: invalidValues
              mustBe: 0
              arguments: {pattern: "^[a-z]+$"}
            - name: both
              metric: invalidValues
              mustNotBeBetween: [1, 2]
              arguments: {validValues: [a, zz, "a b"], pattern: "a"}
            - metric: missingValues
              mustBeBetween: [0, 30]
              unit: percent
              arguments: {missingValues: ["", "n/a", null]}
            - metric: nullValues
              mustBeGreaterOrEqualTo: 1
        - name: g
          logicalType: string
          required: true
        - name: x
          logicalType: number
          logicalTypeOptions: {exclusiveMinimum: -1, maximum: 1.5, multipleOf: 0.5}
        - name: d
          logicalType: date
          logicalTypeOptions: {minimum: "2024-01-01", exclusiveMaximum: "2024-01-04", format: yyyy-MM-dd}
      quality:
        - metric: rowCount
          mustBeGreaterThan: 3
        - name: pairs
          metric: duplicateValues
          mustBe: 0
          unit: percent
          arguments: {properties: [s, g]}
    """
)

TEXT = st.one_of(st.none(), st.sampled_from(["a", "b", "A1", "zz", "", "n/a", "a b", "é", "ab1", "B"]))
NUMBER = st.one_of(st.none(), st.sampled_from([-1.0, -0.5, 0.0, 0.25, 1.5, 2.0, 0.1]))
DAY = st.one_of(
    st.none(), st.sampled_from(["2023-12-31", "2024-01-01", "2024-01-03", "2024-01-04", "2024/01/02"])
)
ROWS = st.lists(
    st.tuples(
        st.one_of(st.none(), st.integers(-2, 5)),
        TEXT,
        st.one_of(st.none(), st.sampled_from(["x", "y"])),
        NUMBER,
        DAY,
    ),
    min_size=0,
    max_size=25,
)
_counter = itertools.count()


def frame(rows):
    return pd.DataFrame(
        {
            "k": pd.array([r[0] for r in rows], dtype="Int64"),
            "s": pd.array([r[1] for r in rows], dtype="string"),
            "g": pd.array([r[2] for r in rows], dtype="string"),
            "x": pd.array([r[3] for r in rows], dtype="Float64"),
            "d": pd.array([r[4] for r in rows], dtype="string"),
        }
    )


def key(r):
    return (r.name, r.passed, r.actual, r.failing_rows)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=ROWS)
def test_pandas_and_sql_agree(rows, tmp_path_factory):
    df = frame(rows)
    engine = sa.create_engine(f"sqlite:///{tmp_path_factory.mktemp('parity') / 'p.db'}")
    try:
        table = f"t{next(_counter)}"
        df.to_sql(table, engine, index=False)
        sql = evaluate_sql(CONTRACT, engine_or_connection=engine, table=table)
        pdf = evaluate_dataframe(CONTRACT, df)
        assert [key(r) for r in sql.results] == [key(r) for r in pdf.results]
        assert sql.row_count == pdf.row_count == len(df)
        t = sa.table(table, *(sa.column(c) for c in df.columns))
        pred = failing_row_predicate(CONTRACT, "t", engine.dialect, table=t)
        with engine.connect() as conn:
            n_sql = conn.execute(sa.select(sa.func.count()).select_from(t).where(pred)).scalar()
        assert n_sql == int(failing_row_mask(CONTRACT, df).sum())
    finally:
        engine.dispose()


@pytest.mark.postgres
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=ROWS)
def test_pandas_and_postgres_agree(rows, pg_schema):
    engine, schema = pg_schema
    df = frame(rows)
    table = f"t{next(_counter)}"
    df.to_sql(table, engine, index=False, schema=schema)
    sql = evaluate_sql(CONTRACT, engine_or_connection=engine, table=table, db_schema=schema)
    assert [key(r) for r in sql.results] == [key(r) for r in evaluate_dataframe(CONTRACT, df).results]


# -- MySQL/MariaDB, DuckDB (#18) and PostgreSQL: the same property on values where dialects differ ---------------------
@pytest.fixture
def mysql(mysql_url):
    eng = sa.create_engine(mysql_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def duckdb(tmp_path_factory):
    eng = sa.create_engine(f"duckdb+dataops:///{tmp_path_factory.mktemp('duck') / 'parity.duckdb'}")
    try:
        yield eng
    finally:
        eng.dispose()


#: Values on which MySQL/MariaDB and DuckDB would differ from pandas if the engine did not handle them:
#: case, a trailing space (PAD SPACE collations), a final newline (Python's ``$``), Unicode space and
#: digits (``\s``/``\d``), a multi-byte character (MySQL's byte ``length()``).
HARD_TEXT = st.one_of(
    st.none(),
    st.sampled_from(
        ["a", "b", "A", "a ", "a\n", "zz", "", "n/a", "a b", "é", "\xa0", "x@y.z", "x y@z.w", "ab1"]
    ),
)
HARD_ROWS = st.lists(
    st.tuples(
        st.one_of(st.none(), st.integers(-2, 5)),
        HARD_TEXT,
        st.one_of(st.none(), st.sampled_from(["x", "y", "X", "x "])),
        NUMBER,
        DAY,
    ),
    min_size=0,
    max_size=25,
)


def _agree_on(engine, rows):
    df = frame(rows)
    table = f"t{next(_counter)}"
    df.to_sql(table, engine, index=False)
    sql = evaluate_sql(CONTRACT, engine_or_connection=engine, table=table)
    assert [key(r) for r in sql.results] == [key(r) for r in evaluate_dataframe(CONTRACT, df).results]
    assert sql.row_count == len(df)
    t = sa.table(table, *(sa.column(c) for c in df.columns))
    pred = failing_row_predicate(CONTRACT, "t", engine.dialect, table=t)
    with engine.connect() as conn:
        n_sql = conn.execute(sa.select(sa.func.count()).select_from(t).where(pred)).scalar()
    assert n_sql == int(failing_row_mask(CONTRACT, df).sum())


@pytest.mark.mysql
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=HARD_ROWS)
def test_pandas_and_mysql_agree(rows, mysql):
    _agree_on(mysql, rows)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=HARD_ROWS)
def test_pandas_and_duckdb_agree(rows, duckdb):
    _agree_on(duckdb, rows)


@pytest.fixture
def postgres(pg_url):
    eng = sa.create_engine(pg_url)
    yield eng
    eng.dispose()


@pytest.mark.postgres
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=HARD_ROWS)
def test_pandas_and_postgres_agree_on_hard_text(rows, postgres):
    """PostgreSQL's ARE reads ``$`` and ``.`` differently from Python's re: the translated pattern agrees."""
    _agree_on(postgres, rows)
