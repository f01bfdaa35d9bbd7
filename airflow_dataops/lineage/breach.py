"""The OpenLineage event of an SLO breach opened or resolved.

The SLO evaluator runs on a schedule, apart from the pipeline that publishes the dataset, so the
breach is sent as a standalone ``RunEvent`` of job ``dataops_slo.<dataset>`` whose input is the
dataset's table, named as its publish events name it (so the breach lands on the same node in a
lineage UI), with a ``dataops_sloEvaluation`` facet (``breachState`` open|resolved).  Like every
emission it never raises.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["emit_breach"]


def _lineage_identity(dataset: str) -> tuple[str, str]:
    """The dataset's OpenLineage (namespace, name): the table its producer publishes, named as the
    publish events name it.  Falls back to the provider's namespace and the dataset's name when
    no table is registered."""
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


def emit_breach(transition: Any) -> bool:
    """Emit the event of one breach transition (``slo.evaluator.BreachTransition``); never raises.

    :returns: ``False`` when lineage is off or the emission failed (one warning).
    """
    from airflow_dataops.lineage.emit import emit_run_event, lineage_guard

    with lineage_guard(f"SLO breach lineage for {transition.dataset}"):
        from airflow_dataops.lineage.builders import input_dataset
        from airflow_dataops.lineage.run_facets import slo_evaluation_run_facet

        facet = slo_evaluation_run_facet(transition)
        namespace, name = _lineage_identity(transition.dataset)
        return emit_run_event(
            f"dataops_slo.{transition.dataset}",
            run_facets={facet.FACET_KEY: facet},
            inputs=[input_dataset(namespace, name)],
            event_type="COMPLETE",
        )
    return False
