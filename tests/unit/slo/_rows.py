"""SLI rows for the budget and burn-rate tests, evaluated through THE evaluation path.

The tests build rows as the store holds them (``Obs``); :func:`columns` turns them into the
``SLIColumns`` the store's readers return, and the helpers below call the same functions the
evaluator, the CLI and the UI call (``slo.evaluation.event_series`` / ``evaluate_spec``).  Values
are left out of the columns so each row's recorded ``good`` decides (the tests are about
counting, not about thresholds).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from airflow_dataops.slo.budget import BudgetReport, check_now, report_from_count
from airflow_dataops.slo.burn_rate import AlertDecision, SLOEvaluation
from airflow_dataops.slo.evaluation import evaluate_spec, event_series
from airflow_dataops.slo.sli import SLIKind
from airflow_dataops.slo.spec import SLOSpec
from airflow_dataops.store.slo_reads import SLIColumns


@dataclass(frozen=True, kw_only=True)
class Obs:
    """One SLI row as stored."""

    dataset: str
    kind: SLIKind | str
    observed_at: datetime
    value: float | None = None
    good: bool | None = None
    unit: str = "s"
    partition: str | None = None


def columns(observations: list[Obs], spec: SLOSpec) -> SLIColumns:
    """The rows of ``spec``'s dataset and kind, ascending by time, as the store reads them."""
    picked = sorted(
        (o for o in observations if o.dataset == spec.dataset and SLIKind(o.kind) is spec.kind),
        key=lambda o: o.observed_at,
    )
    return SLIColumns(
        times=[o.observed_at.timestamp() for o in picked],
        values=[None] * len(picked),
        goods=[o.good for o in picked],
        units=[o.unit for o in picked],
        partitions=[o.partition for o in picked],
    )


def compute_budget(observations: list[Obs], spec: SLOSpec, now: datetime) -> BudgetReport:
    """The error budget over ``(now - window, now]`` from the events the evaluation counts."""
    now = check_now(now, spec)
    series, _ = event_series(spec, columns(observations, spec), now, lookback=spec.window)
    end = now.timestamp()
    return report_from_count(
        series.count(end - spec.window.total_seconds(), end), spec, now - spec.window, now
    )


def evaluate(observations: list[Obs], spec: SLOSpec, now: datetime) -> SLOEvaluation:
    check_now(now, spec)
    return evaluate_spec(spec, columns(observations, spec), now)


def evaluate_alerts(observations: list[Obs], spec: SLOSpec, now: datetime) -> list[AlertDecision]:
    return list(evaluate(observations, spec, now).alerts)
