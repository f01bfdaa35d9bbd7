"""SLO declarations for a dataset: ``SLOSpec`` and how to read them from a data contract.

Declaration only; the outcome lives in ``budget`` (``BudgetReport``) and
``burn_rate`` (``AlertDecision``, ``SLOEvaluation``).

Where the values come from (``slo_specs_from_contract``)::

    slaProperties:                     # ODCS: the thresholds
      - {property: latency, value: 6, unit: h, element: flights}     # freshness threshold
      - {property: frequency, value: 1, unit: d}                      # cadence
    customProperties:                  # ODCS: a list of {property, value}
      - property: dataops
        value:
          slo:                         # the objective, window and SLIs
            objective: 0.99            # strictly between 0 and 1
            window_days: 30
            budgeting: occurrences     # or timeslices (with slice: 5m)
            cadence: 1d                # expected interval between partitions
            slis:
              freshness: {}                                  # threshold from slaProperties
              completeness: {threshold: 0.99, unit: ratio}
              correctness: {threshold: 95, unit: percent, objective: 0.95}

The same ``slo:`` block may live in a sidecar file ``<contract>.slo.yaml`` next
to the contract instead (``flights.odcs.yaml`` → ``flights.odcs.slo.yaml``); a
contract that has both is refused rather than silently preferring one.

Every error is an ``SLODefinitionError`` (a ``ConfigError``: a retry cannot fix
it) whose message names the dataset, the field, the value and what is allowed.

Why one module of ~590 lines: ``SLOSpec`` and the reader of the contract's block validate
with the same field parsers (``_number``, ``_objective``, ``_enum``, ``parse_duration`` …)
so that a field gets one message wherever it is written; a fifth of it is docstrings.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow_dataops.exceptions import ConfigError
from airflow_dataops.slo.sli import LOWER_IS_BETTER, SLIKind, judge

__all__ = [
    "MAX_WINDOW_DAYS",
    "BudgetingMethod",
    "MissingDataPolicy",
    "SLODefinitionError",
    "SLOSpec",
    "contract_mapping",
    "load_slo_sidecar",
    "parse_duration",
    "parse_unit",
    "sidecar_path",
    "slo_specs_from_contract",
]


#: The longest SLO window accepted: longer ones overflow date arithmetic and mean nothing to on-call.
MAX_WINDOW_DAYS = 3660


class SLODefinitionError(ConfigError):
    """An SLO definition (spec, contract ``slo`` block or sidecar file) is malformed."""


class BudgetingMethod(str, enum.Enum):
    """How the error budget counts events.

    ``OCCURRENCES``: each partition (or run) is one good or bad event.
    ``TIMESLICES``: time is cut into slices of ``slice_length``; a slice is good
    when the SLI's latest observation before the slice ends met the threshold.
    """

    OCCURRENCES = "occurrences"
    TIMESLICES = "timeslices"


class MissingDataPolicy(str, enum.Enum):
    """What an expected but missing (or unknown) SLI counts as."""

    BAD = "bad"  # a missing partition burns budget (default for freshness and completeness)
    GOOD = "good"  # missing data is given the benefit of the doubt
    IGNORE = "ignore"  # missing data is neither good nor bad: it leaves the event count


# unit name -> (canonical unit, factor to canonical).  Durations are canonical in seconds,
# shares in ratio (percent / 100).
_DURATION_UNITS: dict[str, float] = {
    "s": 1.0,
    "sec": 1.0,
    "secs": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "m": 60.0,
    "min": 60.0,
    "mins": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "hrs": 3600.0,
    "hour": 3600.0,
    "hours": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
    "days": 86400.0,
}
_SHARE_UNITS: dict[str, float] = {"ratio": 1.0, "percent": 0.01, "%": 0.01, "pct": 0.01}
_COUNT_UNITS: dict[str, float] = {"rows": 1.0, "row": 1.0}
_UNITS: dict[str, tuple[str, float]] = {
    **{u: ("s", f) for u, f in _DURATION_UNITS.items()},
    **{u: ("ratio", f) for u, f in _SHARE_UNITS.items()},
    **{u: ("rows", f) for u, f in _COUNT_UNITS.items()},
}
_UNITS_BY_KIND: dict[SLIKind, frozenset[str]] = {
    SLIKind.FRESHNESS: frozenset({"s"}),
    SLIKind.COMPLETENESS: frozenset({"ratio", "rows"}),
    SLIKind.CORRECTNESS: frozenset({"ratio"}),
    SLIKind.CONSISTENCY: frozenset({"ratio"}),
    SLIKind.COST: frozenset({"s", "rows"}),
}
_UNIT_HELP = "s, m, h, d (or seconds, minutes, hours, days), percent, ratio, rows"
_DEFAULT_MISSING_BAD = frozenset({SLIKind.FRESHNESS, SLIKind.COMPLETENESS})


def _fail(dataset: str, field: str, message: str) -> SLODefinitionError:
    return SLODefinitionError(f"dataset {dataset!r}: {field} {message}")


def _convert(value: float, factor: float) -> float:
    # Divide for percent: 95 / 100 == 0.95 exactly, 95 * 0.01 is not.
    return value * factor if factor >= 1.0 else value / (1.0 / factor)


def parse_unit(unit: Any, *, dataset: str, field: str) -> tuple[str, float]:
    """Return ``(canonical unit, factor)`` for a unit name: ``"h"`` → ``("s", 3600.0)``.

    Canonical units are ``s``, ``ratio`` and ``rows``.

    :raises SLODefinitionError: ``unit`` is not a known unit.
    """
    key = unit.strip().lower() if isinstance(unit, str) else None
    if key not in _UNITS:
        raise _fail(dataset, field, f"has unknown unit {unit!r}; expected one of {_UNIT_HELP}")
    return _UNITS[key]


_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$")


def parse_duration(value: Any, *, dataset: str, field: str) -> timedelta:
    """Parse ``"1d"``, ``"5m"``, ``"90 minutes"``, ``{value: 1, unit: h}`` or a ``timedelta``.

    A bare number is refused: it has no unit.

    :raises SLODefinitionError: not a positive duration with a duration unit.
    """
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    else:
        if isinstance(value, Mapping) and set(value) >= {"value"}:
            number, unit = value.get("value"), value.get("unit")
        elif isinstance(value, str) and (match := _DURATION_RE.match(value)):
            number, unit = float(match.group(1)), match.group(2)
        else:
            raise _fail(dataset, field, f"must be a duration such as '1d', '1h' or '5m', got {value!r}")
        if unit is None:
            raise _fail(dataset, field, f"has no unit (value {number!r}); add one of s, m, h, d")
        canonical, factor = parse_unit(unit, dataset=dataset, field=field)
        if canonical != "s":
            raise _fail(dataset, field, f"must be a duration, got unit {unit!r}; use one of s, m, h, d")
        seconds = _convert(_number(number, dataset=dataset, field=field), factor)
    if not seconds > 0:
        raise _fail(dataset, field, f"must be a positive duration, got {value!r}")
    if seconds > MAX_WINDOW_DAYS * 86400.0:
        raise _fail(dataset, field, f"must be at most {MAX_WINDOW_DAYS} days, got {value!r}")
    return timedelta(seconds=seconds)


def _number(value: Any, *, dataset: str, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _fail(dataset, field, f"must be a finite number, got {value!r}")
    return float(value)


def _objective(value: Any, *, dataset: str, field: str) -> float:
    number = _number(value, dataset=dataset, field=field)
    if not 0.0 < number < 1.0:
        raise _fail(dataset, field, f"must be strictly between 0 and 1, got {value!r}")
    return number


def _positive(value: Any, *, dataset: str, field: str) -> float:
    number = _number(value, dataset=dataset, field=field)
    if number <= 0:
        raise _fail(dataset, field, f"must be greater than 0, got {value!r}")
    return number


def _enum(cls: type[enum.Enum], value: Any, *, dataset: str, field: str) -> Any:
    if isinstance(value, cls):
        return value
    try:
        return cls(str(value).strip().lower())
    except ValueError:
        choices = ", ".join(m.value for m in cls)
        raise _fail(dataset, field, f"must be one of {choices}, got {value!r}") from None


@dataclass(frozen=True, kw_only=True)
class SLOSpec:
    """One service level objective of one dataset.

    :param dataset: the dataset, e.g. ``flights``.
    :param kind: the SLI the objective is about.
    :param objective: the share of good events to reach, strictly between 0 and 1 (``0.99``).
    :param window_days: the rolling SLO window in days, > 0 (``30``).
    :param threshold: the value an SLI observation must meet to be good, in ``unit``
        (``<=`` for freshness and cost, ``>=`` for the others).
    :param unit: the unit of ``threshold``: ``s``/``m``/``h``/``d`` (and long forms)
        for freshness and cost, ``ratio``/``percent``/``rows`` for completeness,
        ``ratio``/``percent`` for correctness and consistency.
    :param budgeting: ``occurrences`` (default) or ``timeslices``.
    :param slice_length: the length of a time slice under ``timeslices`` (default 5 minutes).
    :param missing_data: what an expected but missing (or unknown) observation counts as;
        defaults to ``bad`` for freshness and completeness, ``ignore`` for the others.
    :param cadence: the expected interval between partitions (``1 day``, ``1 hour``);
        it tells how many events a window should hold and scales the alert windows.
    :param at_risk_below: the status is ``at_risk`` when less than this share of the
        budget remains (default 0.25).

    Example::

        SLOSpec(dataset="flights", kind=SLIKind.FRESHNESS, objective=0.99, window_days=30,
                threshold=6, unit="h", cadence=timedelta(hours=1))

    :raises SLODefinitionError: a field is out of range; the message names the
        dataset, the field and the value.
    """

    dataset: str
    kind: SLIKind
    objective: float
    window_days: float
    threshold: float
    unit: str
    budgeting: BudgetingMethod = BudgetingMethod.OCCURRENCES
    slice_length: timedelta | None = None
    missing_data: MissingDataPolicy | None = None
    cadence: timedelta = timedelta(days=1)
    at_risk_below: float = 0.25

    def __post_init__(self) -> None:
        ds = self.dataset
        if not isinstance(ds, str) or not ds:
            raise SLODefinitionError(f"SLOSpec.dataset must be a non-empty string, got {ds!r}")
        try:
            kind = SLIKind.parse(self.kind, where=f"dataset {ds!r}: slo.slis")
        except ValueError as e:
            raise SLODefinitionError(str(e)) from None
        field = f"slo.slis.{kind.value}"
        put = object.__setattr__
        put(self, "kind", kind)
        put(self, "objective", _objective(self.objective, dataset=ds, field="slo.objective"))
        window = _positive(self.window_days, dataset=ds, field="slo.window_days")
        if window > MAX_WINDOW_DAYS:
            raise _fail(
                ds,
                "slo.window_days",
                f"must be at most {MAX_WINDOW_DAYS} (10 years), got {self.window_days!r}",
            )
        put(self, "window_days", window)
        put(self, "threshold", _number(self.threshold, dataset=ds, field=f"{field}.threshold"))
        if self.unit is None or self.unit == "":
            raise _fail(
                ds, f"{field}.unit", f"is required for threshold {self.threshold!r}; use one of {_UNIT_HELP}"
            )
        canonical, _ = parse_unit(self.unit, dataset=ds, field=f"{field}.unit")
        if canonical not in _UNITS_BY_KIND[kind]:
            allowed = ", ".join(sorted(_UNITS_BY_KIND[kind]))
            raise _fail(
                ds,
                f"{field}.unit",
                f"{self.unit!r} does not fit a {kind.value} SLI; use a unit in: {allowed}",
            )
        put(self, "unit", self.unit.strip().lower())
        budgeting = _enum(BudgetingMethod, self.budgeting, dataset=ds, field="slo.budgeting")
        put(self, "budgeting", budgeting)
        if budgeting is BudgetingMethod.TIMESLICES:
            length = timedelta(minutes=5) if self.slice_length is None else self.slice_length
            put(self, "slice_length", parse_duration(length, dataset=ds, field="slo.slice"))
        elif self.slice_length is not None:
            raise _fail(
                ds, "slo.slice", f"is only meaningful with budgeting timeslices, got {self.slice_length!r}"
            )
        if self.missing_data is None:
            default = MissingDataPolicy.BAD if kind in _DEFAULT_MISSING_BAD else MissingDataPolicy.IGNORE
            put(self, "missing_data", default)
        else:
            put(
                self,
                "missing_data",
                _enum(MissingDataPolicy, self.missing_data, dataset=ds, field="slo.missing_data"),
            )
        cadence = parse_duration(self.cadence, dataset=ds, field="slo.cadence")
        if cadence > timedelta(days=window):
            raise _fail(
                ds, "slo.cadence", f"must not be longer than the window ({window:g} d), got {self.cadence!r}"
            )
        put(self, "cadence", cadence)
        if self.slice_length is not None and self.slice_length > timedelta(days=window):
            raise _fail(
                ds,
                "slo.slice",
                f"must not be longer than the window ({window:g} d), got {self.slice_length!r}",
            )
        at_risk = _number(self.at_risk_below, dataset=ds, field="slo.at_risk_below")
        if not 0.0 <= at_risk <= 1.0:
            raise _fail(ds, "slo.at_risk_below", f"must be between 0 and 1, got {self.at_risk_below!r}")

    @property
    def error_budget(self) -> float:
        """The share of events allowed to be bad: ``1 - objective``."""
        return 1.0 - self.objective

    @property
    def window(self) -> timedelta:
        """The SLO window as a ``timedelta``."""
        return timedelta(days=self.window_days)

    @property
    def canonical_threshold(self) -> tuple[float, str]:
        """The threshold in its canonical unit: ``(21600.0, "s")`` for ``6 h``, ``(0.95, "ratio")`` for 95 percent."""
        canonical, factor = _UNITS[self.unit]
        return _convert(self.threshold, factor), canonical

    @property
    def lower_is_better(self) -> bool:
        """True for freshness and cost (good when ``value <= threshold``)."""
        return self.kind in LOWER_IS_BETTER

    def is_good(self, value: float, unit: str) -> bool | None:
        """Judge an SLI ``value`` given in ``unit`` against this threshold (``None`` for ``nan``).

        :raises SLODefinitionError: ``unit`` is unknown or of another dimension than the threshold.
        """
        canonical, factor = parse_unit(unit, dataset=self.dataset, field="observation.unit")
        threshold, spec_canonical = self.canonical_threshold
        if canonical != spec_canonical:
            raise _fail(
                self.dataset,
                "observation.unit",
                f"{unit!r} cannot be compared with threshold unit {self.unit!r}",
            )
        return judge(self.kind, _convert(value, factor), threshold)


# ---------------------------------------------------------------- reading a contract

_SLO_KEYS = frozenset(
    {"objective", "window_days", "budgeting", "slice", "cadence", "missing_data", "at_risk_below", "slis"}
)
_SLI_KEYS = frozenset(
    {"objective", "window_days", "budgeting", "slice", "missing_data", "threshold", "unit", "at_risk_below"}
)
_FRESHNESS_SLA = ("latency", "freshness")  # ODCS prefers latency; freshness is the older name


def sidecar_path(contract_path: str | Path) -> Path:
    """The sidecar of a contract file: ``flights.odcs.yaml`` → ``flights.odcs.slo.yaml``."""
    path = Path(contract_path)
    stem = path.name[: -len(path.suffix)] if path.suffix in (".yaml", ".yml") else path.name
    return path.with_name(f"{stem}.slo.yaml")


def load_slo_sidecar(path: str | Path, *, dataset: str) -> Mapping[str, Any]:
    """Read a sidecar YAML file and return its ``slo:`` block.

    :raises SLODefinitionError: the file cannot be read or parsed, or has no ``slo`` mapping.
    """
    import yaml  # only needed when a sidecar is used

    from airflow_dataops.contracts.safe_yaml import YamlRefused, decode, load_yaml

    try:  # the contracts' bounded YAML loader: a sidecar is as untrusted as a contract
        data = load_yaml(decode(Path(path).read_bytes()))
    except (OSError, yaml.YAMLError, YamlRefused) as e:
        where = f" (line {e.line})" if isinstance(e, YamlRefused) and e.line else ""
        raise SLODefinitionError(
            f"dataset {dataset!r}: cannot read SLO sidecar {str(path)!r}{where}: {' '.join(str(e).split())}"
        ) from e
    if not isinstance(data, Mapping) or not isinstance(data.get("slo"), Mapping):
        raise SLODefinitionError(
            f"dataset {dataset!r}: SLO sidecar {str(path)!r} must hold a mapping with an 'slo' key"
        )
    return data["slo"]


def _contract_dict(contract: Any, dataset: str) -> Mapping[str, Any]:
    if isinstance(contract, Mapping):
        return contract
    if hasattr(contract, "model_dump"):  # the ODCS pydantic model, or ours
        return contract.model_dump(by_alias=True, exclude_none=True)
    raise SLODefinitionError(
        f"dataset {dataset!r}: a contract must be a mapping (parsed YAML) or a model with model_dump(), "
        f"got {type(contract).__name__}"
    )


def _slo_block_from_custom_properties(contract: Mapping[str, Any], dataset: str) -> Mapping[str, Any] | None:
    props = contract.get("customProperties") or []
    if not isinstance(props, list):
        raise _fail(
            dataset, "customProperties", f"must be a list of {{property, value}}, got {type(props).__name__}"
        )
    for i, prop in enumerate(props):
        if not isinstance(prop, Mapping) or prop.get("property") != "dataops":
            continue
        value = prop.get("value")
        if isinstance(value, str):  # some tools store custom property values as YAML text
            import yaml

            from airflow_dataops.contracts.safe_yaml import YamlRefused, load_yaml

            try:
                value = load_yaml(value)
            except (yaml.YAMLError, YamlRefused) as e:
                raise _fail(
                    dataset, f"customProperties[{i}].value", f"is not valid YAML: {' '.join(str(e).split())}"
                ) from e
        if not isinstance(value, Mapping) or not isinstance(value.get("slo"), Mapping):
            raise _fail(
                dataset, f"customProperties[{i}].value", "(dataops) must be a mapping with an 'slo' mapping"
            )
        return value["slo"]
    return None


def _sla_for(
    contract: Mapping[str, Any], dataset: str, names: tuple[str, ...]
) -> tuple[str, Mapping[str, Any]] | None:
    """The first ``slaProperties`` entry named in ``names`` that applies to ``dataset``, with its path."""
    sla = contract.get("slaProperties") or []
    short = dataset.rsplit(".", 1)[-1]
    for name in names:
        for i, entry in enumerate(sla):
            if not isinstance(entry, Mapping) or str(entry.get("property", "")).lower() != name:
                continue
            element = entry.get("element")
            if element and str(element).split(".")[0] not in (dataset, short):
                continue  # scoped to another object of the contract
            return f"slaProperties[{i}]", entry
    return None


def _check_keys(block: Mapping[str, Any], allowed: frozenset[str], *, dataset: str, field: str) -> None:
    unknown = sorted(set(block) - allowed)
    if unknown:
        raise _fail(
            dataset, field, f"has unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )


def contract_mapping(contract: Any) -> dict[str, Any]:
    """Our loaded ``Contract`` as the ODCS-shaped mapping ``slo_specs_from_contract`` reads."""
    return {
        "slaProperties": [
            {"property": s.property, "value": s.value, "unit": s.unit, "element": s.element}
            for s in contract.sla_properties
        ],
        "customProperties": [{"property": k, "value": v} for k, v in contract.custom_properties.items()],
    }


def slo_specs_from_contract(
    contract: Mapping[str, Any] | Any,
    dataset: str,
    *,
    contract_path: str | Path | None = None,
    sidecar: Mapping[str, Any] | str | Path | None = None,
) -> list[SLOSpec]:
    """Build the ``SLOSpec`` of each SLI the contract declares for ``dataset``.

    :param contract: the contract as parsed YAML (a mapping) or a model with ``model_dump()``.
    :param dataset: the dataset name the specs are for; ``slaProperties`` entries whose
        ``element`` names another object are skipped.
    :param contract_path: where the contract was read from; its sidecar
        (``sidecar_path(contract_path)``) is read when it exists.
    :param sidecar: an ``slo:`` block (mapping) or a sidecar file path, instead of discovery.
    :returns: one spec per SLI in ``slo.slis`` (or a freshness spec alone when ``slis``
        is absent and ``slaProperties`` has a ``latency``/``freshness``), in
        ``SLIKind`` order; ``[]`` when the contract declares no ``slo`` block.
    :raises SLODefinitionError: a malformed or contradictory definition.
    """
    data = _contract_dict(contract, dataset)
    block = _slo_block_from_custom_properties(data, dataset)
    if sidecar is None and contract_path is not None and sidecar_path(contract_path).is_file():
        sidecar = sidecar_path(contract_path)
    if sidecar is not None:
        side = sidecar if isinstance(sidecar, Mapping) else load_slo_sidecar(sidecar, dataset=dataset)
        if block is not None:
            raise SLODefinitionError(
                f"dataset {dataset!r}: slo is defined both in customProperties (dataops) and in a sidecar; keep one"
            )
        block = side
    if block is None:
        return []
    _check_keys(block, _SLO_KEYS, dataset=dataset, field="slo")
    slis = block.get("slis")
    if slis is None:
        slis = {"freshness": {}} if _sla_for(data, dataset, _FRESHNESS_SLA) else {}
    if not isinstance(slis, Mapping):
        raise _fail(dataset, "slo.slis", f"must be a mapping of SLI kind to settings, got {slis!r}")
    if not slis:
        raise _fail(
            dataset, "slo.slis", "is empty and slaProperties has no latency or freshness for this dataset"
        )
    cadence: Any = block.get("cadence")
    if cadence is None and (found := _sla_for(data, dataset, ("frequency",))):
        path, entry = found
        cadence = parse_duration(
            {"value": entry.get("value"), "unit": entry.get("unit")}, dataset=dataset, field=path
        )
    specs = [_one_spec(data, dataset, name, sli, block, cadence) for name, sli in slis.items()]
    order = list(SLIKind)
    return sorted(specs, key=lambda s: order.index(s.kind))


def _one_spec(
    data: Mapping[str, Any], dataset: str, name: Any, sli: Any, block: Mapping[str, Any], cadence: Any
) -> SLOSpec:
    try:
        kind = SLIKind.parse(name, where=f"dataset {dataset!r}: slo.slis")
    except ValueError as e:
        raise SLODefinitionError(str(e)) from None
    field = f"slo.slis.{kind.value}"
    sli = {} if sli is None else sli
    if not isinstance(sli, Mapping):
        raise _fail(dataset, field, f"must be a mapping of settings, got {sli!r}")
    _check_keys(sli, _SLI_KEYS, dataset=dataset, field=field)

    def pick(key: str, default: Any = None) -> tuple[Any, str]:
        if key in sli:
            return sli[key], f"{field}.{key}"
        return block.get(key, default), f"slo.{key}"

    threshold, unit = sli.get("threshold"), sli.get("unit")
    threshold_field = f"{field}.threshold"
    unit_field = f"{field}.unit"
    if threshold is None and kind is SLIKind.FRESHNESS and (found := _sla_for(data, dataset, _FRESHNESS_SLA)):
        path, entry = found
        threshold, unit = entry.get("value"), entry.get("unit")
        threshold_field, unit_field = f"{path}.value", f"{path}.unit"
    if threshold is None:
        raise _fail(dataset, threshold_field, "is required (or, for freshness, a latency in slaProperties)")
    threshold = _number(threshold, dataset=dataset, field=threshold_field)
    if unit is None or unit == "":
        raise _fail(dataset, unit_field, f"is required for threshold {threshold!r}; use one of {_UNIT_HELP}")
    parse_unit(unit, dataset=dataset, field=unit_field)

    objective, objective_field = pick("objective")
    if objective is None:
        raise _fail(dataset, "slo.objective", "is required, e.g. 0.99")
    window, window_field = pick("window_days", 30)
    budgeting, budgeting_field = pick("budgeting", BudgetingMethod.OCCURRENCES.value)
    slice_length, slice_field = pick("slice")
    missing, missing_field = pick("missing_data")
    at_risk, at_risk_field = pick("at_risk_below", 0.25)
    # Validate with the exact YAML path first, so the message points at the key the user wrote.
    window_days = _positive(window, dataset=dataset, field=window_field)
    if window_days > MAX_WINDOW_DAYS:
        raise _fail(dataset, window_field, f"must be at most {MAX_WINDOW_DAYS} (10 years), got {window!r}")
    values = {
        "objective": _objective(objective, dataset=dataset, field=objective_field),
        "window_days": window_days,
        "budgeting": _enum(BudgetingMethod, budgeting, dataset=dataset, field=budgeting_field),
        "at_risk_below": _number(at_risk, dataset=dataset, field=at_risk_field),
        "cadence": parse_duration(
            cadence if cadence is not None else "1d", dataset=dataset, field="slo.cadence"
        ),
    }
    if slice_length is not None:
        values["slice_length"] = parse_duration(slice_length, dataset=dataset, field=slice_field)
    if missing is not None:
        values["missing_data"] = _enum(MissingDataPolicy, missing, dataset=dataset, field=missing_field)
    return SLOSpec(dataset=dataset, kind=kind, threshold=threshold, unit=unit, **values)
