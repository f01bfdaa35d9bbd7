"""The SLO evaluator: every registered dataset's SLOs, judged now, from the state store.

This module drives; ``slo.evaluation.evaluate_dataset`` judges.  Every view goes through
:func:`evaluate_rows` (the CLI, the UI, the evaluator DAG, the operator, the sensors and the
trigger), so they cannot disagree:

1. **Specs** (``slo.loader``): each dataset's contract file or stored ``slo`` block; a
   malformed one makes THAT dataset ``invalid``.
2. **Rows, in batches** (``slo.reads.read_inputs``): the SLI rows of every dataset in one
   query, the ledger's partition states in one query, the newest freshness row of a dataset
   silent for longer than its windows.
3. **Verdict** per dataset: ``evaluate_dataset`` (see ``slo.evaluation`` for what becomes an
   event: judging, reruns, staleness, completeness from the ledger).

:func:`run_evaluation` then turns verdicts into breach episodes (``slo.breaches.sync_breaches``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from airflow_dataops.clock import utcnow
from airflow_dataops.slo.breaches import BreachTransition, sync_breaches
from airflow_dataops.slo.evaluation import DatasetEvaluation, DatasetInputs, evaluate_dataset
from airflow_dataops.slo.loader import load_specs, specs_or_error
from airflow_dataops.slo.reads import gc_paused, newest_data, read_inputs
from airflow_dataops.slo.spec import SLOSpec

__all__ = [
    "EvaluationRun",
    "current_lag",
    "evaluate_datasets",
    "evaluate_rows",
    "run_evaluation",
]

_UTC = timezone.utc


def evaluate_rows(
    store: Any,
    rows: Sequence[Mapping[str, Any]],
    *,
    now: datetime | None = None,
    all_datasets: bool = False,
    specs: Mapping[str, Sequence[SLOSpec] | Exception] | None = None,
) -> list[DatasetEvaluation]:
    """Evaluate the datasets of these ``dataops_datasets`` rows at ``now``: the batched loader
    every view uses (``slo status``, the UI, the evaluator DAG, the sensors and the trigger).

    :param all_datasets: ``rows`` are every registered dataset (see :func:`read_inputs`).
    :param specs: pre-loaded specs (``load_specs``), to skip building them again.
    """
    now = (now or utcnow()).astimezone(_UTC)
    if specs is None:
        specs = {row["dataset"]: specs_or_error(row) for row in rows}
    with gc_paused():
        inputs = read_inputs(store, specs, now, all_datasets=all_datasets)
        empty = DatasetInputs()
        return [evaluate_dataset(name, group, inputs.get(name, empty), now) for name, group in specs.items()]


def evaluate_datasets(
    store: Any,
    *,
    datasets: Collection[str] | None = None,
    now: datetime | None = None,
    specs: Mapping[str, Sequence[SLOSpec] | Exception] | None = None,
) -> list[DatasetEvaluation]:
    """Evaluate the SLOs of every registered dataset (or of ``datasets``) at ``now``.

    Read-only: breach episodes are :func:`sync_breaches`' job.  A name in ``datasets`` that
    is not registered comes back ``invalid`` (``error`` says so).

    :param specs: pre-loaded specs (``load_specs``), to skip reading the contracts again.
    """
    specs = load_specs(store, datasets) if specs is None else specs
    return evaluate_rows(store, [], now=now, all_datasets=datasets is None, specs=specs)


def current_lag(store: Any, dataset: str, *, now: datetime | None = None) -> float | None:
    """Seconds since the newest data of ``dataset`` (from its newest freshness SLI); ``None`` if never seen."""
    now = (now or utcnow()).astimezone(_UTC)
    newest = newest_data(store, dataset, until=now)
    return None if newest is None else max(0.0, now.timestamp() - newest)


@dataclass(frozen=True, kw_only=True)
class EvaluationRun:
    """One evaluator pass: the verdicts and the breach transitions it is responsible for."""

    results: tuple[DatasetEvaluation, ...]
    transitions: tuple[BreachTransition, ...] = field(default=())

    def summary(self) -> dict[str, Any]:
        statuses: dict[str, int] = {}
        for r in self.results:
            key = r.status.value
            statuses[key] = statuses.get(key, 0) + 1
        return {
            "datasets": len(self.results),
            "statuses": statuses,
            "opened": [f"{t.dataset}/{t.slo}" for t in self.transitions if t.state == "open"],
            "resolved": [f"{t.dataset}/{t.slo}" for t in self.transitions if t.state == "resolved"],
            "invalid": {r.dataset: r.error for r in self.results if r.error},
        }


def run_evaluation(
    store: Any, *, datasets: Collection[str] | None = None, now: datetime | None = None
) -> EvaluationRun:
    """:func:`evaluate_datasets` then :func:`sync_breaches`."""
    now = (now or utcnow()).astimezone(_UTC)
    results = evaluate_datasets(store, datasets=datasets, now=now)
    transitions = sync_breaches(store, results, now=now)
    return EvaluationRun(results=tuple(results), transitions=tuple(transitions))
