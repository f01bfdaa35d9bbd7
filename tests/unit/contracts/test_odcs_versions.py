"""ODCS v3.0.x contracts: validated against their own version's JSON Schema, evaluated like their v3.1 twin."""

from __future__ import annotations

import json
import textwrap
from argparse import Namespace
from dataclasses import replace
from importlib import resources

import gate_orders
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_dataops.cli.commands import contract_lint
from airflow_dataops.contracts import odcs_versions
from airflow_dataops.contracts.engines.sql import evaluate_sql
from airflow_dataops.contracts.loader import load_contract, parse_contract
from airflow_dataops.exceptions import ContractError

warehouse = gate_orders.warehouse  # the orders table of the CLI gate tests (a fixture)

HEADER = "apiVersion: {version}\nkind: DataContract\nid: urn:test:versions\nversion: 1.0.0\nstatus: active\n"

#: The same checks, written the v3.0 way ...
V30_SCHEMA = """\
schema:
  - name: orders
    properties:
      - name: id
        logicalType: integer
        quality:
          - rule: duplicateCount
            mustBe: 0
      - name: status
        logicalType: string
        quality:
          - name: knownStatus
            rule: validValues
            validValues: [new, paid]
      - name: amount
        logicalType: number
        logicalTypeOptions: {minimum: 0, maximum: 100, exclusiveMaximum: true, exclusiveMinimum: false}
    quality:
      - rule: rowCount
        mustBeBetween: [1, 10]
"""
#: ... and the v3.1 way.
V31_SCHEMA = """\
schema:
  - name: orders
    properties:
      - name: id
        logicalType: integer
        quality:
          - metric: duplicateValues
            mustBe: 0
      - name: status
        logicalType: string
        quality:
          - name: knownStatus
            metric: invalidValues
            arguments: {validValues: [new, paid]}
            mustBe: 0
      - name: amount
        logicalType: number
        logicalTypeOptions: {minimum: 0, exclusiveMaximum: 100}
    quality:
      - metric: rowCount
        mustBeBetween: [1, 10]
"""
ROWS = [(1, "new", 0.0), (1, "lost", 100.0), (2, "paid", 99.5), (3, None, -1.0)]


def contract(version: str, schema: str = V30_SCHEMA):
    return parse_contract(HEADER.format(version=version) + schema, source=f"{version}.odcs.yaml")


def model(c):
    """The loaded rules and options, without the contract's identity."""
    return [replace(p, path="") for o in c.schema for p in o.properties], [o.quality for o in c.schema]


def test_every_supported_version_has_its_official_schema():
    for version, name in odcs_versions.SCHEMA_FILES.items():
        text = resources.files("airflow_dataops.contracts").joinpath(name).read_text("utf-8")
        schema = json.loads(text)
        assert version in schema["properties"]["apiVersion"]["enum"]
        assert schema["properties"]["apiVersion"]["default"] == version


@pytest.mark.parametrize("version", ["v3.0.0", "v3.0.1", "v3.0.2"])
def test_a_v30_contract_loads_as_its_v31_twin(version):
    old, new = contract(version), contract("v3.1.0", V31_SCHEMA)
    assert old.api_version == version
    assert model(old) == model(new)


@pytest.mark.parametrize("version", ["v3.0.0", "v3.0.2"])
def test_a_v30_contract_gates_as_its_v31_twin(tmp_path, version):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE orders (id INTEGER, status TEXT, amount REAL)"))
        conn.execute(
            sa.text("INSERT INTO orders VALUES (:i, :s, :a)"), [dict(zip("isa", row)) for row in ROWS]
        )

    def verdicts(c):
        report = evaluate_sql(c, engine_or_connection=engine, table="orders")
        return [(r.name, r.passed, r.actual, r.failing_rows) for r in report.results]

    old = verdicts(contract(version))
    assert old == verdicts(contract("v3.1.0", V31_SCHEMA))
    failed = {name for name, passed, *_ in old if not passed}
    # one duplicated id, one unknown status ("lost"; a null is not an invalid value), 100 and -1 out of range
    assert {
        "orders.id.duplicateValues",
        "orders.status.knownStatus",
        "orders.amount.exclusiveMaximum",
    } <= failed
    assert "orders.amount.minimum" in failed


def test_a_v31_form_in_a_v30_contract_is_refused_with_the_fix():
    with pytest.raises(ContractError) as e:
        contract("v3.0.2", V31_SCHEMA)
    assert str(e.value) == (
        "v3.0.2.odcs.yaml:25 at schema[0].quality[0]: does not follow the ODCS v3.0.2 JSON Schema: "
        "'rule' is a required property (and 3 more); ODCS v3.0.2 library rules need rule: (duplicateCount, "
        "rowCount or validValues), metric: is ODCS v3.1: add rule:, or declare apiVersion: v3.1.0"
    )


def test_a_v31_only_logical_type_in_a_v30_contract_is_refused():
    schema = "schema:\n  - name: t\n    properties:\n      - {name: at, logicalType: timestamp}\n"
    with pytest.raises(
        ContractError,
        match=r"at schema\[0\]\.properties\[0\]\.logicalType: does not follow the ODCS v3\.0\.1 JSON Schema: 'timestamp' is not one of",
    ):
        contract("v3.0.1", schema)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        pytest.param(
            "{rule: nullCheck}",
            "v3.0.2.odcs.yaml:11 at schema[0].properties[0].quality[0].rule: quality rule 'nullCheck': rule "
            "'nullCheck' is not an ODCS v3.0 library rule we evaluate (duplicateCount, rowCount, validValues) nor "
            "an ODCS v3.1 metric (nullValues, missingValues, invalidValues, duplicateValues, rowCount); use one of "
            "them, or a type: sql rule",
            id="unknown-rule",
        ),
        pytest.param(
            "{rule: validValues}",
            "v3.0.2.odcs.yaml:11 at schema[0].properties[0].quality[0]: quality rule 'validValues': rule "
            "validValues needs the list of valid values (validValues: [a, b])",
            id="validValues-without-list",
        ),
        pytest.param(
            "{rule: duplicateCount, metric: nullValues, mustBe: 0}",
            "v3.0.2.odcs.yaml:11 at schema[0].properties[0].quality[0].metric: quality rule 'duplicateCount': "
            "rule 'duplicateCount' means metric 'duplicateValues', but the rule also says metric 'nullValues'; "
            "keep one",
            id="rule-and-metric-disagree",
        ),
        pytest.param(
            "{rule: duplicateCount}",
            "v3.0.2.odcs.yaml:11 at schema[0].properties[0].quality[0]: quality rule 'duplicateValues' needs "
            "exactly one operator (mustBe, mustNotBe, mustBeGreaterThan, mustBeGreaterOrEqualTo, mustBeLessThan, "
            "mustBeLessOrEqualTo, mustBeBetween, mustNotBeBetween), found: none",
            id="duplicateCount-without-operator",
        ),
    ],
)
def test_a_v30_rule_we_cannot_evaluate_is_refused_never_passed(rule, message):
    schema = f"schema:\n  - name: t\n    properties:\n      - name: a\n        quality:\n          - {rule}\n"
    with pytest.raises(ContractError) as e:
        contract("v3.0.2", schema)
    assert str(e.value) == message


def test_a_v31_metric_name_under_rule_is_evaluated_as_that_metric():
    schema = "schema:\n  - name: t\n    properties:\n      - name: a\n        quality:\n          - {rule: nullValues, mustBe: 0}\n"
    [rule] = contract("v3.0.0", schema).schema[0].properties[0].quality
    assert (rule.metric, rule.operator, rule.threshold) == ("nullValues", "mustBe", 0.0)


def test_an_exclusive_flag_without_its_bound_is_a_warning():
    schema = (
        "schema:\n  - name: t\n    properties:\n"
        "      - {name: a, logicalType: integer, logicalTypeOptions: {exclusiveMinimum: true}}\n"
    )
    c = contract("v3.0.2", schema)
    assert c.schema[0].properties[0].options == {}
    assert (
        "schema[0].properties[0].logicalTypeOptions.exclusiveMinimum: true, but there is no minimum to make "
        "exclusive; ignored"
    ) in c.warnings


@pytest.mark.parametrize(
    ("version", "message"),
    [
        pytest.param(
            "v2.2.2",
            "apiVersion 'v2.2.2' is ODCS v2, whose structure (dataset, columns) differs from v3; convert the "
            "contract to ODCS v3 and declare one of: v3.0.0, v3.0.1, v3.0.2, v3.1.0",
            id="v2",
        ),
        pytest.param(
            "v3.9.0",
            "apiVersion 'v3.9.0' is not supported; declare one of: v3.0.0, v3.0.1, v3.0.2, v3.1.0",
            id="unknown",
        ),
    ],
)
def test_a_version_we_have_no_schema_for_is_refused(version, message):
    with pytest.raises(ContractError) as e:
        contract(version, "")
    assert str(e.value) == f"{version}.odcs.yaml:1 at apiVersion: {message}"


def lint(path):
    return contract_lint(Namespace(file=str(path)))


def test_cli_lint_of_a_v30_contract_invalid_for_its_version_exits_2(tmp_path, capsys):
    path = tmp_path / "old.odcs.yaml"
    path.write_text(HEADER.format(version="v3.0.2") + V31_SCHEMA)
    with pytest.raises(SystemExit) as e:
        lint(path)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "old.odcs.yaml:25 at schema[0].quality[0]: does not follow the ODCS v3.0.2 JSON Schema" in err
    assert "add rule:, or declare apiVersion: v3.1.0" in err


def test_cli_lint_of_a_valid_v30_contract_names_its_version(tmp_path, capsys):
    path = tmp_path / "old.odcs.yaml"
    path.write_text(HEADER.format(version="v3.0.2") + V30_SCHEMA)
    lint(path)
    assert f"{path}: valid ODCS v3.0.2 contract urn:test:versions v1.0.0" in capsys.readouterr().out
    assert load_contract(path).schema[0].properties[1].quality[0].metric == "invalidValues"


def test_v30_bounds_keep_their_meaning_in_the_options_docstring_table():
    # the module docstring is the policy users read in the reference; keep it naming every v3.0 rule
    doc = textwrap.dedent(odcs_versions.__doc__ or "")
    for name in odcs_versions.V30_RULES:
        assert f"rule: {name}" in doc


def test_moving_a_contract_from_v30_to_its_v31_twin_is_only_informational():
    from airflow_dataops.contracts.diff import ChangeKind, diff_contracts

    diff = diff_contracts(contract("v3.0.2"), contract("v3.1.0", V31_SCHEMA))
    assert [(c.kind, c.path, c.message) for c in diff.changes] == [
        (ChangeKind.INFORMATIONAL, "apiVersion", "apiVersion v3.0.2 -> v3.1.0")
    ]
    assert diff.exit_code == 0


ORDERS_V30 = """\
schema:
  - name: orders
    properties:
      - name: id
        logicalType: integer
        quality:
          - {rule: duplicateCount, mustBe: 0}
      - name: status
        logicalType: string
        quality:
          - {name: knownStatus, rule: validValues, validValues: [new, paid, shipped]}
      - name: amount
        logicalType: number
        logicalTypeOptions: {minimum: 10, exclusiveMinimum: true}
    quality:
      - {rule: rowCount, mustBeGreaterThan: 0}
"""
ORDERS_V31 = """\
schema:
  - name: orders
    properties:
      - name: id
        logicalType: integer
        quality:
          - {metric: duplicateValues, mustBe: 0}
      - name: status
        logicalType: string
        quality:
          - {name: knownStatus, metric: invalidValues, mustBe: 0, arguments: {validValues: [new, paid, shipped]}}
      - name: amount
        logicalType: number
        logicalTypeOptions: {exclusiveMinimum: 10}
    quality:
      - {metric: rowCount, mustBeGreaterThan: 0}
"""


def _contract_test(warehouse, path, capsys):
    from airflow_dataops.cli.contract_test import contract_test

    ns = Namespace(
        file=str(path),
        conn_id=warehouse.conn_id,
        table="orders",
        partition="d2",
        partition_column="day",
        engine="sql",
        output="json",
    )
    with pytest.raises(SystemExit) as e:
        contract_test(ns)
    captured = capsys.readouterr()
    return e.value.code, captured


def test_cli_contract_test_gates_a_v30_contract_as_its_v31_twin(warehouse, tmp_path, capsys):
    old, new = tmp_path / "v30.odcs.yaml", tmp_path / "v31.odcs.yaml"
    old.write_text(HEADER.format(version="v3.0.2") + ORDERS_V30)
    new.write_text(HEADER.format(version="v3.1.0") + ORDERS_V31)
    code_old, out_old = _contract_test(warehouse, old, capsys)
    code_new, out_new = _contract_test(warehouse, new, capsys)
    report_old, report_new = json.loads(out_old.out), json.loads(out_new.out)
    assert code_old == code_new == 1
    # d2 holds "bogus" (not a known status); its amounts 13.0 and 14.0 are above the exclusive minimum 10
    assert report_old["failed"] == report_new["failed"] == ["orders.status.knownStatus"]
    assert [(r["name"], r["actual"], r["passed"]) for r in report_old["results"]] == [
        (r["name"], r["actual"], r["passed"]) for r in report_new["results"]
    ]


def test_cli_contract_test_of_a_v30_contract_invalid_for_its_version_exits_2(warehouse, tmp_path, capsys):
    path = tmp_path / "mislabelled.odcs.yaml"
    path.write_text(HEADER.format(version="v3.0.2") + ORDERS_V31)
    code, out = _contract_test(warehouse, path, capsys)
    assert code == 2
    assert "mislabelled.odcs.yaml:" in out.err and "does not follow the ODCS v3.0.2 JSON Schema" in out.err
    assert "declare apiVersion: v3.1.0" in out.err


_junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.lists(st.one_of(st.integers(), st.text(max_size=4)), max_size=3),
    st.dictionaries(st.sampled_from(["validValues", "pattern", "x"]), st.integers(), max_size=2),
    st.sampled_from(
        ["duplicateCount", "validValues", "rowCount", "nullValues", "nullCheck", "library", "sql"]
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    rule_key=st.sampled_from(
        ["rule", "validValues", "type", "metric", "mustBe", "arguments", "mustBeBetween"]
    ),
    rule_value=_junk,
    option_key=st.sampled_from(["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "format"]),
    option_value=_junk,
)
def test_hostile_v30_rules_and_options_give_a_contract_error_or_load(
    rule_key, rule_value, option_key, option_value
):
    data = {
        "apiVersion": "v3.0.2",
        "kind": "DataContract",
        "id": "urn:x",
        "version": "1",
        "status": "active",
        "schema": [
            {
                "name": "t",
                "properties": [
                    {
                        "name": "a",
                        "logicalType": "integer",
                        "logicalTypeOptions": {"minimum": 1, option_key: option_value},
                        "quality": [{"rule": "validValues", "validValues": [1, 2], rule_key: rule_value}],
                    }
                ],
            }
        ],
    }
    try:
        parse_contract(json.dumps(data, allow_nan=True), source="h.odcs.yaml")
    except ContractError as e:
        assert str(e).startswith("h.odcs.yaml")
