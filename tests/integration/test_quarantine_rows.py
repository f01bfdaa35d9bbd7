"""Row-level quarantine of range (logicalTypeOptions) and duplicate violations, on SQLite and PostgreSQL.

The rows moved must be exactly the rows a hand-written query selects: the range violations, and
EVERY member of a duplicated key (the documented policy: no winner is picked), within the
partition only.  Both paths are covered: the gate on a table (``quarantine_rows``) and the
write-audit-publish path (``publish`` with predicates bound to the staged table).
"""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa
from unit.contracts._helpers import make_contract

from airflow_dataops.contracts import gate
from airflow_dataops.contracts.engines.sql import evaluate_sql
from airflow_dataops.contracts.engines.sql_predicates import row_predicates
from airflow_dataops.contracts.evaluate import evaluate, quarantine_rows
from airflow_dataops.contracts.report import Verdict
from airflow_dataops.partitions.quarantine import RowRule
from airflow_dataops.partitions.writer import ensure_target, publish, stage_frame

CONTRACT = make_contract(
    """\
    - name: orders
      properties:
        - name: id
          logicalType: integer
          unique: true
        - name: day
          logicalType: string
          required: true
        - name: line
          logicalType: integer
        - name: amount
          logicalType: number
          logicalTypeOptions: {minimum: 0, exclusiveMaximum: 1000}
      quality:
        - name: oneLinePerOrder
          metric: duplicateValues
          mustBe: 0
          arguments: {properties: [id, line]}
    """,
    name="orders",
)
ROWS = [
    # id, day, line, amount
    (1, "d1", 1, 10.0),
    (2, "d1", 1, -5.0),  # below minimum
    (3, "d1", 1, 20.0),  # id 3 twice in d1: both rows go
    (3, "d1", 2, 30.0),
    (4, "d1", 1, 1000.0),  # not below exclusiveMaximum
    (5, "d1", None, 1.0),  # (5, NULL) twice: NULLs are equal in a tuple key, both go
    (5, "d1", None, 2.0),
    (None, "d1", 1, 3.0),  # NULL ids are never duplicates of each other
    (None, "d1", 2, 4.0),
    (6, "d1", 1, None),
    (1, "d2", 1, 10.0),  # id 1 again, but in another partition: not a duplicate of d1's
    (7, "d2", 1, -1.0),  # a violation in the other partition: not moved
]
HAND_WRITTEN = """
SELECT id, day, line, amount FROM orders
WHERE day = 'd1' AND (
    amount < 0 OR amount >= 1000
    OR id IN (SELECT id FROM orders WHERE day = 'd1' AND id IS NOT NULL GROUP BY id HAVING COUNT(*) > 1)
    OR EXISTS (SELECT 1 FROM orders o WHERE o.day = 'd1' AND o.id IS NOT DISTINCT FROM orders.id
               AND o.line IS NOT DISTINCT FROM orders.line
               GROUP BY o.id, o.line HAVING COUNT(*) > 1)
)
"""


def frame() -> pd.DataFrame:
    df = pd.DataFrame(ROWS, columns=["id", "day", "line", "amount"])
    return df.astype({"id": "Int64", "line": "Int64"})


def hand_written(conn: sa.Connection) -> list[tuple]:
    query = HAND_WRITTEN
    if conn.dialect.name == "sqlite":
        query = query.replace("IS NOT DISTINCT FROM", "IS")
    return sorted(conn.execute(sa.text(query)).all(), key=repr)


def rows_of(conn: sa.Connection, table: str, where: str = "") -> list[tuple]:
    query = f'SELECT id, day, line, amount FROM "{table}" {where}'
    return sorted(conn.execute(sa.text(query)).all(), key=repr)


@pytest.fixture
def engine(warehouse_url):
    eng = sa.create_engine(warehouse_url)
    frame().to_sql("orders", eng, index=False)
    yield eng
    eng.dispose()


def test_the_gate_quarantines_exactly_the_hand_written_rows(engine):
    with engine.connect() as conn:
        expected = hand_written(conn)
    assert len(expected) == 6  # -5 and 1000 (exclusive maximum), both rows of id 3 and of (5, NULL)
    report = evaluate(
        CONTRACT,
        engine="sql",
        sql_engine=engine,
        table="orders",
        partition_column="day",
        partition_value="d1",
    )
    failed = {r.name: r for r in report.failed}
    assert set(failed) == {
        "orders.amount.minimum",
        "orders.amount.exclusiveMaximum",
        "orders.id.unique",
        "orders.oneLinePerOrder",
    }
    assert failed["orders.amount.minimum"].failing_rows == 1
    assert failed["orders.id.unique"].failing_rows == 2  # rows in excess of one per key ...
    assert gate.decide(report, "fail") is Verdict.FAILED  # fail mode unchanged
    assert gate.decide(report, "quarantine") is Verdict.QUARANTINED
    message = gate.explain(report, Verdict.QUARANTINED, mode="quarantine")
    assert "quarantine moves every row of each duplicated key (none is kept as the winner)" in message

    moved = quarantine_rows(
        engine,
        contract=CONTRACT,
        table="orders",
        rules=gate.quarantinable(report),
        partition_column="day",
        partition_value="d1",
        run_id="r1",
    )
    assert moved.rows_quarantined == len(expected)  # ... while every member of the group is moved
    with engine.connect() as conn:
        assert rows_of(conn, "orders__quarantine") == expected
        left = rows_of(conn, "orders", "WHERE day = 'd1'")
        assert len(left) + len(expected) == 10
        assert not set(left) & set(expected)
        assert len(rows_of(conn, "orders", "WHERE day = 'd2'")) == 2  # the other partition is untouched
        rules_of_id3 = conn.execute(
            sa.text("SELECT _dataops_rules FROM orders__quarantine WHERE id = 3")
        ).scalars()
        assert all(r == "orders.id.unique;" for r in rules_of_id3)
    after = evaluate(
        CONTRACT,
        engine="sql",
        sql_engine=engine,
        table="orders",
        partition_column="day",
        partition_value="d1",
    )
    assert after.passed, [r.name for r in after.failed]


def test_the_writer_quarantines_exactly_the_hand_written_rows(engine):
    """Write-audit-publish: the staged rows are gated, and the predicates are bound to the stage."""
    with engine.connect() as conn:
        expected = hand_written(conn)
    d1 = frame()[frame()["day"] == "d1"].reset_index(drop=True)
    stage = stage_frame(engine, d1, table="orders_out", partition_key="d1")
    columns = {c.name: c.type for c in stage.columns}
    report = evaluate_sql(CONTRACT, engine_or_connection=engine, table=stage.name, columns=columns)
    assert gate.decide(report, "quarantine") is Verdict.QUARANTINED
    predicates = row_predicates(CONTRACT, table=stage, columns=columns)
    rules = [RowRule(name=n, failing=predicates[n]) for n in gate.quarantinable(report)]
    target = ensure_target(engine, stage, table="orders_out")
    result = publish(
        engine, stage=stage, target=target, partition_column="day", partition_key="d1", quarantine_rules=rules
    )
    assert (result.rows_in, result.rows_quarantined, result.rows_published) == (10, len(expected), 4)
    with engine.connect() as conn:
        assert rows_of(conn, "orders_out__quarantine") == expected


ODD_TABLE, ODD_COLUMN = "Odd Orders", "amount`\nusd"
ODD_CONTRACT = make_contract(
    """\
    - name: orders
      physicalName: "Odd Orders"
      properties:
        - name: day
          logicalType: string
        - name: amount
          physicalName: "amount`\\nusd"
          logicalType: number
          logicalTypeOptions: {minimum: 0}
    """,
    name="odd_orders",
)


@pytest.mark.parametrize("kind", ["sqlite", "postgres", pytest.param("mysql", marks=pytest.mark.mysql)])
def test_the_gate_reads_and_quarantines_a_column_whose_name_breaks_mysql_reflection(kind, tmp_path):
    """The pandas engine reads the table and the quarantine moves its rows with the columns as the
    database spells them: a backtick and a newline in a name defeat SQLAlchemy's MySQL reflection
    (``SHOW CREATE TABLE`` parsed line by line), not the one quarantine module's."""
    from conftest import warehouse_of

    from airflow_dataops.partitions.tables import reflect_columns

    engine = sa.create_engine(warehouse_of(kind, tmp_path))
    pd.DataFrame({"day": ["d1", "d1", "d2"], ODD_COLUMN: [1.5, -2.0, -3.0]}).to_sql(
        ODD_TABLE, engine, index=False
    )
    report = evaluate(
        ODD_CONTRACT,
        engine="pandas",
        sql_engine=engine,
        table=ODD_TABLE,
        partition_column="day",
        partition_value="d1",
    )
    assert [(r.name, r.failing_rows) for r in report.failed] == [("orders.amount.minimum", 1)]
    moved = quarantine_rows(
        engine,
        contract=ODD_CONTRACT,
        table=ODD_TABLE,
        rules=gate.quarantinable(report),
        partition_column="day",
        partition_value="d1",
        run_id="r1",
    )
    assert (moved.rows_in, moved.rows_quarantined, moved.rows_published) == (2, 1, 1)
    target = reflect_columns(engine, ODD_TABLE)
    quarantine = reflect_columns(engine, moved.quarantine_table)
    assert moved.quarantine_table == f"{ODD_TABLE}__quarantine"
    with engine.connect() as conn:
        kept = conn.execute(sa.select(target.c.day, target.c[ODD_COLUMN]).order_by(target.c.day)).all()
        quarantined = conn.execute(
            sa.select(quarantine.c.day, quarantine.c[ODD_COLUMN], quarantine.c._dataops_rules)
        ).all()
    assert [tuple(r) for r in kept] == [("d1", 1.5), ("d2", -3.0)]  # d2 is another partition: left alone
    assert [tuple(r) for r in quarantined] == [("d1", -2.0, "orders.amount.minimum;")]
    engine.dispose()
