"""The Great Expectations engine: same rule names, verdicts and numbers as the SQL engine."""

from __future__ import annotations

import datetime as dt
import itertools

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_dataops.contracts.engines.gx import evaluate_gx
from airflow_dataops.contracts.engines.sql import evaluate_sql
from airflow_dataops.exceptions import ContractError

from ._helpers import make_contract


def contract(schema_yaml: str, extra: str = ""):
    return make_contract(schema_yaml, name="gx", extra=extra)


CONTRACT = contract(
    """\
    - name: t
      properties:
        - name: k
          logicalType: integer
          required: true
          unique: true
          primaryKey: true
          logicalTypeOptions: {minimum: -1, exclusiveMaximum: 5, multipleOf: 2}
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
          quality:
            - type: sql
              name: ys
              query: "SELECT COUNT(*) FROM ${object} WHERE ${column} = 'y'"
              mustBeLessOrEqualTo: 1
        - name: ts
          logicalType: timestamp
          logicalTypeOptions: {minimum: "2024-01-01T00:00:00Z"}
      quality:
        - metric: rowCount
          mustBeGreaterThan: 3
        - type: sql
          name: negativeKeys
          query: "SELECT COUNT(*) FROM ${object} WHERE k < 0"
          mustBe: 0
        - name: pairs
          metric: duplicateValues
          mustBe: 0
          unit: percent
          arguments: {properties: [s, g]}
    """,
    extra="""\
    slaProperties:
      - property: latency
        value: 2
        unit: d
        element: t.ts
    """,
)
NOW = dt.datetime(2024, 1, 3, 12, 0)
TEXT = st.one_of(st.none(), st.sampled_from(["a", "b", "A1", "zz", "", "n/a", "a b", "é", "ab1", "B"]))
TS = st.one_of(
    st.none(), st.sampled_from(["2024-01-01 00:00:00", "2024-01-02 10:00:00", "2023-12-01 00:00:00"])
)
ROWS = st.lists(
    st.tuples(
        st.one_of(st.none(), st.integers(-2, 5)), TEXT, st.one_of(st.none(), st.sampled_from(["x", "y"])), TS
    ),
    min_size=1,
    max_size=25,
)
_counter = itertools.count()


def frame(rows) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "k": pd.array([r[0] for r in rows], dtype="Int64"),
            "s": pd.array([r[1] for r in rows], dtype="string"),
            "g": pd.array([r[2] for r in rows], dtype="string"),
            "ts": pd.array([r[3] for r in rows], dtype="string"),
        }
    )


def key(r):
    return (r.name, r.passed, r.actual, r.failing_rows)


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory):
    eng = sa.create_engine(f"sqlite:///{tmp_path_factory.mktemp('gx') / 'gx.db'}")
    yield eng
    eng.dispose()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=ROWS)
def test_gx_and_sql_agree_on_sqlite(rows, sqlite_engine):
    df = frame(rows)
    table = f"t{next(_counter)}"
    df.to_sql(table, sqlite_engine, index=False)
    sql = evaluate_sql(CONTRACT, engine_or_connection=sqlite_engine, table=table, now=NOW)
    gx = evaluate_gx(CONTRACT, engine_or_connection=sqlite_engine, table=table, now=NOW)
    assert gx.engine == "gx"
    assert [key(r) for r in gx.results] == [key(r) for r in sql.results]
    assert gx.row_count == sql.row_count == len(df)


def test_gx_on_a_dataframe_agrees_with_sql_where_both_evaluate(sqlite_engine):
    rows = [
        (1, "a", "x", "2024-01-02 10:00:00"),
        (1, "B", None, None),
        (None, "", "y", "2024-01-01 00:00:00"),
        (3, None, "x", None),
        (4, "zz", "x", "2023-12-01 00:00:00"),
    ]
    df = frame(rows)
    df.to_sql("tdf", sqlite_engine, index=False)
    sql = {
        r.name: key(r)
        for r in evaluate_sql(CONTRACT, engine_or_connection=sqlite_engine, table="tdf", now=NOW).results
    }
    report = evaluate_gx(CONTRACT, dataframe=df, now=NOW)
    gx = {r.name: key(r) for r in report.results}
    # set+pattern, multi-column duplicates, multipleOf, date bounds and sql rules need SQL: skipped with a
    # warning, never silently
    skipped = {
        "t.s.both",
        "t.primaryKey",
        "t.pairs",
        "t.g.ys",
        "t.negativeKeys",
        "t.k.multipleOf",
        "t.ts.minimum",
    }
    assert set(sql) - set(gx) == skipped
    assert all(any(w.startswith(name + ":") for w in report.warnings) for name in skipped)
    for name, value in gx.items():
        if name.endswith(".schema"):
            continue  # pandas dtypes vs SQLite column affinities: compared by the pandas engine's tests
        assert value == sql[name], name
    assert any(not r.passed for r in report.results)


def test_gx_partition_only_sees_its_rows(sqlite_engine):
    df = frame([(1, "a", "x", None), (2, "b", "x", None), (2, "b", "y", None), (None, "a", "y", None)])
    df["day"] = ["d1", "d1", "d2", "d2"]
    df.to_sql("tpart", sqlite_engine, index=False)
    for day in ("d1", "d2"):
        kw = dict(
            engine_or_connection=sqlite_engine,
            table="tpart",
            partition_column="day",
            partition_value=day,
            now=NOW,
        )
        gx = evaluate_gx(CONTRACT, **kw)
        assert [key(r) for r in gx.results] == [key(r) for r in evaluate_sql(CONTRACT, **kw).results]
        # the sql rule ran on the partition, not the table (which has 2 'y' rows)
        ys = next(r for r in gx.results if r.name == "t.g.ys")
        assert (ys.actual, ys.passed) == ((0, True) if day == "d1" else (2, False))


def test_a_quote_in_the_partition_value_is_a_literal(sqlite_engine):
    df = frame([(1, "a", "x", None)])
    df["day"] = ["it's"]
    df.to_sql("tquote", sqlite_engine, index=False)
    report = evaluate_gx(
        CONTRACT,
        engine_or_connection=sqlite_engine,
        table="tquote",
        partition_column="day",
        partition_value="it's",
        now=NOW,
    )
    assert report.row_count == 1


CUSTOM = contract(
    """\
    - name: c
      properties:
        - name: delay
          logicalType: number
          quality:
            - type: custom
              engine: greatExpectations
              name: plausible
              dimension: accuracy
              implementation:
                type: expect_column_values_to_be_between
                kwargs: {min_value: -60, max_value: 600}
        - name: secret
          logicalType: number
          classification: restricted
          quality:
            - type: custom
              engine: greatExpectations
              name: secretMax
              severity: warning
              implementation: |
                - type: expect_column_max_to_be_between
                  max_value: 10
      quality:
        - type: custom
          engine: greatExpectations
          name: rows
          implementation: {type: expect_table_row_count_to_be_between, kwargs: {min_value: 1, max_value: 3}}
    """
)


def test_custom_gx_rules_run_and_map_into_the_report(sqlite_engine):
    pd.DataFrame({"delay": [1.0, 700.0, -100.0, None], "secret": [1.0, 2.0, 987654.0, None]}).to_sql(
        "c", sqlite_engine, index=False
    )
    report = evaluate_gx(CUSTOM, engine_or_connection=sqlite_engine, table="c")
    by = {r.name: r for r in report.results}
    assert by["c.delay.plausible"].passed is False
    assert by["c.delay.plausible"].failing_rows == 2
    assert by["c.delay.plausible"].actual == 2
    assert by["c.delay.plausible"].expected == "GX expect_column_values_to_be_between"
    assert by["c.secret.secretMax"].passed is False
    assert by["c.secret.secretMax"].actual is None  # sensitive: the observed max never leaves GX
    assert "987654" not in repr(report.to_dict())
    assert by["c.rows"].passed is False and by["c.rows"].actual == 4
    assert not [w for w in report.warnings if "custom rule" in w]


@pytest.mark.parametrize(
    ("implementation", "message"),
    [
        pytest.param(
            "{type: expect_nothing_at_all}",
            "'expect_nothing_at_all' is not a Great Expectations expectation type",
            id="unknown-type",
        ),
        pytest.param(
            "{type: expect_column_values_to_be_between, kwargs: {min_value: [1]}}",
            "invalid arguments for expect_column_values_to_be_between",
            id="bad-kwargs",
        ),
        pytest.param("'just text'", "implementation must be an expectation", id="not-a-mapping"),
        pytest.param("{kwargs: {}}", "expectation 0 has no type", id="no-type"),
    ],
)
def test_a_bad_custom_implementation_is_a_contract_error(implementation, message, sqlite_engine):
    bad = contract(
        f"""\
        - name: c
          properties:
            - name: delay
              logicalType: number
              quality:
                - type: custom
                  engine: greatExpectations
                  name: broken
                  implementation: {implementation}
        """
    )
    with pytest.raises(ContractError) as e:
        evaluate_gx(bad, dataframe=pd.DataFrame({"delay": [1.0]}))
    assert message in str(e.value)
    assert "gx.odcs.yaml" in str(e.value) and "schema[0].properties[0].quality[0].implementation" in str(
        e.value
    )
    assert "'broken'" in str(e.value)


def test_exactly_one_data_source():
    with pytest.raises(ContractError, match="exactly one of"):
        evaluate_gx(CONTRACT)


def test_missing_table_names_it(sqlite_engine):
    with pytest.raises(ContractError, match="table 'nope' does not exist"):
        evaluate_gx(CONTRACT, engine_or_connection=sqlite_engine, table="nope")


@pytest.mark.postgres
def test_gx_and_sql_agree_on_postgres(pg_schema):
    engine, schema = pg_schema
    samples = [
        [
            (1, "a", "x", "2024-01-02 10:00:00"),
            (1, "B", None, None),
            (None, "", "y", "2024-01-01 00:00:00"),
            (3, None, "x", None),
            (4, "zz", "x", "2023-12-01 00:00:00"),
            (4, "a b", "x", None),
        ],
        [
            (1, "a", "x", None),
            (2, "b", "y", None),
            (3, "a", "x", None),
            (5, "ab1", "y", "2024-01-03 00:00:00"),
        ],
    ]
    for i, rows in enumerate(samples):
        df = frame(rows)
        df.to_sql(f"p{i}", engine, index=False, schema=schema)
        kw = dict(engine_or_connection=engine, table=f"p{i}", db_schema=schema, now=NOW)
        assert [key(r) for r in evaluate_gx(CONTRACT, **kw).results] == [
            key(r) for r in evaluate_sql(CONTRACT, **kw).results
        ]


PATTERNS = make_contract(
    """\
- name: t
  properties:
    - name: s
      logicalType: string
      logicalTypeOptions: {pattern: '^[a-z]+$'}
    - name: w
      logicalType: string
      logicalTypeOptions: {pattern: '^\\w+$'}
"""
)


@pytest.mark.postgres
def test_gx_sql_and_pandas_read_a_pattern_alike_on_postgres(pg_schema):
    """PostgreSQL's ``$`` is the end only, Python's also matches before a final newline: both database
    engines send the translated pattern; ``\\w`` (Unicode letters in Python) fails with the reason."""
    from airflow_dataops.contracts.engines.pandas import evaluate_dataframe

    engine, schema = pg_schema
    df = pd.DataFrame({"s": ["ab", "ab\n", "Ab", None], "w": ["a", "a", "a", "a"]}, dtype="string")
    df.to_sql("pt", engine, index=False, schema=schema)
    kw = dict(engine_or_connection=engine, table="pt", db_schema=schema)
    reports = {"gx": evaluate_gx(PATTERNS, **kw), "sql": evaluate_sql(PATTERNS, **kw)}
    pandas = {r.name: r for r in evaluate_dataframe(PATTERNS, df).results}
    for engine_name, report in reports.items():
        by_name = {r.name: r for r in report.results}
        assert by_name["t.s.pattern"].failing_rows == pandas["t.s.pattern"].failing_rows == 1, engine_name
        refused = by_name["t.w.pattern"]
        assert not refused.passed and "uses \\w or \\W" in str(refused.actual), engine_name
