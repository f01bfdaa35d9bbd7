# ruff: noqa: RUF001 - en dashes are intended typography
"""The overview page's "Operations" section and ``/api/report``: what ``airflow dataops report`` says.

Nothing is computed here: the figures are :func:`airflow_dataops.report.operational_report`'s
(definitions in ``airflow_dataops/report.py`` and ``docs/operations.md``), serialised by its own
``OpsReport.to_dict``, so the page, the JSON API and the CLI cannot disagree.  This module only
keeps the default period's report for ``SNAPSHOT_TTL`` seconds (it reads the ledger history, the
breaches and the bad freshness SLIs of 30 days), narrows it to the datasets the caller may read,
and renders it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from airflow_dataops.plugins.markup import esc
from airflow_dataops.report import OpsReport, duration_text, operational_report, percent_text
from airflow_dataops.store import StateStore

__all__ = ["clear", "ops_report", "ops_section", "report_data", "visible_report"]


@dataclass(frozen=True)
class _Cached:
    taken: float  # time.monotonic()
    report: OpsReport
    dicts: dict[frozenset[str], dict[str, Any]] = field(default_factory=dict)  # hidden → to_dict()


_CACHE: dict[str, _Cached] = {}
_LOCK = threading.Lock()


def clear() -> None:
    with _LOCK:
        _CACHE.clear()
        _LAST_HTML.clear()


def ops_report(
    store: StateStore, *, since: datetime | None = None, until: datetime | None = None, ttl: float = 60.0
) -> OpsReport:  # ttl: the overview passes queries.SNAPSHOT_TTL
    """``operational_report`` of ``[since, until)``; the default period (the last 30 days) is kept
    for ``ttl`` seconds per store, since it is read on every overview request."""
    if since is not None or until is not None:
        return operational_report(store, since=since, until=until)
    cached = _CACHE.get(store.url)
    if cached is not None and time.monotonic() - cached.taken < ttl:
        return cached.report
    report = operational_report(store)
    with _LOCK:
        _CACHE[store.url] = _Cached(time.monotonic(), report)
    return report


def report_data(
    store: StateStore,
    visible: Collection[str],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    ttl: float = 60.0,
) -> dict[str, Any]:
    """The report without the registered datasets that are not in ``visible`` (those of DAGs the
    caller may not read), as ``OpsReport.to_dict()``; for the default period the dict is kept
    with the report (one per set of hidden datasets, i.e. per kind of user)."""
    report = ops_report(store, since=since, until=until, ttl=ttl)
    hidden = set(report.owners) - set(visible)
    cached = _CACHE.get(store.url)
    if cached is None or cached.report is not report:
        return visible_report(report, hidden).to_dict()
    key = frozenset(hidden)
    data = cached.dicts.get(key)
    if data is None:
        data = visible_report(report, hidden).to_dict()
        with _LOCK:
            if len(cached.dicts) < 64:
                cached.dicts[key] = data
    return data


def visible_report(report: OpsReport, hidden: Collection[str]) -> OpsReport:
    """The report without the datasets in ``hidden`` (produced by DAGs the caller may not read);
    the per-owner figures are then those of the datasets left, added up by the report itself."""
    if not hidden:
        return report
    hide = set(hidden)
    return OpsReport(
        since=report.since,
        until=report.until,
        datasets={n: m for n, m in report.datasets.items() if n not in hide},
        owners={n: o for n, o in report.owners.items() if n not in hide},
    )


# ------------------------------------------------------------------------------- rendering
def _pct(v: float | None) -> str:
    return percent_text(v, "–")


def _dur(v: float | None) -> str:
    return duration_text(v, "–")


def _cells(m: Mapping[str, Any]) -> str:
    runs, breaches, noise = m["runs"], m["breaches"], m["alert_noise"]
    months = m["sla_violations_per_month"]
    finished = runs["succeeded"] + runs["failed"]
    unfinished = f' <span class="muted">+{runs["unfinished"]} unfinished</span>' if runs["unfinished"] else ""
    per_week = "–" if breaches["per_week"] is None else f"{breaches['per_week']:.2f}"
    return (
        f'<td class="num m1">{runs["succeeded"]}/{finished} ({_pct(runs["success_rate"])}){unfinished}</td>'
        f'<td class="num m10">{breaches["opened"]} opened, {breaches["resolved"]} resolved</td>'
        f'<td class="num mttr">{_dur(breaches["mttr_seconds"])}'
        + (
            f' <span class="muted">worst {_dur(breaches["worst_recovery_seconds"])}</span>'
            if breaches["worst_recovery_seconds"] is not None
            else ""
        )
        + "</td>"
        f'<td class="num m13">{noise["resolved_without_action"]}/{noise["resolved"]}</td>'
        f'<td class="num m14">{per_week}</td>'
        f'<td class="num m15">{esc(", ".join(f"{k}: {v}" for k, v in months.items())) or "–"}</td>'
    )


_HEADS = (
    "<th>M1 runs ok</th><th>M10 breaches</th><th>MTTR</th><th>M13 noise</th>"
    "<th>M14 per week</th><th>M15 SLA misses / month</th>"
)


# (data, base, datasets, html): holding ``data`` itself, so "the same data" is identity, never a reused id
_LAST_HTML: list[tuple[Mapping[str, Any], str, frozenset[str] | None, str]] = []


def ops_section(data: Mapping[str, Any], *, base: str, datasets: Collection[str] | None = None) -> str:
    """The "Operations" section: per owner, then per dataset (``datasets``: only these rows, in
    the overview's filter; ``None``: all), and M11 with its reason.  ``data`` is ``OpsReport.to_dict()``
    (the last section is kept: the same cached ``data`` and filter render the same HTML)."""
    names = None if datasets is None else frozenset(datasets)
    last = _LAST_HTML[-1] if _LAST_HTML else None
    if last is not None and last[0] is data and last[1] == base and last[2] == names:
        return last[3]
    html = _render(data, base=base, datasets=names)
    with _LOCK:
        _LAST_HTML[:] = [(data, base, names, html)]
    return html


def _render(data: Mapping[str, Any], *, base: str, datasets: Collection[str] | None) -> str:
    owners = "".join(
        f'<tr data-owner="{esc(owner)}"><td>{esc(owner)}</td>{_cells(m)}</tr>'
        for owner, m in data["owners"].items()
    )
    shown = [(name, m) for name, m in data["datasets"].items() if datasets is None or name in datasets]
    rows = "".join(
        f'<tr data-dataset="{esc(name)}"><td><a href="{esc(base)}/datasets/{esc(quote(name, safe=""))}">'
        f"{esc(name)}</a></td><td>{esc(m.get('owner') or '–')}</td>{_cells(m)}</tr>"
        for name, m in shown
    )
    empty = '<tr><td colspan="{}" class="muted">No dataset matches.</td></tr>'
    lineage = data["lineage_coverage"]
    return (
        f'<section class="ops" id="operations"><h2>Operations <span class="count">'
        f"{esc(data['since'][:16].replace('T', ' '))} .. {esc(data['until'][:16].replace('T', ' '))} UTC</span></h2>"
        '<p class="sub">The figures of <code>airflow dataops report</code> (definitions in '
        "docs/operations.md), for the datasets you may read; as JSON at "
        f'<a href="{esc(base)}/api/report">api/report</a>.</p>'
        f'<div class="scroll"><table class="ops owners"><thead><tr><th>Owner</th>{_HEADS}</tr></thead>'
        f"<tbody>{owners or empty.format(7)}</tbody></table></div>"
        f'<details class="ops-datasets"><summary>Per dataset ({len(shown)})</summary>'
        f'<div class="scroll"><table class="ops per-dataset"><thead><tr><th>Dataset</th><th>Owner</th>{_HEADS}'
        f"</tr></thead><tbody>{rows or empty.format(8)}</tbody></table></div></details>"
        f'<p class="m11"><strong>M11 lineage coverage:</strong> '
        f"{'–' if lineage['value'] is None else esc(lineage['value'])} "
        f'<span class="muted">({esc(lineage["reason"])})</span></p></section>'
    )
