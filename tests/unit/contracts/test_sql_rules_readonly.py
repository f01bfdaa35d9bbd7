"""sql rules run read-only (#14): refused at load unless one SELECT; run where nothing can be written."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from airflow_dataops.contracts import sql_rules as S
from airflow_dataops.contracts.engines.sql import evaluate_sql
from airflow_dataops.exceptions import ContractError

from ._helpers import SQL_RULE, make_contract


@pytest.mark.parametrize(
    ("query", "kind"),
    [
        ("SELECT 0; DELETE FROM canary; COMMIT", "3 statements (SELECT; DELETE; COMMIT)"),
        ("DROP TABLE canary", "DROP TABLE"),
        ("COPY (SELECT 1) TO PROGRAM 'touch x'", "COPY"),
        ("ATTACH DATABASE 'x.db' AS x", "ATTACH"),
        ("VACUUM INTO 'copy.db'", "VACUUM"),
        ("SET ROLE postgres", "SET"),
        ("WITH d AS (DELETE FROM canary RETURNING *) SELECT COUNT(*) FROM d", "DELETE"),
        ("SELECT * INTO t2 FROM canary", "SELECT … INTO"),
        ("SELECT pg_read_file('/etc/passwd')", "pg_read_file()"),
        ("SELECT load_extension('x')", "load_extension()"),
    ],
)
def test_anything_but_one_read_only_select_is_refused_at_load(query, kind):
    from airflow_dataops.exceptions import ContractError

    with pytest.raises(ContractError) as info:
        make_contract(SQL_RULE.format(query=query))
    assert info.value.path == "schema[0].properties[0].quality[0].query"
    assert "sql rule 'neg': the query" in info.value.message and kind in info.value.message


def test_placeholders_partition_and_db_schema_are_resolved_in_the_tree():
    sql = S.render(
        "SELECT COUNT(*) FROM {table} JOIN dims d ON d.id = {table}.a WHERE {column} < 0",
        "postgresql",
        table="t",
        db_schema="analytics",
        column="a",
        partition_column="day",
        partition_value="2024-01-01' OR '1'='1",
    )
    assert sql == (
        "SELECT COUNT(*) FROM (SELECT * FROM \"analytics\".\"t\" WHERE \"day\" = '2024-01-01'' OR ''1''=''1') "
        'AS "t" JOIN "analytics".dims AS d ON d.id = "t".a WHERE "a" < 0'
    )


def test_sqlite_runner_denies_writes_and_resets_the_connection(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE canary (x INT)")
        conn.exec_driver_sql("INSERT INTO canary VALUES (1)")
    with engine.connect() as conn:
        for raw in ("DELETE FROM canary", "ATTACH DATABASE 'x.db' AS x", "PRAGMA query_only = OFF"):
            with pytest.raises(sa.exc.DatabaseError):
                S.run_read_only(conn, raw)  # bypassing the parse on purpose: the runtime guard alone
        assert S.run_read_only(conn, "SELECT COUNT(*) FROM canary") == 1
        conn.exec_driver_sql("INSERT INTO canary VALUES (2)")  # the connection writes again afterwards
        conn.commit()
    assert not (tmp_path / "x.db").exists()


@pytest.mark.postgres
def test_postgres_rule_inside_a_writers_transaction_keeps_that_transaction(pg_url):
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA analytics")
        conn.exec_driver_sql("CREATE TABLE analytics.t (a INT)")
        conn.exec_driver_sql("CREATE TABLE analytics.dims (id INT)")
        conn.exec_driver_sql("INSERT INTO analytics.t VALUES (1), (-1)")
    contract = make_contract(
        SQL_RULE.format(
            query="SELECT COUNT(*) FROM {table} WHERE {column} < 0 AND NOT EXISTS (SELECT 1 FROM dims)"
        )
    )
    with engine.connect() as conn:
        conn.exec_driver_sql("INSERT INTO analytics.t VALUES (-2)")  # the writer's open transaction
        report = evaluate_sql(contract, engine_or_connection=conn, table="t", db_schema="analytics")
        with pytest.raises(sa.exc.InternalError, match="read-only transaction"), conn.begin_nested():
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            conn.exec_driver_sql("DELETE FROM analytics.t")
        conn.exec_driver_sql("INSERT INTO analytics.t VALUES (5)")  # still writable after the rules ran
        conn.commit()
    result = next(r for r in report.results if r.name == "t.a.neg")
    assert result.actual == 2.0 and not result.passed  # unqualified "dims" resolved in analytics
    with engine.connect() as conn:
        assert sorted(conn.exec_driver_sql("SELECT a FROM analytics.t").scalars()) == [-2, -1, 1, 5]
    engine.dispose()


def test_a_dialect_without_a_guarantee_is_refused_unless_opted_in():
    class FakeConn:
        class dialect:
            name = "mssql"

    with pytest.raises(S.SqlRuleRefused, match="allow_unsafe_sql_rules_on = mssql"):
        S.run_read_only(FakeConn(), "SELECT 1")  # type: ignore[arg-type]
    with S.allow_unsafe_on("mssql"):
        assert "mssql" in S.unsafe_dialects()
    assert "mssql" not in S.unsafe_dialects()


def test_sqlite_rule_inside_a_writers_transaction_keeps_that_transaction(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (a INT)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1), (-1)")
    contract = make_contract(SQL_RULE.format(query="SELECT COUNT(*) FROM {table} WHERE {column} < 0"))
    with engine.connect() as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (-2)")  # the writer's open transaction
        report = evaluate_sql(contract, engine_or_connection=conn, table="t")
        conn.exec_driver_sql("INSERT INTO t VALUES (5)")  # still writable after the rule ran
        conn.commit()
    assert next(r for r in report.results if r.name == "t.a.neg").actual == 2.0  # saw the uncommitted row
    with engine.connect() as conn:
        assert sorted(conn.exec_driver_sql("SELECT a FROM t").scalars()) == [-2, -1, 1, 5]
        assert conn.exec_driver_sql("PRAGMA query_only").scalar() == 0
    engine.dispose()


@pytest.mark.parametrize("kind", ["unexpected_rows_expectation", "expect_query_results_to_match_comparison"])
def test_gx_custom_expectations_that_run_sql_text_are_refused(kind):
    import great_expectations as gx

    from airflow_dataops.contracts.engines.gx_custom import custom_expectations
    from airflow_dataops.contracts.model import QualityRule
    from airflow_dataops.exceptions import ContractError

    contract = make_contract(SQL_RULE.format(query="SELECT 0"))
    rule = QualityRule(
        type="custom",
        engine="greatExpectations",
        name="raw",
        implementation={"type": kind, "kwargs": {"unexpected_rows_query": "DELETE FROM canary"}},
        path="schema[0].quality[0]",
    )
    with pytest.raises(ContractError, match="cannot run read-only; write it as an ODCS type: sql rule"):
        custom_expectations(contract, rule, None, gx.expectations)


ROUND_TRIP = {
    "sqlite": [
        "SELECT COUNT(*) FROM t WHERE note LIKE 'a\\_%' ESCAPE '\\'",
        "SELECT COUNT(*) FROM t WHERE note GLOB 'a*' AND note REGEXP '^[a-z_]+$'",
        "SELECT COUNT(*) FROM t WHERE strftime('%Y', ts) = '2024' AND note <> 'x:y'",
        "SELECT IFNULL(SUM(amount), 0) FROM t",
        "SELECT COUNT(*) FROM t WHERE note IS NOT 'x' AND CAST(amount AS INTEGER) % 2 = 1",
        "SELECT COUNT(*) FROM (SELECT note FROM t GROUP BY note HAVING COUNT(*) > 1)",
    ],
    "postgresql": [
        "SELECT COUNT(*) FROM t WHERE note LIKE 'a\\_%' ESCAPE '\\' OR note ~* '^A'",
        "SELECT COUNT(*) FILTER (WHERE amount < 0) FROM t",
        "SELECT COUNT(*) FROM t WHERE note = E'a\\nb' OR note IS DISTINCT FROM 'x:y'",
        "SELECT COALESCE(SUM(amount), 0)::int FROM t",
        "SELECT COUNT(*) FROM t WHERE ts::date BETWEEN '2024-01-01' AND '2024-12-31'",
        "WITH x AS (SELECT amount FROM t) SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY amount) FROM x",
    ],
}


@pytest.mark.parametrize("dialect", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_the_regenerated_query_gives_the_number_the_text_gives(dialect, request, tmp_path):
    from airflow_dataops.contracts.engines.sql import register_sqlite_regexp

    url = f"sqlite:///{tmp_path / 'w.db'}" if dialect == "sqlite" else request.getfixturevalue("pg_url")
    engine = sa.create_engine(url)
    register_sqlite_regexp(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (note TEXT, amount FLOAT, ts TEXT)")
        conn.execute(
            sa.text("INSERT INTO t VALUES (:n, :a, :t)"),
            [
                {"n": "a_b", "a": 1, "t": "2024-01-01"},
                {"n": "abc", "a": -2, "t": "2024-05-01"},
                {"n": "a\nb", "a": 3, "t": "2023-01-01"},
                {"n": "x:y", "a": 4, "t": "2024-02-02"},
                {"n": None, "a": None, "t": None},
                {"n": "abc", "a": 5, "t": "2024-03-03"},
            ],
        )
    with engine.connect() as conn:
        for query in ROUND_TRIP[dialect]:
            text_value = conn.execute(sa.text(query.replace(":", "\\:"))).scalar()
            assert S.run_read_only(conn, S.render(query, dialect, table="t")) == text_value, query
    engine.dispose()


@pytest.mark.parametrize(
    "query",
    [
        # ODCS's own spelling, from its documentation's sql rule example
        "SELECT COUNT(*) FROM ${object} WHERE ${property} < 0",
        "SELECT COUNT(*) FROM {object} WHERE {property} < 0",
        "SELECT COUNT(*) FROM {table} WHERE {column} < 0",
    ],
)
def test_odcs_property_placeholder_is_the_propertys_column(tmp_path, query):
    """``${property}`` is the column the rule sits on, as ``{column}`` is: not a column named "property"."""
    eng = sa.create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with eng.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (a INTEGER)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1), (-2), (-3), (4)")
    contract = make_contract(SQL_RULE.format(query=query))
    (result,) = [
        r for r in evaluate_sql(contract, engine_or_connection=eng, table="t").results if r.name == "t.a.neg"
    ]
    assert (result.passed, result.actual) == (False, 2.0)


def test_property_placeholder_off_a_property_is_refused_at_load():
    with pytest.raises(
        ContractError, match=r"uses \{column\} \(or \$\{property\}\) but is not on a property"
    ):
        make_contract(
            """\
            - name: t
              properties: [{name: a, logicalType: integer}]
              quality:
                - type: sql
                  query: "SELECT COUNT(*) FROM ${object} WHERE ${property} < 0"
                  mustBe: 0
            """
        )
