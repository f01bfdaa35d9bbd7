"""SLO declarations for a dataset: ``SLOSpec``, its policies, and the parsers of its fields.

Declaration only; the outcome lives in ``budget`` (``BudgetReport``) and
``burn_rate`` (``AlertDecision``, ``SLOEvaluation``); the contract's YAML a spec is read
from is ``slo.from_contract``'s business.

Every error is an ``SLODefinitionError`` (a ``ConfigError``: a retry cannot fix
it) whose message names the dataset, the field, the value and what is allowed: the field
parsers here (:func:`field_error`, :func:`finite_number`, :func:`parse_duration` …) are the
one place those messages are written, for ``SLOSpec`` and the contract reader alike.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from airflow_dataops.exceptions import ConfigError
from airflow_dataops.slo.sli import LOWER_IS_BETTER, SLIKind, judge

__all__ = [
    "MAX_WINDOW_DAYS",
    "UNIT_HELP",
    "BudgetingMethod",
    "MissingDataPolicy",
    "SLODefinitionError",
    "SLOSpec",
    "enum_value",
    "field_error",
    "finite_number",
    "objective_value",
    "parse_duration",
    "parse_unit",
    "positive_number",
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
UNIT_HELP = "s, m, h, d (or seconds, minutes, hours, days), percent, ratio, rows"
_DEFAULT_MISSING_BAD = frozenset({SLIKind.FRESHNESS, SLIKind.COMPLETENESS})


def field_error(dataset: str, field: str, message: str) -> SLODefinitionError:
    """The error for ``field`` of ``dataset``: ``dataset 'x': <field> <message>``."""
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
        raise field_error(dataset, field, f"has unknown unit {unit!r}; expected one of {UNIT_HELP}")
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
            raise field_error(dataset, field, f"must be a duration such as '1d', '1h' or '5m', got {value!r}")
        if unit is None:
            raise field_error(dataset, field, f"has no unit (value {number!r}); add one of s, m, h, d")
        canonical, factor = parse_unit(unit, dataset=dataset, field=field)
        if canonical != "s":
            raise field_error(dataset, field, f"must be a duration, got unit {unit!r}; use one of s, m, h, d")
        seconds = _convert(finite_number(number, dataset=dataset, field=field), factor)
    if not seconds > 0:
        raise field_error(dataset, field, f"must be a positive duration, got {value!r}")
    if seconds > MAX_WINDOW_DAYS * 86400.0:
        raise field_error(dataset, field, f"must be at most {MAX_WINDOW_DAYS} days, got {value!r}")
    return timedelta(seconds=seconds)


def finite_number(value: Any, *, dataset: str, field: str) -> float:
    """``value`` as a float; a bool, a string, NaN or infinity is refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise field_error(dataset, field, f"must be a finite number, got {value!r}")
    return float(value)


def objective_value(value: Any, *, dataset: str, field: str) -> float:
    """An objective: a number strictly between 0 and 1."""
    number = finite_number(value, dataset=dataset, field=field)
    if not 0.0 < number < 1.0:
        raise field_error(dataset, field, f"must be strictly between 0 and 1, got {value!r}")
    return number


def positive_number(value: Any, *, dataset: str, field: str) -> float:
    """A number greater than 0."""
    number = finite_number(value, dataset=dataset, field=field)
    if number <= 0:
        raise field_error(dataset, field, f"must be greater than 0, got {value!r}")
    return number


def enum_value(cls: type[enum.Enum], value: Any, *, dataset: str, field: str) -> Any:
    """The member of ``cls`` named by ``value`` (case-insensitive); the error lists the choices."""
    if isinstance(value, cls):
        return value
    try:
        return cls(str(value).strip().lower())
    except ValueError:
        choices = ", ".join(m.value for m in cls)
        raise field_error(dataset, field, f"must be one of {choices}, got {value!r}") from None


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
        put(self, "objective", objective_value(self.objective, dataset=ds, field="slo.objective"))
        window = positive_number(self.window_days, dataset=ds, field="slo.window_days")
        if window > MAX_WINDOW_DAYS:
            raise field_error(
                ds,
                "slo.window_days",
                f"must be at most {MAX_WINDOW_DAYS} (10 years), got {self.window_days!r}",
            )
        put(self, "window_days", window)
        put(self, "threshold", finite_number(self.threshold, dataset=ds, field=f"{field}.threshold"))
        if self.unit is None or self.unit == "":
            raise field_error(
                ds, f"{field}.unit", f"is required for threshold {self.threshold!r}; use one of {UNIT_HELP}"
            )
        canonical, _ = parse_unit(self.unit, dataset=ds, field=f"{field}.unit")
        if canonical not in _UNITS_BY_KIND[kind]:
            allowed = ", ".join(sorted(_UNITS_BY_KIND[kind]))
            raise field_error(
                ds,
                f"{field}.unit",
                f"{self.unit!r} does not fit a {kind.value} SLI; use a unit in: {allowed}",
            )
        put(self, "unit", self.unit.strip().lower())
        budgeting = enum_value(BudgetingMethod, self.budgeting, dataset=ds, field="slo.budgeting")
        put(self, "budgeting", budgeting)
        if budgeting is BudgetingMethod.TIMESLICES:
            length = timedelta(minutes=5) if self.slice_length is None else self.slice_length
            put(self, "slice_length", parse_duration(length, dataset=ds, field="slo.slice"))
        elif self.slice_length is not None:
            raise field_error(
                ds, "slo.slice", f"is only meaningful with budgeting timeslices, got {self.slice_length!r}"
            )
        if self.missing_data is None:
            default = MissingDataPolicy.BAD if kind in _DEFAULT_MISSING_BAD else MissingDataPolicy.IGNORE
            put(self, "missing_data", default)
        else:
            put(
                self,
                "missing_data",
                enum_value(MissingDataPolicy, self.missing_data, dataset=ds, field="slo.missing_data"),
            )
        cadence = parse_duration(self.cadence, dataset=ds, field="slo.cadence")
        if cadence > timedelta(days=window):
            raise field_error(
                ds, "slo.cadence", f"must not be longer than the window ({window:g} d), got {self.cadence!r}"
            )
        put(self, "cadence", cadence)
        if self.slice_length is not None and self.slice_length > timedelta(days=window):
            raise field_error(
                ds,
                "slo.slice",
                f"must not be longer than the window ({window:g} d), got {self.slice_length!r}",
            )
        at_risk = finite_number(self.at_risk_below, dataset=ds, field="slo.at_risk_below")
        if not 0.0 <= at_risk <= 1.0:
            raise field_error(ds, "slo.at_risk_below", f"must be between 0 and 1, got {self.at_risk_below!r}")

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
            raise field_error(
                self.dataset,
                "observation.unit",
                f"{unit!r} cannot be compared with threshold unit {self.unit!r}",
            )
        return judge(self.kind, _convert(value, factor), threshold)
