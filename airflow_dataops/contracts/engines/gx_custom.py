"""``custom`` rules with ``engine: greatExpectations``: the team's own GX expectations, run in our suite.

A rule's ``implementation`` is one expectation or a list, each ``{type: expect_..., kwargs:
{...}}`` (or the kwargs inline), YAML text or a mapping (see :mod:`~airflow_dataops.contracts.engines.gx`).
:func:`custom_expectations` checks it (a known expectation type, valid arguments, no SQL text
GX would run on a connection nothing makes read-only) and :func:`custom_result` turns the
expectations' results into the rule's :class:`~airflow_dataops.contracts.report.RuleResult`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_dataops.contracts import rules as R
from airflow_dataops.contracts.engines.gx_suite import raise_if_errored
from airflow_dataops.contracts.model import Contract, QualityRule, SchemaObject
from airflow_dataops.contracts.report import RuleResult
from airflow_dataops.exceptions import ContractError

__all__ = [
    "GX_ENGINE_NAMES",
    "custom_expectations",
    "custom_result",
    "gx_rules",
    "is_gx_custom_warning",
    "is_gx_rule",
]

#: Spellings of ``engine`` on a custom rule that mean Great Expectations.
GX_ENGINE_NAMES = frozenset({"greatexpectations", "great_expectations", "great-expectations", "gx"})


def is_gx_rule(rule: QualityRule) -> bool:
    """True for a ``custom`` rule whose ``engine`` is Great Expectations."""
    return rule.type == "custom" and str(rule.engine or "").replace(" ", "").lower() in GX_ENGINE_NAMES


def gx_rules(obj: SchemaObject) -> list[tuple[str, str | None, QualityRule]]:
    out: list[tuple[str, str | None, QualityRule]] = [
        (f"{obj.name}.{p.name}", p.column, r) for p in obj.properties for r in p.quality if is_gx_rule(r)
    ]
    out += [(obj.name, None, r) for r in obj.quality if is_gx_rule(r)]
    return out


def is_gx_custom_warning(warning: str, obj: SchemaObject) -> bool:
    return any(warning.startswith(f"{r.path}: custom rule") for _, _, r in gx_rules(obj))


def custom_expectations(
    contract: Contract, rule: QualityRule, column: str | None, E: Any
) -> list[tuple[type, dict[str, Any]]]:
    """The ``(expectation class, kwargs)`` pairs of a custom GX rule's ``implementation``."""
    import yaml
    from great_expectations.expectations.registry import get_expectation_impl

    path = f"{rule.path}.implementation"
    impl = rule.implementation
    if isinstance(impl, str):
        from airflow_dataops.contracts.safe_yaml import YamlRefused, load_yaml

        try:
            impl = load_yaml(impl)  # bounded like the contract it comes from
        except (yaml.YAMLError, YamlRefused) as e:
            raise ContractError(
                f"custom GX rule {rule.label!r}: implementation is not valid YAML: {e}",
                file=contract.source,
                path=path,
            ) from e
    items = impl if isinstance(impl, list) else [impl]
    if not items or not all(isinstance(i, dict) for i in items):
        raise ContractError(
            f"custom GX rule {rule.label!r}: implementation must be an expectation "
            "({type: expect_..., kwargs: {...}}) or a list of them",
            file=contract.source,
            path=path,
        )
    out = []
    for i, item in enumerate(items):
        kind = item.get("type") or item.get("expectation_type")
        if not isinstance(kind, str):
            raise ContractError(
                f"custom GX rule {rule.label!r}: expectation {i} has no type (e.g. expect_column_values_to_be_between)",
                file=contract.source,
                path=path,
            )
        kwargs = dict(
            item.get("kwargs")
            or {k: v for k, v in item.items() if k not in ("type", "expectation_type", "meta")}
        )
        try:
            cls = get_expectation_impl(kind)
        except Exception as e:
            raise ContractError(
                f"custom GX rule {rule.label!r}: {kind!r} is not a Great Expectations expectation type",
                file=contract.source,
                path=path,
            ) from e
        fields = getattr(cls, "__fields__", None) or getattr(
            cls, "model_fields", {}
        )  # GX models are pydantic v1
        runs_sql = sorted(f for f in fields if "query" in f)  # unexpected_rows_query, base_query ...
        if runs_sql:  # GX would run that text on a connection nothing makes read-only (#14)
            raise ContractError(
                f"custom GX rule {rule.label!r}: {kind} runs SQL text ({', '.join(runs_sql)}) that airflow-dataops "
                "cannot run read-only; write it as an ODCS type: sql rule, which runs as one read-only SELECT",
                file=contract.source,
                path=path,
            )
        if column is not None and "column" in fields and "column" not in kwargs:
            kwargs["column"] = column
        try:
            cls(**kwargs)
        except Exception as e:
            raise ContractError(
                f"custom GX rule {rule.label!r}: invalid arguments for {kind}: {str(e).splitlines()[0]}",
                file=contract.source,
                path=path,
            ) from e
        out.append((cls, kwargs))
    return out


def custom_result(
    prefix: str,
    column: str | None,
    rule: QualityRule,
    ids: list[str],
    outcome: Mapping[str, Any],
    contract: Contract,
    sensitive: set[str],
) -> RuleResult:
    name = f"{prefix}.{rule.label}"
    passed = True
    unexpected: int | None = 0
    observed: Any = None
    for ident in ids:
        result = outcome[ident]
        raise_if_errored(result, contract, name, f"{rule.path}.implementation")
        passed = passed and bool(result.success)
        body = result.result or {}
        if "unexpected_count" in body and unexpected is not None:
            unexpected += int(body["unexpected_count"] or 0)
        else:
            unexpected = None
            observed = body.get("observed_value")
    hide = column is not None and column in sensitive
    if unexpected is not None:
        actual: Any = unexpected
    elif isinstance(observed, (int, float)) and not isinstance(observed, bool) and len(ids) == 1:
        actual = observed
    else:
        actual = "passed" if passed else "failed"
    return RuleResult(
        name=name,
        dimension=rule.dimension or "accuracy",
        severity=R.severity_of(rule.severity),
        expected=f"GX {', '.join(outcome[i].expectation_config.type for i in ids)}",
        actual=None if hide else actual,
        passed=passed,
        failing_rows=unexpected,
        column=column,
        row_level=False,
    )
