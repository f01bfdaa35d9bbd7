# ruff: noqa: RUF001 - en dashes and multiplication signs are intended typography
"""Server-rendered HTML for the dataops pages: the overview, the DAG tab, errors.

The dataset page is ``plugins.dataset_page``; the frame, escaping and the small pieces both
use are ``plugins.markup`` (every value from the store passes through ``esc`` or ``url_part``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from airflow_dataops.plugins import queries, svg
from airflow_dataops.plugins.markup import ago, burns, chip, dag_links, dataset_href, esc, layout, task_link
from airflow_dataops.plugins.queries import SORT_FIELDS, STATUS_LABEL, STATUS_ORDER, DatasetSummary

__all__ = ["dag_page", "message_page", "overview_page"]


# ------------------------------------------------------------------------------ overview
def _table(
    rows: Sequence[DatasetSummary],
    base: str,
    now: datetime,
    *,
    sort: str,
    desc: bool,
    params: Mapping[str, str],
    sortable: bool = True,
    in_dag: bool = False,
) -> str:
    heads = [
        ("status", "Status"),
        ("dataset", "Dataset"),
        (None, "Objective"),
        ("budget", "Error budget"),
        ("burn", "Burn rates"),
        ("freshness", "Freshness"),
        ("partition", "Last partition"),
        ("owner", "Owner"),
        (None, "Produced by"),
    ]
    if in_dag:  # the tab is narrower, and the DAG is known: show the task instead of owner and DAG
        heads = [*heads[:-2], (None, "Task")]
    th = []
    for key, label in heads:
        if key is None or not sortable:
            th.append(f"<th>{label}</th>")
            continue
        flip = not desc if key == sort else False
        query = urlencode({**params, "sort": key, "dir": "desc" if flip else "asc"})
        arrow = (" ▼" if desc else " ▲") if key == sort else ""
        on = ' class="on"' if key == sort else ""
        th.append(f'<th><a{on} href="?{esc(query)}">{label}{arrow}</a></th>')
    body = []
    for s in rows:
        fresh = svg.format_value(s.freshness_seconds, "s") if s.freshness_seconds is not None else "–"
        last = (
            (
                f"<code>{esc(s.last_partition)}</code> {chip(s.last_partition_state)}"
                f'<div class="muted">{esc(ago(s.last_partition_at, now))}</div>'
            )
            if s.last_partition
            else '<span class="muted">none yet</span>'
        )
        breaches = f' <span class="chip bad">{s.open_breaches} open</span>' if s.open_breaches else ""
        body.append(
            "<tr>"
            f"<td>{chip(s.status)}{breaches}</td>"
            f'<td><a href="{esc(dataset_href(base, s.dataset))}"><strong>{esc(s.dataset)}</strong></a>'
            f'<div class="desc">{esc(s.description or "")}</div></td>'
            f"<td>{esc(s.objective) or '<span class=muted>–</span>'}</td>"
            f"<td>{svg.budget_bar(s.budget_remaining, width=80 if in_dag else 120)}</td>"
            f"<td>{burns(s.burn_rates)}</td>"
            f'<td class="num">{esc(fresh)}</td>'
            f"<td>{last}</td>"
            + (
                f"<td>{task_link(s.dag_id, s.task_id)}</td>"
                if in_dag
                else f"<td>{esc(s.owner or '–')}</td><td>{dag_links(s.dag_id, s.task_id)}</td>"
            )
            + "</tr>"
        )
    if not body:
        body.append(f'<tr><td colspan="{len(heads)}" class="muted">No dataset matches.</td></tr>')
    return f'<div class="scroll"><table class="datasets"><thead><tr>{"".join(th)}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def overview_page(
    rows: Sequence[DatasetSummary],
    *,
    total: int,
    base: str,
    now: datetime,
    sort: str,
    desc: bool,
    text: str,
    status: str,
    theme: str | None,
    evaluated: datetime | None = None,
    extra: str = "",
) -> str:
    """:param evaluated: when the statuses were evaluated (the snapshot's time; default ``now``).
    :param extra: HTML appended after the table (the operations section, ``plugins.ops``)."""
    options = ['<option value="">any status</option>'] + [
        f'<option value="{k}"{" selected" if k == status else ""}>{STATUS_LABEL[k]}</option>'
        for k in STATUS_ORDER
    ]
    params = {k: v for k, v in (("q", text), ("status", status), ("theme", theme or "")) if v}
    sort_hidden = (
        f'<input type="hidden" name="sort" value="{esc(sort)}"><input type="hidden" name="dir" '
        f'value="{"desc" if desc else "asc"}">'
        if sort in SORT_FIELDS
        else ""
    )
    theme_hidden = f'<input type="hidden" name="theme" value="{esc(theme)}">' if theme else ""
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    summary = " · ".join(f"{n} {STATUS_LABEL[k].lower()}" for k in STATUS_ORDER if (n := counts.get(k)))
    body = (
        f'<h1>Data SLOs <span class="count">{len(rows)} of {total} datasets</span></h1>'
        f'<p class="sub">Worst first. {esc(summary)}. Statuses evaluated '
        f'<time datetime="{(evaluated or now).isoformat()}">{evaluated or now:%Y-%m-%d %H:%M:%S} UTC</time>'
        f" (in full every {queries.SNAPSHOT_TTL:.0f} s; a dataset that records something new is re-evaluated "
        "on the next request).</p>"
        f'<form class="filter" method="get" action="{esc(base)}/">'
        f'<input type="search" name="q" value="{esc(text)}" placeholder="filter by name, owner, DAG" '
        f'aria-label="filter">'
        f'<select name="status" aria-label="status">{"".join(options)}</select>{sort_hidden}{theme_hidden}'
        '<button type="submit">Filter</button>'
        f"{f'<a href={esc(base)}/>clear</a>' if text or status else ''}</form>"
        + _table(rows, base, now, sort=sort, desc=desc, params=params)
        + extra
    )
    return layout("Data SLOs", body, theme=theme)


def dag_page(
    dag_id: str,
    rows: Sequence[DatasetSummary],
    *,
    base: str,
    now: datetime,
    theme: str | None,
    stale: Sequence[Any] = (),
) -> str:
    """:param stale: the DAG's stale partitions (``partitions.staleness.StalePartition``), each with its fix."""
    if rows:
        table = _table(rows, base, now, sort="status", desc=False, params={}, sortable=False, in_dag=True)
    else:
        table = (
            f'<p class="muted">DAG <code>{esc(dag_id)}</code> produces no dataset known to the dataops store. '
            f"Datasets are registered when a dataops operator first runs.</p>"
        )
    if stale:
        items = "".join(
            f"<li><code>{esc(s.dataset)}</code> <code>{esc(s.partition_key)}</code> {chip('stale')} {esc(s.detail)}"
            f'<br><code class="cmd">{esc(s.command or "")}</code></li>'
            for s in stale
        )
        table += (
            f'<h2>Stale partitions <span class="count">{len(stale)}</span></h2><ul class="stale">{items}</ul>'
        )
    body = (
        f'<h1>Datasets of {esc(dag_id)}</h1><p class="sub"><a href="{esc(base)}/">All datasets</a></p>{table}'
    )
    return layout(f"Datasets of {dag_id}", body, theme=theme)


# -------------------------------------------------------------------------------- errors
def message_page(
    title: str, message: str, *, base: str, theme: str | None = None, back: bool = True, sign_in: bool = False
) -> str:
    links = []
    if back:
        links.append(f'<a href="{esc(base)}/">← All datasets</a>')
    if sign_in:
        links.append('<a data-airflow="1" href="/">Sign in to Airflow</a>')
    body = f'<div class="notice"><h1>{esc(title)}</h1><p>{esc(message)}</p><p>{" · ".join(links)}</p></div>'
    return layout(title, body, theme=theme)
