"""Service level indicators of a dataset: what is measured on every run, and how one value is judged.

Pure definitions: no database, no Airflow.  The state store records SLI rows
(``store.records.SLIRecord``); ``airflow_dataops.slo.evaluation`` turns them into events,
budgets and alerts.

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

__all__ = [
    "DEFAULT_SEVERITY_WEIGHTS",
    "LOWER_IS_BETTER",
    "SLIKind",
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
