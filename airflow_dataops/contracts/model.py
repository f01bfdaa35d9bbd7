"""Our typed, frozen view of an ODCS v3.1 data contract (a v3.0.x contract is loaded into its v3.1 form).

Only what the engines and the diff need is modelled; everything else in the YAML is
kept by the loader as a warning when it asks for behaviour we do not evaluate.
Build these with :func:`airflow_dataops.contracts.loader.load_contract`, not by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: ODCS comparison operators, in the order the spec lists them.
OPERATORS: tuple[str, ...] = (
    "mustBe",
    "mustNotBe",
    "mustBeGreaterThan",
    "mustBeGreaterOrEqualTo",
    "mustBeLessThan",
    "mustBeLessOrEqualTo",
    "mustBeBetween",
    "mustNotBeBetween",
)
RANGE_OPERATORS = frozenset({"mustBeBetween", "mustNotBeBetween"})

#: ODCS v3.1 library metrics we evaluate.
METRICS: tuple[str, ...] = ("nullValues", "missingValues", "invalidValues", "duplicateValues", "rowCount")
UNITS: tuple[str, ...] = ("rows", "percent")
QUALITY_TYPES: tuple[str, ...] = ("library", "sql", "custom", "text")
#: ODCS ``severity`` values we accept (case-insensitive): these block (or quarantine) ...
BLOCKING_SEVERITIES: tuple[str, ...] = ("error", "critical", "fatal")
#: ... and these are recorded and let the data pass.  Anything else is refused at load.
NON_BLOCKING_SEVERITIES: tuple[str, ...] = ("warning", "info")

SENSITIVE_CLASSIFICATIONS = frozenset({"restricted", "confidential", "secret", "pii", "sensitive"})

#: Default dimension per metric when the contract names none.
DEFAULT_DIMENSION: dict[str, str] = {
    "nullValues": "completeness",
    "missingValues": "completeness",
    "invalidValues": "conformity",
    "duplicateValues": "uniqueness",
    "rowCount": "completeness",
    "sql": "accuracy",
}

Threshold = float | tuple[float, float]


def _refuse(self: Any, *args: Any, **kwargs: Any) -> Any:
    raise TypeError(
        f"a loaded contract is immutable (it is shared between callers by the load cache); "
        f"copy it first, e.g. {'dict' if isinstance(self, dict) else 'list'}(value)"
    )


class FrozenDict(dict[str, Any]):
    """A ``dict`` that refuses changes: still a ``dict`` for ``isinstance``, ``json`` and ``Mapping``."""

    __slots__ = ()
    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _refuse

    def __reduce__(self) -> Any:  # pickle and copy rebuild it through the constructor
        return (type(self), (dict(self),))


class FrozenList(list[Any]):
    """A ``list`` that refuses changes: still a ``list`` for ``isinstance`` and ``json``."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse

    def __reduce__(self) -> Any:
        return (type(self), (list(self),))


def freeze(value: Any) -> Any:
    """``value`` with every ``dict`` and ``list`` inside made a :class:`FrozenDict` / :class:`FrozenList`,
    so a cached :class:`Contract` cannot be changed by one caller under another."""
    if isinstance(value, dict):
        return value if type(value) is FrozenDict else FrozenDict({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return value if type(value) is FrozenList else FrozenList(freeze(v) for v in value)
    if isinstance(value, tuple):
        return tuple(freeze(v) for v in value)
    return value


@dataclass(frozen=True, kw_only=True)
class QualityRule:
    """One ODCS ``quality`` entry, on a schema object or on a property.

    :param type: ``library``, ``sql``, ``custom`` or ``text``.
    :param metric: the library metric (``nullValues`` ...); ``None`` for other types.
    :param operator: one of :data:`OPERATORS`; ``None`` for ``custom`` and ``text``.
    :param threshold: a number, or ``(low, high)`` for the two range operators.
    :param unit: ``rows`` (default) or ``percent``.
    :param arguments: the metric's ``arguments`` (``validValues``, ``pattern``, ``missingValues``,
        ``properties``), kept as given.
    :param path: YAML path of the rule (``schema[0].properties[2].quality[0]``), for messages.
    """

    type: str = "library"
    metric: str | None = None
    name: str | None = None
    operator: str | None = None
    threshold: Threshold | None = None
    unit: str = "rows"
    arguments: dict[str, Any] = field(default_factory=dict)
    query: str | None = None
    engine: str | None = None
    implementation: Any = None
    severity: str = "error"
    dimension: str | None = None
    description: str | None = None
    path: str = ""

    @property
    def label(self) -> str:
        """The rule's short name, used in ``RuleResult.name``: its ``name``, metric or type."""
        return self.name or self.metric or self.type

    @property
    def expected(self) -> str:
        """Human-readable condition, e.g. ``mustBeLessOrEqualTo 5 percent``."""
        if self.operator is None:
            return self.type
        if isinstance(self.threshold, tuple):
            value = f"[{_fmt(self.threshold[0])}, {_fmt(self.threshold[1])}]"
        else:
            value = _fmt(self.threshold)
        return f"{self.operator} {value} {self.unit}"


@dataclass(frozen=True, kw_only=True)
class Relationship:
    """An ODCS ``relationships`` entry (a foreign key): ``columns`` of this object reference
    ``to_columns`` of schema object (or table) ``to_object``.

    :param columns: property names of the object that holds the relationship.
    :param to_object: the referenced schema object's name (or a table name); ``None`` when the
        reference cannot be resolved (``reason`` says why) and the relationship is not evaluated.
    :param to_columns: the referenced columns, as many as ``columns``.
    """

    columns: tuple[str, ...]
    to_object: str | None
    to_columns: tuple[str, ...] = ()
    reason: str | None = None
    path: str = ""


@dataclass(frozen=True, kw_only=True)
class Property:
    """One column (ODCS ``property``) of a schema object."""

    name: str
    physical_name: str | None = None
    logical_type: str | None = None
    physical_type: str | None = None
    required: bool = False
    unique: bool = False
    primary_key: bool = False
    primary_key_position: int = -1
    classification: str | None = None
    partitioned: bool = False
    description: str | None = None
    quality: tuple[QualityRule, ...] = ()
    #: ``logicalTypeOptions`` we evaluate, validated at load: numbers as written, date/time bounds as
    #: normalised ISO text (naive UTC), ``pattern`` as given, ``format`` as a regular expression
    #: (``format_pattern``) or absent when not evaluated.
    options: dict[str, Any] = field(default_factory=dict)
    relationships: tuple[Relationship, ...] = ()
    path: str = ""

    @property
    def column(self) -> str:
        """The column name in the data: ``physicalName`` if given, else ``name``."""
        return self.physical_name or self.name

    @property
    def is_sensitive(self) -> bool:
        """True when ``classification`` is restricted, confidential, secret, pii or sensitive."""
        return (self.classification or "").strip().lower() in SENSITIVE_CLASSIFICATIONS


@dataclass(frozen=True, kw_only=True)
class SchemaObject:
    """One ODCS ``schema`` entry: a table (or view, topic, file)."""

    name: str
    physical_name: str | None = None
    physical_type: str | None = None
    description: str | None = None
    properties: tuple[Property, ...] = ()
    quality: tuple[QualityRule, ...] = ()
    relationships: tuple[Relationship, ...] = ()
    path: str = ""

    @property
    def table(self) -> str:
        return self.physical_name or self.name

    def get_property(self, name: str) -> Property | None:
        """The property called ``name`` (matching ``name`` or ``physicalName``), or ``None``."""
        for prop in self.properties:
            if name in (prop.name, prop.physical_name):
                return prop
        return None

    @property
    def primary_key(self) -> tuple[Property, ...]:
        keys = [p for p in self.properties if p.primary_key]
        return tuple(sorted(keys, key=lambda p: (p.primary_key_position, self.properties.index(p))))


@dataclass(frozen=True, kw_only=True)
class SlaProperty:
    """One ODCS ``slaProperties`` entry (``latency``, ``freshness``, ``retention`` ...)."""

    property: str
    value: Any
    unit: str | None = None
    element: str | None = None
    value_ext: Any = None
    driver: str | None = None
    description: str | None = None
    path: str = ""


@dataclass(frozen=True, kw_only=True)
class Contract:
    """A loaded ODCS v3.1 data contract."""

    id: str
    version: str
    status: str
    api_version: str
    name: str | None = None
    source: str | None = None
    schema: tuple[SchemaObject, ...] = ()
    sla_properties: tuple[SlaProperty, ...] = ()
    custom_properties: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def schema_object(self, name: str | None = None) -> SchemaObject:
        """The schema object called ``name`` (name or physicalName); the only one when ``name`` is None.

        :raises ContractError: when there is no such object, or ``name`` is None and there are several.
        """
        from airflow_dataops.exceptions import ContractError

        if name is None:
            if len(self.schema) == 1:
                return self.schema[0]
            names = ", ".join(o.name for o in self.schema) or "none"
            raise ContractError(
                f"the contract has {len(self.schema)} schema objects ({names}); pass schema_object= to pick one",
                file=self.source,
                path="schema",
            )
        for obj in self.schema:
            if name in (obj.name, obj.physical_name):
                return obj
        names = ", ".join(o.name for o in self.schema) or "none"
        raise ContractError(
            f"no schema object named {name!r}; the contract declares: {names}",
            file=self.source,
            path="schema",
        )

    @property
    def dataops(self) -> dict[str, Any]:
        """The ``dataops`` block of ``customProperties`` (SLO, partition column), or ``{}``."""
        block = self.custom_properties.get("dataops")
        return block if isinstance(block, dict) else {}


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
