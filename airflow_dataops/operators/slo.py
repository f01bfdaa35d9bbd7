"""``SLOEvaluationOperator``: judge every dataset's SLOs now, open/resolve breaches, notify once.

Runs without any pipeline running (the shipped DAG ``dataops_slo_evaluator`` runs it every
10 minutes, and at once when a rerun or a verify asks for a re-check: ``slo/recheck.py``): a dataset nobody publishes still decays, because freshness is synthesised at
evaluation time (see ``airflow_dataops.slo.evaluator``).

For each breach episode this run opened or resolved (and ONLY those: a concurrent evaluator
that lost the race is told nothing), every notifier is called with the task context plus
``breach`` (``BreachTransition.to_dict()``), and an OpenLineage run event is emitted for the
job ``dataops_slo.<dataset>`` with the dataset as input and a ``DataOpsSLOEvaluationRunFacet``
(``breachState`` open|resolved).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from airflow.sdk import BaseNotifier, Context

    from airflow_dataops.slo.breaches import BreachTransition
    from airflow_dataops.slo.evaluator import EvaluationRun

__all__ = ["SLOEvaluationOperator", "breach_lineage_event"]


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
            breach_lineage_event(transition)


def _lineage_identity(dataset: str) -> tuple[str, str]:
    """The dataset's OpenLineage (namespace, name): the table its producer publishes, named as the
    publish events name it, so the breach lands on the same node in a lineage UI.  Falls back to the
    provider's namespace and the dataset's name when no table is registered."""
    from airflow.providers.openlineage import conf as ol_conf

    from airflow_dataops.store import StateStore
    from airflow_dataops.store.records import get_dataset

    try:
        row = get_dataset(StateStore.from_settings(), dataset)
        if row and row.get("conn_id") and row.get("target_table"):
            from airflow.sdk import BaseHook

            from airflow_dataops.lineage.naming import dataset_namespace_and_name

            ident = dataset_namespace_and_name(BaseHook.get_connection(row["conn_id"]), row["target_table"])
            return ident.namespace, ident.name
    except Exception:  # lineage is best effort; the fallback still names the dataset
        log.debug("no warehouse identity for dataset %s", dataset, exc_info=True)
    return ol_conf.namespace(), dataset


def breach_lineage_event(transition: BreachTransition) -> bool:
    """Emit the OpenLineage event of one breach transition; never raises."""
    from airflow_dataops.lineage.emit import emit_run_event, lineage_guard

    with lineage_guard(f"SLO breach lineage for {transition.dataset}"):
        from airflow_dataops.lineage.builders import input_dataset
        from airflow_dataops.lineage.facets import DataOpsSLOEvaluationRunFacet

        ev = transition.evaluation
        fraction = ev.good_events / ev.total_events if ev.total_events else None
        remaining = ev.budget_remaining
        facet = DataOpsSLOEvaluationRunFacet(
            dataset=transition.dataset,
            objective=ev.objective,
            windowDays=ev.window_days,
            sliKind=ev.kind.value,
            breachState=transition.state,
            sliValue=fraction,
            budgetRemaining=None if remaining is None else min(remaining, 1.0),
            burnRates={k: max(v, 0.0) for k, v in ev.burn_rates.items() if v is not None},
            alertSeverity=transition.severity,
        )
        namespace, name = _lineage_identity(transition.dataset)
        return emit_run_event(
            f"dataops_slo.{transition.dataset}",
            run_facets={DataOpsSLOEvaluationRunFacet.FACET_KEY: facet},
            inputs=[input_dataset(namespace, name)],
            event_type="COMPLETE",
        )
    return False
