"""Compare two versions of a contract: what changed, and does it break the consumers?

A contract is a promise to the dataset's consumers, so a change is classified from their
side: anything that weakens the promise is **breaking** (a field removed or renamed, a type
widened or changed, ``required`` dropped, more allowed values, a quality rule or SLA loosened
or removed), anything that strengthens it is **compatible** (a field added, a type narrowed,
``required`` added, fewer allowed values, a rule tightened or added), and prose is
**informational**.  The ``dataops.slo`` block is classified by ``airflow_dataops.slo.diff``
(objective, thresholds, SLIs, window, cadence).  A breaking change is accepted when the major ``version`` was bumped.

Pure Python: no Airflow, no database.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any

from airflow_dataops.contracts.datatypes import duration_seconds, physical_family
from airflow_dataops.contracts.model import Contract, Property, QualityRule, SchemaObject, SlaProperty


class ChangeKind(str, enum.Enum):
    BREAKING = "breaking"
    COMPATIBLE = "compatible"
    INFORMATIONAL = "informational"


@dataclass(frozen=True, kw_only=True)
class Change:
    """One difference: ``kind``, where (``schema.flights.properties.dep_delay.logicalType``) and what."""

    kind: ChangeKind
    path: str
    message: str


@dataclass(frozen=True, kw_only=True)
class ContractDiff:
    old_version: str
    new_version: str
    changes: tuple[Change, ...] = ()

    @property
    def breaking(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.kind is ChangeKind.BREAKING)

    @property
    def major_bumped(self) -> bool:
        old, new = _major(self.old_version), _major(self.new_version)
        return old is not None and new is not None and new > old

    @property
    def exit_code(self) -> int:
        """1 when a breaking change exists without a major version bump, else 0."""
        return 1 if self.breaking and not self.major_bumped else 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form, for ``airflow dataops contract diff --output json``."""
        return {
            "old_version": self.old_version,
            "new_version": self.new_version,
            "major_bumped": self.major_bumped,
            "exit_code": self.exit_code,
            "changes": [{"kind": c.kind.value, "path": c.path, "message": c.message} for c in self.changes],
        }


# Logical types ordered from narrow to wide: a consumer of the wide type accepts the narrow one.
_WIDER: dict[str, set[str]] = {
    "integer": {"number", "string"},
    "number": {"string"},
    "boolean": {"string"},
    "date": {"timestamp", "string"},
    "timestamp": {"string"},
    "time": {"string"},
}
_UPPER = {"mustBeLessThan", "mustBeLessOrEqualTo"}
_LOWER = {"mustBeGreaterThan", "mustBeGreaterOrEqualTo"}

B, C, I = ChangeKind.BREAKING, ChangeKind.COMPATIBLE, ChangeKind.INFORMATIONAL  # noqa: E741


def diff_contracts(old: Contract, new: Contract) -> ContractDiff:
    """Every change from ``old`` to ``new``, each classified; see the module docstring for the rules."""
    out: list[Change] = []
    if old.version != new.version:
        out.append(Change(kind=I, path="version", message=f"version {old.version} -> {new.version}"))
    if old.status != new.status:
        out.append(Change(kind=I, path="status", message=f"status {old.status} -> {new.status}"))
    if old.api_version != new.api_version:  # v3.0 forms load as their v3.1 twins: the rules compare below
        out.append(
            Change(kind=I, path="apiVersion", message=f"apiVersion {old.api_version} -> {new.api_version}")
        )
    old_objs = {o.name: o for o in old.schema}
    new_objs = {o.name: o for o in new.schema}
    for name, o in old_objs.items():
        if name not in new_objs:
            out.append(Change(kind=B, path=f"schema.{name}", message=f"schema object {name!r} was removed"))
        else:
            out.extend(_diff_object(o, new_objs[name]))
    for name in new_objs.keys() - old_objs.keys():
        out.append(Change(kind=C, path=f"schema.{name}", message=f"schema object {name!r} was added"))
    out.extend(_diff_sla(old.sla_properties, new.sla_properties))
    from airflow_dataops.slo.diff import diff_slos  # the dataops.slo block, classified the same way

    out.extend(Change(kind=ChangeKind(k), path=p, message=m) for k, p, m in diff_slos(old, new))
    return ContractDiff(old_version=old.version, new_version=new.version, changes=tuple(out))


def _diff_object(old: SchemaObject, new: SchemaObject) -> list[Change]:
    base = f"schema.{old.name}"
    out: list[Change] = []
    if old.table != new.table:
        out.append(
            Change(
                kind=B, path=f"{base}.physicalName", message=f"table renamed {old.table!r} -> {new.table!r}"
            )
        )
    if (old.description or "") != (new.description or ""):
        out.append(Change(kind=I, path=f"{base}.description", message="description changed"))
    old_props = {p.name: p for p in old.properties}
    new_props = {p.name: p for p in new.properties}
    removed = [p for p in old.properties if p.name not in new_props]
    added = [p for p in new.properties if p.name not in old_props]
    for p in removed:
        twin = _rename_of(p, old, new, added)
        if twin is not None:
            added.remove(twin)
            out.append(
                Change(
                    kind=B,
                    path=f"{base}.properties.{p.name}",
                    message=f"field {p.name!r} was renamed to {twin.name!r}",
                )
            )
        else:
            out.append(
                Change(kind=B, path=f"{base}.properties.{p.name}", message=f"field {p.name!r} was removed")
            )
    for p in added:
        out.append(Change(kind=C, path=f"{base}.properties.{p.name}", message=f"field {p.name!r} was added"))
    for name, p in old_props.items():
        if name in new_props:
            out.extend(_diff_property(f"{base}.properties.{name}", p, new_props[name]))
    old_pk = tuple(p.column for p in old.primary_key)
    new_pk = tuple(p.column for p in new.primary_key)
    if old_pk != new_pk:
        kind = C if not old_pk else B
        out.append(
            Change(
                kind=kind, path=f"{base}.primaryKey", message=f"primary key {list(old_pk)} -> {list(new_pk)}"
            )
        )
    out.extend(_diff_rules(f"{base}.quality", old.quality, new.quality))
    return out


def _rename_of(p: Property, old: SchemaObject, new: SchemaObject, added: list[Property]) -> Property | None:
    """An added property at the same position with the same types is taken as a rename of ``p``."""
    idx = old.properties.index(p)
    for q in added:
        if new.properties.index(q) == idx and (q.logical_type, q.physical_type) == (
            p.logical_type,
            p.physical_type,
        ):
            return q
    return None


def _diff_property(path: str, old: Property, new: Property) -> list[Change]:
    out: list[Change] = []
    if old.logical_type != new.logical_type:
        a, b = old.logical_type, new.logical_type
        if a and b and b in _WIDER.get(a, set()):
            out.append(Change(kind=B, path=f"{path}.logicalType", message=f"type widened {a} -> {b}"))
        elif a and b and a in _WIDER.get(b, set()):
            out.append(Change(kind=C, path=f"{path}.logicalType", message=f"type narrowed {a} -> {b}"))
        elif a is None:
            out.append(Change(kind=C, path=f"{path}.logicalType", message=f"type declared: {b}"))
        else:
            out.append(Change(kind=B, path=f"{path}.logicalType", message=f"type changed {a} -> {b}"))
    if (old.physical_type or "").lower() != (new.physical_type or "").lower():
        same = physical_family(old.physical_type) == physical_family(new.physical_type) is not None
        out.append(
            Change(
                kind=C if same else B,
                path=f"{path}.physicalType",
                message=f"physical type {old.physical_type} -> {new.physical_type}",
            )
        )
    if old.physical_name != new.physical_name and old.column != new.column:
        out.append(
            Change(
                kind=B,
                path=f"{path}.physicalName",
                message=f"column renamed {old.column!r} -> {new.column!r}",
            )
        )
    for attr, field in (("required", "required"), ("unique", "unique")):
        a, b = getattr(old, attr), getattr(new, attr)
        if a != b:
            out.append(
                Change(
                    kind=C if b else B,
                    path=f"{path}.{field}",
                    message=f"{field} {'added' if b else 'removed'}",
                )
            )
    if (old.description or "") != (new.description or ""):
        out.append(Change(kind=I, path=f"{path}.description", message="description changed"))
    if (old.classification or "") != (new.classification or ""):
        out.append(
            Change(
                kind=I,
                path=f"{path}.classification",
                message=f"classification {old.classification} -> {new.classification}",
            )
        )
    out.extend(_diff_rules(f"{path}.quality", old.quality, new.quality))
    return out


def _diff_rules(path: str, old: tuple[QualityRule, ...], new: tuple[QualityRule, ...]) -> list[Change]:
    out: list[Change] = []
    olds, news = _by_label(old), _by_label(new)
    for label, r in olds.items():
        p = f"{path}.{label}"
        if label not in news:
            out.append(Change(kind=B, path=p, message=f"quality rule {label!r} was removed"))
            continue
        n = news[label]
        if (r.operator, r.threshold, r.unit) != (n.operator, n.threshold, n.unit):
            verdict = _threshold_change(r, n)
            kind = {"tightened": C, "loosened": B}.get(verdict, B)
            out.append(
                Change(
                    kind=kind,
                    path=p,
                    message=f"quality rule {label!r} {verdict}: {r.expected} -> {n.expected}",
                )
            )
        out.extend(_diff_arguments(p, label, r.arguments, n.arguments))
        if r.severity != n.severity:
            kind = C if n.severity == "error" else B
            out.append(
                Change(kind=kind, path=f"{p}.severity", message=f"severity {r.severity} -> {n.severity}")
            )
        if (r.query or "") != (n.query or ""):
            out.append(Change(kind=B, path=f"{p}.query", message=f"query of rule {label!r} changed"))
        if (r.description or "") != (n.description or ""):
            out.append(Change(kind=I, path=f"{p}.description", message="description changed"))
    for label in news.keys() - olds.keys():
        out.append(Change(kind=C, path=f"{path}.{label}", message=f"quality rule {label!r} was added"))
    return out


def _diff_arguments(path: str, label: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    out: list[Change] = []
    a, b = old.get("validValues"), new.get("validValues")
    if a != b:
        sa_, sb = set(map(repr, a or ())), set(map(repr, b or ()))
        if a is None:
            kind, what = C, "added"
        elif b is None:
            kind, what = B, "removed"
        elif sb < sa_:
            kind, what = C, "narrowed"
        elif sb > sa_:
            kind, what = B, "widened"
        else:
            kind, what = B, "changed"
        out.append(
            Change(
                kind=kind,
                path=f"{path}.arguments.validValues",
                message=f"allowed values of {label!r} {what}: {a} -> {b}",
            )
        )
    for key in ("pattern", "missingValues", "properties"):
        if old.get(key) != new.get(key):
            out.append(
                Change(
                    kind=B,
                    path=f"{path}.arguments.{key}",
                    message=f"{key} of {label!r} changed: {old.get(key)!r} -> {new.get(key)!r}",
                )
            )
    return out


def _threshold_change(old: QualityRule, new: QualityRule) -> str:
    if old.operator != new.operator or old.unit != new.unit or old.threshold is None or new.threshold is None:
        return "changed"
    a: Any = old.threshold
    b: Any = new.threshold
    op = old.operator
    if op in _UPPER:
        return "tightened" if b < a else "loosened"
    if op in _LOWER:
        return "tightened" if b > a else "loosened"
    if op in ("mustBeBetween", "mustNotBeBetween"):
        inside = a[0] <= b[0] and b[1] <= a[1]
        outside = b[0] <= a[0] and a[1] <= b[1]
        if op == "mustNotBeBetween":
            inside, outside = outside, inside
        return "tightened" if inside else "loosened" if outside else "changed"
    return "changed"


def _diff_sla(old: tuple[SlaProperty, ...], new: tuple[SlaProperty, ...]) -> list[Change]:
    out: list[Change] = []
    key = lambda s: f"{s.property}" + (f".{s.element}" if s.element else "")  # noqa: E731
    olds, news = {key(s): s for s in old}, {key(s): s for s in new}
    for k, s in olds.items():
        p = f"slaProperties.{k}"
        if k not in news:
            out.append(Change(kind=B, path=p, message=f"SLA {s.property!r} was removed"))
            continue
        n = news[k]
        if (s.value, s.unit) == (n.value, n.unit):
            continue
        a, b = _seconds(s), _seconds(n)
        if a is not None and b is not None:
            # latency, freshness, frequency: smaller is stricter; retention: longer is stricter.
            stricter = b > a if s.property == "retention" else b < a
            verdict = "tightened" if stricter else "loosened"
            kind = C if stricter else B
        else:
            verdict, kind = "changed", B
        out.append(
            Change(
                kind=kind,
                path=p,
                message=f"SLA {s.property!r} {verdict}: {s.value} {s.unit or ''} -> {n.value} {n.unit or ''}".rstrip(),
            )
        )
    for k in news.keys() - olds.keys():
        out.append(Change(kind=C, path=f"slaProperties.{k}", message=f"SLA {news[k].property!r} was added"))
    return out


def _seconds(s: SlaProperty) -> float | None:
    try:
        return duration_seconds(s.value, s.unit)
    except (TypeError, ValueError):
        if (
            s.unit
            and s.unit.lower() in ("y", "yr", "yrs", "year", "years")
            and isinstance(s.value, (int, float))
        ):
            return float(s.value) * 365 * 86400
        return None


def _by_label(rules: tuple[QualityRule, ...]) -> dict[str, QualityRule]:
    out: dict[str, QualityRule] = {}
    for r in rules:
        label, n = r.label, 2
        while label in out:
            label, n = f"{r.label}#{n}", n + 1
        out[label] = r
    return out


def _major(version: str) -> int | None:
    m = re.match(r"v?(\d+)", version.strip())
    return int(m.group(1)) if m else None
