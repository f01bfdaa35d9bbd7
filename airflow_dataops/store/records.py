"""Records that are appended, never decided on: SLI observations, contract results, datasets."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, desc, select

from airflow_dataops.clock import as_utc, utcnow
from airflow_dataops.store import tables as t
from airflow_dataops.store.engine import StateStore


@dataclass(frozen=True, kw_only=True)
class SLIRecord:
    """One SLI observation as stored."""

    dataset: str
    kind: str
    value: float | None
    unit: str
    good: bool | None
    observed_at: datetime
    partition_key: str | None = None
    dag_id: str | None = None
    task_id: str | None = None
    run_id: str | None = None
    details: Mapping[str, Any] | None = None


def record_slis(store: StateStore, records: Iterable[SLIRecord]) -> int:
    rows = [
        {
            "dataset": r.dataset,
            "kind": r.kind,
            "partition_key": r.partition_key,
            "value": r.value,
            "unit": r.unit,
            "good": r.good,
            "observed_at": r.observed_at,
            "dag_id": r.dag_id,
            "task_id": r.task_id,
            "run_id": r.run_id,
            "details": dict(r.details) if r.details else None,
        }
        for r in records
    ]
    if rows:
        with store.begin() as conn:
            conn.execute(t.sli_observations.insert(), rows)
    return len(rows)


def sli_history(
    store: StateStore, dataset: str, *, kind: str | None = None, since: datetime | None = None
) -> list[SLIRecord]:
    c = t.sli_observations.c
    query = select(t.sli_observations).where(c.dataset == dataset)
    if kind:
        query = query.where(c.kind == kind)
    if since:
        query = query.where(c.observed_at >= since)
    with store.begin(write=False) as conn:
        return [
            SLIRecord(
                dataset=r.dataset,
                kind=r.kind,
                value=r.value,
                unit=r.unit,
                good=r.good,
                observed_at=as_utc(r.observed_at),  # type: ignore[arg-type]
                partition_key=r.partition_key,
                dag_id=r.dag_id,
                task_id=r.task_id,
                run_id=r.run_id,
                details=r.details,
            )
            for r in conn.execute(query.order_by(c.observed_at, c.id))
        ]


def record_contract_result(
    store: StateStore,
    *,
    report: Mapping[str, Any],
    mode: str,
    verdict: str,
    dag_id: str | None,
    task_id: str | None,
    run_id: str | None,
    checked_at: datetime | None = None,
) -> int:
    """Store a gate report (``GateReport.to_dict()``) and the verdict the gate reached."""
    results = report.get("results", [])
    with store.begin() as conn:
        return int(
            conn.execute(  # type: ignore[index]
                t.contract_results.insert().values(
                    dataset=report["dataset"],
                    partition_key=report.get("partition"),
                    contract_id=report["contract"],
                    contract_version=report["version"],
                    engine=report["engine"],
                    mode=mode,
                    verdict=verdict,
                    rows_checked=report.get("rows"),
                    rules_total=len(results),
                    rules_failed=sum(1 for r in results if not r["passed"]),
                    report=dict(report),
                    dag_id=dag_id,
                    task_id=task_id,
                    run_id=run_id,
                    checked_at=checked_at or utcnow(),
                )
            ).inserted_primary_key[0]
        )


def latest_contract_results(store: StateStore, dataset: str, *, limit: int = 20) -> list[dict[str, Any]]:
    c = t.contract_results.c
    query = (
        select(t.contract_results)
        .where(c.dataset == dataset)
        .order_by(desc(c.checked_at), desc(c.id))
        .limit(limit)
    )
    with store.begin(write=False) as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def upsert_dataset(store: StateStore, dataset: str, **fields: Any) -> None:
    """Register (or refresh) a dataset: its contract, producer task, target table and SLO block."""
    allowed = {c.name for c in t.datasets.columns} - {"dataset", "updated_at"}
    unknown = set(fields) - allowed
    if unknown:
        raise TypeError(f"upsert_dataset: unknown fields {sorted(unknown)}; allowed: {sorted(allowed)}")
    with store.begin() as conn:
        conn.execute(delete(t.datasets).where(t.datasets.c.dataset == dataset))
        conn.execute(t.datasets.insert().values(dataset=dataset, updated_at=utcnow(), **fields))


def get_dataset(store: StateStore, dataset: str) -> dict[str, Any] | None:
    with store.begin(write=False) as conn:
        row = conn.execute(select(t.datasets).where(t.datasets.c.dataset == dataset)).first()
        return dict(row._mapping) if row is not None else None


def list_datasets(store: StateStore, *, dag_id: str | None = None) -> list[dict[str, Any]]:
    query = select(t.datasets).order_by(t.datasets.c.dataset)
    if dag_id:
        query = query.where(t.datasets.c.dag_id == dag_id)
    with store.begin(write=False) as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def partition_findings(
    store: StateStore, dataset: str, keys: Iterable[str] | None = None
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """What on-call needs per partition: the rules its latest gate report failed (with expected
    and actual values) and the reason of each rerun, newest first.

    :returns: ``{partition_key: {"failed_rules": [...], "reruns": [...]}}`` for the partitions
        that have either (all of the dataset's, or those in ``keys``).
    """
    wanted = None if keys is None else set(keys)
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    c = t.contract_results.c
    query = (
        select(c.partition_key, c.report)
        .where(c.dataset == dataset, c.partition_key.is_not(None))
        .order_by(c.partition_key, desc(c.checked_at), desc(c.id))
    )
    h = t.partition_history.c
    reruns = (
        select(h.partition_key, h.reason, h.requested_by, h.started_at, h.state, h.run_id)
        .where(h.dataset == dataset, h.action == "rerun")
        .order_by(h.partition_key, desc(h.started_at), desc(h.id))
    )
    with store.begin(write=False) as conn:
        seen: set[str] = set()
        for key, report in conn.execute(query):
            if key in seen or (wanted is not None and key not in wanted):
                continue
            seen.add(key)
            failed = [
                {
                    "rule": r.get("name"),
                    "severity": r.get("severity"),
                    "expected": r.get("expected"),
                    "actual": r.get("actual"),
                    "failing_rows": r.get("failing_rows"),
                }
                for r in (report or {}).get("results") or []
                if not r.get("passed")
            ]
            if failed:
                out.setdefault(key, {"failed_rules": [], "reruns": []})["failed_rules"] = failed
        for key, reason, requested_by, started, state, run_id in conn.execute(reruns):
            if wanted is not None and key not in wanted:
                continue
            out.setdefault(key, {"failed_rules": [], "reruns": []})["reruns"].append(
                {
                    "reason": reason,
                    "requested_by": requested_by,
                    "started_at": None if started is None else as_utc(started).isoformat(),  # type: ignore[union-attr]
                    "state": state,
                    "run_id": run_id,
                }
            )
    return out
