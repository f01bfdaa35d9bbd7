"""Service level indicators of a dataset: what is measured on every run, and how one value is judged.

Pure definitions: no database, no Airflow.  The state store records
``SLIObservation`` rows; ``airflow_dataops.slo.budget`` and
``airflow_dataops.slo.burn_rate`` turn sequences of them into budgets and alerts.

Each SLI kind has a direction (``LOWER_IS_BETTER`` or not) and a judge:

=============  ====================================================  ==================
kind           value                                                 good when
=============  ====================================================  ==================
freshness      lag in seconds between the data's time and now/arrival  ``value <= threshold``
completeness   present / expected (partitions or rows), a ratio       ``value >= threshold``
correctness    severity-weighted share of quality rules passed        ``value >= threshold``
consistency    share of reconciliation rules passed                   ``value >= threshold``
cost           seconds (or rows, bytes) spent by the run              ``value <= threshold``
=============  ====================================================  ==================

Correctness weighs each rule by its ODCS severity: an ``error`` rule counts
1.0 and a ``warning`` rule 0.25 (``DEFAULT_SEVERITY_WEIGHTS``), so a failing
warning costs a quarter of a failing error.  The weights are a choice, not a
standard: warnings are published anyway, so they should dent the score but not
as much as errors.  Pass ``weights=`` to change them.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

__all__ = [
    "DEFAULT_SEVERITY_WEIGHTS",
    "LOWER_IS_BETTER",
    "SLIKind",
    "SLIObservation",
    "completeness_good",
    "correctness_good",
    "correctness_score",
    "freshness_good",
    "judge",
]


class SLIKind(str, enum.Enum):
    """What an SLI measures about a dataset."""

    FRESHNESS = "freshness"
    COMPLETENESS = "completeness"
    CORRECTNESS = "correctness"
    CONSISTENCY = "consistency"
    COST = "cost"

    @classmethod
    def parse(cls, value: SLIKind | str, *, where: str) -> SLIKind:
        """Return the kind named by ``value``; ``where`` prefixes the error message.

        :raises ValueError: the name is not a known kind (the message lists the valid ones).
        """
        if isinstance(value, SLIKind):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            choices = ", ".join(k.value for k in cls)
            raise ValueError(f"{where}: unknown SLI kind {value!r}; expected one of {choices}") from None


#: Kinds whose value is a cost to keep small (lag, seconds, bytes): good when ``value <= threshold``.
LOWER_IS_BETTER: frozenset[SLIKind] = frozenset({SLIKind.FRESHNESS, SLIKind.COST})

#: Weight of a rule by ODCS severity in the correctness score (see the module docstring).
DEFAULT_SEVERITY_WEIGHTS: Mapping[str, float] = {"error": 1.0, "warning": 0.25}

_UTC = timezone.utc
_ZERO = timedelta(0)


@dataclass(frozen=True, kw_only=True, slots=True)
class SLIObservation:
    """One measurement of one SLI of one dataset, usually one per run or partition.

    :param dataset: the dataset the SLI belongs to, e.g. ``flights``.
    :param kind: what was measured (an ``SLIKind`` or its name).
    :param observed_at: when it was measured; timezone-aware, UTC (an aware
        datetime in another zone is converted).
    :param value: the measured value, in ``unit``; ``nan`` when it could not be measured.
    :param good: whether the value met its threshold; ``None`` when unknown (the
        SLO's missing-data policy decides what an unknown counts as).
    :param unit: the unit of ``value``: ``s`` for freshness and durations,
        ``ratio`` for shares, ``rows``, ...
    :param partition: the partition key the measurement is about, if any.  Under
        ``occurrences`` budgeting a partition observed twice (a rerun) counts once,
        with its latest observation.

    Example::

        SLIObservation(dataset="flights", kind=SLIKind.FRESHNESS, partition="2026-11-21",
                       observed_at=datetime(2026, 11, 22, 1, tzinfo=timezone.utc),
                       value=3600.0, good=True, unit="s")
    """

    dataset: str
    kind: SLIKind
    observed_at: datetime
    value: float
    good: bool | None = None
    unit: str = ""
    partition: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.dataset, str) or not self.dataset:
            raise ValueError(f"SLIObservation.dataset must be a non-empty string, got {self.dataset!r}")
        where = f"SLIObservation of dataset {self.dataset!r}"
        if type(self.kind) is not SLIKind:
            object.__setattr__(self, "kind", SLIKind.parse(self.kind, where=f"{where}: kind"))
        at = self.observed_at
        if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
            raise ValueError(f"{where}: observed_at must be a timezone-aware datetime (UTC), got {at!r}")
        if at.utcoffset() != _ZERO:
            object.__setattr__(self, "observed_at", at.astimezone(_UTC))
        if type(self.value) is not float:
            if isinstance(self.value, bool) or not isinstance(self.value, (int, float)):
                raise ValueError(f"{where}: value must be a number, got {self.value!r}")
            object.__setattr__(self, "value", float(self.value))
        if self.good is not None and not isinstance(self.good, bool):
            raise ValueError(f"{where}: good must be True, False or None (unknown), got {self.good!r}")


def freshness_good(lag_seconds: float, threshold_seconds: float) -> bool | None:
    """Whether a freshness lag met its threshold: ``lag_seconds <= threshold_seconds``.

    Returns ``None`` (unknown) when the lag is ``nan``.
    """
    return judge(SLIKind.FRESHNESS, lag_seconds, threshold_seconds)


def completeness_good(ratio: float, threshold: float) -> bool | None:
    """Whether a completeness ratio (present / expected) met its threshold: ``ratio >= threshold``."""
    return judge(SLIKind.COMPLETENESS, ratio, threshold)


def correctness_good(score: float, threshold: float) -> bool | None:
    """Whether a correctness score (see ``correctness_score``) met its threshold: ``score >= threshold``."""
    return judge(SLIKind.CORRECTNESS, score, threshold)


def judge(kind: SLIKind, value: float, threshold: float) -> bool | None:
    """Judge one value of an SLI of ``kind`` against ``threshold`` (same unit).

    ``<=`` for the kinds in ``LOWER_IS_BETTER``, ``>=`` for the others; ``None``
    (unknown) when ``value`` is ``nan``.
    """
    if math.isnan(value):
        return None
    if kind in LOWER_IS_BETTER:
        return value <= threshold
    return value >= threshold


def correctness_score(
    results: Iterable[tuple[str, bool]],
    *,
    weights: Mapping[str, float] = DEFAULT_SEVERITY_WEIGHTS,
) -> float:
    """Severity-weighted share of quality rules that passed, in ``[0, 1]``.

    :param results: ``(severity, passed)`` per rule; ``severity`` is an ODCS
        severity (``error``, ``warning``) or an Enum whose ``value`` is one.
    :param weights: weight per severity; the default counts an ``error`` 1.0 and a
        ``warning`` 0.25.
    :returns: ``sum(weight of passed rules) / sum(weight of all rules)``, or
        ``nan`` (unknown) when there are no rules, or only rules of weight 0.
    :raises ValueError: a severity has no weight (the message lists the known ones).

    Example: one error rule failed, three warning rules passed:
    ``(0.25 * 3) / (1.0 + 0.25 * 3) = 0.4286``.
    """
    passed_weight = 0.0
    total_weight = 0.0
    for severity, passed in results:
        name = str(getattr(severity, "value", severity)).lower()
        try:
            weight = weights[name]
        except KeyError:
            known = ", ".join(sorted(weights))
            raise ValueError(
                f"correctness_score: severity {severity!r} has no weight; known: {known}"
            ) from None
        total_weight += weight
        if passed:
            passed_weight += weight
    if total_weight <= 0.0:
        return math.nan
    return passed_weight / total_weight
