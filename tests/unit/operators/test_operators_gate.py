"""ContractGateOperator on SQLite and PostgreSQL: modes, quarantine, sensitive values, bad contracts."""

from __future__ import annotations

import json
import logging
import re
from types import SimpleNamespace

import gate_orders
import pandas as pd
import pytest
import sqlalchemy as sa
from gate_orders import ROWS, SCHEMA, SECRET, write_contract

from airflow_dataops.exceptions import ContractError, ContractViolation
from airflow_dataops.operators.gate import ContractGateOperator

warehouse = gate_orders.warehouse  # the fixture, shared by the gate operator and `contract test` tests


def context(run_id: str = "manual__1"):
    ti = SimpleNamespace(dag_id="d", task_id="gate", run_id=run_id, try_number=1, xcom_pull=lambda **kw: None)
    return {"ti": ti}


def stored(store_url):
    from airflow_dataops.store import StateStore
    from airflow_dataops.store.records import latest_contract_results

    return latest_contract_results(StateStore.from_settings(), "orders")


def count(engine, table, where=""):
    with engine.connect() as conn:
        return conn.execute(sa.text(f'SELECT COUNT(*) FROM "{table}" {where}')).scalar()


def gate_on(warehouse, tmp_path, *, schema=SCHEMA, table="orders", partition=None, **kwargs):
    """A gate on the warehouse's ``orders`` table (or ``table``), over one ``day`` when ``partition`` is given."""
    if partition is not None:
        kwargs.update(partition_column="day", partition=partition)
    return ContractGateOperator(
        task_id="gate",
        contract=write_contract(tmp_path, schema),
        conn_id=warehouse.conn_id,
        table=table,
        **kwargs,
    )


def test_fail_mode_fails_stores_the_report_and_leaves_the_data(warehouse, use_store, tmp_path, caplog):
    op = gate_on(warehouse, tmp_path, partition="d1", mode="fail")
    with pytest.raises(ContractViolation) as e:
        op.execute(context())
    assert "orders.status.knownStatus: expected mustBe 0 rows, got 1, 1 failing rows" in str(e.value)
    assert count(warehouse.engine, "orders") == 6
    [row] = stored(use_store)
    assert (row["verdict"], row["mode"], row["partition_key"], row["engine"]) == (
        "failed",
        "fail",
        "d1",
        "sql",
    )
    by = {r["name"]: r for r in row["report"]["results"]}
    assert (
        by["orders.status.knownStatus"].items()
        >= {
            "name": "orders.status.knownStatus",
            "dimension": "conformity",
            "severity": "error",
            "expected": "mustBe 0 rows",
            "actual": 1,
            "passed": False,
            "failing_rows": 1,
            "column": "status",
            "row_level": True,
        }.items()
    )
    assert by["orders.amount.fewNulls"]["passed"] is True


def test_warn_mode_records_and_passes(warehouse, use_store, tmp_path):
    op = gate_on(warehouse, tmp_path, mode="warn")
    out = op.execute(context())
    assert out["verdict"] == "warned" and out["rows"] == 6 and out["partition"] is None
    assert set(out["blocking"]) == {"orders.status.knownStatus", "orders.ssn.ssnFormat"}
    assert count(warehouse.engine, "orders") == 6
    assert stored(use_store)[0]["verdict"] == "warned"


def test_quarantine_moves_failing_rows_of_one_partition_in_one_transaction(warehouse, use_store, tmp_path):
    op = gate_on(warehouse, tmp_path, partition="d1", mode="quarantine")
    out = op.execute(context("run_q"))
    assert out["verdict"] == "quarantined"
    q = out["quarantine"]
    assert (q["rows_in"], q["rows_published"], q["rows_quarantined"]) == (4, 2, 2)
    assert q["rows_published"] + q["rows_quarantined"] == q["rows_in"]
    assert count(warehouse.engine, "orders", "WHERE day = 'd1'") == 2
    assert count(warehouse.engine, "orders", "WHERE day = 'd2'") == 2  # other partition untouched
    with warehouse.engine.connect() as conn:
        moved = conn.execute(
            sa.text(
                'SELECT id, _dataops_partition_key, _dataops_rules, _dataops_run_id FROM "orders__quarantine" ORDER BY id'
            )
        ).all()
    assert [tuple(r) for r in moved] == [
        (2, "d1", "orders.status.knownStatus;", "run_q"),
        (3, "d1", "orders.ssn.ssnFormat;", "run_q"),
    ]
    assert stored(use_store)[0]["report"]["quarantine"]["rows_quarantined"] == 2
    # a second run finds the partition clean
    again = gate_on(warehouse, tmp_path, partition="d1", mode="quarantine")
    assert again.execute(context("run_q2"))["verdict"] == "passed"


def test_quarantine_rolls_back_when_it_would_not_balance(warehouse, use_store, tmp_path, monkeypatch):
    from airflow_dataops.contracts.evaluate import quarantine_rows
    from airflow_dataops.contracts.loader import load_contract

    contract = load_contract(write_contract(tmp_path))
    real = sa.engine.Connection.execute
    calls = {"n": 0}

    def lying_execute(self, stmt, *args, **kwargs):
        result = real(self, stmt, *args, **kwargs)
        if isinstance(stmt, sa.sql.dml.Delete):
            calls["n"] += 1
            return SimpleNamespace(rowcount=result.rowcount + 1)
        return result

    monkeypatch.setattr(sa.engine.Connection, "execute", lying_execute)
    with pytest.raises(RuntimeError, match="would not balance"):
        quarantine_rows(
            warehouse.engine,
            contract=contract,
            table="orders",
            rules=["orders.status.knownStatus"],
            partition_column="day",
            partition_value="d1",
        )
    monkeypatch.setattr(sa.engine.Connection, "execute", real)
    assert calls["n"] == 1
    assert count(warehouse.engine, "orders") == 6
    assert count(warehouse.engine, "orders__quarantine") == 0


def test_an_aggregate_error_rule_still_fails_in_quarantine_mode(warehouse, use_store, tmp_path):
    op = gate_on(warehouse, tmp_path, partition="d9", mode="quarantine")
    with pytest.raises(
        ContractViolation, match=re.escape("orders.rowCount: expected mustBeGreaterThan 0 rows, got 0")
    ):
        op.execute(context())
    assert count(warehouse.engine, "orders") == 6


def test_sensitive_values_appear_nowhere(warehouse, use_store, tmp_path, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    op = gate_on(warehouse, tmp_path, partition="d1", mode="quarantine")
    out = op.execute(context())
    assert "orders.ssn.ssnFormat" in out["blocking"]
    lineage = op.get_openlineage_facets_on_complete(None)
    from openlineage.client.serde import Serde

    texts = {
        "xcom": json.dumps(out, default=str),
        "store": json.dumps(stored(use_store), default=str),
        # the task logger is structlog: it writes to the captured output, stdlib loggers to caplog
        "log": caplog.text + "".join(capsys.readouterr()),
        "lineage": "".join(
            Serde.to_json(d) for d in [*lineage.inputs, *lineage.outputs, *lineage.run_facets.values()]
        ),
    }
    assert "orders.ssn.ssnFormat: expected mustBe 0 rows, got None, 1 failing rows" in texts["log"]
    for where, text in texts.items():
        assert SECRET not in text, where
        assert "987-65" not in text, where
    ssn = next(r for r in stored(use_store)[0]["report"]["results"] if r["name"] == "orders.ssn.ssnFormat")
    assert ssn["actual"] is None and ssn["failing_rows"] == 1 and ssn["passed"] is False
    assertions = lineage.inputs[0].inputFacets["dataQualityAssertions"].assertions
    ssn_assertion = next(a for a in assertions if a.name == "orders.ssn.ssnFormat")
    assert ssn_assertion.actual is None and ssn_assertion.success is False
    assert lineage.run_facets["dataops_gate"].verdict == "quarantined"
    assert {o.name.rsplit(".", 1)[-1] for o in lineage.outputs} == {"orders", "orders__quarantine"}


def test_lineage_on_failure_and_errors_never_fail(warehouse, use_store, tmp_path, capsys):
    op = gate_on(warehouse, tmp_path, mode="fail")
    with pytest.raises(ContractViolation):
        op.execute(context())
    lineage = op.get_openlineage_facets_on_failure(None)
    assert lineage.run_facets["dataops_gate"].verdict == "failed"
    assert lineage.inputs[0].facets["schema"].fields[0].name == "id"
    op.conn_id = "no_such_connection"
    empty = op.get_openlineage_facets_on_failure(None)
    assert empty.inputs == [] and empty.run_facets == {}
    assert "lineage skipped" in "".join(capsys.readouterr())


@pytest.mark.parametrize("engine", ["pandas", "gx"])
def test_a_dataframe_gate(engine, use_store, tmp_path):
    frame = pd.DataFrame(ROWS, columns=["id", "day", "status", "ssn", "amount"])
    op = ContractGateOperator(
        task_id="gate",
        contract=write_contract(tmp_path),
        dataframe_callable=lambda: frame,
        engine=engine,
        mode="warn",
        partition_column="day",
        partition="d2",
    )
    out = op.execute(context())
    assert (out["engine"], out["rows"], out["verdict"], out["blocking"]) == (
        engine,
        2,
        "warned",
        ["orders.status.knownStatus"],
    )


def test_a_dataframe_from_xcom(use_store, tmp_path):
    frame = pd.DataFrame(ROWS[:1], columns=["id", "day", "status", "ssn", "amount"])
    ctx = context()
    ctx["ti"].xcom_pull = lambda task_ids: frame if task_ids == "extract" else None
    op = ContractGateOperator(task_id="gate", contract=write_contract(tmp_path), dataframe_task_id="extract")
    assert op.execute(ctx)["verdict"] == "passed"


@pytest.mark.parametrize("engine", ["sql", "pandas", "gx"])
def test_every_engine_gives_the_same_verdicts_on_a_table(engine, warehouse, use_store, tmp_path):
    op = gate_on(warehouse, tmp_path, partition="d1", mode="warn", engine=engine)
    out = op.execute(context())
    assert out["engine"] == engine
    assert sorted(out["blocking"]) == ["orders.ssn.ssnFormat", "orders.status.knownStatus"]


# ------------------------------------------------------------------------------- bad contracts
BAD = [
    pytest.param(
        SCHEMA.replace(
            "- name: amount\n      logicalType: number", "- name: amount\n      logicalType: string"
        ),
        [
            "urn:test:gate",
            "type mismatch on field 'amount'",
            "logicalType 'string'",
            "is number",
            "orders.amount.fewNulls",
            "schema[0].properties[4].logicalType",
        ],
        id="type-mismatch",
    ),
    pytest.param(
        SCHEMA.replace("validValues: [new, paid, shipped]", "validValues: [1, 2]"),
        [
            "urn:test:gate",
            "type mismatch in rule 'orders.status.knownStatus' on field 'status'",
            "numbers for a text column",
        ],
        id="values-of-the-wrong-type",
    ),
    pytest.param(
        SCHEMA.replace("metric: nullValues", "metric: nullCount"),
        [
            "orders.odcs.yaml",
            "quality rule 'fewNulls' has unknown metric 'nullCount'",
            "schema[0].properties[4].quality[0].metric",
        ],
        id="unknown-metric",
    ),
]


@pytest.mark.parametrize("mode", ["warn", "quarantine"])
@pytest.mark.parametrize(("schema", "needles"), BAD)
def test_a_contract_that_cannot_be_evaluated_fails_closed(
    schema, needles, mode, warehouse, use_store, tmp_path
):
    op = gate_on(warehouse, tmp_path, schema=schema, partition="d1", mode=mode)
    with pytest.raises(ContractError) as e:
        op.execute(context())
    assert not isinstance(e.value, ContractViolation)
    for needle in needles:
        assert needle in str(e.value)
    assert count(warehouse.engine, "orders") == 6


@pytest.mark.parametrize("named_by_a_rule", [True, False], ids=["named-by-a-rule", "named-by-none"])
def test_a_missing_column_is_a_failed_schema_rule_whether_or_not_a_rule_names_it(
    named_by_a_rule, warehouse, use_store, tmp_path
):
    """Same verdict (FAILED, a ContractViolation, nothing moved) for a missing column a rule names
    and one no rule names: the .schema rule fails, and so does every rule on that column."""
    status = SCHEMA[SCHEMA.index("    - name: status") : SCHEMA.index("    - name: ssn")]
    state = status.replace("name: status", "name: state")
    schema = SCHEMA.replace(
        status, state if named_by_a_rule else "    - name: state\n      logicalType: string\n"
    )
    op = gate_on(warehouse, tmp_path, schema=schema, partition="d1", mode="quarantine")
    with pytest.raises(ContractViolation) as e:
        op.execute(context())
    assert "orders.state.schema: expected present, string, got missing" in str(e.value)
    assert (
        "orders.state.knownStatus: expected mustBe 0 rows, got column missing" in str(e.value)
    ) is named_by_a_rule
    assert count(warehouse.engine, "orders") == 6


def test_a_missing_table_fails_closed(warehouse, use_store, tmp_path):
    op = gate_on(warehouse, tmp_path, table="nope", mode="warn")
    with pytest.raises(ContractError, match=re.escape("urn:test:gate v2.0.0: table 'nope' does not exist")):
        op.execute(context())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"mode": "maybe"}, "mode='maybe'; use one of fail, quarantine, warn", id="mode"),
        pytest.param({"engine": "spark"}, "engine='spark'; use one of auto, sql, pandas, gx", id="engine"),
        pytest.param({"conn_id": None}, "give conn_id and table", id="no-data"),
        pytest.param({"partition": "d1"}, "partition= needs partition_column=", id="partition"),
        pytest.param(
            {"dataframe_callable": lambda: None, "mode": "quarantine"},
            "a DataFrame gate can only fail or warn",
            id="df-quarantine",
        ),
        pytest.param(
            {"dataframe_callable": lambda: None, "engine": "sql"}, "engine='sql' checks a table", id="df-sql"
        ),
    ],
)
def test_constructor_refuses_bad_arguments(kwargs, message):
    base = {"task_id": "g", "contract": "c.yaml", "conn_id": "wh", "table": "t"}
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ContractGateOperator(**{**base, **kwargs})
