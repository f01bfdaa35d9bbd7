"""Hostile contract files (#14): each refused at load with one line naming file, line, YAML path and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_dataops.contracts.loader import load_contract, parse_contract
from airflow_dataops.contracts.report import Severity
from airflow_dataops.contracts.rules import plan
from airflow_dataops.contracts.safe_yaml import YamlLimits, load_yaml
from airflow_dataops.exceptions import ContractError

HEAD = "apiVersion: v3.1.0\nkind: DataContract\nid: urn:t\nversion: 1.0.0\nstatus: active\n"


def contract(rule: str = "- metric: nullValues\n            mustBe: 0", *, extra_props: str = "") -> str:
    return (
        HEAD
        + "schema:\n  - name: t\n    properties:\n      - name: a\n        logicalType: string\n"
        + "        quality:\n          "
        + rule
        + "\n"
        + extra_props
    )


def alias_bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        refs = ",".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return HEAD + "\n".join(lines) + "\n"


def refused(text: str, **kw) -> ContractError:
    with pytest.raises(ContractError) as info:
        parse_contract(text, source="c.odcs.yaml", **kw)
    message = str(info.value)
    assert message.startswith("c.odcs.yaml"), message
    assert "\n" not in message and "Traceback" not in message
    return info.value


def test_alias_bomb_is_refused_while_composing():
    text = alias_bomb()
    assert len(text.encode()) < 1024
    e = refused(text)
    assert "expands to more than 200000 values" in e.message and e.line is not None


def test_recursive_alias_is_refused():
    e = refused(HEAD + "x: &a [1, *a]\n")
    assert "recursive alias" in e.message and e.line == 6


def test_deep_nesting_is_refused_with_the_limit():
    e = refused(HEAD + "x: " + "[" * 20_000 + "]" * 20_000 + "\n")
    assert "nests deeper than 64 levels" in e.message


def test_limits_are_configurable(monkeypatch):
    monkeypatch.setenv("AIRFLOW__DATAOPS__CONTRACT_MAX_DEPTH", "3")
    assert YamlLimits.from_settings().max_depth == 3
    e = refused(contract())
    assert "nests deeper than 3 levels" in e.message
    e = refused(contract(), limits=YamlLimits(max_bytes=100))
    assert "more than the limit of 100" in e.message


def test_aliases_within_the_budget_still_work():
    data = load_yaml("base: &b {x: 1}\nuse: *b\nmerged:\n  <<: *b\n  x: 2\n")
    assert data == {"base": {"x": 1}, "use": {"x": 1}, "merged": {"x": 2}}


def test_duplicate_key_is_refused_with_both_lines():
    e = refused(HEAD + "id: urn:other\n")
    assert "key 'id' is given twice in one mapping (first on line 3)" in e.message and e.line == 6


def test_invalid_utf8_names_line_and_byte(tmp_path: Path):
    path = tmp_path / "c.odcs.yaml"
    path.write_bytes(HEAD.encode() + b"name: caf\xe9\n")
    with pytest.raises(ContractError) as info:
        load_contract(path)
    assert info.value.line == 6 and "not UTF-8" in str(info.value) and "0xe9" in str(info.value)


@pytest.mark.parametrize(
    ("rule", "path", "fragment"),
    [
        ("- metric: nullValues\n            mustBe: .nan", "mustBe", "is not a number"),
        ("- metric: nullValues\n            mustNotBe: .nan", "mustNotBe", "is not a number"),
        ("- metric: nullValues\n            mustBe: .inf", "mustBe", "is not a number"),
        ("- metric: nullValues\n            mustBeBetween: [.nan, 5]", "mustBeBetween", "two numbers"),
        ("- metric: nullValues\n            mustBe: " + "9" * 400, "mustBe", "is not a number"),
        (
            "- metric: invalidValues\n            arguments:\n              validValues: EWR\n            mustBe: 0",
            "arguments.validValues",
            "must be a list (e.g. validValues: ['EWR'])",
        ),
        (
            "- metric: invalidValues\n            arguments:\n              pattern: '([a-z'\n            mustBe: 0",
            "arguments.pattern",
            "is not a valid regular expression",
        ),
        ("- metric: nullValues\n            mustBe: 0\n            severity: critcal", "severity", "critcal"),
        (
            "- metric: nullValues\n            mustBe: 0\n            severity: 'ERROR '",
            "severity",
            "'ERROR '",
        ),
    ],
)
def test_bad_values_are_refused_at_load_naming_path_line_and_value(rule, path, fragment):
    e = refused(contract(rule))
    assert e.path == f"schema[0].properties[0].quality[0].{path}", e.path
    assert e.line is not None and fragment in e.message, e.message


def test_an_integer_too_long_for_python_is_refused_with_its_line():
    e = refused(contract("- metric: nullValues\n            mustBe: " + "9" * 5000))
    assert e.line == 13 and "cannot read (Exceeds the limit (4300 digits)" in e.message, e.message


def test_duplicate_property_and_schema_object_are_refused():
    dup_prop = contract(extra_props="      - name: a\n        logicalType: string\n")
    e = refused(dup_prop)
    assert "property of 't' 'a' is declared twice" in e.message and e.path == "schema[0].properties[1].name"
    dup_obj = contract() + "  - name: t\n"
    e = refused(dup_obj)
    assert "schema object 't' is declared twice" in e.message and e.path == "schema[1].name"


@pytest.mark.parametrize(
    ("value", "blocking"),
    [
        ("error", True),
        ("critical", True),
        ("fatal", True),
        ("ERROR", True),
        ("warning", False),
        ("info", False),
    ],
)
def test_supported_severities_and_what_they_mean(value, blocking):
    c = parse_contract(
        contract(f"- metric: nullValues\n            mustBe: 0\n            severity: {value}"), source="c"
    )
    (check,) = [c for c in plan(c, c.schema[0]) if c.name.endswith("nullValues")]
    assert check.severity is (Severity.ERROR if blocking else Severity.WARNING)


def test_unknown_severity_lists_the_allowed_values():
    e = refused(contract("- metric: nullValues\n            mustBe: 0\n            severity: eror"))
    assert "use one of: error, critical, fatal, warning, info" in e.message
