"""Error budgets: how much of ``1 - objective`` a dataset has spent over its SLO window.

Events, by budgeting method (``SLOSpec.budgeting``):

``occurrences``
    Each observation is one event, good or bad by its ``good`` flag.  A partition
    observed more than once (a rerun) counts once, with its latest observation.
    Missing events are found in the gaps: between two observations ``d`` apart,
    ``round(d / cadence) - 1`` events are missing (so jitter under half a cadence
    is forgiven), and after the last one, an event is missing once it is half a
    cadence late.  The k-th missing event of a gap that starts at ``t`` is placed
    at ``t + (k + 0.5) * cadence``, the moment it became missing, so that a short
    window (one cadence long) sees an outage as soon as it is declared.  Nothing
    is missing before the first observation.

``timeslices``
    Time is cut into slices of ``slice_length`` aligned on the Unix epoch.  A
    slice ``[s, e)`` takes the state of the latest observation made before ``e``,
    if that observation is at most ``cadence + slice_length`` old (an SLI
    measured hourly vouches for the next hour, with one slice of grace).  A
    slice with no such observation is *missing*.  Only slices that end inside
    the window (and after the first observation ever) count.

Missing events and observations whose ``good`` is ``None`` (unknown) count as
the spec's ``missing_data`` policy says: ``bad``, ``good``, or ``ignore`` (not
counted at all).

Budget arithmetic over the window::

    error budget      = 1 - objective                       (99.9% -> 0.001)
    budget consumed   = bad / (total * error budget)        (0.5 = half spent)
    budget remaining  = 1 - budget consumed                 (NEGATIVE when overspent:
                                                             -1.0 = spent twice over)

A window without any observation has no budget figures (``None``) and the
status ``no_data``, never ``healthy``.

Which rows become events (judging, reruns, staleness, the ledger) is the evaluator's job
(``airflow_dataops.slo.evaluator``); this module only counts them.

Speed: ``EventSeries`` turns pre-sorted observations into prefix sums once;
each window is then counted with two bisections, so a full evaluation is O(n)
per dataset plus O(log n) per window.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from itertools import accumulate, pairwise
from typing import NamedTuple

from airflow_dataops.slo.sli import SLIKind
from airflow_dataops.slo.spec import BudgetingMethod, MissingDataPolicy, SLOSpec
from airflow_dataops.slo.status import SLOStatus

__all__ = [
    "BudgetReport",
    "EventSeries",
    "WindowCount",
    "budget_status",
    "check_now",
    "missing_by",
    "report_from_count",
]

_UTC = timezone.utc
_EPS = 1e-9


def missing_by(t: float, at: float, cadence: float) -> int:
    """How many of the events expected after one at ``t`` (every ``cadence`` seconds) are
    missing at ``at``: the k-th is due at ``t + k * cadence`` and missing once it is half a
    cadence late.  THE rule: the completeness SLO counts with it and triage lists with it."""
    return max(0, math.floor((at - t) / cadence - 0.5 + _EPS))


class WindowCount(NamedTuple):
    """Events of one window, after the missing-data policy.

    ``good`` and ``bad`` include the missing and unknown events the policy
    assigned; ``missing`` and ``unknown`` say how many there were;
    ``observations`` is the number of SLI observations made inside the window.
    """

    good: int
    bad: int
    missing: int
    unknown: int
    observations: int

    @property
    def total(self) -> int:
        return self.good + self.bad

    @property
    def bad_fraction(self) -> float | None:
        """``bad / total``, or ``None`` when the window holds no events."""
        total = self.good + self.bad
        return self.bad / total if total else None


_EMPTY = WindowCount(0, 0, 0, 0, 0)


def _prefix(values: Iterable[int]) -> list[int]:
    return list(accumulate(values, initial=0))


class EventSeries:
    """The SLI events of one dataset and kind, ready to be counted over any window.

    Build it with ``from_columns`` (the evaluator's ``event_series`` judges and dedupes the
    store's rows first), then call ``count(start, end)`` per window.

    :param times: observation times as Unix seconds, ascending.
    :param goods: per observation ``True`` (good), ``False`` (bad) or ``None`` (unknown).
    :param spec: the SLO (budgeting method, cadence, slice length, missing-data policy).
    :param first: the time of the first observation ever, if earlier than ``times[0]``
        (events are only expected from then on).
    """

    __slots__ = (
        "_bad",
        "_cadence",
        "_cov",
        "_first",
        "_gaps",
        "_good",
        "_missing",
        "_policy",
        "_slice",
        "_states",
        "_unknown",
        "times",
    )

    def __init__(
        self,
        times: Sequence[float],
        goods: Sequence[bool | None],
        spec: SLOSpec,
        *,
        first: float | None = None,
    ) -> None:
        if len(times) != len(goods):
            raise ValueError(f"EventSeries of {spec.dataset!r}: {len(times)} times but {len(goods)} states")
        self.times = list(times)
        self._first = (self.times[0] if self.times else math.inf) if first is None else first
        self._policy = spec.missing_data
        self._cadence = spec.cadence.total_seconds()
        self._states = list(goods)
        good: Iterable[int] = [g is True for g in goods]
        bad: Iterable[int] = [g is False for g in goods]
        unknown: Iterable[int] = [g is None for g in goods]
        if spec.budgeting is BudgetingMethod.TIMESLICES and spec.slice_length is not None:
            length = self._slice = spec.slice_length.total_seconds()
            valid = self._cadence + length
            ts = self.times
            n = len(ts)
            # Coverage of observation i: slice ends in (t_i, cov_i].
            self._cov = cov = [
                min(ts[i + 1], ts[i] + valid) if i + 1 < n else ts[i] + valid for i in range(n)
            ]
            slices = [math.floor(cov[i] / length) - math.floor(ts[i] / length) for i in range(n)]
            good = [s * g for s, g in zip(slices, good, strict=True)]
            bad = [s * b for s, b in zip(slices, bad, strict=True)]
            unknown = [s * u for s, u in zip(slices, unknown, strict=True)]
            self._gaps = []
        else:
            self._slice = 0.0
            self._cov = []
            # Missing events in the gap after observation g (the last gap, open-ended, is handled in count).
            cad = self._cadence
            ts = self.times
            # round(d / cadence) - 1 per gap, floored at 0; times ascend, so int() is floor here.
            rounded = [int((b - a) / cad + 0.5) for a, b in pairwise(ts)]
            self._gaps = [k - 1 if k > 1 else 0 for k in rounded]
        self._missing = _prefix(self._gaps)
        self._good, self._bad, self._unknown = _prefix(good), _prefix(bad), _prefix(unknown)

    @classmethod
    def from_columns(
        cls,
        times: Sequence[float],
        goods: Sequence[bool | None],
        spec: SLOSpec,
        now: datetime,
        *,
        lookback: timedelta | None = None,
    ) -> EventSeries:
        """The series of plain columns (Unix seconds ascending, ``good``).  Rows after ``now`` and rows
        older than ``lookback`` (default: the SLO window) are bisected away.  The caller
        dedupes reruns (one row per partition under ``occurrences``).
        """
        span = (
            (lookback if lookback is not None else spec.window)
            + spec.cadence
            + (spec.slice_length or timedelta(0))
        )
        end = now.timestamp()
        hi = bisect_right(times, end)
        lo = max(bisect_right(times, end - span.total_seconds(), hi=hi) - 1, 0)
        first = times[0] if lo > 0 else None
        return cls(times[lo:hi], goods[lo:hi], spec, first=first)

    def count(self, start: float, end: float) -> WindowCount:
        """Count the events of the window ``(start, end]`` (Unix seconds)."""
        first = self._first
        if end < first or end <= start:
            return _EMPTY
        times = self.times
        i = bisect_right(times, start)
        k = bisect_right(times, end)
        observations = k - i
        if self._slice:
            good, bad, unknown, slots = self._count_slices(max(start, first), end)
            missing = max(0, slots - good - bad - unknown)
        else:
            good = self._good[k] - self._good[i]
            bad = self._bad[k] - self._bad[i]
            unknown = self._unknown[k] - self._unknown[i]
            missing = 0
            if k - 2 >= i:  # the gaps after observations i .. k-2 lie wholly inside the window
                missing = self._missing[k - 1] - self._missing[i]
            if i >= 1:
                missing += self._gap_missing(i - 1, start, end)
            if k - 1 >= i:
                missing += self._gap_missing(k - 1, start, end)
        policy = self._policy
        if policy is MissingDataPolicy.BAD:
            bad += unknown + missing
        elif policy is MissingDataPolicy.GOOD:
            good += unknown + missing
        return WindowCount(good, bad, missing, unknown, observations)

    def _gap_missing(self, g: int, start: float, end: float) -> int:
        """Missing events of the gap after observation ``g`` placed inside ``(start, end]``."""
        t, cad = self.times[g], self._cadence
        high = missing_by(t, end, cad)
        if g < len(self._gaps):
            high = min(high, self._gaps[g])
        return max(0, high - missing_by(t, start, cad))

    def _count_slices(self, start: float, end: float) -> tuple[int, int, int, int]:
        length, times, cov = self._slice, self.times, self._cov
        floor = math.floor
        slots = floor(end / length) - floor(start / length)
        j = bisect_right(times, start)  # first observation after start
        k = bisect_left(times, end)  # observations before end: [0, k)
        good = bad = unknown = 0
        if k - 1 > j:  # observations j .. k-2 lie wholly inside the window
            good = self._good[k - 1] - self._good[j]
            bad = self._bad[k - 1] - self._bad[j]
            unknown = self._unknown[k - 1] - self._unknown[j]
        edges = []
        if j >= 1:
            edges.append((j - 1, start))
        if k - 1 >= j:
            edges.append((k - 1, times[k - 1]))
        for idx, lower in edges:
            n = floor(min(cov[idx], end) / length) - floor(lower / length)
            if n > 0:
                state = self._states[idx]
                if state is True:
                    good += n
                elif state is False:
                    bad += n
                else:
                    unknown += n
        return good, bad, unknown, slots


@dataclass(frozen=True, kw_only=True, slots=True)
class BudgetReport:
    """The error budget of one SLO over its window ``(window_start, window_end]``.

    :param consumed: the share of the window's error budget spent (``bad / (total * error_budget)``);
        above 1 when overspent.  ``None`` when the window holds no events.
    :param remaining: ``1 - consumed``; NEGATIVE when the budget is overspent
        (``-0.5``: spent one and a half times).  ``None`` when the window holds no events.
    """

    dataset: str
    kind: SLIKind
    objective: float
    error_budget: float
    window_start: datetime
    window_end: datetime
    total_events: int
    good_events: int
    bad_events: int
    missing_events: int
    unknown_events: int
    observations: int
    consumed: float | None
    remaining: float | None

    @property
    def no_data(self) -> bool:
        """True when no SLI was observed in the window (the budget cannot be judged)."""
        return self.observations == 0

    @property
    def exhausted(self) -> bool:
        """True when the whole budget (or more) is spent."""
        return self.remaining is not None and self.remaining <= 0.0


def report_from_count(count: WindowCount, spec: SLOSpec, start: datetime, end: datetime) -> BudgetReport:
    """Turn the events of the SLO window into a ``BudgetReport``."""
    budget = 1.0 - spec.objective
    total = count.good + count.bad
    consumed = count.bad / (total * budget) if total else None
    return BudgetReport(
        dataset=spec.dataset,
        kind=spec.kind,
        objective=spec.objective,
        error_budget=budget,
        window_start=start,
        window_end=end,
        total_events=total,
        good_events=count.good,
        bad_events=count.bad,
        missing_events=count.missing,
        unknown_events=count.unknown,
        observations=count.observations,
        consumed=consumed,
        remaining=None if consumed is None else 1.0 - consumed,
    )


def check_now(now: datetime, spec: SLOSpec) -> datetime:
    """``now`` in UTC; a naive or non-datetime ``now`` is a ``ValueError`` naming the dataset."""
    if not isinstance(now, datetime) or now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"dataset {spec.dataset!r}: now must be a timezone-aware datetime, got {now!r}")
    return now.astimezone(_UTC)


def budget_status(
    report: BudgetReport,
    *,
    page_firing: bool = False,
    ticket_firing: bool = False,
    at_risk_below: float = 0.25,
) -> SLOStatus:
    """``no_data`` without observations; ``breached`` when the budget is exhausted or a
    page alert fires; ``at_risk`` below ``at_risk_below`` of the budget left or while a ticket
    alert fires (a slow burn never shows as ``healthy``); else ``healthy``.
    """
    if report.no_data or report.remaining is None:
        return SLOStatus.NO_DATA
    if report.remaining <= 0.0 or page_firing:
        return SLOStatus.BREACHED
    if report.remaining < at_risk_below or ticket_firing:
        return SLOStatus.AT_RISK
    return SLOStatus.HEALTHY
