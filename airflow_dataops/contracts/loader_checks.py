"""The loader's own checks of a contract's quality rules and names, before the JSON Schema.

They give clearer messages than the schema would: duplicate schema objects or properties,
quality rules (unknown metric or operator, a threshold that is not a finite number, a
``severity`` we do not know, arguments of the wrong shape, a pattern that does not compile, an
``sql`` query that is not exactly one read-only ``SELECT``).  :class:`RuleChecks` is a part of
the loader's parser (:mod:`~airflow_dataops.contracts.loader`), which supplies ``error``.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterator
from typing import Any

from airflow_dataops.contracts.model import (
    BLOCKING_SEVERITIES,
    METRICS,
    NON_BLOCKING_SEVERITIES,
    OPERATORS,
    RANGE_OPERATORS,
    UNITS,
)
from airflow_dataops.contracts.paths import PathParts, format_path
from airflow_dataops.exceptions import ContractError

#: Every ``severity`` we accept (case-insensitive): the first three block, the last two do not.
SEVERITIES = (*BLOCKING_SEVERITIES, *NON_BLOCKING_SEVERITIES)
#: Library arguments that must be lists.
_LIST_ARGUMENTS = ("validValues", "missingValues", "properties")


class RuleChecks:
    """Checks of the raw contract mapping; each failure is ``self.error(message, path)``."""

    def error(self, message: str, parts: PathParts) -> ContractError:  # pragma: no cover - the parser's
        raise NotImplementedError

    def iter_quality(self, data: dict[str, Any]) -> Iterator[tuple[list[str | int], Any, Any, Any]]:
        """Yield ``(path, rule dict, property dict or None, object dict)`` for every quality rule."""
        schema = data.get("schema")
        if not isinstance(schema, list):
            return
        for i, obj in enumerate(schema):
            if not isinstance(obj, dict):
                continue
            quality = obj.get("quality")
            for j, rule in enumerate(quality if isinstance(quality, list) else []):
                yield ["schema", i, "quality", j], rule, None, obj
            props = obj.get("properties")
            for k, prop in enumerate(props if isinstance(props, list) else []):
                if not isinstance(prop, dict):
                    continue
                quality = prop.get("quality")
                for j, rule in enumerate(quality if isinstance(quality, list) else []):
                    yield ["schema", i, "properties", k, "quality", j], rule, prop, obj

    def check_names(self, data: dict[str, Any]) -> None:
        """Refuse two schema objects with one name, and two properties of an object with one name or column."""
        schema = data.get("schema")
        if not isinstance(schema, list):
            return
        self._unique(schema, ["schema"], lambda o: [o.get("name")], "schema object")
        for i, obj in enumerate(schema):
            if isinstance(obj, dict) and isinstance(obj.get("properties"), list):
                self._unique(
                    obj["properties"],
                    ["schema", i, "properties"],
                    lambda p: list(
                        dict.fromkeys(v for v in (p.get("name"), p.get("physicalName")) if isinstance(v, str))
                    ),
                    f"property of {obj.get('name')!r}",
                )

    def _unique(self, items: list[Any], parts: list[str | int], names: Any, what: str) -> None:
        seen: dict[Any, int] = {}
        for k, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            for name in names(item):
                if not isinstance(name, str):
                    continue
                if name in seen:
                    raise self.error(
                        f"{what} {name!r} is declared twice (also at {format_path([*parts, seen[name]])}); "
                        "keep one, or rename it",
                        [*parts, k, "name"],
                    )
                seen[name] = k

    def check_quality_rules(self, data: dict[str, Any]) -> None:
        dialects = _server_dialects(data.get("servers"))
        for parts, rule, prop, _obj in self.iter_quality(data):
            if not isinstance(rule, dict):
                continue
            kind = rule.get("type", "library")
            label = rule.get("name") or rule.get("metric") or kind
            self.check_severity(rule, label, parts)
            self.check_arguments(rule, label, parts)
            if kind == "sql":
                self.check_sql(rule, label, parts, on_property=prop is not None, dialects=dialects)
            if kind in ("library", "sql") or "metric" in rule or any(k in OPERATORS for k in rule):
                metric = rule.get("metric", rule.get("rule"))
                if kind != "sql" and metric is None:
                    raise self.error(
                        f"quality rule {label!r} has no metric; add metric: one of {', '.join(METRICS)}",
                        parts,
                    )
                if kind != "sql" and metric not in METRICS:
                    raise self.error(
                        f"quality rule {label!r} has unknown metric {metric!r}; use one of: {', '.join(METRICS)}",
                        [*parts, "metric"],
                    )
                self.check_operator(rule, label, parts)
            unit = rule.get("unit")
            if unit is not None and kind in ("library", "sql") and unit not in UNITS:
                raise self.error(
                    f"quality rule {label!r} has unit {unit!r}; use one of: {', '.join(UNITS)}",
                    [*parts, "unit"],
                )

    def check_severity(self, rule: dict[str, Any], label: str, parts: list[str | int]) -> None:
        if "severity" not in rule:
            return
        value = rule["severity"]
        if not isinstance(value, str) or value.lower() not in SEVERITIES:
            raise self.error(
                f"quality rule {label!r} has severity {value!r}; use one of: {', '.join(SEVERITIES)} "
                f"({', '.join(BLOCKING_SEVERITIES)} block; {', '.join(NON_BLOCKING_SEVERITIES)} are recorded only)",
                [*parts, "severity"],
            )

    def check_arguments(self, rule: dict[str, Any], label: str, parts: list[str | int]) -> None:
        args = rule.get("arguments")
        if args is None:
            return
        if not isinstance(args, dict):
            raise self.error(
                f"quality rule {label!r}: arguments must be a mapping (e.g. validValues: [a, b]), got {args!r}",
                [*parts, "arguments"],
            )
        for key in _LIST_ARGUMENTS:
            if key in args and not isinstance(args[key], list):
                raise self.error(
                    f"quality rule {label!r}: arguments.{key} must be a list (e.g. {key}: [{args[key]!r}]), "
                    f"got {type(args[key]).__name__} {args[key]!r}",
                    [*parts, "arguments", key],
                )
        if "properties" in args and not all(isinstance(p, str) for p in args["properties"]):
            raise self.error(
                f"quality rule {label!r}: arguments.properties must list property names, got {args['properties']!r}",
                [*parts, "arguments", "properties"],
            )
        if "pattern" in args:
            pattern = args["pattern"]
            if not isinstance(pattern, str):
                raise self.error(
                    f"quality rule {label!r}: arguments.pattern must be a regular expression in quotes, got {pattern!r}",
                    [*parts, "arguments", "pattern"],
                )
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    re.compile(pattern)
            except (re.error, RecursionError, OverflowError) as e:
                raise self.error(
                    f"quality rule {label!r}: arguments.pattern {pattern!r} is not a valid regular expression ({e})",
                    [*parts, "arguments", "pattern"],
                ) from None
        for key in ("validValues", "missingValues"):
            for k, v in enumerate(args.get(key) or ()):
                if isinstance(v, float) and not math.isfinite(v):
                    raise self.error(
                        f"quality rule {label!r}: arguments.{key} holds {v!r}, which equals no value; remove it",
                        [*parts, "arguments", key, k],
                    )

    def check_sql(
        self,
        rule: dict[str, Any],
        label: str,
        parts: list[str | int],
        *,
        on_property: bool,
        dialects: tuple[str | None, ...],
    ) -> None:
        from airflow_dataops.contracts.sql_rules import SqlRuleRefused, check_query, uses_column

        query = rule.get("query")
        if not isinstance(query, str) or not query.strip():
            raise self.error(
                f"sql rule {label!r} needs query: one SELECT returning a number (e.g. SELECT COUNT(*) FROM {{table}})",
                [*parts, "query"],
            )
        if uses_column(query) and not on_property:
            raise self.error(
                f"sql rule {label!r} uses {{column}} (or ${{property}}) but is not on a property; move it under the property "
                "or name the column",
                [*parts, "query"],
            )
        try:
            check_query(query, dialects)
        except SqlRuleRefused as e:
            raise self.error(f"sql rule {label!r}: the query {e}", [*parts, "query"]) from None

    def check_operator(self, rule: dict[str, Any], label: str, parts: list[str | int]) -> None:
        unknown = [k for k in rule if isinstance(k, str) and k.startswith("must") and k not in OPERATORS]
        if unknown:
            raise self.error(
                f"quality rule {label!r} has unknown operator {unknown[0]!r}; use one of: {', '.join(OPERATORS)}",
                [*parts, unknown[0]],
            )
        ops = [k for k in rule if k in OPERATORS]
        if len(ops) != 1:
            found = ", ".join(ops) or "none"
            raise self.error(
                f"quality rule {label!r} needs exactly one operator ({', '.join(OPERATORS)}), found: {found}",
                parts,
            )
        op = ops[0]
        value = rule[op]
        if op in RANGE_OPERATORS:
            ok = (
                isinstance(value, list)
                and len(value) == 2
                and all(is_number(v) for v in value)
                and value[0] <= value[1]
            )
            if not ok:
                raise self.error(
                    f"quality rule {label!r}: {op} must be a list of two numbers, smallest first "
                    f"(e.g. [0, 10]), got {value!r}",
                    [*parts, op],
                )
        elif not is_number(value):
            raise self.error(
                f"quality rule {label!r}: threshold {op}: {value!r} is not a number; write a number such as 0 or 5",
                [*parts, op],
            )

    # -- model -----------------------------------------------------------------------------------


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool, NaN, infinity, or an integer too large for a float)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _server_dialects(servers: Any) -> tuple[str | None, ...]:
    """sqlglot dialects to parse ``sql`` rules in: the contract's servers' first, then the usual ones."""
    from airflow_dataops.contracts.sql_rules import LOAD_DIALECTS, ODCS_SERVER_DIALECTS

    named = [
        ODCS_SERVER_DIALECTS[str(s.get("type")).lower()]
        for s in (servers if isinstance(servers, list) else [])
        if isinstance(s, dict) and str(s.get("type")).lower() in ODCS_SERVER_DIALECTS
    ]
    return tuple(dict.fromkeys([*named, *LOAD_DIALECTS]))
