"""Contract diff: each change classified breaking / compatible / informational."""

from __future__ import annotations

import pytest

from airflow_dataops.contracts.diff import ChangeKind, diff_contracts
from airflow_dataops.contracts.loader import load_contract

from ._helpers import make_contract

B, C, I = ChangeKind.BREAKING, ChangeKind.COMPATIBLE, ChangeKind.INFORMATIONAL  # noqa: E741

OLD = """\
- name: flights
  description: all flights
  properties:
    - name: dep_delay
      logicalType: integer
      physicalType: INTEGER
      description: minutes
      quality:
        - metric: nullValues
          mustBeLessOrEqualTo: 5
          unit: percent
    - name: origin
      logicalType: string
      required: true
      quality:
        - name: nyc
          metric: invalidValues
          mustBe: 0
          arguments: {validValues: [EWR, JFK, LGA]}
    - name: carrier
      logicalType: string
  quality:
    - metric: rowCount
      mustBeBetween: [10, 100]
"""
SLA = "slaProperties:\n  - {property: latency, value: 2, unit: d, element: flights.origin}\n"


def changes(old_schema, new_schema, *, old_extra=SLA, new_extra=SLA, new_version="1.1.0"):
    old = make_contract(old_schema, extra=old_extra)
    new = make_contract(new_schema, extra=new_extra, version=new_version)
    return diff_contracts(old, new)


def only(diff):
    got = [(c.kind, c.path) for c in diff.changes if c.path != "version"]
    assert len(got) == 1, diff.changes
    return got[0], next(c.message for c in diff.changes if c.path != "version")


@pytest.mark.parametrize(
    ("old", "new", "kind", "path", "message"),
    [
        pytest.param(
            OLD,
            OLD.replace("    - name: carrier\n      logicalType: string\n", ""),
            B,
            "schema.flights.properties.carrier",
            "field 'carrier' was removed",
            id="field-removed",
        ),
        pytest.param(
            OLD,
            OLD.replace("name: carrier", "name: airline"),
            B,
            "schema.flights.properties.carrier",
            "field 'carrier' was renamed to 'airline'",
            id="field-renamed",
        ),
        pytest.param(
            OLD,
            OLD.replace(
                "    - name: carrier\n      logicalType: string\n",
                "    - name: carrier\n      logicalType: string\n    - name: tailnum\n      logicalType: string\n",
            ),
            C,
            "schema.flights.properties.tailnum",
            "field 'tailnum' was added",
            id="field-added",
        ),
        pytest.param(
            OLD,
            OLD.replace(
                "logicalType: integer\n      physicalType: INTEGER",
                "logicalType: number\n      physicalType: INTEGER",
            ),
            B,
            "schema.flights.properties.dep_delay.logicalType",
            "type widened integer -> number",
            id="type-widened",
        ),
        pytest.param(
            OLD.replace("logicalType: integer", "logicalType: number"),
            OLD,
            C,
            "schema.flights.properties.dep_delay.logicalType",
            "type narrowed number -> integer",
            id="type-narrowed",
        ),
        pytest.param(
            OLD,
            OLD.replace(
                "logicalType: integer\n      physicalType: INTEGER",
                "logicalType: boolean\n      physicalType: INTEGER",
            ),
            B,
            "schema.flights.properties.dep_delay.logicalType",
            "type changed integer -> boolean",
            id="type-changed",
        ),
        pytest.param(
            OLD,
            OLD.replace("physicalType: INTEGER", "physicalType: TEXT"),
            B,
            "schema.flights.properties.dep_delay.physicalType",
            "physical type INTEGER -> TEXT",
            id="physical-changed",
        ),
        pytest.param(
            OLD,
            OLD.replace("physicalType: INTEGER", "physicalType: BIGINT"),
            C,
            "schema.flights.properties.dep_delay.physicalType",
            "physical type INTEGER -> BIGINT",
            id="physical-same-family",
        ),
        pytest.param(
            OLD,
            OLD.replace("      required: true\n", ""),
            B,
            "schema.flights.properties.origin.required",
            "required removed",
            id="required-removed",
        ),
        pytest.param(
            OLD.replace("      required: true\n", ""),
            OLD,
            C,
            "schema.flights.properties.origin.required",
            "required added",
            id="required-added",
        ),
        pytest.param(
            OLD,
            OLD.replace("[EWR, JFK, LGA]", "[EWR, JFK]"),
            C,
            "schema.flights.properties.origin.quality.nyc.arguments.validValues",
            "allowed values of 'nyc' narrowed: ['EWR', 'JFK', 'LGA'] -> ['EWR', 'JFK']",
            id="values-narrowed",
        ),
        pytest.param(
            OLD,
            OLD.replace("[EWR, JFK, LGA]", "[EWR, JFK, LGA, ISP]"),
            B,
            "schema.flights.properties.origin.quality.nyc.arguments.validValues",
            "allowed values of 'nyc' widened: ['EWR', 'JFK', 'LGA'] -> ['EWR', 'JFK', 'LGA', 'ISP']",
            id="values-widened",
        ),
        pytest.param(
            OLD,
            OLD.replace("mustBeLessOrEqualTo: 5", "mustBeLessOrEqualTo: 2"),
            C,
            "schema.flights.properties.dep_delay.quality.nullValues",
            "quality rule 'nullValues' tightened: mustBeLessOrEqualTo 5 percent -> mustBeLessOrEqualTo 2 percent",
            id="rule-tightened",
        ),
        pytest.param(
            OLD,
            OLD.replace("mustBeLessOrEqualTo: 5", "mustBeLessOrEqualTo: 9"),
            B,
            "schema.flights.properties.dep_delay.quality.nullValues",
            "quality rule 'nullValues' loosened: mustBeLessOrEqualTo 5 percent -> mustBeLessOrEqualTo 9 percent",
            id="rule-loosened",
        ),
        pytest.param(
            OLD,
            OLD.replace("[10, 100]", "[20, 90]"),
            C,
            "schema.flights.quality.rowCount",
            "quality rule 'rowCount' tightened: mustBeBetween [10, 100] rows -> mustBeBetween [20, 90] rows",
            id="between-tightened",
        ),
        pytest.param(
            OLD,
            OLD.replace("[10, 100]", "[5, 100]"),
            B,
            "schema.flights.quality.rowCount",
            "quality rule 'rowCount' loosened: mustBeBetween [10, 100] rows -> mustBeBetween [5, 100] rows",
            id="between-loosened",
        ),
        pytest.param(
            OLD,
            OLD.replace("unit: percent", "unit: rows"),
            B,
            "schema.flights.properties.dep_delay.quality.nullValues",
            "quality rule 'nullValues' changed: mustBeLessOrEqualTo 5 percent -> mustBeLessOrEqualTo 5 rows",
            id="rule-unit-changed",
        ),
        pytest.param(
            OLD,
            OLD.replace("  quality:\n    - metric: rowCount\n      mustBeBetween: [10, 100]\n", ""),
            B,
            "schema.flights.quality.rowCount",
            "quality rule 'rowCount' was removed",
            id="rule-removed",
        ),
        pytest.param(
            OLD.replace("  quality:\n    - metric: rowCount\n      mustBeBetween: [10, 100]\n", ""),
            OLD,
            C,
            "schema.flights.quality.rowCount",
            "quality rule 'rowCount' was added",
            id="rule-added",
        ),
        pytest.param(
            OLD,
            OLD.replace("description: minutes", "description: minutes late"),
            I,
            "schema.flights.properties.dep_delay.description",
            "description changed",
            id="description",
        ),
    ],
)
def test_classification(old, new, kind, path, message):
    diff = changes(old, new)
    assert only(diff) == ((kind, path), message)
    assert diff.exit_code == (1 if kind is B else 0)


@pytest.mark.parametrize(
    ("old_sla", "new_sla", "kind", "message"),
    [
        pytest.param(
            SLA,
            SLA.replace("value: 2", "value: 1"),
            C,
            "SLA 'latency' tightened: 2 d -> 1 d",
            id="sla-tightened",
        ),
        pytest.param(
            SLA,
            SLA.replace("value: 2, unit: d", "value: 72, unit: hours"),
            B,
            "SLA 'latency' loosened: 2 d -> 72 hours",
            id="sla-loosened-units",
        ),
        pytest.param(SLA, "", B, "SLA 'latency' was removed", id="sla-removed"),
        pytest.param("", SLA, C, "SLA 'latency' was added", id="sla-added"),
    ],
)
def test_sla_classification(old_sla, new_sla, kind, message):
    diff = changes(OLD, OLD, old_extra=old_sla, new_extra=new_sla)
    assert only(diff) == ((kind, "slaProperties.latency.flights.origin"), message)


@pytest.mark.parametrize(
    ("new_version", "exit_code"),
    [
        pytest.param("1.1.0", 1, id="minor-bump"),
        pytest.param("2.0.0", 0, id="major-bump"),
        pytest.param("1.0.0", 1, id="same"),
    ],
)
def test_exit_code_and_major_bump(new_version, exit_code):
    diff = changes(
        OLD, OLD.replace("    - name: carrier\n      logicalType: string\n", ""), new_version=new_version
    )
    assert len(diff.breaking) == 1
    assert diff.exit_code == exit_code


def test_identical_contracts_have_no_changes():
    c = load_contract("dags/contracts/flights.odcs.yaml")
    diff = diff_contracts(c, c)
    assert diff.changes == () and diff.exit_code == 0


def test_schema_object_removed_and_added():
    diff = changes(
        OLD,
        OLD.replace("name: flights", "name: planes").replace(
            "element: flights.origin", "element: planes.origin"
        ),
        new_extra=SLA.replace("flights.origin", "planes.origin"),
    )
    kinds = {(c.kind, c.path) for c in diff.changes}
    assert (B, "schema.flights") in kinds and (C, "schema.planes") in kinds
    assert (B, "slaProperties.latency.flights.origin") in kinds


def test_as_dict():
    diff = changes(OLD, OLD.replace("      required: true\n", ""), new_version="2.0.0")
    assert diff.as_dict() == {
        "old_version": "1.0.0",
        "new_version": "2.0.0",
        "major_bumped": True,
        "exit_code": 0,
        "changes": [
            {"kind": "informational", "path": "version", "message": "version 1.0.0 -> 2.0.0"},
            {
                "kind": "breaking",
                "path": "schema.flights.properties.origin.required",
                "message": "required removed",
            },
        ],
    }
