"""Loader: every ODCS example loads; every error names the file, the YAML path and the line."""

from __future__ import annotations

import glob
from pathlib import Path

import pytest

from airflow_dataops.contracts.loader import load_contract, parse_contract
from airflow_dataops.contracts.paths import format_path
from airflow_dataops.exceptions import ContractError

ODCS_EXAMPLES = Path(__file__).parents[2] / "spec" / "odcs" / "examples"  # vendored: tests/spec/README.md
EXAMPLES = sorted(glob.glob(str(ODCS_EXAMPLES / "*.yaml")))
FLIGHTS = Path(__file__).parents[3] / "dags" / "contracts" / "flights.odcs.yaml"

BASE = """\
apiVersion: v3.1.0
kind: DataContract
id: urn:test
version: 1.0.0
status: active
schema:
  - name: t
    properties:
      - name: a
        logicalType: integer
      - name: b
        logicalType: string
        quality:
          - metric: nullValues
            {op}: {value}
            unit: rows
"""


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "c.odcs.yaml"
    path.write_text(text)
    return str(path)


#: Upstream examples labelled v3.0.2 that use ODCS v3.1 forms: refused by the v3.0.2 schema they declare
#: (docs/contracts.md, "ODCS versions"), with the error the loader gives.
INVALID_FOR_THEIR_VERSION = {
    "all-data-types.odcs.yaml": (
        "46 at schema[0].properties[4].logicalType: does not follow the ODCS v3.0.2 JSON Schema: 'time' is not "
        "one of ['string', 'date', 'number', 'integer', 'object', 'array', 'boolean'] (and 4 more); "
        "if the contract uses ODCS v3.1 forms, declare apiVersion: v3.1.0"
    ),
    "column-completeness.odcs.yaml": (
        "23 at schema[0].properties[0].quality[0]: does not follow the ODCS v3.0.2 JSON Schema: 'rule' is a "
        "required property; ODCS v3.0.2 library rules need rule: (duplicateCount, rowCount or validValues), "
        "metric: is ODCS v3.1: add rule:, or declare apiVersion: v3.1.0"
    ),
}
VALID = [p for p in EXAMPLES if Path(p).name not in INVALID_FOR_THEIR_VERSION]


@pytest.mark.parametrize("path", VALID, ids=[Path(p).name for p in VALID])
def test_every_example_valid_for_its_version_loads(path):
    contract = load_contract(path)
    assert contract.source == path
    assert contract.id


@pytest.mark.parametrize("name", sorted(INVALID_FOR_THEIR_VERSION))
def test_example_invalid_for_its_declared_version_is_refused_with_the_fix(name):
    path = str(ODCS_EXAMPLES / name)
    with pytest.raises(ContractError) as e:
        load_contract(path)
    assert str(e.value) == f"{path}:{INVALID_FOR_THEIR_VERSION[name]}"


@pytest.mark.parametrize("name", sorted(INVALID_FOR_THEIR_VERSION))
def test_example_declared_as_v31_loads(tmp_path, name):
    text = (ODCS_EXAMPLES / name).read_text().replace("apiVersion: v3.0.2", "apiVersion: v3.1.0")
    contract = load_contract(write(tmp_path, text))
    assert contract.api_version == "v3.1.0"


def test_examples_exist():
    assert len(EXAMPLES) >= 9


def test_flights_contract_model():
    c = load_contract(FLIGHTS)
    assert (c.id, c.version, c.status, c.api_version) == (
        "urn:dataops:nycflights13:flights",
        "1.0.0",
        "active",
        "v3.1.0",
    )
    obj = c.schema_object("flights")
    assert obj is c.schema_object()
    assert obj.physical_name == "flights"
    assert [p.name for p in obj.properties if p.required] == [
        "year",
        "month",
        "day",
        "carrier",
        "flight",
        "origin",
        "dest",
        "time_hour",
        "flight_date",
    ]
    rule = obj.get_property("dep_delay").quality[0]
    assert (rule.metric, rule.operator, rule.threshold, rule.unit) == (
        "nullValues",
        "mustBeLessOrEqualTo",
        5.0,
        "percent",
    )
    assert c.dataops == {
        "slo": {"objective": 0.99, "window_days": 30, "budgeting": "occurrences"},
        "partition_column": "flight_date",
    }
    assert c.sla_properties[0].property == "latency"
    assert c.warnings == ()


def test_custom_rule_is_kept_and_warned():
    c = load_contract(ODCS_EXAMPLES / "column-custom.odcs.yaml")
    rule = c.schema[0].properties[0].quality[1]
    assert (rule.type, rule.engine, rule.implementation["type"]) == ("custom", "soda", "duplicate_percent")
    assert any("custom rule" in w and "'soda'" in w and "quality[1]" in w for w in c.warnings)


def test_great_expectations_rule_is_warned(tmp_path):
    text = BASE.replace(
        "          - metric: nullValues\n            {op}: {value}\n            unit: rows\n",
        "          - type: custom\n            engine: greatExpectations\n            implementation: {expectation_type: expect_column_values_to_not_be_null}\n",
    )
    c = parse_contract(text, source="gx.yaml")
    assert c.schema[0].properties[1].quality[0].engine == "greatExpectations"
    assert c.warnings == (
        "schema[0].properties[1].quality[0]: custom rule 'custom' for engine 'greatExpectations' is not "
        "evaluated by the SQL or pandas engine",
    )


def test_sla_properties_not_evaluated_are_warned():
    c = load_contract(ODCS_EXAMPLES / "database-table-sla.odcs.yaml")
    assert "slaProperties[4]: SLA property 'retention' is not evaluated" in c.warnings


def test_is_sensitive():
    text = BASE.format(op="mustBe", value=0).replace(
        "        logicalType: integer\n", "        logicalType: integer\n        classification: PII\n"
    )
    c = parse_contract(text, source="s.yaml")
    assert c.schema[0].properties[0].is_sensitive
    assert not c.schema[0].properties[1].is_sensitive


def test_format_path():
    assert format_path(["schema", 0, "properties", 2, "logicalType"]) == "schema[0].properties[2].logicalType"


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        pytest.param(
            "mustBeLessThan",
            '"five"',
            ":15 at schema[0].properties[1].quality[0].mustBeLessThan: quality rule 'nullValues': threshold "
            "mustBeLessThan: 'five' is not a number; write a number such as 0 or 5",
            id="non-numeric-threshold",
        ),
        pytest.param(
            "mustBeAbout",
            "3",
            ":15 at schema[0].properties[1].quality[0].mustBeAbout: quality rule 'nullValues' has unknown "
            "operator 'mustBeAbout'; use one of: mustBe, mustNotBe, mustBeGreaterThan, mustBeGreaterOrEqualTo, "
            "mustBeLessThan, mustBeLessOrEqualTo, mustBeBetween, mustNotBeBetween",
            id="unknown-operator",
        ),
        pytest.param(
            "mustBeBetween",
            "[5, 1]",
            ":15 at schema[0].properties[1].quality[0].mustBeBetween: quality rule 'nullValues': mustBeBetween "
            "must be a list of two numbers, smallest first (e.g. [0, 10]), got [5, 1]",
            id="bad-range",
        ),
    ],
)
def test_rule_errors(tmp_path, op, value, expected):
    path = write(tmp_path, BASE.format(op=op, value=value))
    with pytest.raises(ContractError) as info:
        load_contract(path)
    assert str(info.value) == path + expected
    assert info.value.file == path
    assert info.value.line == 15


def test_unknown_metric(tmp_path):
    path = write(
        tmp_path, BASE.format(op="mustBe", value=0).replace("metric: nullValues", "metric: nullCount")
    )
    with pytest.raises(ContractError) as info:
        load_contract(path)
    assert str(info.value) == (
        f"{path}:14 at schema[0].properties[1].quality[0].metric: quality rule 'nullCount' has unknown metric "
        "'nullCount'; use one of: nullValues, missingValues, invalidValues, duplicateValues, rowCount"
    )


def test_malformed_yaml(tmp_path):
    path = write(
        tmp_path,
        BASE.format(op="mustBe", value=0).replace("      - name: b\n", "      - name: b\n     bad: [\n"),
    )
    with pytest.raises(ContractError) as info:
        load_contract(path)
    assert info.value.file == path
    assert info.value.line == 12
    assert str(info.value).startswith(f"{path}:12: not valid YAML: ")


def test_not_a_mapping():
    with pytest.raises(ContractError, match=r"^x.yaml:1: a contract must be a YAML mapping"):
        parse_contract("- 1\n- 2\n", source="x.yaml")


def test_json_schema_error_names_line(tmp_path):
    path = write(
        tmp_path, BASE.format(op="mustBe", value=0).replace("logicalType: integer", "logicalType: int")
    )
    with pytest.raises(ContractError) as info:
        load_contract(path)
    assert str(info.value) == (
        f"{path}:10 at schema[0].properties[0].logicalType: does not follow the ODCS v3.1.0 JSON Schema: 'int' is "
        "not one of ['string', 'date', 'timestamp', 'time', 'number', 'integer', 'object', 'array', 'boolean']"
    )


def test_missing_required_top_level_field():
    text = BASE.format(op="mustBe", value=0).replace("status: active\n", "")
    with pytest.raises(ContractError) as info:
        parse_contract(text, source="m.yaml")
    assert (
        str(info.value)
        == "m.yaml:1: does not follow the ODCS v3.1.0 JSON Schema: 'status' is a required property"
    )


def test_unknown_column_in_table_rule(tmp_path):
    text = BASE.format(op="mustBe", value=0) + (
        "    quality:\n"
        "      - metric: duplicateValues\n"
        "        mustBe: 0\n"
        "        arguments:\n"
        "          properties: [a, zz]\n"
    )
    path = write(tmp_path, text)
    with pytest.raises(ContractError) as info:
        load_contract(path)
    assert str(info.value) == (
        f"{path}:21 at schema[0].quality[0].arguments.properties: quality rule 'duplicateValues' names column "
        "'zz', which schema object 't' does not declare; add it to properties or fix the name"
    )


def test_unknown_column_in_sla_element(tmp_path):
    text = BASE.format(op="mustBe", value=0) + (
        "slaProperties:\n  - property: latency\n    value: 2\n    unit: d\n    element: t.nope\n"
    )
    path = write(tmp_path, text)
    with pytest.raises(ContractError) as info:
        load_contract(path)
    assert str(info.value) == (
        f"{path}:21 at slaProperties[0].element: SLA 'latency': element 't.nope' names column 'nope', which is "
        "not declared in t; add it to properties or fix the name"
    )


def test_bad_sla_unit(tmp_path):
    text = BASE.format(op="mustBe", value=0) + (
        "slaProperties:\n  - property: latency\n    value: 2\n    unit: fortnights\n    element: t.a\n"
    )
    with pytest.raises(ContractError) as info:
        parse_contract(text, source="u.yaml")
    assert info.value.line == 20
    assert info.value.path == "slaProperties[0].unit"
    assert "unit 'fortnights' is not a duration unit" in str(info.value)


def test_unreadable_file(tmp_path):
    with pytest.raises(ContractError, match=r"nope.yaml: cannot read the contract file: No such file"):
        load_contract(tmp_path / "nope.yaml")


def test_schema_object_lookup_errors():
    c = load_contract(FLIGHTS)
    with pytest.raises(
        ContractError, match=r"no schema object named 'planes'; the contract declares: flights"
    ):
        c.schema_object("planes")


def test_library_rule_without_metric(tmp_path):
    path = write(tmp_path, BASE.format(op="mustBe", value=0).replace("metric: nullValues", "name: nulls"))
    with pytest.raises(ContractError) as info:
        load_contract(path)
    assert str(info.value) == (
        f"{path}:14 at schema[0].properties[1].quality[0]: quality rule 'nulls' has no metric; add metric: one of "
        "nullValues, missingValues, invalidValues, duplicateValues, rowCount"
    )
