"""SQL engine on real SQLite (and PostgreSQL when DATAOPS_TEST_PG_URL is set)."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pandas as pd
import pytest
import sqlalchemy as sa

from airflow_dataops.contracts.engines.pandas import evaluate_dataframe, failing_row_mask
from airflow_dataops.contracts.engines.sql import evaluate_sql, register_sqlite_regexp
from airflow_dataops.contracts.engines.sql_predicates import failing_row_predicate, row_predicates
from airflow_dataops.contracts.model import OPERATORS
from airflow_dataops.contracts.report import Severity
from airflow_dataops.exceptions import ContractError

from ._helpers import make_contract

# 10 rows, 2 nulls in b: nullValues is 2 rows or 20 percent.
DATA = pd.DataFrame(
    {
        "a": pd.array(range(10), dtype="Int64"),
        "b": ["x", None, "y", "y", None, "z", "BAD", "x", "x", "q1"],
        "p": ["2024-01-01"] * 6 + ["2024-01-02"] * 4,
        "ts": ["2024-01-01T00:00:00Z"] * 5 + ["2024-01-02T12:00:00Z"] * 5,
    }
)

# operator -> (passing threshold, failing threshold) for a measured value of 2 (rows); x10 for percent
CASES = {
    "mustBe": (2, 3),
    "mustNotBe": (3, 2),
    "mustBeGreaterThan": (1, 2),
    "mustBeGreaterOrEqualTo": (2, 3),
    "mustBeLessThan": (3, 2),
    "mustBeLessOrEqualTo": (2, 1),
    "mustBeBetween": ([1, 2], [3, 4]),
    "mustNotBeBetween": ([3, 4], [1, 2]),
}
assert set(CASES) == set(OPERATORS)


@pytest.fixture
def engine(tmp_path):
    eng = sa.create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    DATA.to_sql("t", eng, index=False)
    yield eng
    eng.dispose()


def scaled(value, factor):
    return [v * factor for v in value] if isinstance(value, list) else value * factor


def null_rule_contract(op, threshold, unit):
    return make_contract(
        f"""\
        - name: t
          properties:
            - name: a
              logicalType: integer
            - name: b
              logicalType: string
              quality:
                - metric: nullValues
                  {op}: {threshold}
                  unit: {unit}
        """
    )


@pytest.mark.parametrize("unit", ["rows", "percent"])
@pytest.mark.parametrize("outcome", ["pass", "fail"])
@pytest.mark.parametrize("op", list(CASES))
def test_operator_unit_verdicts(engine, op, outcome, unit):
    factor = 10 if unit == "percent" else 1
    threshold = scaled(CASES[op][0 if outcome == "pass" else 1], factor)
    contract = null_rule_contract(op, threshold, unit)
    report = evaluate_sql(contract, engine_or_connection=engine, table="t")
    result = {r.name: r for r in report.results}["t.b.nullValues"]
    assert result.passed is (outcome == "pass")
    assert result.actual == (20.0 if unit == "percent" else 2)
    assert result.failing_rows == 2
    assert result.row_level
    assert result.expected.startswith(op)
    pandas_result = {r.name: r for r in evaluate_dataframe(contract, DATA).results}["t.b.nullValues"]
    assert (pandas_result.passed, pandas_result.actual) == (result.passed, result.actual)


FULL = """\
- name: t
  properties:
    - name: a
      logicalType: integer
      physicalType: INTEGER
      primaryKey: true
      unique: true
    - name: b
      logicalType: string
      required: true
      quality:
        - name: allowed
          metric: invalidValues
          mustBe: 0
          arguments: {validValues: [x, y, z, q1]}
        - name: shape
          metric: invalidValues
          mustBeLessOrEqualTo: 10
          unit: percent
          severity: warning
          arguments: {pattern: "^[a-z]+$"}
        - metric: missingValues
          mustBeLessThan: 5
          arguments: {missingValues: [BAD, "n/a"]}
        - metric: duplicateValues
          mustBeLessOrEqualTo: 3
        - type: sql
          name: zeds
          query: "SELECT COUNT(*) FROM ${object} WHERE ${column} = 'z'"
          mustBe: 1
    - name: p
      logicalType: string
    - name: ts
      logicalType: timestamp
  quality:
    - metric: rowCount
      mustBeBetween: [1, 100]
    - metric: duplicateValues
      mustBe: 0
      arguments: {properties: [b, p]}
"""
SLA = """\
slaProperties:
  - property: latency
    value: 2
    unit: hours
    element: t.ts
"""


def test_full_report(engine):
    contract = make_contract(FULL, extra=SLA)
    now = dt.datetime(2024, 1, 2, 13, 0)
    report = evaluate_sql(contract, engine_or_connection=engine, table="t", now=now)
    got = {r.name: (r.passed, r.actual, r.failing_rows) for r in report.results}
    assert got == {
        "t.a.schema": (True, "integer", None),
        "t.b.schema": (True, "string", None),
        "t.p.schema": (True, "string", None),
        "t.ts.schema": (True, "string", None),
        "t.a.unique": (True, 0, 0),
        "t.b.required": (False, 2, 2),
        "t.b.allowed": (False, 1, 1),
        "t.b.shape": (False, 20.0, 2),
        "t.b.missingValues": (True, 3, 3),
        "t.b.duplicateValues": (True, 3, 3),
        "t.b.zeds": (True, 1.0, None),
        "t.primaryKey": (True, 0, 0),
        "t.rowCount": (True, 10, None),
        "t.duplicateValues": (False, 3, 3),
        "t.ts.latency": (True, 1.0, None),
    }
    by_name = {r.name: r for r in report.results}
    assert by_name["t.b.shape"].severity is Severity.WARNING
    assert by_name["t.ts.latency"].expected == "max(ts) not older than 2 hours"
    assert report.row_count == 10 and report.engine == "sql"
    pandas_report = evaluate_dataframe(contract, DATA, now=now)
    pandas_got = {r.name: (r.passed, r.actual, r.failing_rows) for r in pandas_report.results}
    assert pandas_got == {k: v for k, v in got.items() if k != "t.b.zeds"}
    assert "t.b.zeds: sql rules are not evaluated by the pandas engine" in pandas_report.warnings


def test_partition_filter_and_sql_rule_on_partition(engine):
    contract = make_contract(FULL)
    report = evaluate_sql(
        contract, engine_or_connection=engine, table="t", partition_column="p", partition_value="2024-01-02"
    )
    got = {r.name: r for r in report.results}
    assert report.row_count == 4 and report.partition == "2024-01-02"
    assert got["t.b.zeds"].actual == 0.0  # the only 'z' is in the other partition
    assert got["t.b.allowed"].actual == 1  # 'BAD'
    part = DATA[DATA.p == "2024-01-02"]
    pandas_got = {r.name: (r.passed, r.actual) for r in evaluate_dataframe(contract, part).results}
    assert all(pandas_got[n] == (r.passed, r.actual) for n, r in got.items() if n != "t.b.zeds")


def test_one_aggregate_query(engine):
    contract = make_contract(FULL, extra=SLA)
    statements: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    evaluate_sql(contract, engine_or_connection=engine, table="t")
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    inspection = [
        s for s in selects if "sqlite_master" in s or "sqlite_temp_master" in s or "PRAGMA" in s.upper()
    ]
    data_selects = [s for s in selects if s not in inspection]
    # one aggregate query plus the one sql-type rule
    assert len(data_selects) == 2, data_selects
    aggregate = data_selects[0]
    assert "t.b IS NULL" in aggregate  # b's null count (on SQLite shared with another rule of b)
    assert "count(t.a) - count(DISTINCT t.a)" in aggregate
    assert "'x'" not in aggregate and "BAD" not in aggregate  # values are bound parameters
    assert "REGEXP" in aggregate


def test_missing_column_fails_rules_not_query(engine):
    contract = make_contract(FULL.replace("name: p\n", "name: p\n      physicalName: nope\n"))
    report = evaluate_sql(contract, engine_or_connection=engine, table="t")
    got = {r.name: r for r in report.results}
    assert (got["t.p.schema"].passed, got["t.p.schema"].actual) == (False, "missing")
    assert (got["t.duplicateValues"].passed, got["t.duplicateValues"].actual) == (False, "column missing")
    pandas = {r.name: (r.passed, r.actual) for r in evaluate_dataframe(contract, DATA).results}
    assert pandas["t.duplicateValues"] == (False, "column missing")


def test_type_mismatch(engine):
    contract = make_contract(
        FULL.replace(
            "      logicalType: string\n      required: true",
            "      logicalType: integer\n      required: true",
        )
    )
    got = {r.name: r for r in evaluate_sql(contract, engine_or_connection=engine, table="t").results}
    assert (got["t.b.schema"].passed, got["t.b.schema"].expected, got["t.b.schema"].actual) == (
        False,
        "present, integer",
        "string",
    )


def test_missing_table(engine):
    with pytest.raises(ContractError, match=r"t.odcs.yaml at schema\[0\]: table 'nope' does not exist"):
        evaluate_sql(make_contract(FULL), engine_or_connection=engine, table="nope")


def test_sql_rule_that_cannot_run_is_a_failed_blocking_rule_with_the_reason(engine):
    # (#14/#15) it used to raise ContractError (exit 2 in `contract test`); a rule that cannot run
    # is now reported as failed and blocking, whatever its severity, with the driver's reason.
    contract = make_contract(
        FULL.replace("WHERE ${column} = 'z'", "WHERE nope = 1").replace(
            "name: zeds", "name: zeds\n          severity: warning"
        )
    )
    report = evaluate_sql(contract, engine_or_connection=engine, table="t")
    result = next(r for r in report.results if r.name == "t.b.zeds")
    assert not result.passed and result.severity is Severity.ERROR
    assert result.actual == "failed to run: OperationalError (no such column: nope); fix the query"
    assert result in report.blocking


def test_failing_row_predicate_matches_pandas_mask(engine):
    contract = make_contract(FULL)
    pred = failing_row_predicate(contract, "t", engine.dialect)
    t = sa.table("t", sa.column("a"), sa.column("b"), sa.column("p"))
    with engine.connect() as conn:
        bad = sorted(conn.execute(sa.select(t.c.a).where(pred)).scalars())
    per_row = {"t.b.required", "t.b.allowed", "t.b.shape", "t.b.missingValues"}
    mask = failing_row_mask(contract, DATA, rules=per_row)
    assert bad == sorted(DATA.loc[mask, "a"].tolist()) == [1, 4, 6, 9]
    assert set(row_predicates(contract)) == per_row  # without the table, duplicate rules cannot be selected
    # with the table, every member of a duplicated key fails too: b in (x, y); (b, p) with NULLs equal
    groups = {"t.a.unique", "t.b.duplicateValues", "t.primaryKey", "t.duplicateValues"}
    assert set(row_predicates(contract, table=t)) == per_row | groups
    with engine.connect() as conn:
        bad = sorted(
            conn.execute(sa.select(t.c.a).where(failing_row_predicate(contract, "t", table=t))).scalars()
        )
        dup = failing_row_predicate(contract, "t", table=t, rules={"t.duplicateValues"})
        assert sorted(conn.execute(sa.select(t.c.a).where(dup)).scalars()) == [1, 2, 3, 4, 7, 8]
    assert (
        bad == sorted(DATA.loc[failing_row_mask(contract, DATA), "a"].tolist()) == [0, 1, 2, 3, 4, 6, 7, 8, 9]
    )
    only = failing_row_predicate(contract, "t", "sqlite", rules={"t.b.allowed"})
    with engine.connect() as conn:
        assert list(conn.execute(sa.select(t.c.a).where(only)).scalars()) == [6]
    assert failing_row_predicate(contract, "t", "sqlite", rules=set()) is None


def test_sensitive_column_reports_counts_only(tmp_path):
    eng = sa.create_engine(f"sqlite:///{tmp_path / 's.db'}")
    pd.DataFrame({"ssn": ["111-22-3333", "999-88-7777", None]}).to_sql("people", eng, index=False)
    contract = make_contract(
        """\
        - name: people
          properties:
            - name: ssn
              logicalType: string
              classification: restricted
              required: true
              unique: true
              quality:
                - metric: invalidValues
                  mustBe: 0
                  arguments: {pattern: "^[0-9]{3}-[0-9]{2}-[0-9]{4}$"}
        """,
        extra="slaProperties:\n  - {property: freshness, value: 1, unit: d, element: people.ssn}\n",
    )
    for report in (
        evaluate_sql(contract, engine_or_connection=eng, table="people"),
        evaluate_dataframe(contract, pd.read_sql_table("people", eng)),
    ):
        text = repr(report.to_dict())
        assert "111-22" not in text and "999-88" not in text
        assert all(
            isinstance(r.actual, (int, float, type(None))) or r.name.endswith(".schema")
            for r in report.results
        )


def test_register_sqlite_regexp_on_raw_connection():
    raw = sqlite3.connect(":memory:")
    register_sqlite_regexp(raw)
    assert raw.execute(
        "SELECT 'AB' REGEXP '^[A-Z]{2}$', 'ab' REGEXP '^[A-Z]{2}$', NULL REGEXP 'x'"
    ).fetchone() == (1, 0, None)
    eng = sa.create_engine("sqlite://")
    register_sqlite_regexp(eng)
    register_sqlite_regexp(eng)  # idempotent
    assert sa.event.contains(
        eng, "connect", __import__("airflow_dataops.contracts.engines.sql", fromlist=["x"])._on_connect
    )


INJECT = 'x"; DROP TABLE canary; --'


def injection_check(eng, db_schema=None):
    with eng.begin() as conn:
        conn.execute(sa.text("CREATE TABLE canary (id INTEGER)"))
        conn.execute(sa.text("INSERT INTO canary VALUES (1)"))
    pd.DataFrame({INJECT: ["a", None, "'; DROP TABLE canary; --"]}).to_sql(
        INJECT, eng, index=False, schema=db_schema
    )
    contract = make_contract(
        f"""\
        - name: evil
          physicalName: '{INJECT}'
          properties:
            - name: '{INJECT}'
              required: true
              quality:
                - metric: invalidValues
                  mustBe: 0
                  arguments: {{validValues: ["'; DROP TABLE canary; --", "a"], pattern: "'; DROP TABLE canary"}}
                - type: sql
                  query: "SELECT COUNT(*) FROM ${{object}} WHERE ${{column}} IS NULL"
                  mustBe: 1
          quality:
            - metric: rowCount
              mustBe: 3
        """
    )
    report = evaluate_sql(contract, engine_or_connection=eng, table=INJECT, db_schema=db_schema)
    got = {r.name: (r.passed, r.actual) for r in report.results}
    assert got["evil.rowCount"] == (True, 3)
    assert got[f"evil.{INJECT}.required"] == (False, 1)
    assert got[f"evil.{INJECT}.invalidValues"] == (False, 1)  # 'a' fails the pattern
    assert got[f"evil.{INJECT}.sql"] == (True, 1.0)
    # a hostile partition value is a bound parameter too
    report = evaluate_sql(
        contract,
        engine_or_connection=eng,
        table=INJECT,
        db_schema=db_schema,
        partition_column=INJECT,
        partition_value="'; DROP TABLE canary; --",
    )
    assert report.row_count == 1
    with eng.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM canary")).scalar() == 1


def test_injection_sqlite(tmp_path):
    injection_check(sa.create_engine(f"sqlite:///{tmp_path / 'i.db'}"))


@pytest.fixture
def pg_engine(pg_schema):
    """The shared fresh schema, and afterwards the injection check's canary table (in ``public``) dropped."""
    yield pg_schema
    with pg_schema[0].begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS canary"))


@pytest.mark.postgres
def test_postgres_matches_sqlite(pg_engine, engine):
    eng, schema = pg_engine
    DATA.to_sql("t", eng, index=False, schema=schema)
    contract = make_contract(FULL, extra=SLA)
    now = dt.datetime(2024, 1, 2, 13, 0)
    pg = evaluate_sql(contract, engine_or_connection=eng, table="t", db_schema=schema, now=now)
    lite = evaluate_sql(contract, engine_or_connection=engine, table="t", now=now)
    key = lambda r: (r.name, r.passed, r.actual, r.failing_rows)  # noqa: E731
    assert [key(r) for r in pg.results if not r.name.endswith(".schema")] == [
        key(r) for r in lite.results if not r.name.endswith(".schema")
    ]
    pred = failing_row_predicate(contract, "t", eng.dialect)
    t = sa.table("t", sa.column("a"), schema=schema)
    with eng.connect() as conn:
        assert sorted(conn.execute(sa.select(t.c.a).where(pred)).scalars()) == [1, 4, 6, 9]


@pytest.mark.postgres
def test_injection_postgres(pg_engine):
    eng, schema = pg_engine
    injection_check(eng, db_schema=schema)


def test_unknown_partition_column(engine):
    with pytest.raises(
        ContractError, match=r"partition column 'day' is not a column of table 't' \(columns: a, b, p, ts\)"
    ):
        evaluate_sql(
            make_contract(FULL),
            engine_or_connection=engine,
            table="t",
            partition_column="day",
            partition_value="x",
        )


def test_accepts_an_open_connection(engine):
    contract = make_contract(FULL)
    with engine.begin() as conn:
        report = evaluate_sql(contract, engine_or_connection=conn, table="t")
    assert {r.name: r.actual for r in report.results}["t.b.shape"] == 20.0


NO_SQL_RULE = FULL.replace(
    """        - type: sql
          name: zeds
          query: "SELECT COUNT(*) FROM ${object} WHERE ${column} = 'z'"
          mustBe: 1
""",
    "",
)


def _statements(engine):
    statements: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    return statements


def test_known_columns_mean_one_statement_and_no_inspection(engine):
    """The write path hands over the staged table's columns: the gate is ONE data statement."""
    contract = make_contract(NO_SQL_RULE)
    columns = {"a": sa.Integer(), "b": sa.Text(), "p": sa.Text(), "ts": sa.Text()}
    statements = _statements(engine)
    report = evaluate_sql(contract, engine_or_connection=engine, table="t", columns=columns)
    assert len(statements) == 1 and statements[0].lstrip().upper().startswith("SELECT"), statements
    reflected = evaluate_sql(contract, engine_or_connection=engine, table="t")
    assert [r.to_dict() for r in report.results] == [r.to_dict() for r in reflected.results]


def test_evaluate_inspects_the_table_once(engine):
    from airflow_dataops.contracts.evaluate import evaluate

    contract = make_contract(NO_SQL_RULE)
    statements = _statements(engine)
    evaluate(contract, engine="sql", sql_engine=engine, table="t")
    assert sum("table_info" in s.lower() or "table_xinfo" in s.lower() for s in statements) == 1, statements
    data = [s for s in statements if s.lstrip().upper().startswith("SELECT") and "sqlite_" not in s]
    assert len(data) == 1, data
