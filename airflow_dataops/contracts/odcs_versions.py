"""The ODCS versions we accept, the JSON Schema of each, and what a v3.0.x form means in v3.1.

A contract is validated against the official JSON Schema of the ``apiVersion`` it declares
(the files beside this module, see ``ODCS-SCHEMAS.md``), never against a later, looser one: a
contract that says v3.0.2 but uses a v3.1 form (``metric:`` without ``rule:``, ``logicalType:
timestamp``, a numeric ``exclusiveMaximum``) is refused with the schema's error and how to fix it.

A valid v3.0.x contract is then rewritten into its v3.1 equivalent, so the engines see one form
and give it the same meaning:

==============================================  ==============================================
v3.0.x                                          evaluated as (v3.1)
==============================================  ==============================================
``rule: duplicateCount`` + operator             ``metric: duplicateValues`` + operator
``rule: rowCount`` + operator                   ``metric: rowCount`` + operator
``rule: validValues``, ``validValues: [..]``    ``metric: invalidValues``,
(operator optional, default ``mustBe: 0``)      ``arguments.validValues: [..]``
``rule: <a v3.1 metric name>``                  ``metric: <that name>``
``minimum: 5`` + ``exclusiveMinimum: true``     ``exclusiveMinimum: 5`` (likewise for maximum)
``exclusiveMinimum: false``                     dropped (the bound stays inclusive)
==============================================  ==============================================

Any other ``rule`` is refused at load, never passed unevaluated.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from importlib import resources
from typing import Any

from airflow_dataops.contracts.model import METRICS, OPERATORS

#: ``apiVersion`` -> the JSON Schema file it is validated against.
SCHEMA_FILES: dict[str, str] = {
    "v3.0.0": "odcs-json-schema-v3.0.0.json",
    "v3.0.1": "odcs-json-schema-v3.0.1.json",
    "v3.0.2": "odcs-json-schema-v3.0.2.json",
    "v3.1.0": "odcs-json-schema-v3.1.0.json",
}
LATEST = "v3.1.0"
V30 = frozenset({"v3.0.0", "v3.0.1", "v3.0.2"})
#: ODCS v3.0.x library rules (the spec's "default rules") -> the v3.1 metric with the same meaning.
V30_RULES: dict[str, str] = {
    "duplicateCount": "duplicateValues",
    "rowCount": "rowCount",
    "validValues": "invalidValues",
}

Fail = Callable[[str, list[str | int]], Exception]


def schema_for(api_version: Any) -> str:
    """The version whose JSON Schema validates a contract declaring ``api_version``.

    A missing or non-text ``apiVersion`` is left to the latest schema, which reports it.

    :raises ValueError: a version we have no schema for, with the supported ones.
    """
    if not isinstance(api_version, str):
        return LATEST
    if api_version in SCHEMA_FILES:
        return api_version
    supported = ", ".join(SCHEMA_FILES)
    if api_version.startswith("v2."):
        raise ValueError(
            f"apiVersion {api_version!r} is ODCS v2, whose structure (dataset, columns) differs from v3; "
            f"convert the contract to ODCS v3 and declare one of: {supported}"
        )
    raise ValueError(f"apiVersion {api_version!r} is not supported; declare one of: {supported}")


@functools.cache
def odcs_json_schema(version: str = LATEST) -> dict[str, Any]:
    """The official ODCS JSON Schema of ``version``, shipped with this package (read once)."""
    name = SCHEMA_FILES[version]
    return json.loads(resources.files("airflow_dataops.contracts").joinpath(name).read_text("utf-8"))


@functools.cache
def validator(version: str = LATEST) -> Any:
    """A Draft 2019-09 validator of ``version``'s schema (built once per version)."""
    import jsonschema

    return jsonschema.Draft201909Validator(odcs_json_schema(version))


def fix_hint(version: str, message: str, validator_name: str) -> str:
    """How to fix a v3.0.x schema error that is a v3.1 form, or ``""``."""
    if version not in V30:
        return ""
    if validator_name == "required" and "'rule'" in message:
        return (
            f"; ODCS {version} library rules need rule: (duplicateCount, rowCount or validValues), "
            f"metric: is ODCS v3.1: add rule:, or declare apiVersion: {LATEST}"
        )
    return f"; if the contract uses ODCS v3.1 forms, declare apiVersion: {LATEST}"


def upgrade_v30(data: dict[str, Any], *, fail: Fail) -> list[str]:
    """Rewrite a schema-valid v3.0.x contract ``data`` in place into its v3.1 equivalent.

    Quality rules and ``logicalTypeOptions`` change (see the module table); the lists keep
    their positions, so error paths still point into the file.  Returns warnings.
    """
    warnings: list[str] = []
    for i, obj in enumerate(data.get("schema") or []):
        if not isinstance(obj, dict):
            continue
        for j, rule in enumerate(obj.get("quality") or []):
            _upgrade_rule(rule, ["schema", i, "quality", j], fail)
        for k, prop in enumerate(obj.get("properties") or []):
            if not isinstance(prop, dict):
                continue
            here: list[str | int] = ["schema", i, "properties", k]
            for j, rule in enumerate(prop.get("quality") or []):
                _upgrade_rule(rule, [*here, "quality", j], fail)
            options = prop.get("logicalTypeOptions")
            if isinstance(options, dict):
                warnings += _upgrade_bounds(options, [*here, "logicalTypeOptions"])
    return warnings


def _upgrade_rule(rule: Any, parts: list[str | int], fail: Fail) -> None:
    if not isinstance(rule, dict) or rule.get("type", "library") != "library":
        return
    name = rule.get("rule")
    label = rule.get("name") or name
    if name in V30_RULES:
        metric = V30_RULES[name]
    elif name in METRICS:
        metric = name
    else:
        raise fail(
            f"quality rule {label!r}: rule {name!r} is not an ODCS v3.0 library rule we evaluate "
            f"({', '.join(V30_RULES)}) nor an ODCS v3.1 metric ({', '.join(METRICS)}); "
            f"use one of them, or a type: sql rule",
            [*parts, "rule"],
        )
    if "metric" in rule and rule["metric"] != metric:
        raise fail(
            f"quality rule {label!r}: rule {name!r} means metric {metric!r}, but the rule also says "
            f"metric {rule['metric']!r}; keep one",
            [*parts, "metric"],
        )
    rule["metric"] = metric
    if name == "validValues":
        args = dict(rule.get("arguments") or {}) if isinstance(rule.get("arguments"), dict) else {}
        if "validValues" in rule:
            args["validValues"] = rule.pop("validValues")
        if "validValues" not in args:
            raise fail(
                f"quality rule {label!r}: rule validValues needs the list of valid values "
                "(validValues: [a, b])",
                parts,
            )
        rule["arguments"] = args
        if not any(k in OPERATORS for k in rule):
            rule["mustBe"] = 0  # the v3.0 form: every value is one of the list


def _upgrade_bounds(options: dict[str, Any], parts: list[str | int]) -> list[str]:
    """v3.0 ``exclusiveMinimum: true`` makes ``minimum`` exclusive; v3.1 writes the bound itself."""
    from airflow_dataops.contracts.paths import format_path

    warnings = []
    for flag, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if not isinstance(options.get(flag), bool):
            continue
        exclusive = options.pop(flag)
        if exclusive and bound in options:
            options[flag] = options.pop(bound)
        elif exclusive:
            warnings.append(
                f"{format_path([*parts, flag])}: true, but there is no {bound} to make exclusive; ignored"
            )
    return warnings
