"""Fast resolution: re-evaluate a dataset's SLOs as soon as something may have fixed it.

The evaluator DAG runs on a time schedule OR on the ``dataops_slo_recheck`` asset, whose watcher
(``SLORecheckTrigger``, in Airflow's triggerer; ``triggers/recheck.py``) fires when a re-check
request is stored::

    from airflow_dataops import evaluator_schedule

    with DAG("dataops_slo_evaluator", schedule=evaluator_schedule(timedelta(minutes=10)), ...):
        SLOEvaluationOperator(task_id="evaluate_slos", notifiers=[...])

Requests come from a successful apply that was a rerun or that landed while the dataset had an
open breach (``PartitionWriteOperator``), and from ``airflow dataops partitions verify`` when every
partition it checked matches the ledger.  The breach then resolves within one evaluator run of the
fix (a few seconds of polling plus the run), announced once, as on the time schedule.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_dataops.store import StateStore

log = logging.getLogger(__name__)

__all__ = ["ask_for_recheck", "has_open_breach"]


def ask_for_recheck(store: StateStore, dataset: str, *, reason: str, requested_by: str) -> bool:
    """Store a re-check request for ``dataset``; best effort: a failure is logged, never raised
    (the time schedule still evaluates the dataset)."""
    from airflow_dataops.store.rechecks import request_recheck

    try:
        request_id = request_recheck(store, dataset, reason=reason, requested_by=requested_by)
    except Exception as e:
        log.warning("could not ask for an SLO re-check of %s: %s: %s", dataset, type(e).__name__, e)
        return False
    log.info("asked the SLO evaluator to re-check %s now (request %d): %s", dataset, request_id, reason)
    return True


def has_open_breach(store: StateStore, dataset: str) -> bool:
    """Whether ``dataset`` has an open breach episode (a publish may be its fix)."""
    from airflow_dataops.store.breaches import open_breaches

    return bool(open_breaches(store, datasets=[dataset]))
