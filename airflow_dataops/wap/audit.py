"""The audit step: the gate on staged rows, its verdict recorded and enforced.

:func:`audit_staged` checks the rows where they were staged; :func:`quarantine_rules` turns a
quarantined verdict into the row rules the writer moves aside; :func:`record_and_enforce`
stores the report and its SLIs, then raises or logs (shared with ``ContractGateOperator``,
the audit step on its own, so a gate is worded the same wherever it runs).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Engine, Table

    from airflow_dataops.contracts.model import Contract
    from airflow_dataops.contracts.report import GateReport, Verdict
    from airflow_dataops.partitions.quarantine import RowRule

__all__ = ["audit_staged", "quarantine_rules", "record_and_enforce"]


def audit_staged(
    engine: Engine,
    stage: Table,
    contract: Contract,
    *,
    dataset: str,
    partition_key: str,
    schema_object: str | None = None,
    db_schema: str | None = None,
) -> GateReport:
    """The contract's gate over the staged rows (one aggregate scan where they are), as a report of
    ``dataset``'s ``partition_key``."""
    from dataclasses import replace

    from airflow_dataops.contracts.engines.sql import evaluate_sql

    report = evaluate_sql(
        contract,
        engine_or_connection=engine,
        table=stage.name,
        schema_object=schema_object,
        db_schema=db_schema,
        columns={c.name: c.type for c in stage.columns},  # staged just now: no need to inspect it
    )
    return replace(report, dataset=dataset, partition=partition_key)


def quarantine_rules(
    contract: Contract,
    report: GateReport,
    stage: Table,
    *,
    schema_object: str | None = None,
    db_schema: str | None = None,
) -> list[RowRule]:
    """The writer's row rules for a quarantined verdict: each quarantinable failed rule with the
    predicate TRUE for its failing rows of ``stage``."""
    from airflow_dataops.contracts import gate
    from airflow_dataops.contracts.evaluate import row_rules

    return row_rules(
        contract, gate.quarantinable(report), stage, schema_object=schema_object, db_schema=db_schema
    )


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
    :param ti: who ran the gate: anything with ``dag_id``, ``task_id`` and ``run_id`` (an Airflow
        task instance, a :class:`airflow_dataops.wap.target.Attempt`).
    :param when_failed: what the failure left behind, appended to the message (e.g. "Nothing was published").
    """
    from airflow_dataops.contracts import gate
    from airflow_dataops.contracts.report import Verdict
    from airflow_dataops.exceptions import ContractViolation
    from airflow_dataops.store.records import record_contract_result
    from airflow_dataops.wap.target import run_names

    record_contract_result(store, report=stored, mode=mode, verdict=verdict.value, **run_names(ti))
    try:
        from airflow_dataops.slo.publish_slis import gate_slis
        from airflow_dataops.store.records import record_slis

        record_slis(store, gate_slis(report, verdict=verdict.value, **run_names(ti)))
    except Exception as e:  # the verdict stands; only its SLI is missing
        log.warning(
            "dataops: could not record the gate's SLIs of %s: %s: %s", report.dataset, type(e).__name__, e
        )
    message = gate.explain(report, verdict, mode=mode)
    if verdict is Verdict.FAILED:
        raise ContractViolation(f"{message}\n{when_failed}")
    (log.info if verdict is Verdict.PASSED else log.warning)("%s", message)
