"""Our run facets built from domain values: a gate's verdict, a partition write's or a rollback's
ledger decision, an SLO evaluation's breach state.

The counterpart of :mod:`~airflow_dataops.lineage.builders` (standard facets and datasets) for
the facets of :mod:`~airflow_dataops.lineage.facets`: every place that sends one of them (the
operators' ``get_openlineage_facets_on_*``, ``partitions rollback``, the SLO evaluator) builds
it here, so one facet has one construction.  Pure functions; the OpenLineage client is
imported inside each.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_dataops.contracts.report import GateReport

__all__ = [
    "gate_run_facet",
    "rollback_run_facet",
    "slo_evaluation_run_facet",
    "write_ledger_run_facet",
]


def gate_run_facet(report: GateReport, *, mode: str, verdict: str, partition_key: str | None) -> Any:
    """Our ``dataops_gate`` run facet: the contract, the mode, the verdict and the rule counts."""
    from airflow_dataops.lineage.facets import DataOpsGateRunFacet

    return DataOpsGateRunFacet(
        contractId=report.contract_id,
        contractVersion=report.contract_version,
        mode=mode,
        verdict=verdict,
        rulesTotal=len(report.results),
        rulesFailed=len(report.failed),
        dataset=report.dataset,
        partitionKey=partition_key,
    )


def write_ledger_run_facet(
    ledger: Mapping[str, Any], *, dataset: str, run_id: str | None, attempt: int | None
) -> Any:
    """The ``dataops_partitionLedger`` facet of one partition write, as it happened.

    :param ledger: what the write operator recorded: ``partition``, ``decision``, ``reason`` or
        ``error``, ``apply_id``, ``result`` (``writer.PublishResult``) and ``previous`` (the
        ledger row it replaced).  A gate refusal or a failed publish is ``failed``, never ``skipped``.
    """
    from airflow_dataops.lineage.facets import LEDGER_DECISIONS, DataOpsPartitionLedgerRunFacet

    result = ledger.get("result")
    decision = ledger.get("decision", "")
    if decision == "stale" and decision not in LEDGER_DECISIONS:
        decision = "rerun"  # a stale partition replaced: a rerun, until the facet's schema knows "stale"
    decision = decision if decision in LEDGER_DECISIONS else "skipped"
    return DataOpsPartitionLedgerRunFacet(
        dataset=dataset,
        partitionKey=ledger["partition"],
        decision=decision,
        runId=run_id or "unknown",
        attempt=max(1, int(attempt or 1)),
        reason=ledger.get("reason") or ledger.get("error"),
        rowsIn=result.rows_in if result else None,
        rowsPublished=result.rows_published if result else None,
        rowsQuarantined=result.rows_quarantined if result else None,
        checksum=result.checksum if result else None,
        applyId=ledger.get("apply_id"),
        supersedes=_superseded(ledger.get("previous"), result),
    )


def _superseded(previous: Any, result: Any) -> Any:
    """The published version this write replaced, and whether its rows were kept for a rollback."""
    from airflow_dataops.lineage.facets import version_ref
    from airflow_dataops.store.states import PUBLISHED_STATES

    if previous is None or result is None or previous.state not in PUBLISHED_STATES:
        return None
    return version_ref(
        previous.apply_id,
        rows=previous.rows_published,
        checksum=previous.checksum,
        state="superseded",
        kept=getattr(result, "kept", None) is not None,
    )


def rollback_run_facet(result: Any, *, previous: Any, restored: Any) -> Any:
    """The ledger facet of one rollback (``result``: ``partitions.rollback.RollbackResult``)."""
    from airflow_dataops.lineage.facets import DataOpsPartitionLedgerRunFacet, version_ref

    return DataOpsPartitionLedgerRunFacet(
        dataset=result.dataset,
        partitionKey=result.partition_key,
        decision="rolled_back",
        runId=result.run_id,
        attempt=1,
        reason=result.reason,
        requestedBy=result.requested_by,
        rowsIn=result.rows,
        rowsPublished=result.rows,
        rowsQuarantined=0,
        checksum=result.checksum,
        applyId=result.apply_id,
        supersedes=version_ref(
            result.replaced_apply_id,
            rows=getattr(previous, "rows_published", None),
            checksum=getattr(previous, "checksum", None),
            state="rolled_back",
            kept=result.replaced_kept,
        ),
        restored=version_ref(restored.apply_id, rows=restored.rows, checksum=restored.checksum),
    )


def slo_evaluation_run_facet(transition: Any) -> Any:
    """The ``dataops_sloEvaluation`` facet of one breach opened or resolved
    (``transition``: ``slo.evaluator.BreachTransition``)."""
    from airflow_dataops.lineage.facets import DataOpsSLOEvaluationRunFacet

    ev = transition.evaluation
    fraction = ev.good_events / ev.total_events if ev.total_events else None
    remaining = ev.budget_remaining
    return DataOpsSLOEvaluationRunFacet(
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
