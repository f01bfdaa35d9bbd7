"""Load an ODCS v3.1 YAML contract into :class:`~airflow_dataops.contracts.model.Contract`.

A contract is untrusted input.  Three passes, each failing with a :class:`ContractError` that
names the file, the YAML path and the line:

1. YAML parsing through :mod:`~airflow_dataops.contracts.safe_yaml` (UTF-8 only; size, depth and
   alias-expansion limits; duplicate keys refused; timestamps kept as text, as the JSON Schema
   expects);
2. our own checks, which give clearer messages than the JSON Schema would: duplicate schema
   objects or properties, quality rules (unknown metric or operator, a threshold that is not a
   finite number, a ``severity`` we do not know, arguments of the wrong shape, a pattern that
   does not compile, an ``sql`` query that is not exactly one read-only ``SELECT``);
3. the official ODCS JSON Schema (shipped in this package, loaded on first use);

then the typed model is built, rules that name missing columns are refused, and every
feature we do not evaluate becomes a warning on ``Contract.warnings``.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import json
import math
import os
import re
import threading
import warnings
from collections.abc import Sequence
from importlib import resources
from typing import Any

import yaml

from airflow_dataops.contracts.model import (
    BLOCKING_SEVERITIES,
    METRICS,
    NON_BLOCKING_SEVERITIES,
    OPERATORS,
    RANGE_OPERATORS,
    UNITS,
    Contract,
    Property,
    QualityRule,
    SchemaObject,
    SlaProperty,
    freeze,
)
from airflow_dataops.contracts.safe_yaml import YamlLimits, YamlRefused, compose, construct, decode
from airflow_dataops.exceptions import ContractError

SCHEMA_FILE = "odcs-json-schema-v3.1.0.json"
PathParts = Sequence[str | int]

#: SLA properties the engines evaluate (against a timestamp column named by ``element``).
EVALUATED_SLA = frozenset({"latency", "freshness"})
#: Library metric arguments we understand.
KNOWN_ARGUMENTS = frozenset({"validValues", "pattern", "missingValues", "properties"})


#: Every ``severity`` we accept (case-insensitive): the first three block, the last two do not.
SEVERITIES = (*BLOCKING_SEVERITIES, *NON_BLOCKING_SEVERITIES)
#: Library arguments that must be lists.
_LIST_ARGUMENTS = ("validValues", "missingValues", "properties")


#: How many loaded contracts :func:`load_contract` keeps (least recently used dropped first).
CACHE_SIZE = 64
_cache: collections.OrderedDict[tuple[str, bytes, YamlLimits], Contract] = collections.OrderedDict()
_cache_lock = threading.Lock()


def clear_contract_cache() -> None:
    """Forget every contract :func:`load_contract` has cached."""
    with _cache_lock:
        _cache.clear()


def load_contract(path: str | os.PathLike[str]) -> Contract:
    """Read and validate the ODCS contract at ``path``.

    The file is read every time; parsing and validation are cached by the SHA-256 of its bytes, the
    path as given (errors and ``Contract.source`` name it) and the ``[dataops] contract_max_*``
    limits, for the last :data:`CACHE_SIZE` contracts.  A hit returns the same :class:`Contract`
    object, which is immutable throughout (frozen dataclasses, tuples, :func:`~.model.freeze`).
    An invalid contract is not cached: it is parsed again and raises the same error each time.

    :raises ContractError: the file cannot be read, is not valid YAML, breaks the ODCS JSON Schema,
        or has a rule we cannot evaluate as written.
    """
    source = os.fspath(path)
    limits = YamlLimits.from_settings()
    try:  # never more than the limit, whatever the path is (a FIFO or /dev/zero has no size)
        with open(source, "rb") as f:
            data = f.read(limits.max_bytes + 1)
    except OSError as e:
        raise ContractError(f"cannot read the contract file: {e.strerror or e}", file=source) from e
    if len(data) > limits.max_bytes:
        raise ContractError(
            f"the file is larger than the limit of {limits.max_bytes} bytes "
            "([dataops] contract_max_bytes); split the contract or raise the limit",
            file=source,
        )
    key = (source, hashlib.sha256(data).digest(), limits)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
            return cached
    try:
        text = decode(data)
    except YamlRefused as e:
        raise ContractError(f"the file {e.message}", file=source, line=e.line) from None
    contract = parse_contract(text, source=source, limits=limits)
    with _cache_lock:
        _cache[key] = contract
        _cache.move_to_end(key)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return contract


def parse_contract(text: str, *, source: str, limits: YamlLimits | None = None) -> Contract:
    """Parse and validate contract YAML ``text``; ``source`` names it in error messages.

    :param limits: size, depth and expansion limits (default: the ``[dataops] contract_max_*`` options).
    """
    return _Parser(text, source, limits or YamlLimits.from_settings()).parse()


def format_path(parts: PathParts) -> str:
    """``["schema", 0, "properties", 2, "logicalType"]`` -> ``schema[0].properties[2].logicalType``."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@functools.cache
def odcs_json_schema() -> dict[str, Any]:
    """The ODCS v3.1.0 JSON Schema shipped with this package (read once, on first use)."""
    return json.loads(resources.files("airflow_dataops.contracts").joinpath(SCHEMA_FILE).read_text("utf-8"))


@functools.cache
def _validator() -> Any:
    import jsonschema

    return jsonschema.Draft201909Validator(odcs_json_schema())


class _Parser:
    def __init__(self, text: str, source: str, limits: YamlLimits):
        self.text = text
        self.source = source
        self.limits = limits
        self.root: yaml.Node | None = None
        self.warnings: list[str] = []

    # -- errors and lines ---------------------------------------------------------------------
    def line(self, parts: PathParts) -> int | None:
        """1-based line of the node at ``parts``, or of its deepest existing ancestor."""
        node = self.root
        if node is None:
            return None
        for part in parts:
            child = None
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                child = next((v for k, v in node.value if k.value == part), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                child = node.value[part]
            if child is None:
                break
            node = child
        return node.start_mark.line + 1

    def error(self, message: str, parts: PathParts) -> ContractError:
        return ContractError(
            message, file=self.source, path=format_path(parts) or None, line=self.line(parts)
        )

    # -- passes ----------------------------------------------------------------------------------
    def parse(self) -> Contract:
        try:
            self.root = compose(self.text, self.limits)
            data = construct(self.root, self.text)
        except YamlRefused as e:
            raise ContractError(
                f"not accepted as YAML: the document {e.message}", file=self.source, line=e.line
            ) from None
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            line = mark.line + 1 if mark else None
            raise ContractError(
                f"not valid YAML: {e.problem or e}; fix the syntax on that line", file=self.source, line=line
            ) from e
        except yaml.YAMLError as e:  # e.g. ReaderError: a NUL or other non-printable character
            line = self.text.count("\n", 0, getattr(e, "position", 0) or 0) + 1
            raise ContractError(
                f"not valid YAML: {getattr(e, 'reason', None) or e} (character #x{getattr(e, 'character', 0):04x}); "
                "remove it",
                file=self.source,
                line=line,
            ) from e
        data = _join_surrogates(data)
        if not isinstance(data, dict):
            raise ContractError(
                f"a contract must be a YAML mapping with apiVersion, kind, id, version and status, "
                f"got {type(data).__name__}",
                file=self.source,
                line=1,
            )
        self.check_names(data)
        self.check_quality_rules(data)
        self.check_json_schema(data)
        for key in ("id", "version"):  # they key the ledger, the results and lineage: never blank
            if not str(data[key]).strip():
                raise self.error(f"{key} is blank; give the contract a non-empty {key}", [key])
        return self.build(data)

    def check_json_schema(self, data: dict[str, Any]) -> None:
        import jsonschema

        errors = sorted(_validator().iter_errors(data), key=lambda e: (len(e.absolute_path), str(e.path)))
        if not errors:
            return
        best = jsonschema.exceptions.best_match(errors)
        parts = list(best.absolute_path)
        message = best.message
        if best.validator in ("unevaluatedProperties", "additionalProperties") and isinstance(
            best.instance, dict
        ):
            allowed = set((best.schema.get("properties") or {}).keys())
            extra = sorted(k for k in best.instance if k not in allowed)
            if extra and best.validator == "additionalProperties":
                parts.append(extra[0])
        raise self.error(f"does not follow the ODCS v3.1 JSON Schema: {message}", parts)

    def iter_quality(self, data: dict[str, Any]):
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
                f"sql rule {label!r} uses {{column}} but is not on a property; move it under the property "
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
                and all(_is_number(v) for v in value)
                and value[0] <= value[1]
            )
            if not ok:
                raise self.error(
                    f"quality rule {label!r}: {op} must be a list of two numbers, smallest first "
                    f"(e.g. [0, 10]), got {value!r}",
                    [*parts, op],
                )
        elif not _is_number(value):
            raise self.error(
                f"quality rule {label!r}: threshold {op}: {value!r} is not a number; write a number such as 0 or 5",
                [*parts, op],
            )

    # -- model -----------------------------------------------------------------------------------
    def build(self, data: dict[str, Any]) -> Contract:
        schema = tuple(
            self.build_object(obj, ["schema", i]) for i, obj in enumerate(data.get("schema") or [])
        )
        sla = tuple(
            self.build_sla(s, ["slaProperties", i], schema)
            for i, s in enumerate(data.get("slaProperties") or [])
        )
        custom = {c["property"]: c["value"] for c in data.get("customProperties") or []}
        for key in ("servers", "roles", "price", "support"):
            if data.get(key):
                self.warnings.append(f"{key}: declared but not evaluated by airflow-dataops")
        return Contract(
            id=str(data["id"]),
            version=str(data["version"]),
            status=str(data["status"]),
            api_version=str(data["apiVersion"]),
            name=data.get("name"),
            source=self.source,
            schema=schema,
            sla_properties=sla,
            custom_properties=freeze(custom),
            warnings=tuple(self.warnings),
        )

    def build_object(self, obj: dict[str, Any], parts: list[str | int]) -> SchemaObject:
        props = tuple(
            self.build_property(p, [*parts, "properties", k])
            for k, p in enumerate(obj.get("properties") or [])
        )
        from airflow_dataops.contracts.options import object_relationships

        relationships, warnings = object_relationships(obj.get("relationships"), parts=parts, fail=self.error)
        self.warnings += warnings
        so = SchemaObject(
            name=obj["name"],
            physical_name=obj.get("physicalName"),
            physical_type=obj.get("physicalType"),
            description=obj.get("description"),
            properties=props,
            relationships=relationships,
            path=format_path(parts),
        )
        quality = []
        for j, rule in enumerate(obj.get("quality") or []):
            q = self.build_rule(rule, [*parts, "quality", j])
            for col in q.arguments.get("properties") or []:
                if so.get_property(str(col)) is None:
                    raise self.error(
                        f"quality rule {q.label!r} names column {col!r}, which schema object {so.name!r} "
                        f"does not declare; add it to properties or fix the name",
                        [*parts, "quality", j, "arguments", "properties"],
                    )
            if q.type == "library" and q.metric not in ("rowCount", "duplicateValues"):
                raise self.error(
                    f"quality rule {q.label!r}: metric {q.metric} needs a column; move the rule under the property",
                    [*parts, "quality", j, "metric"],
                )
            if q.type == "library" and q.metric == "duplicateValues" and not q.arguments.get("properties"):
                raise self.error(
                    f"quality rule {q.label!r}: a table-level duplicateValues needs arguments.properties "
                    f"(the columns that must be unique together)",
                    [*parts, "quality", j],
                )
            quality.append(q)
        return SchemaObject(**{**so.__dict__, "quality": tuple(quality)})

    def build_property(self, prop: dict[str, Any], parts: list[str | int]) -> Property:
        from airflow_dataops.contracts.options import logical_type_options, property_relationships
        from airflow_dataops.contracts.rules import physical_family

        options, warnings = logical_type_options(
            prop.get("logicalTypeOptions"),
            family=prop.get("logicalType") or physical_family(prop.get("physicalType")),
            parts=parts,
            fail=self.error,
        )
        relationships, more = property_relationships(
            prop.get("relationships"), column=prop["name"], parts=parts, fail=self.error
        )
        self.warnings += warnings + more
        if prop.get("items"):
            self.warnings.append(f"{format_path([*parts, 'items'])}: nested items are not evaluated")
        rules = []
        for j, rule in enumerate(prop.get("quality") or []):
            q = self.build_rule(rule, [*parts, "quality", j])
            if q.type == "library" and q.metric == "rowCount":
                raise self.error(
                    f"quality rule {q.label!r}: rowCount is a table-level metric; move it to the schema object's quality",
                    [*parts, "quality", j, "metric"],
                )
            if q.arguments.get("properties"):
                raise self.error(
                    f"quality rule {q.label!r}: arguments.properties belongs on a table-level rule; "
                    f"on property {prop['name']!r} the rule applies to that column",
                    [*parts, "quality", j, "arguments", "properties"],
                )
            rules.append(q)
        return Property(
            name=prop["name"],
            physical_name=prop.get("physicalName"),
            logical_type=prop.get("logicalType"),
            physical_type=prop.get("physicalType"),
            required=bool(prop.get("required", False)),
            unique=bool(prop.get("unique", False)),
            primary_key=bool(prop.get("primaryKey", False)),
            primary_key_position=int(prop.get("primaryKeyPosition", -1)),
            classification=prop.get("classification"),
            partitioned=bool(prop.get("partitioned", False)),
            description=prop.get("description"),
            quality=tuple(rules),
            options=freeze(options),
            relationships=relationships,
            path=format_path(parts),
        )

    def build_rule(self, rule: dict[str, Any], parts: list[str | int]) -> QualityRule:
        kind = rule.get("type", "library")
        path = format_path(parts)
        op = next((k for k in rule if k in OPERATORS), None)
        threshold: Any = None
        if op is not None:
            value = rule[op]
            threshold = (float(value[0]), float(value[1])) if op in RANGE_OPERATORS else float(value)
        severity = str(rule.get("severity", "error")).lower()
        arguments = dict(rule.get("arguments") or {})
        label = rule.get("name") or rule.get("metric") or kind
        for key in arguments:
            if key not in KNOWN_ARGUMENTS:
                self.warnings.append(f"{path}.arguments.{key}: argument of rule {label!r} is not evaluated")
        if kind == "custom":
            self.warnings.append(
                f"{path}: custom rule {label!r} for engine {rule.get('engine')!r} is not evaluated by the "
                f"SQL or pandas engine"
            )
        elif kind == "text":
            self.warnings.append(f"{path}: text rule {label!r} is documentation only and is not evaluated")
        for key in ("scheduler", "schedule"):
            if key in rule:
                self.warnings.append(
                    f"{path}.{key}: per-rule schedules are not evaluated (the DAG schedules checks)"
                )
        return QualityRule(
            type=kind,
            metric=rule.get("metric", rule.get("rule")) if kind == "library" else None,
            name=rule.get("name"),
            operator=op,
            threshold=threshold,
            unit=rule.get("unit", "rows"),
            arguments=freeze(arguments),
            query=rule.get("query"),
            engine=rule.get("engine"),
            implementation=freeze(rule.get("implementation")),
            severity="error" if severity in BLOCKING_SEVERITIES else "warning",
            dimension=rule.get("dimension"),
            description=rule.get("description"),
            path=path,
        )

    def build_sla(
        self, sla: dict[str, Any], parts: list[str | int], schema: tuple[SchemaObject, ...]
    ) -> SlaProperty:
        prop = SlaProperty(
            property=sla["property"],
            value=freeze(sla["value"]),
            unit=sla.get("unit"),
            element=sla.get("element"),
            value_ext=freeze(sla.get("valueExt")),
            driver=sla.get("driver"),
            description=sla.get("description"),
            path=format_path(parts),
        )
        if prop.property == "frequency":  # docs/slo.md: the SLO cadence, not a gate check
            self.warnings.append(
                f"{prop.path}: SLA property 'frequency' is not checked by the gate; it sets the SLO cadence "
                "(dataops.slo.cadence overrides it)"
            )
            return prop
        if prop.property not in EVALUATED_SLA:
            self.warnings.append(f"{prop.path}: SLA property {prop.property!r} is not evaluated")
            return prop
        if not _is_number(prop.value):
            raise self.error(
                f"SLA {prop.property!r}: value {prop.value!r} is not a number; write e.g. value: 2 with unit: d",
                [*parts, "value"],
            )
        from airflow_dataops.contracts.rules import duration_seconds

        try:
            duration_seconds(prop.value, prop.unit)
        except ValueError as e:
            raise self.error(f"SLA {prop.property!r}: {e}", [*parts, "unit"]) from e
        if not prop.element:
            self.warnings.append(
                f"{prop.path}: SLA {prop.property!r} names no element (a timestamp column); not evaluated"
            )
            return prop
        for element in prop.element.split(","):
            obj_name, _, col = element.strip().rpartition(".")
            objects = [o for o in schema if not obj_name or obj_name in (o.name, o.physical_name)]
            if not objects:
                self.warnings.append(
                    f"{prop.path}: SLA {prop.property!r} element {element.strip()!r} names a schema object "
                    f"the contract does not declare; not evaluated"
                )
                continue
            if not any(o.get_property(col) for o in objects):
                raise self.error(
                    f"SLA {prop.property!r}: element {element.strip()!r} names column {col!r}, which is not "
                    f"declared in {obj_name or 'any schema object'}; add it to properties or fix the name",
                    [*parts, "element"],
                )
        return prop


def _join_surrogates(value: Any) -> Any:
    """PyYAML decodes a JSON-style escape of an astral character ("\\ud83d\\ude42") into two lone
    surrogates; join them back into the one character the author wrote."""
    if isinstance(value, str):
        if any("\ud800" <= ch <= "\udfff" for ch in value):
            return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return value
    if isinstance(value, dict):
        return {_join_surrogates(k): _join_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_join_surrogates(v) for v in value]
    return value


def _is_number(value: Any) -> bool:
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
