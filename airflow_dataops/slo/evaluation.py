"""THE evaluation of a dataset's SLOs: from the rows the store holds to statuses and budgets.

:func:`evaluate_dataset` is the one function every view calls, through its batched loader
(``slo.evaluator.evaluate_rows``): the CLI, the UI (overview, dataset page, DAG tab, JSON
API), the evaluator DAG, ``SLOEvaluationOperator``, the sensors and the trigger.  It does no
I/O: it takes one dataset's pre-fetched rows (:class:`DatasetInputs`), so the UI can read a
thousand datasets in a few batched queries and still get the same answer as the CLI.

What becomes an event (see ``docs/slo.md`` for the outcome → event table):

* **Judging.**  Each SLI row is judged against the spec's threshold (the contract decides what
  is good, not the recorder); a row without a value keeps its recorded ``good``.  For
  correctness and consistency a row the gate recorded as bad (a refused partition, failing
  error rules) stays bad whatever its score: a refusal is never judged good.
* **Reruns.**  Under ``occurrences`` budgeting a partition is ONE event: it keeps the place
  of its first row (so a rerun days later opens no gap in the cadence) and the verdict of
  its latest row (so a rerun that fixes a partition supersedes its earlier events).
* **Silent decay.**  Freshness is also judged *now*: ``lag = now - newest data time`` (the
  newest data time is ``observed_at - value`` of the newest freshness row); a lag over the
  threshold adds a bad event at ``now``.
* **Completeness** comes from the ledger: one event per partition (good when published),
  placed when its interval ends; expected partitions with no ledger row are missing events.
  A dataset without ledger rows falls back to recorded completeness SLIs.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_dataops.slo.budget import EventSeries
from airflow_dataops.slo.burn_rate import SLOEvaluation, alert_lookback, evaluate_series
from airflow_dataops.slo.sli import SLIKind
from airflow_dataops.slo.spec import BudgetingMethod, SLODefinitionError, SLOSpec
from airflow_dataops.slo.status import DatasetStatus
from airflow_dataops.store.states import APPLYING, PUBLISHED_STATES

__all__ = [
    "DatasetEvaluation",
    "DatasetInputs",
    "burn_table",
    "completeness_columns",
    "evaluate_dataset",
    "evaluate_spec",
    "evaluation_to_dict",
    "event_series",
    "read_span",
    "slo_events",
    "threshold_text",
]

_UTC = timezone.utc
#: Kinds the gate records: a row it marked bad stays bad (a refused partition is never good).
_GATE_KINDS = frozenset({SLIKind.CORRECTNESS, SLIKind.CONSISTENCY})


# ---------------------------------------------------------------------------------- results


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


@dataclass(frozen=True, kw_only=True)
class DatasetEvaluation:
    """The SLOs of one dataset at one instant.

    :param evaluations: one per SLO (SLI kind), in ``SLIKind`` order.
    :param specs: the specs evaluated, in the same order.
    :param error: why the SLO definition could not be used (then ``evaluations`` is empty
        and the status is ``invalid``).
    """

    dataset: str
    evaluated_at: datetime
    evaluations: tuple[SLOEvaluation, ...] = ()
    specs: tuple[SLOSpec, ...] = ()
    error: str | None = None

    @property
    def status(self) -> DatasetStatus:
        if self.error is not None:
            return DatasetStatus.INVALID
        return DatasetStatus.worst([e.status for e in self.evaluations])

    @property
    def healthy(self) -> bool:
        return self.status is DatasetStatus.HEALTHY

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "evaluated_at": self.evaluated_at.isoformat(),
            "status": self.status.value,
            "error": self.error,
            "slos": [
                evaluation_to_dict(e, spec) for e, spec in zip(self.evaluations, self.specs, strict=True)
            ],
        }


def threshold_text(spec: SLOSpec) -> str:
    """``≤ 6 h``, ``≥ 0.99 ratio``: the spec's threshold as people read it."""
    op = "≤" if spec.lower_is_better else "≥"
    return f"{op} {spec.threshold:g} {spec.unit}"


def evaluation_to_dict(
    e: SLOEvaluation, spec: SLOSpec | None = None, *, alerts: bool = True
) -> dict[str, Any]:
    """An ``SLOEvaluation`` as JSON-ready values: the one serialisation every JSON uses.

    Non-finite figures (an overspent budget of ``-inf``) are written as ``null``.

    :param alerts: include the per-rule ``alerts`` list (the UI's overview leaves it out).
    """
    out: dict[str, Any] = {
        "slo": e.kind.value,
        "status": e.status.value,
        "objective": e.objective,
        "window_days": e.window_days,
        "threshold": threshold_text(spec) if spec is not None else None,
        "sli_value": _finite(e.sli_value),
        "good_events": e.good_events,
        "bad_events": e.bad_events,
        "missing_events": e.missing_events,
        "total_events": e.total_events,
        "budget_remaining": _finite(e.budget_remaining),
        "burn_rates": {k: _finite(v) for k, v in e.burn_rates.items()},
        "firing": [f"{a.severity.value} {a.window.label}" for a in e.firing],
    }
    if alerts:
        out["alerts"] = [
            {
                "window": a.window.label,
                "severity": a.severity.value,
                "threshold": a.threshold,
                "long_burn": _finite(a.long_burn),
                "short_burn": _finite(a.short_burn),
                "fired": a.fired,
            }
            for a in e.alerts
        ]
    return out


def burn_table(evaluation: SLOEvaluation) -> list[dict[str, Any]]:
    """Per alert rule: windows, burn rate over each, threshold, severity and whether it fires."""
    return [
        {
            "long": a.window.label.split("/")[0],
            "short": a.window.label.split("/")[1],
            "long_burn": a.long_burn,
            "short_burn": a.short_burn,
            "threshold": a.threshold,
            "severity": a.severity.value,
            "fires": a.fired,
        }
        for a in evaluation.alerts
    ]


# ---------------------------------------------------------------------------------- inputs


@dataclass(frozen=True, kw_only=True)
class DatasetInputs:
    """What one dataset's evaluation reads from the store, fetched beforehand (in batches).

    :param columns: SLI rows per kind (``store.slo_reads.SLIColumns``) over :func:`read_span`.
    :param ledger: the ledger's ``(partition_key, state, updated_at)`` rows (``None``: not read).
    :param newest_data: the newest data time (Unix seconds) when no freshness row with a value
        lies in the read span (a dataset silent for longer than its windows).
    """

    columns: Mapping[str, Any] = field(default_factory=dict)
    ledger: Sequence[tuple[str, str, datetime]] | None = None
    newest_data: float | None = None


def read_span(spec: SLOSpec) -> timedelta:
    """How far before ``now`` the rows of ``spec`` must be read."""
    return alert_lookback(spec) + spec.cadence + (spec.slice_length or timedelta(0))


# ---------------------------------------------------------------------------------- events


def _judge(
    spec: SLOSpec, values: Sequence[float | None], goods: Sequence[Any], units: Sequence[str]
) -> list[bool | None]:
    """Each row judged against the spec's threshold; rows without a comparable value keep ``good``."""
    threshold, canonical = spec.canonical_threshold
    out: list[bool | None]
    if units and len(set(units)) == 1 and units[0] == canonical:
        if spec.lower_is_better:
            out = [
                (g if g is None else bool(g)) if v is None or v != v else v <= threshold
                for v, g in zip(values, goods, strict=True)
            ]
        else:
            out = [
                (g if g is None else bool(g)) if v is None or v != v else v >= threshold
                for v, g in zip(values, goods, strict=True)
            ]
    else:
        out = []
        for v, g, u in zip(values, goods, units, strict=True):
            recorded = g if g is None else bool(g)
            if v is None or v != v:
                out.append(recorded)
                continue
            try:
                out.append(spec.is_good(v, u))
            except SLODefinitionError:  # a unit of another dimension: trust the recorder
                out.append(recorded)
    if spec.kind in _GATE_KINDS and 0 in goods:  # a recorded False (or SQLite's 0); None != 0
        out = [False if g is not None and not g else o for o, g in zip(out, goods, strict=True)]
    return out


def _one_per_partition(
    times: Sequence[float], goods: Sequence[bool | None], parts: Sequence[str | None]
) -> tuple[Sequence[float], Sequence[bool | None]]:
    """One event per partition: at its first row's time, with its latest row's verdict."""
    named = [p for p in parts if p is not None]
    if len(set(named)) == len(named):
        return times, goods
    keep_t: list[float] = []
    keep_g: list[bool | None] = []
    position: dict[str, int] = {}
    for ts, good, key in zip(times, goods, parts, strict=True):
        if key is not None:
            at = position.get(key)
            if at is not None:
                keep_g[at] = good
                continue
            position[key] = len(keep_t)
        keep_t.append(ts)
        keep_g.append(good)
    return keep_t, keep_g


def _newest_data_time(cols: Any) -> float | None:
    """``observed_at - value`` of the newest row that has a value (see the module doc)."""
    for i in range(len(cols.times) - 1, -1, -1):
        v = cols.values[i]
        if v is not None and v == v:
            return float(cols.times[i] - max(float(v), 0.0))
    return None


def event_series(
    spec: SLOSpec,
    cols: Any | None,
    now: datetime,
    *,
    newest_data: float | None = None,
    lookback: timedelta | None = None,
) -> tuple[EventSeries, float | None]:
    """The events of one SLO from its SLI rows, and the SLI's current value (see the module doc).

    :param lookback: how far back events are needed (default: the SLO or longest alert window).
    """
    end = now.timestamp()
    times: Sequence[float] = []
    goods: Sequence[bool | None] = []
    sli_value: float | None = None
    if cols is not None and len(cols):
        times = cols.times
        goods = _judge(spec, cols.values, cols.goods, cols.units)
        if spec.budgeting is BudgetingMethod.OCCURRENCES:
            times, goods = _one_per_partition(times, goods, cols.partitions)
        sli_value = next((v for v in reversed(cols.values) if v is not None), None)
    if spec.kind is SLIKind.FRESHNESS:
        newest = _newest_data_time(cols) if cols is not None and len(cols) else None
        if newest is None:
            newest = newest_data
        if newest is not None:
            lag = max(0.0, end - newest)
            sli_value = lag
            threshold, _ = spec.canonical_threshold
            if lag > threshold and (not times or times[-1] < end):
                # Silent decay: the data is stale NOW, whether or not anyone recorded it.
                times = [*times, end]
                goods = [*goods, False]
    span = alert_lookback(spec) if lookback is None else lookback
    return EventSeries.from_columns(times, goods, spec, now, lookback=span), sli_value


def slo_events(
    spec: SLOSpec, inputs: DatasetInputs, now: datetime, *, lookback: timedelta | None = None
) -> tuple[EventSeries, float | None]:
    """The events of one SLO of a dataset: from the ledger for completeness (when it has rows),
    else from the SLI rows; and the SLI's current value (for completeness: ``None``)."""
    if spec.kind is SLIKind.COMPLETENESS and inputs.ledger:
        times, goods = completeness_columns(spec, inputs.ledger)
        span = alert_lookback(spec) if lookback is None else lookback
        return EventSeries.from_columns(times, goods, spec, now, lookback=span), None
    cols = inputs.columns.get(spec.kind.value)
    return event_series(spec, cols, now, newest_data=inputs.newest_data, lookback=lookback)


def evaluate_spec(
    spec: SLOSpec, cols: Any | None, now: datetime, *, newest_data: float | None = None
) -> SLOEvaluation:
    """Evaluate one SLO from its SLI columns (``store.slo_reads.SLIColumns`` or ``None``)."""
    series, sli_value = event_series(spec, cols, now, newest_data=newest_data)
    return evaluate_series(series, spec, now, sli_value=sli_value)


def _key_time(key: str) -> float | None:
    try:
        at = datetime.fromisoformat(key)
    except ValueError:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=_UTC)
    return at.timestamp()


def completeness_columns(
    spec: SLOSpec, partitions: Sequence[tuple[str, str, datetime]]
) -> tuple[list[float], list[bool | None]]:
    """Completeness events from the ledger: one per partition, good when published.

    A partition's event is placed when its interval ends (``key time + cadence``; a key that
    is not a date or datetime uses the ledger row's ``updated_at``).  Published
    (``applied``/``quarantined``) is good, ``applying`` unknown, anything else (``failed``)
    bad.  Expected partitions with no ledger row at all are the gaps between events, which
    ``EventSeries`` counts as missing from the cadence (bad by default for completeness).
    """
    cadence = spec.cadence.total_seconds()
    events = []
    for key, state, updated in partitions:
        at = _key_time(key)
        at = updated.timestamp() if at is None else at + cadence
        good: bool | None = True if state in PUBLISHED_STATES else (None if state == APPLYING else False)
        events.append((at, good))
    events.sort(key=lambda e: e[0])
    return [e[0] for e in events], [e[1] for e in events]


# ---------------------------------------------------------------------------------- the one function


def evaluate_dataset(
    dataset: str,
    specs: Sequence[SLOSpec] | Exception,
    inputs: DatasetInputs,
    now: datetime,
) -> DatasetEvaluation:
    """Every SLO of ``dataset`` at ``now`` from its pre-fetched rows: THE evaluation.

    :param specs: the dataset's specs, or the error that makes its definition unusable
        (the dataset is then ``invalid``, with the error's message).
    """
    if isinstance(specs, Exception):
        return DatasetEvaluation(dataset=dataset, evaluated_at=now, error=str(specs))
    evaluations = []
    try:
        for spec in specs:
            series, sli_value = slo_events(spec, inputs, now)
            ev = evaluate_series(series, spec, now, sli_value=sli_value)
            if spec.kind is SLIKind.COMPLETENESS and inputs.ledger:
                # present / expected over the window
                ratio = ev.good_events / ev.total_events if ev.total_events else None
                ev = dataclasses.replace(ev, sli_value=ratio)
            evaluations.append(ev)
    except (SLODefinitionError, OverflowError, ValueError) as e:  # one dataset's definition, not everyone's
        return DatasetEvaluation(
            dataset=dataset, evaluated_at=now, error=f"dataset {dataset!r}: {type(e).__name__}: {e}"
        )
    return DatasetEvaluation(
        dataset=dataset, evaluated_at=now, evaluations=tuple(evaluations), specs=tuple(specs)
    )
