"""What the UI shows, read from the store and evaluated: one function per page.

The pages (``pages``) and the JSON API (``app``) are thin over these functions, so both say
the same thing; and these functions are thin over the SLO evaluator's batched loader
(``slo.evaluator.evaluate_rows`` → ``slo.evaluation.evaluate_dataset``), the same evaluation
the CLI and the evaluator DAG run, so the UI cannot say anything else than they do.  What the
UI adds is a per-process snapshot kept current cheaply (:func:`all_summaries`), the ledger's
latest partition, open breach counts, history for the charts and the burndown.

Why one module of ~570 lines: the overview (with its snapshot) and the dataset page build
their rows with the same ``_summary`` from the same evaluation at the same ``utcnow()`` (the
parity test pins that one clock), so the two pages cannot drift apart.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_dataops.clock import as_utc, utcnow
from airflow_dataops.partitions.ledger import rerun_command
from airflow_dataops.partitions.staleness import stale_partitions
from airflow_dataops.slo.budget import report_from_count
from airflow_dataops.slo.burn_rate import SLOEvaluation
from airflow_dataops.slo.evaluation import (
    DatasetEvaluation,
    DatasetInputs,
    evaluate_dataset,
    evaluation_to_dict,
    slo_events,
)
from airflow_dataops.slo.evaluator import evaluate_rows
from airflow_dataops.slo.loader import specs_or_error
from airflow_dataops.slo.reads import FEW, gc_paused, read_inputs
from airflow_dataops.slo.spec import SLOSpec
from airflow_dataops.slo.status import DATASET_ORDER, LABEL
from airflow_dataops.store import StateStore
from airflow_dataops.store.breaches import list_breaches, open_breaches
from airflow_dataops.store.ledger import latest_partitions, list_partitions
from airflow_dataops.store.marks import StoreMarks, changed_datasets, dataset_rows, read_marks
from airflow_dataops.store.records import (
    get_dataset,
    latest_contract_results,
    list_datasets,
    partition_findings,
)
from airflow_dataops.store.slo_reads import read_sli_columns_for
from airflow_dataops.store.versions import versions_by_partition

log = logging.getLogger(__name__)

#: Worst first: the overview's default order (``slo.status.DATASET_ORDER``, as values).
STATUS_ORDER = tuple(s.value for s in DATASET_ORDER)
STATUS_LABEL = LABEL
_HISTORY_DAYS = 90


@dataclass(frozen=True, kw_only=True)
class SLOView:
    """One SLO (one SLI kind) of a dataset, as evaluated now."""

    kind: str
    status: str
    objective: float | None = None
    window_days: float | None = None
    threshold: str | None = None
    budget_remaining: float | None = None
    burn_rates: dict[str, float | None] = field(default_factory=dict)
    firing: list[str] = field(default_factory=list)
    sli_value: float | None = None
    unit: str | None = None
    good_events: int = 0
    bad_events: int = 0
    missing_events: int = 0
    total_events: int = 0
    error: str | None = None

    @classmethod
    def of(cls, evaluation: SLOEvaluation, spec: SLOSpec) -> SLOView:
        d = evaluation_to_dict(evaluation, spec, alerts=False)
        return cls(
            kind=d["slo"],
            status=d["status"],
            objective=d["objective"],
            window_days=d["window_days"],
            threshold=d["threshold"],
            budget_remaining=d["budget_remaining"],
            burn_rates=d["burn_rates"],
            firing=d["firing"],
            sli_value=d["sli_value"],
            unit=spec.canonical_threshold[1],
            good_events=d["good_events"],
            bad_events=d["bad_events"],
            missing_events=d["missing_events"],
            total_events=d["total_events"],
        )

    def to_dict(self) -> dict[str, Any]:
        """The keys of ``evaluation_to_dict`` (what ``slo status -o json`` writes), plus ``unit``."""
        return {
            "slo": self.kind,
            "status": self.status,
            "objective": self.objective,
            "window_days": self.window_days,
            "threshold": self.threshold,
            "budget_remaining": self.budget_remaining,
            "burn_rates": dict(self.burn_rates),
            "firing": list(self.firing),
            "sli_value": self.sli_value,
            "unit": self.unit,
            "good_events": self.good_events,
            "bad_events": self.bad_events,
            "missing_events": self.missing_events,
            "total_events": self.total_events,
            "error": self.error,
        }


@dataclass(frozen=True, kw_only=True)
class DatasetSummary:
    """One overview row: the dataset, its worst SLO and where it was last written."""

    dataset: str
    description: str | None
    owner: str | None
    dag_id: str | None
    task_id: str | None
    contract_id: str | None
    contract_version: str | None
    target_table: str | None
    status: str
    objective: str
    budget_remaining: float | None
    burn_rates: dict[str, float | None]
    freshness_seconds: float | None
    last_partition: str | None
    last_partition_state: str | None
    last_partition_at: datetime | None
    open_breaches: int
    slos: list[SLOView]
    error: str | None = None
    evaluated_at: datetime | None = None

    @property
    def status_rank(self) -> int:
        return STATUS_ORDER.index(self.status)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}  # shallow: asdict deep-copies
        out["burn_rates"] = dict(self.burn_rates)
        out["slos"] = [v.to_dict() for v in self.slos]
        out["last_partition_at"] = _iso(self.last_partition_at)
        out["evaluated_at"] = _iso(self.evaluated_at)
        return out


@dataclass(frozen=True, kw_only=True)
class SeriesPoint:
    at: datetime
    value: float | None
    good: bool | None
    partition_key: str | None


@dataclass(frozen=True, kw_only=True)
class DatasetDetail:
    """Everything the dataset page shows."""

    summary: DatasetSummary
    contract_path: str | None
    sli_history: dict[str, list[SeriesPoint]]
    burndown: dict[str, list[tuple[datetime, float | None]]]
    breaches: list[dict[str, Any]]
    partitions: list[dict[str, Any]]
    contract_result: dict[str, Any] | None
    evaluated_at: datetime


# ------------------------------------------------------------------------------- helpers
def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _worst(views: Sequence[SLOView]) -> SLOView | None:
    if not views:
        return None
    return min(
        views,
        key=lambda v: (
            STATUS_ORDER.index(v.status),
            v.budget_remaining if v.budget_remaining is not None else math.inf,
        ),
    )


def _objective_text(views: Sequence[SLOView]) -> str:
    parts = []
    for v in views:
        if v.objective is None:
            continue
        text = f"{v.kind} {v.objective * 100:g}% / {v.window_days:g}d"
        parts.append(f"{text} ({v.threshold})" if v.threshold else text)
    return "; ".join(parts)


def _summary(
    row: Mapping[str, Any],
    ev: DatasetEvaluation,
    part: Mapping[str, Any],
    breaches_open: int,
) -> DatasetSummary:
    """One overview row from THE evaluation of the dataset (nothing re-judged here)."""
    views = [SLOView.of(e, spec) for e, spec in zip(ev.evaluations, ev.specs, strict=True)]
    worst = _worst(views)
    fresh = next((v for v in views if v.kind == "freshness"), None)
    return DatasetSummary(
        dataset=ev.dataset,
        description=row.get("description"),
        owner=row.get("owner"),
        dag_id=row.get("dag_id"),
        task_id=row.get("task_id"),
        contract_id=row.get("contract_id"),
        contract_version=row.get("contract_version"),
        target_table=row.get("target_table"),
        status=ev.status.value,
        objective=_objective_text(views),
        budget_remaining=worst.budget_remaining if worst else None,
        burn_rates=dict(worst.burn_rates) if worst else {},
        freshness_seconds=fresh.sli_value if fresh else None,
        last_partition=part.get("key"),
        last_partition_state=part.get("state"),
        last_partition_at=part.get("at"),
        open_breaches=breaches_open,
        slos=views,
        error=ev.error,
        evaluated_at=ev.evaluated_at,
    )


def _summaries(
    store: StateStore, rows: Sequence[Mapping[str, Any]], now: datetime, *, all_datasets: bool = False
) -> list[DatasetSummary]:
    if not rows:
        return []
    results = evaluate_rows(store, rows, now=now, all_datasets=all_datasets)
    subset: list[str] | None = [r["dataset"] for r in rows] if len(rows) <= FEW else None
    latest = latest_partitions(store, subset)
    breaches_open: dict[str, int] = {}
    for dataset, _slo in open_breaches(store, datasets=subset):
        breaches_open[dataset] = breaches_open.get(dataset, 0) + 1
    return [
        _summary(row, ev, latest.get(ev.dataset, {}), breaches_open.get(ev.dataset, 0))
        for row, ev in zip(rows, results, strict=True)
    ]


# --------------------------------------------------------------------------- the pages
@dataclass(frozen=True)
class _Snapshot:
    marks: StoreMarks
    taken: float  # time.monotonic() of the full evaluation the snapshot started from
    evaluated_at: datetime
    summaries: Mapping[str, DatasetSummary]


_SNAPSHOTS: dict[str, _Snapshot] = {}
_REFRESHING: set[str] = set()
_SNAPSHOT_LOCK = threading.Lock()
#: After this many seconds the snapshot is re-evaluated in full (statuses move with time alone).
SNAPSHOT_TTL = 60.0


def _full(store: StateStore) -> _Snapshot:
    marks, taken, now = (
        read_marks(store),
        time.monotonic(),
        utcnow(),
    )  # marks first: later writes show up next time
    with gc_paused():  # the summaries too, not only the read and the evaluation (no cycles here)
        summaries = _summaries(store, list_datasets(store), now, all_datasets=True)
    return _Snapshot(marks, taken, now, {s.dataset: s for s in summaries})


def _refresh_in_background(store: StateStore) -> None:
    key = store.url
    with _SNAPSHOT_LOCK:
        if key in _REFRESHING:
            return
        _REFRESHING.add(key)

    def run() -> None:
        try:
            snap = _full(store)
            with _SNAPSHOT_LOCK:
                current = _SNAPSHOTS.get(key)
                if current is None or current.taken <= snap.taken:
                    _SNAPSHOTS[key] = snap
        except Exception:  # the next request tries again, synchronously if need be
            log.exception("dataops UI: refreshing the overview snapshot failed")
        finally:
            with _SNAPSHOT_LOCK:
                _REFRESHING.discard(key)

    threading.Thread(target=run, name="dataops-ui-snapshot", daemon=True).start()


def all_summaries(store: StateStore, *, now: datetime | None = None) -> list[DatasetSummary]:
    """Every dataset's summary, from a per-process snapshot kept current cheaply.

    The first call evaluates every dataset.  Later calls read the store's high-water marks
    (a few indexed aggregates) and re-evaluate only the datasets that changed since (new
    SLIs, partition writes, registrations, breaches), through the index.  After
    ``SNAPSHOT_TTL`` seconds the whole snapshot is re-evaluated in a background thread,
    since statuses also move with time alone; requests meanwhile get the current one.
    With ``now`` (tests), everything is evaluated at ``now`` and no snapshot is used.
    """
    if now is not None:
        return _summaries(store, list_datasets(store), now, all_datasets=True)
    key = store.url
    snap = _SNAPSHOTS.get(key)
    if snap is None:
        snap = _full(store)
        with _SNAPSHOT_LOCK:
            _SNAPSHOTS[key] = snap
        return list(snap.summaries.values())
    if time.monotonic() - snap.taken >= SNAPSHOT_TTL:
        _refresh_in_background(store)
    marks = read_marks(store)
    if marks == snap.marks:
        return list(snap.summaries.values())
    changed = changed_datasets(store, snap.marks, marks, snap.evaluated_at)
    if (marks.datasets, marks.datasets_at) == (snap.marks.datasets, snap.marks.datasets_at):
        rows = dataset_rows(store, changed)  # the same datasets: read only the changed ones
        merged = dict(snap.summaries)
    else:  # registered, refreshed or removed: take the list again
        rows = list_datasets(store)
        changed |= {r["dataset"] for r in rows} - set(snap.summaries)
        merged = {r["dataset"]: snap.summaries.get(r["dataset"]) for r in rows}  # type: ignore[misc]
        rows = [r for r in rows if r["dataset"] in changed]
    merged.update({s.dataset: s for s in _summaries(store, rows, utcnow())})
    updated = _Snapshot(marks, snap.taken, snap.evaluated_at, merged)
    with _SNAPSHOT_LOCK:
        if _SNAPSHOTS.get(key) is snap:
            _SNAPSHOTS[key] = updated
    return list(merged.values())


def evaluated_at(store: StateStore) -> datetime:
    """When the statuses :func:`all_summaries` returns were evaluated: the snapshot's full
    evaluation (datasets that changed since were re-evaluated later, as they changed), else now."""
    snap = _SNAPSHOTS.get(store.url)
    return snap.evaluated_at if snap is not None else utcnow()


def clear_snapshots() -> None:
    with _SNAPSHOT_LOCK:
        _SNAPSHOTS.clear()


def overview(
    store: StateStore,
    *,
    readable: Callable[[set[str]], set[str]] | None = None,
    dag_id: str | None = None,
    now: datetime | None = None,
) -> list[DatasetSummary]:
    """Every dataset the caller may read, worst first.

    :param readable: given the producing DAG ids, returns those the caller may read
        (``None``: all).  A dataset without a producing DAG is shown to every caller.
    :param dag_id: only the datasets this DAG produces (evaluated alone unless a snapshot is fresh).
    """
    if dag_id is not None:
        snap = _SNAPSHOTS.get(store.url)
        if now is None and snap is not None and snap.marks == read_marks(store):
            summaries = [s for s in snap.summaries.values() if s.dag_id == dag_id]
        else:
            summaries = _summaries(store, list_datasets(store, dag_id=dag_id), now or utcnow())
    else:
        summaries = all_summaries(store, now=now)
    if readable is not None:
        allowed = readable({s.dag_id for s in summaries if s.dag_id})
        summaries = [s for s in summaries if not s.dag_id or s.dag_id in allowed]
    return sort_summaries(summaries, "status", descending=False)


def _sort_key(field_name: str) -> Callable[[DatasetSummary], Any]:
    def none_last(value: Any) -> tuple[int, Any]:
        return (1, 0) if value is None else (0, value)

    keys = {
        "status": lambda s: (s.status_rank, none_last(s.budget_remaining), s.dataset),
        "dataset": lambda s: s.dataset.lower(),
        "owner": lambda s: (none_last((s.owner or "").lower() or None), s.dataset),
        "budget": lambda s: (none_last(s.budget_remaining), s.dataset),
        "freshness": lambda s: (none_last(s.freshness_seconds), s.dataset),
        "partition": lambda s: (none_last(s.last_partition), s.dataset),
        "burn": lambda s: (
            none_last(
                -max((v for v in s.burn_rates.values() if v is not None), default=-0.0)
                if s.burn_rates
                else None
            ),
            s.dataset,
        ),
    }
    return keys.get(field_name, keys["status"])


SORT_FIELDS = ("status", "dataset", "owner", "budget", "burn", "freshness", "partition")


def sort_summaries(rows: list[DatasetSummary], by: str, *, descending: bool) -> list[DatasetSummary]:
    return sorted(rows, key=_sort_key(by), reverse=descending)


def filter_summaries(
    rows: Iterable[DatasetSummary], *, text: str = "", status: str = ""
) -> list[DatasetSummary]:
    needle = text.strip().lower()
    out = []
    for s in rows:
        if status and s.status != status:
            continue
        if needle and not any(
            needle in (v or "").lower() for v in (s.dataset, s.owner, s.dag_id, s.description)
        ):
            continue
        out.append(s)
    return out


def dataset_detail(store: StateStore, dataset: str, *, now: datetime | None = None) -> DatasetDetail | None:
    """The dataset page's data, or ``None`` for an unknown dataset."""
    now = now or utcnow()
    row = get_dataset(store, dataset)
    if row is None:
        return None
    specs = {dataset: specs_or_error(row)}
    inputs = read_inputs(store, specs, now).get(dataset, DatasetInputs())
    ev = evaluate_dataset(dataset, specs[dataset], inputs, now)
    latest = latest_partitions(store, [dataset])
    opened = len(open_breaches(store, datasets=[dataset]))
    summary = _summary(row, ev, latest.get(dataset, {}), opened)
    columns = read_sli_columns_for(
        store, datasets=[dataset], since=now - timedelta(days=_HISTORY_DAYS), until=now
    )
    history = {
        kind: [
            SeriesPoint(
                at=datetime.fromtimestamp(ts, timezone.utc),
                value=v,
                good=None if g is None else bool(g),
                partition_key=p,
            )
            for ts, v, g, p in zip(cols.times, cols.values, cols.goods, cols.partitions)
        ]
        for (_, kind), cols in sorted(columns.items())
    }
    long_inputs = DatasetInputs(
        columns={kind: cols for (_, kind), cols in columns.items()},
        ledger=inputs.ledger,
        newest_data=inputs.newest_data,
    )
    burndown = {spec.kind.value: _burndown(spec, long_inputs, now) for spec in ev.specs}
    findings = partition_findings(store, dataset)
    kept = versions_by_partition(store, dataset)  # kept versions and rollbacks, for the ledger table
    stale = {s.partition_key: s for s in stale_partitions(store, [dataset])}
    partitions = []
    for p in sorted(list_partitions(store, dataset), key=lambda p: p.partition_key, reverse=True)[:200]:
        found = findings.get(p.partition_key, {})
        behind = stale.get(p.partition_key)
        partitions.append(
            {
                "partition_key": p.partition_key,
                "state": p.state,
                "rows_published": p.rows_published,
                "rows_quarantined": p.rows_quarantined,
                "contract_version": p.contract_version,
                "gate_verdict": p.gate_verdict,
                "run_id": p.run_id,
                "updated_at": _iso(p.updated_at),
                "rerun_command": (behind.command if behind else None)
                or rerun_command(p.dag_id or row.get("dag_id"), p.partition_key),
                "failed_rules": found.get("failed_rules", []),
                "reruns": found.get("reruns", []),
                "versions": kept.get(p.partition_key, {}).get("versions", []),
                "rollbacks": kept.get(p.partition_key, {}).get("rollbacks", []),
                "stale": behind.detail if behind else None,
            }
        )
    results = latest_contract_results(store, dataset, limit=1)
    contract_result = None
    if results:
        r = results[0]
        contract_result = {
            "contract_id": r["contract_id"],
            "contract_version": r["contract_version"],
            "partition_key": r["partition_key"],
            "verdict": r["verdict"],
            "mode": r["mode"],
            "engine": r["engine"],
            "rows_checked": r["rows_checked"],
            "rules_total": r["rules_total"],
            "rules_failed": r["rules_failed"],
            "checked_at": _iso(as_utc(r["checked_at"])),
            "dag_id": r["dag_id"],
            "task_id": r["task_id"],
            "run_id": r["run_id"],
            "rules": list((r.get("report") or {}).get("results") or []),
        }
    return DatasetDetail(
        summary=summary,
        contract_path=row.get("contract_path"),
        sli_history=history,
        burndown=burndown,
        breaches=[e.to_dict() for e in list_breaches(store, dataset, limit=100)],
        partitions=partitions,
        contract_result=contract_result,
        evaluated_at=now,
    )


def _burndown(
    spec: SLOSpec, inputs: DatasetInputs, now: datetime, points: int = 60
) -> list[tuple[datetime, float | None]]:
    """Budget remaining at ``points`` instants over the last SLO window (each over its own
    window), from the same events the evaluation counts."""
    window = spec.window
    series, _ = slo_events(spec, inputs, now, lookback=2 * window)
    out = []
    end = now.timestamp()
    step = window.total_seconds() / (points - 1)
    for i in range(points):
        at = end - window.total_seconds() + i * step
        count = series.count(at - window.total_seconds(), at)
        when = datetime.fromtimestamp(at, timezone.utc)
        report = report_from_count(count, spec, when - window, when)
        out.append((when, _finite(report.remaining)))
    return out


def detail_to_dict(detail: DatasetDetail) -> dict[str, Any]:
    return {
        **detail.summary.to_dict(),
        "contract_path": detail.contract_path,
        "evaluated_at": _iso(detail.evaluated_at),
        "breaches": detail.breaches,
        "partitions": detail.partitions,
        "contract_result": detail.contract_result,
    }


def history_to_dict(detail: DatasetDetail) -> dict[str, list[dict[str, Any]]]:
    return {
        kind: [
            {
                "observed_at": _iso(p.at),
                "value": _finite(p.value),
                "good": p.good,
                "partition_key": p.partition_key,
            }
            for p in points
        ]
        for kind, points in detail.sli_history.items()
    }
