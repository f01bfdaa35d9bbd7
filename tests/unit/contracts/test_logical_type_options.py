"""logicalTypeOptions and relationships: validated at load, evaluated row-level in the one scan."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from airflow_dataops.contracts.engines.pandas import evaluate_dataframe, failing_row_mask
from airflow_dataops.contracts.engines.sql import evaluate_sql
from airflow_dataops.contracts.engines.sql_predicates import failing_row_predicate
from airflow_dataops.contracts.evaluate import evaluate
from airflow_dataops.exceptions import ContractError

from ._helpers import make_contract

OPTIONS = """\
- name: t
  properties:
    - name: n
      logicalType: integer
      logicalTypeOptions: {minimum: 0, exclusiveMaximum: 100, multipleOf: 5, format: u8}
    - name: x
      logicalType: number
      logicalTypeOptions: {exclusiveMinimum: -1.5, maximum: 2.5, multipleOf: 0.5}
    - name: s
      logicalType: string
      logicalTypeOptions: {minLength: 2, maxLength: 4, pattern: "^[a-z]"}
    - name: e
      logicalType: string
      logicalTypeOptions: {format: email}
    - name: d
      logicalType: date
      logicalTypeOptions: {minimum: "2024-01-01", maximum: "2024-12-31", format: yyyy-MM-dd}
    - name: ts
      logicalType: timestamp
      logicalTypeOptions: {exclusiveMaximum: "2024-06-01T02:00:00+02:00"}
"""
DATA = pd.DataFrame(
    {
        "n": pd.array([0, 5, 7, 100, -5, None, 300], dtype="Int64"),
        "x": [0.5, -1.5, 2.5, 2.6, 1.25, None, 0.0],
        "s": ["ab", "a", "abcde", "Zb", None, "abcd", "b1"],
        "e": ["a@b.co", "nope", None, "x@y", "me@here.org", "a b@c.d", "q@w.e"],
        "d": ["2024-01-01", "2023-12-31", "2025-01-01", "2024/05/05", None, "2024-12-31", "2024-06-30"],
        "ts": pd.to_datetime(
            [
                "2024-05-31 23:59:59",
                "2024-06-01 00:00:00",
                "2024-06-01 00:00:01",
                None,
                "2020-01-01 00:00:00",
                "2030-01-01 00:00:00",
                "2024-01-01 00:00:00",
            ]
        ),
    }
)
# rule -> failing row indexes of DATA (NULLs never fail)
EXPECTED = {
    "t.n.minimum": [4],
    "t.n.exclusiveMaximum": [3, 6],
    "t.n.multipleOf": [2],
    "t.n.format": [4, 6],  # u8: 0..255
    "t.x.exclusiveMinimum": [1],
    "t.x.maximum": [3],
    "t.x.multipleOf": [3, 4],
    "t.s.minLength": [1],
    "t.s.maxLength": [2],
    "t.s.pattern": [3],
    "t.e.format": [1, 3, 5],
    "t.d.minimum": [1],
    "t.d.maximum": [2],
    "t.d.format": [3],
    "t.ts.exclusiveMaximum": [1, 2, 5],  # the bound is 2024-06-01 00:00 UTC
}


def results(report):
    return {r.name: r for r in report.results if not r.name.endswith(".schema")}


def test_each_option_is_a_named_row_level_rule_with_the_same_numbers_in_sql_and_pandas(tmp_path):
    contract = make_contract(OPTIONS)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'o.db'}")
    DATA.to_sql("t", engine, index=False)
    sql = results(evaluate_sql(contract, engine_or_connection=engine, table="t"))
    pdf = results(evaluate_dataframe(contract, DATA))
    assert list(sql) == list(EXPECTED)
    for name, rows in EXPECTED.items():
        r = sql[name]
        assert (r.actual, r.failing_rows, r.passed) == (len(rows), len(rows), not rows), name
        assert (r.row_level, r.quarantinable, r.dimension) == (True, True, "conformity"), name
        assert (pdf[name].actual, pdf[name].passed) == (r.actual, r.passed), name
    assert sql["t.n.minimum"].expected == "mustBe 0 rows with n < 0"
    t = sa.table("t", *(sa.column(c) for c in DATA.columns), sa.column("rowid"))
    with engine.connect() as conn:
        for name, rows in EXPECTED.items():
            pred = failing_row_predicate(contract, "t", rules={name}, table=t)
            got = sorted(i - 1 for i in conn.execute(sa.select(t.c.rowid).where(pred)).scalars())
            assert got == rows, name
            assert sorted(DATA.index[failing_row_mask(contract, DATA, rules={name})]) == rows, name
    engine.dispose()


@pytest.mark.postgres
def test_the_same_numbers_on_postgresql(pg_schema):
    contract = make_contract(OPTIONS)
    engine, schema = pg_schema
    frame = DATA.assign(d=[None if pd.isna(v) or "/" in v else dt.date.fromisoformat(v) for v in DATA["d"]])
    frame.to_sql("t", engine, index=False, schema=schema)  # d: a native DATE column here
    got = results(evaluate_sql(contract, engine_or_connection=engine, table="t", db_schema=schema))
    expected = {**EXPECTED, "t.d.format": []}  # a DATE column holds only well-formed dates
    assert {n: r.actual for n, r in got.items()} == {n: len(rows) for n, rows in expected.items()}


BAD = [
    (
        "logicalType: number\n      logicalTypeOptions: {minimum: .inf}",
        "minimum must be a finite number, got inf",
    ),
    ("logicalType: string\n      logicalTypeOptions: {minLength: 3, maxLength: 2}", "minLength 3 is greater"),
    ("logicalType: integer\n      logicalTypeOptions: {minimum: 5, maximum: 1}", "leave no value"),
    ("logicalType: integer\n      logicalTypeOptions: {minimum: 5, exclusiveMaximum: 5}", "leave no value"),
    ("logicalType: string\n      logicalTypeOptions: {pattern: '(['}", "is not a valid regular expression"),
    ("logicalType: date\n      logicalTypeOptions: {minimum: '2024-02-30'}", "is not an ISO 8601 date"),
    ("logicalType: timestamp\n      logicalTypeOptions: {maximum: 'soon'}", "is not an ISO 8601 timestamp"),
]


@pytest.mark.parametrize(("prop", "message"), BAD, ids=[b[1][:30] for b in BAD])
def test_bad_option_values_are_refused_at_load_with_file_line_and_path(prop, message):
    with pytest.raises(ContractError) as info:
        make_contract(f"- name: t\n  properties:\n    - name: a\n      {prop}\n")
    assert message in info.value.message
    assert info.value.file == "t.odcs.yaml"
    assert info.value.line == 11  # the logicalTypeOptions line
    assert info.value.path.startswith("schema[0].properties[0].logicalTypeOptions")


def test_what_is_not_evaluated_is_listed():
    contract = make_contract(
        """\
        - name: t
          properties:
            - name: u
              logicalType: string
              logicalTypeOptions: {format: uri}
            - name: big
              logicalType: integer
              logicalTypeOptions: {format: i64}
            - name: o
              logicalType: object
              logicalTypeOptions: {maxProperties: 3}
            - name: l
              logicalType: array
              logicalTypeOptions: {minItems: 1}
            - name: ts
              logicalType: timestamp
              logicalTypeOptions: {timezone: true, format: "EEE, d MMM yyyy"}
        """
    )
    text = "\n".join(contract.warnings)
    for needle in (
        "schema[0].properties[0].logicalTypeOptions.format: format 'uri' is not evaluated: no portable check",
        "properties[1].logicalTypeOptions.format: format 'i64' is not evaluated: any integer column holds it",
        "properties[2].logicalTypeOptions.maxProperties: not evaluated: object options are not portable",
        "properties[3].logicalTypeOptions.minItems: not evaluated: array options are not portable",
        "properties[4].logicalTypeOptions.timezone: timezone is not evaluated for logicalType timestamp",
        "properties[4].logicalTypeOptions.format: format 'EEE, d MMM yyyy' is not evaluated",
    ):
        assert needle in text
    assert "logicalTypeOptions are not evaluated" not in text


RELATIONSHIPS = """\
- name: orders
  properties:
    - name: id
      logicalType: integer
    - name: customer
      logicalType: integer
      relationships:
        - to: customers.id
    - name: region
      logicalType: string
    - name: country
      logicalType: string
  relationships:
    - from: [orders.region, orders.country]
      to: [regions.code, regions.country]
- name: customers
  properties:
    - name: id
      logicalType: integer
"""


def test_foreign_keys_count_orphans_and_quarantine_them(tmp_path):
    contract = make_contract(RELATIONSHIPS)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'r.db'}")
    pd.DataFrame({"id": [1, 2]}).to_sql("customers", engine, index=False)
    pd.DataFrame({"code": ["N", "S", None], "country": ["fr", "fr", "de"]}).to_sql(
        "regions", engine, index=False
    )
    orders = pd.DataFrame(
        {
            "id": [10, 11, 12, 13, 14],
            "customer": pd.array(
                [1, 3, None, 2, 9], dtype="Int64"
            ),  # 3 and 9 are orphans; NULL references nothing
            "region": ["N", "N", "S", None, "X"],
            "country": ["fr", "de", "fr", "de", "fr"],  # (N, de) and (X, fr) are orphans; a NULL part is not
        }
    )
    orders.to_sql("orders", engine, index=False)
    report = evaluate(contract, engine="sql", sql_engine=engine, table="orders", schema_object="orders")
    got = {r.name: (r.actual, r.passed, r.quarantinable, r.dimension) for r in report.results}
    assert got["orders.customer.foreignKey"] == (2, False, True, "consistency")
    assert got["orders.foreignKey"] == (2, False, True, "consistency")
    t = sa.table("orders", *(sa.column(c) for c in orders.columns))
    with engine.connect() as conn:
        for rule, ids in (("orders.customer.foreignKey", [11, 14]), ("orders.foreignKey", [11, 14])):
            pred = failing_row_predicate(contract, "orders", rules={rule}, table=t)
            assert sorted(conn.execute(sa.select(t.c.id).where(pred)).scalars()) == ids
    engine.dispose()


def test_a_foreign_key_to_an_unreachable_table_is_listed_as_not_evaluated(tmp_path):
    contract = make_contract(RELATIONSHIPS)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'u.db'}")
    pd.DataFrame({"id": [1], "customer": [5], "region": ["N"], "country": ["fr"]}).to_sql(
        "orders", engine, index=False
    )
    pd.DataFrame({"id": [1]}).to_sql("customers", engine, index=False)
    report = evaluate_sql(contract, engine_or_connection=engine, table="orders", schema_object="orders")
    names = {r.name for r in report.results}
    assert "orders.customer.foreignKey" in names and "orders.foreignKey" not in names
    assert (
        "orders.foreignKey: not evaluated: referenced table 'regions' is not reachable on this connection"
        in report.warnings
    )
    pandas = evaluate_dataframe(contract, pd.DataFrame({"id": [1], "customer": [5]}), schema_object="orders")
    assert any(w.startswith("orders.customer.foreignKey: not evaluated") for w in pandas.warnings)
    engine.dispose()


def test_a_fully_qualified_reference_is_listed_as_not_evaluated():
    contract = make_contract(
        """\
        - name: orders
          properties:
            - name: customer
              logicalType: integer
              relationships:
                - to: schema/customers/properties/id
        """
    )
    assert any(
        "relationships[0]: relationship to ['schema/customers/properties/id'] is not evaluated" in w
        for w in contract.warnings
    )


def test_a_missing_column_fails_its_schema_rule_and_the_rules_on_it(tmp_path):
    contract = make_contract(OPTIONS)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    DATA.drop(columns=["n"]).to_sql("t", engine, index=False)
    report = evaluate(contract, engine="sql", sql_engine=engine, table="t")
    got = {r.name: (r.passed, r.actual) for r in report.failed}
    assert got["t.n.schema"] == (False, "missing")
    assert got["t.n.minimum"] == (False, "column missing")
    assert "t.n.schema" in {r.name for r in report.blocking}
    engine.dispose()
