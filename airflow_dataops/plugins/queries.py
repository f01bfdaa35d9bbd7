"""What the UI shows, read from the store and evaluated: one function per page.

The pages (``pages``) and the JSON API (``app``) are thin over these functions, so
both say the same thing.  Reads are batched for the overview: one query for the
datasets, one for the SLI rows of every dataset's SLO window (Unix seconds computed
by the database, see ``store.breaches.read_sli_columns``), one aggregate for each
dataset's latest partition and one for the open breaches; the SLOs are then
evaluated in memory with ``slo.burn_rate.evaluate_series``.

SLI observations carry their verdict (``good``) from the moment they were recorded,
so the evaluation needs the objective, window, cadence and budgeting method of the
dataset's ``slo`` block, not the thresholds.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_dataops.exceptions import ConfigError
from airflow_dataops.partitions.ledger import rerun_command
from airflow_dataops.slo.budget import EventSeries, report_from_count
from airflow_dataops.slo.burn_rate import alert_lookback, evaluate_series
from airflow_dataops.slo.sli import SLIKind
from airflow_dataops.slo.spec import SLOSpec
from airflow_dataops.store import StateStore
from airflow_dataops.store.breaches import (
    SLIColumns,
    list_breaches,
    open_breaches,
    read_sli_columns,
    read_sli_columns_for,
)
from airflow_dataops.store.ledger import _aware, latest_partitions, list_partitions
from airflow_dataops.store.marks import StoreMarks, changed_datasets, dataset_rows, read_marks
from airflow_dataops.store.records import get_dataset, latest_contract_results, list_datasets

log = logging.getLogger(__name__)

#: Worst first: the overview's default order.
STATUS_ORDER = ("breached", "at_risk", "no_data", "invalid", "healthy", "no_slo")
STATUS_LABEL = {
    "breached": "Breached",
    "at_risk": "At risk",
    "no_data": "No data",
    "invalid": "Invalid SLO",
    "healthy": "Healthy",
    "no_slo": "No SLO",
}
_PLACEHOLDER_UNIT = {
    SLIKind.FRESHNESS: "s",
    SLIKind.COST: "s",
    SLIKind.COMPLETENESS: "ratio",
    SLIKind.CORRECTNESS: "ratio",
    SLIKind.CONSISTENCY: "ratio",
}
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

    @property
    def status_rank(self) -> int:
        return STATUS_ORDER.index(self.status)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["last_partition_at"] = _iso(self.last_partition_at)
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
def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _block(row: Mapping[str, Any]) -> Mapping[str, Any] | None:
    slo = row.get("slo")
    return slo if isinstance(slo, Mapping) and slo else None


def _kinds(block: Mapping[str, Any], observed: Iterable[str]) -> list[SLIKind]:
    """The SLI kinds under an objective: those the block names, else those observed with a verdict."""
    slis = block.get("slis")
    names = list(slis) if isinstance(slis, Mapping) and slis else list(observed)
    kinds = []
    for name in names:
        try:
            kinds.append(SLIKind(str(name).strip().lower()))
        except ValueError:
            continue
    order = list(SLIKind)
    return sorted(set(kinds), key=order.index)


def spec_for(dataset: str, block: Mapping[str, Any], kind: SLIKind) -> SLOSpec:
    """The ``SLOSpec`` the UI evaluates ``kind`` with (per-SLI settings override the block's).

    :raises ConfigError: the block is malformed (``SLODefinitionError`` names the field).
    """
    raw = block.get("slis")
    slis: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    sli = slis.get(kind.value) or {}
    if not isinstance(sli, Mapping):
        sli = {}

    def pick(key: str, default: Any = None) -> Any:
        return sli.get(key, block.get(key, default))

    kwargs: dict[str, Any] = {
        "objective": pick("objective", 0.99),
        "window_days": pick("window_days", 30),
        "budgeting": pick("budgeting", "occurrences"),
        "cadence": block.get("cadence") or "1d",
        "at_risk_below": pick("at_risk_below", 0.25),
    }
    if pick("slice") is not None:
        kwargs["slice_length"] = pick("slice")
    if pick("missing_data") is not None:
        kwargs["missing_data"] = pick("missing_data")
    # Observations are judged when recorded; a threshold is only needed to build the spec.
    threshold = sli.get("threshold", 1.0)
    unit = sli.get("unit") or _PLACEHOLDER_UNIT[kind]
    return SLOSpec(dataset=dataset, kind=kind, threshold=threshold, unit=unit, **kwargs)


def _threshold_text(block: Mapping[str, Any], kind: SLIKind) -> str | None:
    slis = block.get("slis")
    sli = slis.get(kind.value) if isinstance(slis, Mapping) else None
    if isinstance(sli, Mapping) and sli.get("threshold") is not None:
        op = "≤" if kind in (SLIKind.FRESHNESS, SLIKind.COST) else "≥"
        return f"{op} {sli['threshold']} {sli.get('unit') or ''}".strip()
    return None


def _dedupe(cols: SLIColumns, *, per_partition: bool = True) -> tuple[list[float], list[bool | None]]:
    """The events of ``cols``.  With ``per_partition``, one per partition: placed where the
    partition was first observed (so a late rerun does not open a gap in the cadence), with
    the verdict of its latest observation; rows without a key stay as they are.  ``good`` is
    normalised to ``bool | None`` (the DB-API hands SQLite's booleans back as 0/1, and
    ``EventSeries`` tests ``is True``).
    """
    times: list[float] = []
    goods: list[bool | None] = []
    position: dict[str, int] = {}
    for ts, good, key in zip(cols.times, cols.goods, cols.partitions):
        verdict = None if good is None else bool(good)
        if per_partition and key is not None:
            at = position.get(key)
            if at is not None:
                goods[at] = verdict
                continue
            position[key] = len(times)
        times.append(ts)
        goods.append(verdict)
    return times, goods


def _evaluate(
    dataset: str, block: Mapping[str, Any] | None, columns: Mapping[str, SLIColumns], now: datetime
) -> list[SLOView]:
    if block is None:
        return []
    observed = [kind for kind, cols in columns.items() if any(g is not None for g in cols.goods)]
    kinds = _kinds(block, observed)
    if not kinds:  # nothing observed yet: still say when the block itself is wrong
        try:
            spec_for(dataset, block, SLIKind.FRESHNESS)
        except (ConfigError, ValueError, TypeError) as e:
            return [SLOView(kind="slo", status="invalid", error=str(e))]
        return []
    views = []
    for kind in kinds:
        try:
            spec = spec_for(dataset, block, kind)
        except (ConfigError, ValueError, TypeError) as e:
            views.append(SLOView(kind=kind.value, status="invalid", error=str(e)))
            continue
        cols = columns.get(kind.value) or SLIColumns()
        times, goods = _dedupe(cols, per_partition=spec.budgeting.value == "occurrences")
        series = EventSeries.from_columns(times, goods, spec, now, lookback=alert_lookback(spec))
        latest = next((v for v in reversed(cols.values) if v is not None), None)
        ev = evaluate_series(series, spec, now, sli_value=latest)
        views.append(
            SLOView(
                kind=kind.value,
                status=ev.status.value,
                objective=ev.objective,
                window_days=ev.window_days,
                threshold=_threshold_text(block, kind),
                budget_remaining=_finite(ev.budget_remaining),
                burn_rates={k: _finite(v) for k, v in ev.burn_rates.items()},
                firing=[f"{a.severity.value} {a.window.label}" for a in ev.firing],
                sli_value=_finite(latest),
                unit=cols.units[-1] if cols.units else None,
                good_events=ev.good_events,
                bad_events=ev.bad_events,
                missing_events=ev.missing_events,
                total_events=ev.total_events,
            )
        )
    return views


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


def _span(spec: SLOSpec) -> timedelta:
    return alert_lookback(spec) + spec.cadence + (spec.slice_length or timedelta(0))


def _lookback_since(rows: Sequence[Mapping[str, Any]], now: datetime) -> datetime:
    """The oldest observation time any dataset's evaluation reads (its SLO or alert windows)."""
    longest = timedelta(days=30)
    for row in rows:
        block = _block(row)
        if block is None:
            continue
        for kind in _kinds(block, ()) or [SLIKind.FRESHNESS]:
            try:
                longest = max(longest, _span(spec_for(row["dataset"], block, kind)))
            except (ConfigError, ValueError, TypeError):
                continue
    return now - longest - timedelta(minutes=1)


def _kinds_to_read(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """SLI kinds under an objective somewhere (cost is read only when a block names it)."""
    kinds = {k.value for k in SLIKind if k is not SLIKind.COST}
    for row in rows:
        block = _block(row)
        slis = block.get("slis") if block else None
        if isinstance(slis, Mapping):
            kinds.update(str(k).strip().lower() for k in slis)
    return sorted(kinds)


def _summaries(store: StateStore, rows: Sequence[Mapping[str, Any]], now: datetime) -> list[DatasetSummary]:
    if not rows:
        return []
    since, kinds = _lookback_since(rows, now), _kinds_to_read(rows)
    if len(rows) <= _FEW:
        subset: list[str] | None = [r["dataset"] for r in rows]
        columns = read_sli_columns_for(store, datasets=subset, since=since, until=now, kinds=kinds)  # type: ignore[arg-type]
    else:
        subset = None
        columns = read_sli_columns(store, since=since, until=now, kinds=kinds)
    by_dataset: dict[str, dict[str, SLIColumns]] = {}
    for (dataset, kind), cols in columns.items():
        by_dataset.setdefault(dataset, {})[kind] = cols
    fresh_kind = SLIKind.FRESHNESS.value
    latest = latest_partitions(store, subset)
    breaches_open: dict[str, int] = {}
    for dataset, _slo in open_breaches(store, datasets=subset):
        breaches_open[dataset] = breaches_open.get(dataset, 0) + 1
    out = []
    for row in rows:
        name = row["dataset"]
        block = _block(row)
        by_kind = by_dataset.get(name, {})
        views = _evaluate(name, block, by_kind, now)
        worst = _worst(views)
        fresh = by_kind.get(fresh_kind)
        fresh_value = next((v for v in reversed(fresh.values) if v is not None), None) if fresh else None
        part = latest.get(name, {})
        status = worst.status if worst else ("no_slo" if block is None else "no_data")
        if breaches_open.get(name) and status == "healthy":
            status = "at_risk"  # an open episode the evaluator has not resolved yet
        out.append(
            DatasetSummary(
                dataset=name,
                description=row.get("description"),
                owner=row.get("owner"),
                dag_id=row.get("dag_id"),
                task_id=row.get("task_id"),
                contract_id=row.get("contract_id"),
                contract_version=row.get("contract_version"),
                target_table=row.get("target_table"),
                status=status,
                objective=_objective_text(views) or (_block_text(block) if block else ""),
                budget_remaining=worst.budget_remaining if worst else None,
                burn_rates=dict(worst.burn_rates) if worst else {},
                freshness_seconds=_finite(fresh_value),
                last_partition=part.get("key"),
                last_partition_state=part.get("state"),
                last_partition_at=part.get("at"),
                open_breaches=breaches_open.get(name, 0),
                slos=views,
            )
        )
    return out


def _block_text(block: Mapping[str, Any]) -> str:
    objective = block.get("objective")
    window = block.get("window_days", 30)
    if isinstance(objective, (int, float)):
        return f"{objective * 100:g}% / {window}d"
    return ""


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
_FEW = 50  # up to this many datasets, read their SLIs through the index instead of all rows


def _full(store: StateStore) -> _Snapshot:
    marks, taken, now = (
        read_marks(store),
        time.monotonic(),
        utcnow(),
    )  # marks first: later writes show up next time
    summaries = _summaries(store, list_datasets(store), now)
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
        return _summaries(store, list_datasets(store), now)
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
    summary = _summaries(store, [row], now)[0]
    block = _block(row)
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
    burndown = {}
    for view in summary.slos:
        if view.status == "invalid" or block is None:
            continue
        kind = SLIKind(view.kind)
        spec = spec_for(dataset, block, kind)
        burndown[view.kind] = _burndown(spec, columns.get((dataset, kind.value)) or SLIColumns(), now)
    partitions = []
    for p in sorted(list_partitions(store, dataset), key=lambda p: p.partition_key, reverse=True)[:200]:
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
                "rerun_command": rerun_command(p.dag_id or row.get("dag_id"), p.partition_key),
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
            "checked_at": _iso(_aware(r["checked_at"])),
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
    spec: SLOSpec, cols: SLIColumns, now: datetime, points: int = 60
) -> list[tuple[datetime, float | None]]:
    """Budget remaining at ``points`` instants over the last SLO window (each over its own window)."""
    times, goods = _dedupe(cols, per_partition=spec.budgeting.value == "occurrences")
    window = spec.window
    series = EventSeries.from_columns(times, goods, spec, now, lookback=2 * window)
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
