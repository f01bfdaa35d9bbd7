"""From verdicts to breach episodes: which SLO is in breach, and which episodes to open or resolve.

An SLO is *in breach* when an alert fires or its budget is exhausted (severity ``page`` if a
page alert fires, else ``ticket``); an episode opens once and resolves once, and only the
evaluator whose transaction opened (resolved) it is told to notify (``store.breaches``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from airflow_dataops.clock import utcnow
from airflow_dataops.slo.burn_rate import AlertSeverity, SLOEvaluation
from airflow_dataops.slo.evaluation import DatasetEvaluation

__all__ = ["BreachTransition", "breach_severity", "sync_breaches"]


@dataclass(frozen=True, kw_only=True)
class BreachTransition:
    """An episode this evaluator opened or resolved, and so must announce (once)."""

    state: str  # "open" | "resolved"
    episode: Any  # store.breaches.BreachEpisode
    evaluation: SLOEvaluation

    @property
    def dataset(self) -> str:
        return self.episode.dataset

    @property
    def slo(self) -> str:
        return self.episode.slo

    @property
    def severity(self) -> str:
        return self.episode.severity

    def to_dict(self) -> dict[str, Any]:
        """What a notifier receives as ``context["breach"]``."""
        return {
            "state": self.state,
            **self.episode.to_dict(),
            "status": self.evaluation.status.value,
            "objective": self.evaluation.objective,
            "window_days": self.evaluation.window_days,
            "budget_remaining": self.evaluation.budget_remaining,
            "sli_value": self.evaluation.sli_value,
            "firing": [a.window.label for a in self.evaluation.firing],
            "evaluated_at": self.evaluation.evaluated_at.isoformat(),
        }


def breach_severity(evaluation: SLOEvaluation) -> str | None:
    """``page`` when a page alert fires, ``ticket`` when only a ticket alert fires or the budget
    is exhausted, ``None`` when the SLO is not in breach (or has no data)."""
    if evaluation.no_data:
        return None
    firing = evaluation.firing
    if any(a.severity is AlertSeverity.PAGE for a in firing):
        return AlertSeverity.PAGE.value
    if firing or (evaluation.budget_remaining is not None and evaluation.budget_remaining <= 0.0):
        return AlertSeverity.TICKET.value
    return None


def _rates(evaluation: SLOEvaluation) -> dict[str, float]:
    return {k: round(v, 6) for k, v in evaluation.burn_rates.items() if v is not None and math.isfinite(v)}


def sync_breaches(
    store: Any, results: Iterable[DatasetEvaluation], *, now: datetime | None = None
) -> list[BreachTransition]:
    """Open and resolve breach episodes to match ``results``; return the ones THIS call changed.

    Open episodes are read once; only an SLO whose breach state changes costs a write
    transaction (which re-checks under a lock, so two evaluators never both open or both
    resolve one episode).  An SLO without data neither opens nor resolves an episode.
    """
    from airflow_dataops.store.breaches import BreachChange, apply_breach_changes, open_breaches

    results = list(results)
    now = now or utcnow()
    current = open_breaches(store, datasets=[r.dataset for r in results])
    changes: list[BreachChange] = []
    evaluations: dict[tuple[str, str], SLOEvaluation] = {}
    for result in results:
        for ev in result.evaluations:
            key = (result.dataset, ev.kind.value)
            severity = breach_severity(ev)
            episode = current.get(key)
            if severity is not None and (
                episode is None or (severity == "page" and episode.severity != "page")
            ):
                changes.append(
                    BreachChange(
                        dataset=key[0], slo=key[1], open=True, severity=severity, burn_rates=_rates(ev)
                    )
                )
            elif severity is None and episode is not None and not ev.no_data:
                changes.append(BreachChange(dataset=key[0], slo=key[1], open=False, burn_rates=_rates(ev)))
            else:
                continue
            evaluations[key] = ev
    if not changes:
        return []
    decided = apply_breach_changes(store, changes, now=now)
    return [
        BreachTransition(state=state, episode=episode, evaluation=evaluations[(episode.dataset, episode.slo)])
        for state, episode in decided
    ]
