"""SLIs measured by the gate and by a publish: correctness, consistency, freshness, cost.

Which outcome records which event (the table in ``docs/slo.md`` says the same):

* **The gate** (:func:`gate_slis`, recorded by ``wap.audit.record_and_enforce`` for
  every verdict, before a refusal raises): correctness = the severity-weighted share of the
  contract's rules that passed, consistency = the same over ``dimension: consistency`` rules.
  Timeliness rules (``latency``/``freshness``) are left out: lateness is freshness's business,
  not correctness's.  A refused partition (verdict ``failed``, in any mode) records a BAD
  correctness event whatever its score; failing error rules in ``warn`` mode too.  Because
  the gate records before publishing, a publish that fails after the gate has its correctness
  on record.
* **The publish** (:func:`slis_for_publish`): freshness (the dataset's lag, one ``MAX()`` over
  the published partition), cost (seconds) and, for a quarantine, a correctness event whose
  value is the share of rows published (good rows / rows checked), judged by the SLO threshold.
  It supersedes the gate's event of that partition (same key, later row).
* A double apply the ledger refuses never reaches the gate: nothing is recorded.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, func, select

from airflow_dataops.clock import utcnow
from airflow_dataops.slo.sli import correctness_score
from airflow_dataops.store.records import SLIRecord

if TYPE_CHECKING:
    from sqlalchemy import Engine, Table

    from airflow_dataops.contracts.model import Contract
    from airflow_dataops.contracts.report import GateReport, RuleResult

FRESHNESS_SLAS = ("latency", "freshness")
#: ODCS dimensions left out of correctness: lateness is measured by the freshness SLI.
TIMELINESS_DIMENSIONS = frozenset({"timeliness"})


def cost_sli(seconds: float, details: dict[str, Any], **common: Any) -> SLIRecord:
    """The cost event of one run: its seconds, unjudged (the SLO's threshold judges it).

    :param common: the record's dataset, partition_key, observed_at, dag_id, task_id, run_id.
    """
    return SLIRecord(kind="cost", value=round(seconds, 3), unit="s", good=None, details=details, **common)


def _rules_by_kind(report: GateReport) -> dict[str, list[RuleResult]]:
    out: dict[str, list[RuleResult]] = {"correctness": [], "consistency": []}
    for r in report.results:
        dimension = (r.dimension or "").lower()
        if dimension in TIMELINESS_DIMENSIONS:
            continue
        out["consistency" if dimension == "consistency" else "correctness"].append(r)
    return out


def gate_slis(
    report: GateReport,
    *,
    verdict: str,
    observed_at: datetime | None = None,
    dag_id: str | None = None,
    task_id: str | None = None,
    run_id: str | None = None,
) -> list[SLIRecord]:
    """The correctness and consistency events of one gate decision (see the module doc).

    :param verdict: the gate's verdict value (``passed``, ``warned``, ``quarantined``, ``failed``).
    """
    common: dict[str, Any] = {
        "dataset": report.dataset,
        "partition_key": report.partition,
        "observed_at": observed_at or utcnow(),
        "dag_id": dag_id,
        "task_id": task_id,
        "run_id": run_id,
    }
    # A refusal (any mode) is a bad correctness event, unless only timeliness rules refused it.
    refused_for_data = verdict == "failed" and not all(
        (r.dimension or "").lower() in TIMELINESS_DIMENSIONS for r in report.blocking
    )
    records = []
    for kind, rules in _rules_by_kind(report).items():
        forced = kind == "correctness" and refused_for_data
        if not rules and not forced:
            continue
        score = correctness_score((r.severity, r.passed) for r in rules) if rules else math.nan
        bad = forced or any(r in report.blocking for r in rules)
        records.append(
            SLIRecord(
                kind=kind,
                value=None if math.isnan(score) else score,
                unit="ratio",
                good=not bad,
                details={
                    "outcome": verdict,
                    "rules": len(rules),
                    "failed": [r.name for r in rules if not r.passed],
                },
                **common,
            )
        )
    return records


def freshness_sla(contract: Contract | None) -> tuple[str, float] | None:
    """(column, threshold seconds) from the contract's ``latency`` (preferred) or ``freshness`` SLA."""
    if contract is None:
        return None
    from airflow_dataops.contracts.datatypes import duration_seconds

    for name in FRESHNESS_SLAS:
        for sla in contract.sla_properties:
            if sla.property.lower() == name and sla.element:
                column = sla.element.split(".")[-1]
                return column, duration_seconds(float(sla.value), sla.unit)
    return None


def slis_for_publish(
    *,
    engine: Engine,
    target: Table,
    partition_column: str,
    partition_key: str,
    contract: Contract | None,
    schema_object: str | None,
    report: GateReport | None,
    dataset: str,
    seconds: float,
    rows_published: int,
    dag_id: str | None,
    task_id: str | None,
    run_id: str | None,
    now: datetime | None = None,
    lag_before: float | None = None,
) -> list[SLIRecord]:
    """The SLI records of one publish.

    Freshness is the *dataset's* lag, not the partition's: the newest data of the partition just
    published, or the dataset's newest before it (``lag_before``: its lag at ``now``, from the
    store), whichever is newer.  So a rerun or backfill of an old partition never makes a
    dataset look stale, never burns its freshness budget and never pages.
    """
    now = now or utcnow()
    common: dict[str, Any] = {
        "dataset": dataset,
        "partition_key": partition_key,
        "observed_at": now,
        "dag_id": dag_id,
        "task_id": task_id,
        "run_id": run_id,
    }
    records: list[SLIRecord] = []
    sla = freshness_sla(contract)
    if sla is not None and sla[0] in target.c:
        column, threshold = sla
        with engine.connect() as conn:
            newest = conn.execute(
                select(func.max(target.c[column])).where(
                    target.c[partition_column] == bindparam("partition_key", partition_key, unique=True)
                )
            ).scalar_one()
        from airflow_dataops.contracts.datatypes import to_utc

        newest_utc = to_utc(newest)
        if newest_utc is not None:
            now_utc = now.astimezone(timezone.utc).replace(tzinfo=None)
            # Scheduled timestamps may lie ahead of now (a departure later today): no lag, not negative lag.
            partition_lag = max(0.0, (now_utc - newest_utc).total_seconds())
            lag = partition_lag if lag_before is None else min(partition_lag, max(0.0, lag_before))
            details: dict[str, Any] = {
                "column": column,
                "newest": (now_utc - timedelta(seconds=lag)).isoformat() + "Z",
                "threshold_s": threshold,
            }
            if lag < partition_lag:  # an older partition: the dataset's newest data is elsewhere
                details["partition_newest"] = newest_utc.isoformat() + "Z"
            records.append(
                SLIRecord(
                    kind="freshness", value=lag, unit="s", good=lag <= threshold, details=details, **common
                )
            )
    rows_checked = report.row_count if report is not None else None
    if report is not None and rows_checked and rows_published < rows_checked:
        # A quarantine: the good-row ratio, judged by the SLO threshold; it supersedes the
        # gate's event of this partition (correctness and consistency were recorded by the gate).
        records.append(
            SLIRecord(
                kind="correctness",
                value=rows_published / rows_checked,
                unit="ratio",
                good=True,
                details={
                    "outcome": "quarantined",
                    "rows_checked": rows_checked,
                    "rows_quarantined": rows_checked - rows_published,
                    "failed": [r.name for r in report.failed],
                },
                **common,
            )
        )
    records.append(cost_sli(seconds, {"rows": rows_published}, **common))
    return records
