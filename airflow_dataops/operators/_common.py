"""What the gate and the write-audit-publish operators share: recording and enforcing a gate
verdict (store the whole report, then log or raise, worded the same way).  The warehouse hook is
:func:`airflow_dataops.warehouse.sql_hook`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_dataops.contracts.report import GateReport, Verdict


def record_and_enforce(
    store: Any,
    report: GateReport,
    stored: dict[str, Any],
    *,
    verdict: Verdict,
    mode: str,
    ti: Any,
    log: logging.Logger | Any,
    when_failed: str,
) -> None:
    """Store the report with its verdict and its SLI events, then raise ``ContractViolation`` if it
    failed, else log it.

    The correctness/consistency events (``slo.publish_slis.gate_slis``) are recorded for every
    verdict, so a refused partition counts as a bad correctness event; failing to record them
    is logged and never changes the gate's outcome.

    :param stored: the report as stored (``report.to_dict()`` plus anything the caller adds).
    :param when_failed: what the failure left behind, appended to the message (e.g. "Nothing was published").
    """
    from airflow_dataops.contracts import gate
    from airflow_dataops.contracts.report import Verdict
    from airflow_dataops.exceptions import ContractViolation
    from airflow_dataops.store.records import record_contract_result

    record_contract_result(
        store,
        report=stored,
        mode=mode,
        verdict=verdict.value,
        dag_id=ti.dag_id,
        task_id=ti.task_id,
        run_id=ti.run_id,
    )
    try:
        from airflow_dataops.slo.publish_slis import gate_slis
        from airflow_dataops.store.records import record_slis

        record_slis(
            store,
            gate_slis(report, verdict=verdict.value, dag_id=ti.dag_id, task_id=ti.task_id, run_id=ti.run_id),
        )
    except Exception as e:  # the verdict stands; only its SLI is missing
        log.warning(
            "dataops: could not record the gate's SLIs of %s: %s: %s", report.dataset, type(e).__name__, e
        )
    message = gate.explain(report, verdict, mode=mode)
    if verdict is Verdict.FAILED:
        raise ContractViolation(f"{message}\n{when_failed}")
    (log.info if verdict is Verdict.PASSED else log.warning)("%s", message)
