"""The loader's last pass: the typed, frozen model from a validated contract mapping.

Rules that name missing columns are refused here, and every feature we do not evaluate
becomes a warning on ``Contract.warnings``.  :class:`ModelBuilder` is a part of the loader's
parser (:mod:`~airflow_dataops.contracts.loader`), which supplies ``error``, ``source`` and
``warnings``.
"""

from __future__ import annotations

from typing import Any

from airflow_dataops.contracts.loader_checks import is_number
from airflow_dataops.contracts.model import (
    BLOCKING_SEVERITIES,
    OPERATORS,
    RANGE_OPERATORS,
    Contract,
    Property,
    QualityRule,
    SchemaObject,
    SlaProperty,
    freeze,
)
from airflow_dataops.contracts.paths import PathParts, format_path
from airflow_dataops.exceptions import ContractError

#: SLA properties the engines evaluate (against a timestamp column named by ``element``).
EVALUATED_SLA = frozenset({"latency", "freshness"})
#: Library metric arguments we understand.
KNOWN_ARGUMENTS = frozenset({"validValues", "pattern", "missingValues", "properties"})


class ModelBuilder:
    """Builds :class:`Contract` from a mapping the earlier passes accepted."""

    source: str
    warnings: list[str]

    def error(self, message: str, parts: PathParts) -> ContractError:  # pragma: no cover - the parser's
        raise NotImplementedError

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
        from airflow_dataops.contracts.datatypes import physical_family
        from airflow_dataops.contracts.options import logical_type_options, property_relationships

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
        if not is_number(prop.value):
            raise self.error(
                f"SLA {prop.property!r}: value {prop.value!r} is not a number; write e.g. value: 2 with unit: d",
                [*parts, "value"],
            )
        from airflow_dataops.contracts.datatypes import duration_seconds

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
