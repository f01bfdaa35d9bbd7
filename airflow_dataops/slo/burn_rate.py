"""Burn rates and multi-window, multi-burn-rate alerts (Google SRE workbook, ch. 5 "Alerting on SLOs").

Burn rate over a window::

    burn rate = (bad events / events in the window) / (1 - objective)

A burn rate of 1 spends exactly the error budget over the SLO window; ``r``
spends it in ``slo_window / r`` (30 days at 1, 50 hours at 14.4, 5 days at 6,
10 days at 3).  Over a window ``w`` a burn rate ``r`` consumes ``r * w /
slo_window`` of the budget, so a factor is derived from the budget share an
alert should catch::

    factor = budget_share * slo_window / long_window

The workbook's table for a 30-day SLO (an alert fires when the burn rate is
above the factor over BOTH the long and the short window; the short window,
1/12 of the long, makes the alert stop soon after the burning stops):

=========  ============  ======  ============  ========
severity   long / short  factor  budget share  formula
=========  ============  ======  ============  ========
page       1h / 5m       14.4    2%            0.02 * 720h / 1h
page       6h / 30m      6       5%            0.05 * 720h / 6h
ticket     1d / 2h       3       10%           0.10 * 720h / 24h
ticket     3d / 6h       1       10%           0.10 * 720h / 72h
=========  ============  ======  ============  ========

Scaling (``alert_windows``):

* **SLO window other than 30 days**: the windows stay, the factor is recomputed
  from the budget share (``factor = share * slo_window / long``); a 7-day SLO
  pages at 3.36 over 1h.
* **Cadence**: a window must hold events to be judged, and the short window is
  the smallest, so it must span at least one cadence.  Keeping the workbook's
  1:12 ratio, each long window becomes ``max(long, 12 * cadence)`` (capped at the
  SLO window) and the short window ``max(long / 12, cadence)``.  A stretched rule
  keeps its *burn-rate factor* (its speed), not its budget share: a page still
  means "burning at least 14.4x (or 6x) the sustainable rate", measured over the
  shortest windows the data allows, and the budget share it reports is what that
  speed spends over the stretched window.  (Keeping the share instead would make
  a stretched page fire at a LOWER burn rate than the tickets on the same
  windows: for daily data, page at 0.05x and ticket at 0.25x over 12d/1d, i.e.
  every ticket would also page.)  Rules that collapse onto the same windows and
  severity keep the most sensitive (lowest) factor.  Hourly data: both pages
  become 12h/1h at 6x; 1d/2h and 3d/6h stay.  Daily data: pages 12d/1d at 6x
  (2 bad days of 12 at 99%), tickets 12d/1d at 1x (any bad day).
* **Unreachable factors**: a burn rate cannot exceed ``1 / (1 - objective)``
  (every event bad).  Where a factor is above that (a 90% SLO cannot burn at
  14.4) the threshold is capped there and compared with ``>=``, so an outage
  still pages instead of never alerting.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from airflow_dataops.slo.budget import EventSeries, budget_status, check_now, report_from_count
from airflow_dataops.slo.sli import SLIKind
from airflow_dataops.slo.spec import SLOSpec
from airflow_dataops.slo.status import SLOStatus

__all__ = [
    "WORKBOOK_POLICY",
    "AlertDecision",
    "AlertSeverity",
    "AlertWindow",
    "SLOEvaluation",
    "alert_lookback",
    "alert_windows",
    "budget_consumed",
    "burn_rate",
    "burn_rate_threshold",
    "detection_time",
    "evaluate_series",
    "time_to_exhaustion",
    "window_label",
]


class AlertSeverity(str, enum.Enum):
    """``page`` wakes someone up; ``ticket`` can wait for working hours."""

    PAGE = "page"
    TICKET = "ticket"


#: ``(long window, short window, budget share, severity)`` from the SRE workbook, for a 30-day SLO.
WORKBOOK_POLICY: tuple[tuple[timedelta, timedelta, float, AlertSeverity], ...] = (
    (timedelta(hours=1), timedelta(minutes=5), 0.02, AlertSeverity.PAGE),
    (timedelta(hours=6), timedelta(minutes=30), 0.05, AlertSeverity.PAGE),
    (timedelta(days=1), timedelta(hours=2), 0.10, AlertSeverity.TICKET),
    (timedelta(days=3), timedelta(hours=6), 0.10, AlertSeverity.TICKET),
)
_SHORT_RATIO = 12  # short window = long / 12, as in the workbook


def burn_rate(bad_fraction: float, objective: float) -> float:
    """``bad_fraction / (1 - objective)``: 1.0 spends the budget exactly over the SLO window."""
    return bad_fraction / (1.0 - objective)


def burn_rate_threshold(budget_share: float, long_window: timedelta, slo_window: timedelta) -> float:
    """The factor at which ``budget_share`` of the budget is spent over ``long_window``.

    ``burn_rate_threshold(0.02, 1h, 30d) == 14.4``.
    """
    return budget_share * (slo_window / long_window)


def budget_consumed(rate: float, duration: timedelta, slo_window: timedelta) -> float:
    """The share of the budget a burn ``rate`` spends in ``duration``: ``rate * duration / slo_window``."""
    return rate * (duration / slo_window)


def time_to_exhaustion(rate: float, slo_window: timedelta, remaining: float = 1.0) -> timedelta | None:
    """How long until ``remaining`` of the budget is spent at burn ``rate`` (``None`` if never).

    At 1 a 30-day budget lasts 30 days; at 14.4, 50 hours.
    """
    if rate <= 0.0:
        return None
    return slo_window * (max(remaining, 0.0) / rate)


def detection_time(error_ratio: float, objective: float, long_window: timedelta, factor: float) -> timedelta:
    """How long a sudden ``error_ratio`` takes to fire an alert over ``long_window`` (workbook formula).

    ``factor * (1 - objective) / error_ratio * long_window``: a total outage
    (ratio 1) on a 99.9% SLO fires the 1h/14.4 alert after 51.84 seconds.
    """
    return long_window * (factor * (1.0 - objective) / error_ratio)


@functools.lru_cache(maxsize=512)
def window_label(d: timedelta) -> str:
    """A window as people write it: ``1h``, ``30m``, ``3d`` (seconds when nothing larger divides it)."""
    seconds = int(d.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True, kw_only=True, slots=True)
class AlertWindow:
    """One rule of a multi-window alert: fire when both windows burn above ``factor``.

    :param long: the long window (how much budget is at stake).
    :param short: the short window (is it still burning now?).
    :param factor: the burn-rate threshold.
    :param budget_share: the share of the budget spent over ``long`` at ``factor``.
    :param severity: page or ticket.
    :param capped: the factor was above the highest reachable burn rate and was
        capped there (compared with ``>=``).
    """

    long: timedelta
    short: timedelta
    factor: float
    budget_share: float
    severity: AlertSeverity
    capped: bool = False

    @property
    def label(self) -> str:
        """``"1h/5m"``."""
        return f"{window_label(self.long)}/{window_label(self.short)}"


@functools.lru_cache(maxsize=256)
def _windows(window_days: float, cadence: timedelta, objective: float) -> tuple[AlertWindow, ...]:
    slo_window = timedelta(days=window_days)
    max_burn = 1.0 / (1.0 - objective)
    rules: dict[tuple[timedelta, timedelta, AlertSeverity], float] = {}
    for long, short, share, severity in WORKBOOK_POLICY:
        factor = burn_rate_threshold(share, min(long, slo_window), slo_window)
        if long < _SHORT_RATIO * cadence:
            long = min(_SHORT_RATIO * cadence, slo_window)
            short = max(long / _SHORT_RATIO, cadence)
        elif long > slo_window:
            long, short = slo_window, max(slo_window / _SHORT_RATIO, cadence)
        key = (long, short, severity)
        # rules that collapse onto the same windows: the lowest factor fires whenever a higher one would
        rules[key] = min(factor, rules.get(key, factor))
    out: list[AlertWindow] = []
    for (long, short, severity), factor in rules.items():
        capped = factor >= max_burn
        factor = min(factor, max_burn)
        out.append(
            AlertWindow(
                long=long,
                short=short,
                factor=factor,
                budget_share=budget_consumed(factor, long, slo_window),
                severity=severity,
                capped=capped,
            )
        )
    return tuple(out)


def alert_windows(spec: SLOSpec) -> tuple[AlertWindow, ...]:
    """The alert rules of ``spec``: the workbook's, scaled to its SLO window and cadence (see module doc)."""
    return _windows(spec.window_days, spec.cadence, spec.objective)


@dataclass(frozen=True, kw_only=True, slots=True)
class AlertDecision:
    """The verdict of one alert rule at one instant.

    :param long_burn: the burn rate over the long window (``None``: no events).
    :param short_burn: the burn rate over the short window (``None``: no events).
    :param threshold: the factor both must exceed.
    :param fired: whether both did.
    """

    window: AlertWindow
    severity: AlertSeverity
    long_burn: float | None
    short_burn: float | None
    threshold: float
    fired: bool


def _burn(series: EventSeries, start: float, end: float, objective: float) -> float | None:
    fraction = series.count(start, end).bad_fraction
    return None if fraction is None else fraction / (1.0 - objective)


def _decide(
    series: EventSeries, spec: SLOSpec, end: float, burns: dict[str, float | None]
) -> list[AlertDecision]:
    decisions = []
    for w in alert_windows(spec):
        pair = []
        for d in (w.long, w.short):
            key = window_label(d)
            if key not in burns:
                burns[key] = _burn(series, end - d.total_seconds(), end, spec.objective)
            pair.append(burns[key])
        long_burn, short_burn = pair
        thr = w.factor
        if long_burn is None or short_burn is None:
            fired = False
        elif w.capped:
            fired = long_burn >= thr and short_burn >= thr
        else:
            fired = long_burn > thr and short_burn > thr
        decisions.append(
            AlertDecision(
                window=w,
                severity=w.severity,
                long_burn=long_burn,
                short_burn=short_burn,
                threshold=thr,
                fired=fired,
            )
        )
    return decisions


def alert_lookback(spec: SLOSpec) -> timedelta:
    """How far back the evaluation reads: the SLO window or the longest alert window, whichever is longer."""
    return max(spec.window, *(w.long for w in alert_windows(spec)))


@dataclass(frozen=True, kw_only=True, slots=True)
class SLOEvaluation:
    """Where one SLO of a dataset stands at ``evaluated_at``.

    :param status: healthy, at_risk, breached or no_data.
    :param sli_value: the latest SLI value at or before ``evaluated_at`` (``None`` if never observed).
    :param good_events: good events in the SLO window (after the missing-data policy).
    :param total_events: good + bad events in the SLO window.
    :param budget_remaining: share of the error budget left; negative when overspent,
        ``None`` without events.
    :param burn_rates: burn rate per window label (``"1h"``, ``"5m"``, ..., and the SLO
        window, e.g. ``"30d"``); ``None`` for a window without events.
    :param alerts: one decision per alert rule.
    :param no_data: no observation in the SLO window.
    """

    dataset: str
    kind: SLIKind
    status: SLOStatus
    objective: float
    window_days: float
    evaluated_at: datetime
    sli_value: float | None
    good_events: int
    total_events: int
    bad_events: int
    missing_events: int
    budget_remaining: float | None
    burn_rates: Mapping[str, float | None] = field(default_factory=dict)
    alerts: tuple[AlertDecision, ...] = ()
    no_data: bool = False

    @property
    def firing(self) -> tuple[AlertDecision, ...]:
        """The alerts that fired."""
        return tuple(a for a in self.alerts if a.fired)


def evaluate_series(
    series: EventSeries, spec: SLOSpec, now: datetime, *, sli_value: float | None = None
) -> SLOEvaluation:
    """Budget, burn rates, alerts and status of ``spec`` at ``now`` over a prepared series.

    The series comes from ``airflow_dataops.slo.evaluation.event_series`` (which judges, dedupes
    and adds staleness), built with ``lookback=alert_lookback(spec)``.

    :raises ValueError: ``now`` is not timezone-aware.
    """
    now = check_now(now, spec)
    end = now.timestamp()
    window = spec.window
    count = series.count(end - window.total_seconds(), end)
    report = report_from_count(count, spec, now - window, now)
    burns: dict[str, float | None] = {}
    alerts = _decide(series, spec, end, burns)
    fraction = count.bad_fraction
    burns[window_label(window)] = None if fraction is None else fraction / (1.0 - spec.objective)
    page = any(a.fired and a.severity is AlertSeverity.PAGE for a in alerts)
    ticket = any(a.fired and a.severity is AlertSeverity.TICKET for a in alerts)
    status = budget_status(report, page_firing=page, ticket_firing=ticket, at_risk_below=spec.at_risk_below)
    return SLOEvaluation(
        dataset=spec.dataset,
        kind=spec.kind,
        status=status,
        objective=spec.objective,
        window_days=spec.window_days,
        evaluated_at=now,
        sli_value=sli_value,
        good_events=report.good_events,
        total_events=report.total_events,
        bad_events=report.bad_events,
        missing_events=report.missing_events,
        budget_remaining=report.remaining,
        burn_rates=burns,
        alerts=tuple(alerts),
        no_data=report.no_data,
    )
