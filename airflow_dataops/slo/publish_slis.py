"""SLIs measured when a partition is published: freshness, correctness, consistency, cost.

Everything is computed where the data lives (one ``MAX()`` over the published partition
for freshness) or from what the publish already knows (the gate report, row counts, time).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, func, select

from airflow_dataops.slo.sli import correctness_score
from airflow_dataops.store.records import SLIRecord

if TYPE_CHECKING:
    from sqlalchemy import Engine, Table

    from airflow_dataops.contracts.model import Contract
    from airflow_dataops.contracts.report import GateReport

FRESHNESS_SLAS = ("latency", "freshness")


def freshness_sla(contract: Contract | None) -> tuple[str, float] | None:
    """(column, threshold seconds) from the contract's ``latency`` (preferred) or ``freshness`` SLA."""
    if contract is None:
        return None
    from airflow_dataops.contracts.rules import duration_seconds

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
    now = now or datetime.now(timezone.utc)
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
        from airflow_dataops.contracts.rules import to_utc

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
    if report is not None and report.results:
        # Reconciliation rules between tables (ODCS dimension "consistency", usually `sql` rules that
        # compare this table with another) make the consistency SLI; every other rule, correctness.
        consistency = [r for r in report.results if (r.dimension or "").lower() == "consistency"]
        correctness = [r for r in report.results if (r.dimension or "").lower() != "consistency"]
        for kind, rules in (("correctness", correctness), ("consistency", consistency)):
            score = correctness_score((r.severity, r.passed) for r in rules) if rules else math.nan
            if math.isnan(score):
                continue
            records.append(
                SLIRecord(
                    kind=kind,
                    value=score,
                    unit="ratio",
                    good=not any(r in report.blocking for r in rules),
                    details={"rules": len(rules), "failed": [r.name for r in rules if not r.passed]},
                    **common,
                )
            )
    records.append(
        SLIRecord(
            kind="cost",
            value=round(seconds, 3),
            unit="s",
            good=None,
            details={"rows": rows_published},
            **common,
        )
    )
    return records
