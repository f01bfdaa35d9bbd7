"""``SLOEvaluationOperator``: judge every dataset's SLOs now, open/resolve breaches, notify once.

Runs without any pipeline running (the shipped DAG ``dataops_slo_evaluator`` runs it every
10 minutes, and at once when a rerun or a verify asks for a re-check: ``slo/recheck.py``): a dataset nobody publishes still decays, because freshness is synthesised at
evaluation time (see ``airflow_dataops.slo.evaluator``).

For each breach episode this run opened or resolved (and ONLY those: a concurrent evaluator
that lost the race is told nothing), every notifier is called with the task context plus
``breach`` (``BreachTransition.to_dict()``), and an OpenLineage run event is emitted for the
job ``dataops_slo.<dataset>`` with the dataset as input and a ``DataOpsSLOEvaluationRunFacet``
(``breachState`` open|resolved): :func:`airflow_dataops.lineage.breach.emit_breach`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.sdk import BaseNotifier, Context

    from airflow_dataops.slo.breaches import BreachTransition
    from airflow_dataops.slo.evaluator import EvaluationRun

__all__ = ["SLOEvaluationOperator"]


class SLOEvaluationOperator(BaseOperator):
    """Evaluate the SLOs of the registered datasets and act on breaches.

    :param datasets: only these datasets (default: every dataset in the store).
    :param notifiers: ``BaseNotifier`` instances (``SLOBreachNotifier``, Slack, SMTP, ...)
        called once per breach opened or resolved, with ``context["breach"]``.
    :param emit_lineage: emit one OpenLineage event per breach transition.
    :param fail_on_invalid: fail the task (after evaluating everything) when a dataset's
        SLO definition is invalid; by default it is logged and reported in the result.

    Returns (XCom) a summary: datasets evaluated, count per status, breaches opened and
    resolved, invalid definitions.
    """

    template_fields: Sequence[str] = ("datasets",)
    ui_color = "#fde8d7"

    def __init__(
        self,
        *,
        datasets: Sequence[str] | None = None,
        notifiers: Sequence[BaseNotifier] = (),
        emit_lineage: bool = True,
        fail_on_invalid: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.datasets = list(datasets) if datasets is not None else None
        self.notifiers = list(notifiers)
        self.emit_lineage = emit_lineage
        self.fail_on_invalid = fail_on_invalid

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_dataops.slo.evaluator import run_evaluation
        from airflow_dataops.store import StateStore

        store = StateStore.from_settings()
        self._consume_rechecks(store)
        run = run_evaluation(store, datasets=self.datasets)
        self._report(run)
        for transition in run.transitions:
            self.announce(transition, context)
        summary = run.summary()
        if self.fail_on_invalid and summary["invalid"]:
            from airflow_dataops.slo.spec import SLODefinitionError

            raise SLODefinitionError("invalid SLO definitions: " + "; ".join(summary["invalid"].values()))
        return summary

    def _consume_rechecks(self, store: Any) -> None:
        """Answer the pending SLO re-check requests (slo/recheck.py) with this evaluation.

        Consumed BEFORE evaluating: a request stored while this run evaluates stays pending and
        triggers the next run, so no fix waits for the time schedule."""
        from airflow_dataops.store.rechecks import consume_rechecks

        try:
            requests = consume_rechecks(store)
        except Exception:  # an unmigrated or unreachable store: the evaluation below says why
            self.log.warning("could not read SLO re-check requests", exc_info=True)
            return
        for r in requests:
            self.log.info("re-check of %s requested by %s: %s", r.dataset, r.requested_by, r.reason)

    def _report(self, run: EvaluationRun) -> None:
        for result in run.results:
            if result.error:
                self.log.error("%s: %s: %s", result.dataset, result.status.value, result.error)
            else:
                self.log.info("%s: %s", result.dataset, result.status.value)

    def announce(self, transition: BreachTransition, context: Any) -> None:
        """Notify and emit lineage for one transition; a failing notifier is logged, not raised."""
        breach = transition.to_dict()
        ctx = dict(context or {})
        ctx["breach"] = breach
        for notifier in self.notifiers:
            try:
                notifier(ctx)
            except Exception:
                self.log.exception(
                    "notifier %s failed for the %s breach %s/%s",
                    type(notifier).__name__,
                    transition.state,
                    transition.dataset,
                    transition.slo,
                )
        if self.emit_lineage:
            from airflow_dataops.lineage.breach import emit_breach

            emit_breach(transition)
