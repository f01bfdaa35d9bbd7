"""MySQL/MariaDB, DuckDB and PostgreSQL in the SQL engine (#18, #15): pandas' verdicts where the
dialect differs, or a refusal that says why; ``sql`` rules read-only on MySQL and DuckDB.

The MariaDB and PostgreSQL cases need the servers `make test` starts (DATAOPS_TEST_MYSQL_URL,
DATAOPS_TEST_PG_URL); DuckDB is embedded.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from airflow_dataops.contracts import sql_rules as S
from airflow_dataops.contracts.engines import sql_dialects as D
from airflow_dataops.contracts.engines.sql import evaluate_sql
from airflow_dataops.contracts.engines.sql_elements import PatternMatch
from airflow_dataops.exceptions import ContractError

from ._helpers import SQL_RULE, make_contract

DIALECTS = [pytest.param("mysql", marks=pytest.mark.mysql), "duckdb"]
#: where patterns are translated: PostgreSQL too (its sql rules are covered with the other backends')
PATTERN_DIALECTS = [*DIALECTS, pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=DIALECTS)
def engine(request, tmp_path):
    yield from _engine(request, tmp_path)


@pytest.fixture(params=PATTERN_DIALECTS)
def pattern_engine(request, tmp_path):
    yield from _engine(request, tmp_path)


def _engine(request, tmp_path):
    if request.param == "mysql":
        url = request.getfixturevalue("mysql_url")
    elif request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
    else:
        url = f"duckdb+dataops:///{tmp_path / 'w.duckdb'}"
    eng = sa.create_engine(url)
    yield eng
    eng.dispose()


def test_python_whitespace_class_is_pinned():
    listed = set()
    for part in re.findall(r"\\x\{([0-9a-f]+)\}(?:-\\x\{([0-9a-f]+)\})?", D._SPACE):
        low, high = int(part[0], 16), int(part[1] or part[0], 16)
        listed.update(range(low, high + 1))
    assert listed == {c for c in range(0x110000) if chr(c).isspace()}


def test_python_digit_class_is_pinned():
    """PostgreSQL gets Python's \\d as explicit ranges (its own \\d follows the server's locale)."""
    every = "".join(map(chr, range(0x110000)))
    assert tuple((m.start(), m.end() - 1) for m in re.finditer(r"\d+", every)) == D.DIGITS


# Patterns whose meaning differs between Python's re and PCRE/RE2/PostgreSQL's ARE unless
# translated, and values on which the difference shows.
PATTERNS = [
    r"^[a-z]+$",
    r"^[a-z]",
    r"^\d{2}$",
    r"a\s",
    r"^a\Z",
    r"^\S+@\S+$",
    r"[$]x",
    r"\$$",
    r"^[]a]$",
    r"^a.b$",  # ARE's "." also matches a newline
    r"^\D+$",  # a Unicode digit is not \D in Python, whatever the server's locale says
    r"[\d]x",
    r"\x41B",  # ARE's \x takes every hex digit that follows: \x41B would be U+041B
]
VALUES = [
    "a\nb",
    "axb",
    "\u0663x",
    "AB",
    "\u041b",
    "ab",
    "ab\n",
    "B",
    "Ab",
    "٣٣",
    "12",
    "a\xa0",
    "a b",
    "a",
    "a\n",
    "x@y",
    "x y@z",
    "$x",
    "b$",
    "]",
    "",
]


def test_translated_patterns_give_re_search_verdicts(pattern_engine):
    engine = pattern_engine
    rows = [{"v": v} for v in VALUES]
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE p (v VARCHAR(20))")
        conn.execute(sa.text("INSERT INTO p (v) VALUES (:v)"), rows)
    t = sa.table("p", sa.column("v"))
    with engine.connect() as conn:
        for pattern in PATTERNS:
            got = dict(conn.execute(sa.select(t.c.v, PatternMatch(t.c.v, pattern))).all())
            expected = {v: re.search(pattern, v) is not None for v in VALUES}
            assert {v: bool(m) for v, m in got.items()} == expected, pattern


@pytest.mark.parametrize(
    ("pattern", "dialect", "reason"),
    [
        (r"^\w+$", "duckdb", r"\w or \W"),
        (r"^\w+$", "mysql", r"\w or \W"),
        (r"\bx", "mysql", r"\b or \B"),
        (r"(?<=a)b", "duckdb", "look-ahead or look-behind"),
        (r"(a)\1", "duckdb", "back-reference"),
        (r"[\S]", "duckdb", r"\S inside a character class"),
        (r"^\w+$", "postgresql", r"\w or \W"),
        (r"\bx", "postgresql", r"\b or \B"),
        (r"[\D]", "postgresql", r"\D inside a character class"),
    ],
)
def test_patterns_read_differently_are_refused(pattern, dialect, reason):
    with pytest.raises(D.PatternRefused, match=re.escape(reason)):
        D.pattern_for(pattern, dialect)
    assert D.pattern_for(pattern, "sqlite") == pattern  # SQLite runs Python's re itself


def test_a_pattern_the_engine_rejects_is_named_and_the_callers_transaction_survives(tmp_path):
    engine = sa.create_engine(f"duckdb+dataops:///{tmp_path / 'w.duckdb'}")
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE t (s VARCHAR)")  # the caller's open transaction
        reasons = D.unusable_patterns(conn, {"(?x)a b", "^a$"})
        conn.exec_driver_sql("INSERT INTO t VALUES ('a')")  # still usable: the probe ran elsewhere
        conn.commit()
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM t").scalar() == 1
    assert list(reasons) == ["(?x)a b"] and "refused by the warehouse's regex engine" in reasons["(?x)a b"]
    engine.dispose()


@pytest.mark.postgres
def test_a_pattern_postgresql_rejects_is_named_and_the_callers_transaction_survives(pg_url):
    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE t (s TEXT)")  # the caller's open transaction
        reasons = D.unusable_patterns(conn, {"(?P<n>a)", "^a$"})
        conn.exec_driver_sql("INSERT INTO t VALUES ('a')")  # not aborted: the probe had a savepoint
        conn.commit()
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM t").scalar() == 1
    assert list(reasons) == ["(?P<n>a)"] and "refused by the warehouse's regex engine" in reasons["(?P<n>a)"]
    engine.dispose()


PATTERN_RULE = """\
- name: t
  properties:
    - name: s
      logicalType: string
      logicalTypeOptions: {{pattern: '{pattern}', maxLength: 1}}
"""


def test_a_refused_pattern_fails_its_rule_with_the_reason_and_the_rest_still_runs(pattern_engine):
    engine = pattern_engine
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (s VARCHAR(10))")
        conn.exec_driver_sql("INSERT INTO t VALUES ('é'), ('ab')")
    report = evaluate_sql(
        make_contract(PATTERN_RULE.format(pattern=r"^\w$")), engine_or_connection=engine, table="t"
    )
    by_name = {r.name: r for r in report.results}
    pattern = next(r for n, r in by_name.items() if "pattern" in n)
    assert not pattern.passed and "not run: pattern '^\\\\w$' uses \\w or \\W" in str(pattern.actual)
    length = next(r for n, r in by_name.items() if "maxLength" in n or "length" in n.lower())
    assert length.failing_rows == 1  # 'é' is one character (MySQL's length() would say 2 bytes)


IN_SET = """\
- name: t
  properties:
    - name: s
      logicalType: string
      quality:
        - name: inSet
          metric: invalidValues
          mustBe: 0
          arguments: {validValues: [a]}
"""


@pytest.mark.mysql
def test_mysql_inexact_collation_is_refused_per_rule_and_for_the_partition_column(mysql_url):
    engine = sa.create_engine(mysql_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE ci (s VARCHAR(10) COLLATE utf8mb4_general_ci, day VARCHAR(10))")
        conn.exec_driver_sql("INSERT INTO ci VALUES ('A', 'x'), ('a ', 'x')")
        conn.exec_driver_sql("CREATE TABLE exact (s VARCHAR(10), day VARCHAR(10) COLLATE utf8mb4_bin)")
    contract = make_contract(IN_SET)
    result = next(
        r
        for r in evaluate_sql(contract, engine_or_connection=engine, table="ci").results
        if r.name == "t.s.inSet"
    )
    assert not result.passed
    assert "column 's' has collation utf8mb4_general_ci" in str(result.actual) and "utf8mb4_nopad_bin" in str(
        result.actual
    )
    with pytest.raises(ContractError, match="partition column 'day' of 'exact' has collation utf8mb4_bin"):
        evaluate_sql(
            contract, engine_or_connection=engine, table="exact", partition_column="day", partition_value="x"
        )
    engine.dispose()


@pytest.mark.mysql
def test_mysql_exact_collation_sees_case_and_trailing_spaces(mysql_url):
    engine = sa.create_engine(mysql_url)  # the harness server's default: utf8mb4_nopad_bin
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (s VARCHAR(10))")
        conn.exec_driver_sql("INSERT INTO t VALUES ('A'), ('a '), ('a')")
    result = next(
        r
        for r in evaluate_sql(make_contract(IN_SET), engine_or_connection=engine, table="t").results
        if r.name == "t.s.inSet"
    )
    assert result.failing_rows == 2  # 'A' and 'a ' are not 'a', as in pandas
    engine.dispose()


# -- sql rules: read-only -------------------------------------------------------------------------
def test_sql_rule_runs_read_only_and_the_connection_writes_again_afterwards(engine):
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE canary (x INT)")
        conn.exec_driver_sql("INSERT INTO canary VALUES (1)")
    with engine.connect() as conn:
        for raw in ("DELETE FROM canary", "INSERT INTO canary VALUES (2)", "CREATE TABLE other (x INT)"):
            # the DBAPI's own error: the rule runs on the DBAPI connection, not through SQLAlchemy
            with pytest.raises(conn.dialect.loaded_dbapi.Error, match=r"(?i)read[- ]only"):
                S.run_read_only(conn, raw)  # bypassing the parse on purpose: the runtime guard alone
        assert S.run_read_only(conn, "SELECT COUNT(*) FROM canary") == 1
        conn.exec_driver_sql("INSERT INTO canary VALUES (3)")
        conn.commit()
    with engine.connect() as conn:
        assert sorted(conn.exec_driver_sql("SELECT x FROM canary").scalars()) == [1, 3]
        assert not sa.inspect(conn).has_table("other")


def test_sql_rule_inside_a_callers_transaction_is_refused_not_run_writable(engine):
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (a INT)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1), (-1)")
    contract = make_contract(SQL_RULE.format(query="SELECT COUNT(*) FROM {table} WHERE {column} < 0"))
    with engine.connect() as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (-2)")  # the caller's open transaction
        report = evaluate_sql(contract, engine_or_connection=conn, table="t")
        conn.commit()
    neg = next(r for r in report.results if r.name == "t.a.neg")
    assert not neg.passed and "inside an open transaction" in str(neg.actual)
    # the same rule on an Engine: its own read-only transaction, the right number
    neg = next(
        r
        for r in evaluate_sql(contract, engine_or_connection=engine, table="t").results
        if r.name == "t.a.neg"
    )
    assert neg.actual == 2.0


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("SELECT COUNT(*) FROM 'secrets.csv'", "reads the file 'secrets.csv'"),
        ("SELECT COUNT(*) FROM read_csv('secrets.csv')", "read_csv()"),
        ("SELECT COUNT(*) FROM glob('/etc/*')", "glob()"),
        ("SELECT LENGTH(getenv('HOME'))", "getenv()"),
    ],
)
def test_duckdb_file_and_environment_access_is_refused(query, reason):
    with pytest.raises(S.SqlRuleRefused, match=re.escape(reason)):
        S.render(query, "duckdb", table="t")
    S.render(
        "SELECT COUNT(*) FROM t WHERE note GLOB 'a*'", "sqlite", table="t"
    )  # SQLite's GLOB stays allowed


@pytest.mark.parametrize(
    "query", ["SELECT LOAD_FILE('/etc/passwd')", "SELECT SLEEP(10)", "SELECT GET_LOCK('x', 1)"]
)
def test_mysql_server_functions_are_refused(query):
    with pytest.raises(S.SqlRuleRefused, match="refuses in sql rules"):
        S.render(query, "mysql", table="t")
