# ruff: noqa: RUF001 - en dashes and multiplication signs are intended typography
"""Server-rendered HTML for the dataops pages (overview, dataset, DAG tab, errors).

Every value from the store (dataset names, descriptions, owners, rule names and
texts, partition keys) passes through :func:`_e` (``html.escape``) or
:func:`urllib.parse.quote` before it reaches the page.  The pages work without
JavaScript (sorting and filtering are links and a GET form); a few lines of inline
script only follow Airflow's colour mode, copy a rerun command, and open links to
Airflow's own pages in the top window rather than inside the plugin's iframe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from airflow_dataops.plugins import queries, svg
from airflow_dataops.plugins.queries import (
    SORT_FIELDS,
    STATUS_LABEL,
    STATUS_ORDER,
    DatasetDetail,
    DatasetSummary,
)


def _e(value: Any) -> str:
    return "" if value is None else escape(str(value), quote=True)


def _q(value: str) -> str:
    return quote(value, safe="")


_CSS = """
:root{--bg:#fff;--fg:#1a202c;--muted:#64748b;--line:#e2e8f0;--panel:#f8fafc;--accent:#0f6dd4;
--ok:#15803d;--okbg:#dcfce7;--warn:#b45309;--warnbg:#fef3c7;--bad:#b91c1c;--badbg:#fee2e2;
--grey:#475569;--greybg:#e2e8f0;color-scheme:light}
:root[data-theme=dark]{--bg:#111827;--fg:#e5e7eb;--muted:#9ca3af;--line:#374151;--panel:#1f2937;--accent:#60a5fa;
--ok:#4ade80;--okbg:#14532d;--warn:#fbbf24;--warnbg:#78350f;--bad:#f87171;--badbg:#7f1d1d;--grey:#d1d5db;--greybg:#374151;
color-scheme:dark}
@media (prefers-color-scheme:dark){:root:not([data-theme=light]){--bg:#111827;--fg:#e5e7eb;--muted:#9ca3af;
--line:#374151;--panel:#1f2937;--accent:#60a5fa;--ok:#4ade80;--okbg:#14532d;--warn:#fbbf24;--warnbg:#78350f;
--bad:#f87171;--badbg:#7f1d1d;--grey:#d1d5db;--greybg:#374151;color-scheme:dark}}
*{box-sizing:border-box}
body{margin:0;padding:16px 20px;background:var(--bg);color:var(--fg);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:22px 0 8px}
.sub{color:var(--muted);margin:0 0 14px}.muted{color:var(--muted)}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;color:var(--muted);font-size:11px;text-transform:uppercase;letter-spacing:.03em}
th a{color:inherit}th a.on{color:var(--fg)}
tr:hover td{background:var(--panel)}
.chip{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;white-space:nowrap}
.chip.healthy,.chip.applied,.chip.passed{background:var(--okbg);color:var(--ok)}
.chip.at_risk,.chip.quarantined,.chip.warned,.chip.applying,.chip.warn,.chip.stale{background:var(--warnbg);color:var(--warn)}
.chip.breached,.chip.failed,.chip.invalid,.chip.bad{background:var(--badbg);color:var(--bad)}
.chip.no_data,.chip.no_slo,.chip.superseded,.chip.rolled_back,.chip.purged,.chip.other{background:var(--greybg);color:var(--grey)}
.budget{display:inline-flex;align-items:center;gap:6px;white-space:nowrap}.num{font-variant-numeric:tabular-nums}
svg .track{fill:var(--greybg)}svg .good{fill:var(--ok)}svg .warn{fill:var(--warn)}svg .bad{fill:var(--bad)}
svg .unknown{fill:var(--muted)}svg .plot{fill:var(--panel);stroke:var(--line)}
svg .grid{stroke:var(--line)}svg .ref{stroke:var(--warn);stroke-dasharray:4 3}
svg .line{fill:none;stroke:var(--accent);stroke-width:1.6}svg .area{fill:var(--accent);opacity:.12}
svg .lbl{fill:var(--muted);font-size:11px}svg .ttl{fill:var(--fg);font-size:12px;font-weight:600}
svg .strong{fill:var(--fg);font-weight:600}
.chart{display:block;max-width:100%}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:12px}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 12px;background:var(--bg)}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:8px 0}
.facts dt{color:var(--muted)}.facts dd{margin:0}
form.filter{display:flex;gap:8px;align-items:center;margin:0 0 10px;flex-wrap:wrap}
input,select,button{font:inherit;color:var(--fg);background:var(--bg);border:1px solid var(--line);
border-radius:6px;padding:4px 8px}
button{cursor:pointer}
code{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace}
code.cmd{user-select:all;background:var(--panel);border:1px solid var(--line);border-radius:4px;padding:1px 5px;
white-space:nowrap}
.copy{padding:0 6px;font-size:12px;margin-left:4px}
.desc{max-width:520px;color:var(--muted);font-size:13px}
.notice{border:1px solid var(--line);border-left:4px solid var(--bad);border-radius:6px;padding:12px 14px;
background:var(--panel);max-width:760px}
.scroll{overflow-x:auto}
.count{color:var(--muted);font-weight:400;font-size:13px}
"""

_SCRIPT = """
(function(){var r=document.documentElement;if(r.dataset.fixed)return;
function sync(){try{var p=window.parent&&window.parent!==window?window.parent.document.documentElement:null;
var m=p&&(p.classList.contains('dark')?'dark':p.classList.contains('light')?'light':null);
if(!m){var s=localStorage.getItem('theme');if(s==='dark'||s==='light')m=s;}
if(m)r.dataset.theme=m;}catch(e){}}
sync();try{new MutationObserver(sync).observe(window.parent.document.documentElement,{attributes:true});}catch(e){}
})();
document.addEventListener('click',function(ev){var b=ev.target.closest('button.copy');
if(b){var c=b.previousElementSibling;if(navigator.clipboard)navigator.clipboard.writeText(c.textContent);
b.textContent='copied';return;}
var a=ev.target.closest('a[data-airflow]');if(!a||window.top===window)return;
try{var h=window.top.history;h.pushState({},'',a.getAttribute('href'));
window.top.dispatchEvent(new PopStateEvent('popstate',{state:{}}));ev.preventDefault();}catch(e){}});
"""


def layout(title: str, body: str, *, theme: str | None = None) -> str:
    """A whole page; ``theme`` (``light``/``dark``) pins the colour mode, else Airflow's or the OS's is used."""
    attrs = f' data-theme="{theme}" data-fixed="1"' if theme in ("light", "dark") else ""
    return (
        f'<!doctype html><html lang="en"{attrs}><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)} · dataops</title><style>{_CSS}</style><script>{_SCRIPT}</script></head>"
        f"<body>{body}</body></html>"
    )


def chip(status: str | None) -> str:
    if not status:
        return '<span class="muted">–</span>'
    label = STATUS_LABEL.get(status, status)
    known = {
        *STATUS_ORDER,
        "applied",
        "quarantined",
        "applying",
        "failed",
        "superseded",
        "rolled_back",
        "purged",
        "stale",
        "passed",
        "warned",
        "warn",
    }
    cls = status if status in known else "other"
    return f'<span class="chip {_e(cls)}">{_e(label)}</span>'


def _burns(rates: Mapping[str, float | None]) -> str:
    if not rates:
        return '<span class="muted">–</span>'
    order = {"m": 60, "h": 3600, "d": 86400}

    def seconds(label: str) -> float:
        try:
            return float(label[:-1]) * order.get(label[-1], 1)
        except ValueError:
            return 0.0

    parts = []
    for label in sorted(rates, key=seconds):
        value = rates[label]
        text = "–" if value is None else f"{value:.2f}×"
        hot = value is not None and value > 1.0
        parts.append(
            f'<span class="{"chip bad" if hot else "num"}" title="burn rate over {_e(label)}">'
            f"{_e(label)} {text}</span>"
        )
    return " ".join(parts)


def _ago(at: datetime | None, now: datetime) -> str:
    if at is None:
        return ""
    secs = (now - at).total_seconds()
    if secs < 120:
        return "just now"
    if secs < 7200:
        return f"{secs / 60:.0f} min ago"
    if secs < 172800:
        return f"{secs / 3600:.0f} h ago"
    return f"{secs / 86400:.0f} d ago"


def _airflow_link(href: str, text: str) -> str:
    return f'<a data-airflow="1" href="{_e(href)}">{_e(text)}</a>'


def dag_links(dag_id: str | None, task_id: str | None) -> str:
    if not dag_id:
        return '<span class="muted">–</span>'
    out = _airflow_link(f"/dags/{_q(dag_id)}", dag_id)
    if task_id:
        out += " / " + _airflow_link(f"/dags/{_q(dag_id)}/tasks/{_q(task_id)}", task_id)
    return out


def task_link(dag_id: str | None, task_id: str | None) -> str:
    if not dag_id or not task_id:
        return '<span class="muted">–</span>'
    return _airflow_link(f"/dags/{_q(dag_id)}/tasks/{_q(task_id)}", task_id)


def _dataset_href(base: str, name: str) -> str:
    return f"{base}/datasets/{_q(name)}"


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
        th.append(f'<th><a{on} href="?{_e(query)}">{label}{arrow}</a></th>')
    body = []
    for s in rows:
        fresh = svg.format_value(s.freshness_seconds, "s") if s.freshness_seconds is not None else "–"
        last = (
            (
                f"<code>{_e(s.last_partition)}</code> {chip(s.last_partition_state)}"
                f'<div class="muted">{_e(_ago(s.last_partition_at, now))}</div>'
            )
            if s.last_partition
            else '<span class="muted">none yet</span>'
        )
        breaches = f' <span class="chip bad">{s.open_breaches} open</span>' if s.open_breaches else ""
        body.append(
            "<tr>"
            f"<td>{chip(s.status)}{breaches}</td>"
            f'<td><a href="{_e(_dataset_href(base, s.dataset))}"><strong>{_e(s.dataset)}</strong></a>'
            f'<div class="desc">{_e(s.description or "")}</div></td>'
            f"<td>{_e(s.objective) or '<span class=muted>–</span>'}</td>"
            f"<td>{svg.budget_bar(s.budget_remaining, width=80 if in_dag else 120)}</td>"
            f"<td>{_burns(s.burn_rates)}</td>"
            f'<td class="num">{_e(fresh)}</td>'
            f"<td>{last}</td>"
            + (
                f"<td>{task_link(s.dag_id, s.task_id)}</td>"
                if in_dag
                else f"<td>{_e(s.owner or '–')}</td><td>{dag_links(s.dag_id, s.task_id)}</td>"
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
        f'<input type="hidden" name="sort" value="{_e(sort)}"><input type="hidden" name="dir" '
        f'value="{"desc" if desc else "asc"}">'
        if sort in SORT_FIELDS
        else ""
    )
    theme_hidden = f'<input type="hidden" name="theme" value="{_e(theme)}">' if theme else ""
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    summary = " · ".join(f"{n} {STATUS_LABEL[k].lower()}" for k in STATUS_ORDER if (n := counts.get(k)))
    body = (
        f'<h1>Data SLOs <span class="count">{len(rows)} of {total} datasets</span></h1>'
        f'<p class="sub">Worst first. {_e(summary)}. Statuses evaluated '
        f'<time datetime="{(evaluated or now).isoformat()}">{evaluated or now:%Y-%m-%d %H:%M:%S} UTC</time>'
        f" (in full every {queries.SNAPSHOT_TTL:.0f} s; a dataset that records something new is re-evaluated "
        "on the next request).</p>"
        f'<form class="filter" method="get" action="{_e(base)}/">'
        f'<input type="search" name="q" value="{_e(text)}" placeholder="filter by name, owner, DAG" '
        f'aria-label="filter">'
        f'<select name="status" aria-label="status">{"".join(options)}</select>{sort_hidden}{theme_hidden}'
        '<button type="submit">Filter</button>'
        f"{f'<a href={_e(base)}/>clear</a>' if text or status else ''}</form>"
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
            f'<p class="muted">DAG <code>{_e(dag_id)}</code> produces no dataset known to the dataops store. '
            f"Datasets are registered when a dataops operator first runs.</p>"
        )
    if stale:
        items = "".join(
            f"<li><code>{_e(s.dataset)}</code> <code>{_e(s.partition_key)}</code> {chip('stale')} {_e(s.detail)}"
            f'<br><code class="cmd">{_e(s.command or "")}</code></li>'
            for s in stale
        )
        table += (
            f'<h2>Stale partitions <span class="count">{len(stale)}</span></h2><ul class="stale">{items}</ul>'
        )
    body = (
        f'<h1>Datasets of {_e(dag_id)}</h1><p class="sub"><a href="{_e(base)}/">All datasets</a></p>{table}'
    )
    return layout(f"Datasets of {dag_id}", body, theme=theme)


# ------------------------------------------------------------------------------- dataset
def _facts(d: DatasetDetail) -> str:
    s = d.summary
    items = [
        ("Owner", _e(s.owner or "–")),
        ("Produced by", dag_links(s.dag_id, s.task_id)),
        ("Contract", f"{_e(s.contract_id or '–')} <span class=muted>v{_e(s.contract_version or '?')}</span>"),
        ("Target table", f"<code>{_e(s.target_table or '–')}</code>"),
        ("Objective", _e(s.objective or "–")),
    ]
    if d.contract_path:
        items.append(("Contract file", f"<code>{_e(d.contract_path)}</code>"))
    return '<dl class="facts">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items) + "</dl>"


def _slo_table(d: DatasetDetail) -> str:
    if d.summary.error:
        return f'<p class="desc">{chip("invalid")} {_e(d.summary.error)}</p>'
    if not d.summary.slos:
        return '<p class="muted">No SLO is declared for this dataset (add a <code>dataops.slo</code> block to its contract).</p>'
    rows = []
    for v in d.summary.slos:
        objective = f"{v.objective * 100:g}% over {v.window_days:g} d" if v.objective is not None else "–"
        if v.threshold:
            objective += f" ({_e(v.threshold)})"
        firing = (
            " ".join(f'<span class="chip bad">{_e(f)}</span>' for f in v.firing)
            or '<span class="muted">none</span>'
        )
        events = f"{v.good_events} good / {v.bad_events} bad" + (
            f" ({v.missing_events} missing)" if v.missing_events else ""
        )
        detail = f'<div class="desc">{_e(v.error)}</div>' if v.error else ""
        rows.append(
            f"<tr><td><strong>{_e(v.kind)}</strong>{detail}</td><td>{chip(v.status)}</td><td>{objective}</td>"
            f"<td>{svg.budget_bar(v.budget_remaining)}</td><td>{_burns(v.burn_rates)}</td><td>{firing}</td>"
            f'<td class="num">{_e(svg.format_value(v.sli_value, v.unit))}</td><td>{events}</td></tr>'
        )
    return (
        "<table><thead><tr><th>SLI</th><th>Status</th><th>Objective</th><th>Error budget</th>"
        "<th>Burn rates</th><th>Alerts firing</th><th>Latest</th><th>Events in window</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _charts(d: DatasetDetail) -> str:
    now = d.evaluated_at
    start = now - timedelta(days=90)
    cards = []
    for kind, points in d.sli_history.items():
        view = next((v for v in d.summary.slos if v.kind == kind), None)
        unit = (view.unit if view and view.unit else None) or (
            "s" if kind in ("freshness", "cost") else "ratio"
        )
        chart = svg.line_chart(
            [(p.at, p.value, p.good) for p in points],
            label=f"{kind} (last 90 days)",
            unit=unit,
            start=start,
            end=now,
        )
        cards.append(f'<div class="card">{chart}</div>')
    for kind, budget in d.burndown.items():
        view = next((v for v in d.summary.slos if v.kind == kind), None)
        window = f"{view.window_days:g} d" if view and view.window_days else "window"
        chart = svg.burndown_chart(budget, label=f"{kind} error budget remaining (rolling {window})")
        cards.append(f'<div class="card">{chart}</div>')
    if not cards:
        return '<p class="muted">No SLI has been recorded in the last 90 days.</p>'
    return f'<div class="grid2">{"".join(cards)}</div>'


def _breaches(d: DatasetDetail) -> str:
    now = d.evaluated_at
    chart = svg.breach_timeline(d.breaches, start=now - timedelta(days=90), end=now)
    rows = []
    for b in d.breaches[:20]:
        state = chip("breached") if not b.get("resolved_at") else '<span class="chip healthy">resolved</span>'
        rates = {
            k: v for k, v in (b.get("burn_rates") or {}).items() if isinstance(v, (int, float)) or v is None
        }
        rows.append(
            f"<tr><td>{_e(b['slo'])}</td><td>{_e(b['severity'])}</td><td>{state}</td>"
            f"<td>{_e(b['opened_at'][:16].replace('T', ' '))}</td>"
            f"<td>{_e((b.get('resolved_at') or '')[:16].replace('T', ' ')) or '–'}</td>"
            f"<td>{_burns(rates)}</td></tr>"
        )
    table = (
        (
            "<table><thead><tr><th>SLO</th><th>Severity</th><th>State</th><th>Opened (UTC)</th>"
            "<th>Resolved (UTC)</th><th>Burn rates when opened</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )
        if rows
        else ""
    )
    return f'<div class="card">{chart}</div>{table}'


def _ledger(d: DatasetDetail) -> str:
    if not d.partitions:
        return '<p class="muted">No partition has been written yet.</p>'
    rows = []
    for p in d.partitions:
        quarantined = (
            f' <span class="muted">(+{p["rows_quarantined"]} quarantined)</span>'
            if p.get("rows_quarantined")
            else ""
        )
        rows.append(
            f"<tr><td><code>{_e(p['partition_key'])}</code></td><td>{chip(p['state'])}"
            f"{' ' + chip('stale') if p.get('stale') else ''}</td>"
            f'<td class="num">{_e(p["rows_published"] if p["rows_published"] is not None else "–")}{quarantined}</td>'
            f"<td>{_e(p['contract_version'] or '–')}</td><td>{chip(p['gate_verdict'])}</td>"
            f"<td>{_e((p['updated_at'] or '')[:16].replace('T', ' '))}</td><td>{_findings(p)}</td>"
            f"<td>{_versions(p)}</td>"
            f'<td><code class="cmd">{_e(p["rerun_command"])}</code><button class="copy" type="button" '
            f'title="copy the command">copy</button></td></tr>'
        )
    return (
        "<table><thead><tr><th>Partition</th><th>State</th><th>Rows</th><th>Contract</th><th>Gate</th>"
        f"<th>Updated (UTC)</th><th>Failed rules and reruns</th><th>Kept versions</th><th>Rerun</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _findings(p: dict[str, Any]) -> str:
    """The rules a partition's latest gate failed (expected, actual) and why it was rerun."""
    lines = [
        f'<div class="rule"><code>{_e(r["rule"])}</code> <span class="muted">{_e(r.get("severity") or "")}</span>: '
        f"expected {_e(r.get('expected'))}, got {_e(r.get('actual'))}"
        + (f", {_e(r['failing_rows'])} failing rows" if r.get("failing_rows") is not None else "")
        + "</div>"
        for r in p.get("failed_rules") or []
    ]
    lines += [
        f'<div class="rerun">rerun {_e((r.get("started_at") or "")[:16].replace("T", " "))} by '
        f"{_e(r.get('requested_by') or '?')}: {_e(r.get('reason') or '')}</div>"
        for r in p.get("reruns") or []
    ]
    if p.get("stale"):
        lines.append(f'<div class="stale">stale: {_e(p["stale"])}</div>')
    return "".join(lines) or '<span class="muted">–</span>'


def _versions(p: dict[str, Any]) -> str:
    """The partition's rollbacks (who, why, which version) and its kept versions with their state."""
    lines = [
        f'<div class="rollback">{chip("rolled_back")} to version {_e(r["restored"])} '
        f"{_e((r.get('at') or '')[:16].replace('T', ' '))} by {_e(r.get('requested_by') or '?')}: "
        f"{_e(r.get('reason') or '')}</div>"
        for r in p.get("rollbacks") or []
    ]
    lines += [
        f'<div class="version"><code>{_e(v["apply_id"])}</code> {_e(v["rows"])} rows {chip(v["state"])}</div>'
        for v in p.get("versions") or []
    ]
    return "".join(lines) or '<span class="muted">–</span>'


def _rules(d: DatasetDetail) -> str:
    r = d.contract_result
    if not r:
        return '<p class="muted">No contract check has run yet.</p>'
    head = (
        f'<p class="sub">{chip(r["verdict"])} contract {_e(r["contract_id"])} v{_e(r["contract_version"])}, '
        f"partition <code>{_e(r['partition_key'] or '–')}</code>, {_e(r['rules_total'] - r['rules_failed'])}/"
        f"{_e(r['rules_total'])} rules passed, {_e(r['rows_checked'] if r['rows_checked'] is not None else '?')} "
        f"rows, {_e(r['engine'])} engine, mode {_e(r['mode'])}, checked {_e((r['checked_at'] or '')[:16])} UTC"
        f"{' by ' + dag_links(r['dag_id'], r['task_id']) if r.get('dag_id') else ''}</p>"
    )
    rules = sorted(r["rules"], key=lambda x: (bool(x.get("passed")), str(x.get("name"))))
    rows = []
    for rule in rules:
        passed = rule.get("passed")
        verdict = chip("passed") if passed else chip("failed" if rule.get("severity") == "error" else "warn")
        failing = rule.get("failing_rows")
        rows.append(
            f"<tr><td>{verdict}</td><td><code>{_e(rule.get('name'))}</code></td><td>{_e(rule.get('dimension') or '')}</td>"
            f"<td>{_e(rule.get('severity') or '')}</td><td>{_e(rule.get('expected'))}</td><td>{_e(rule.get('actual'))}</td>"
            f'<td class="num">{_e(failing if failing is not None else "")}</td></tr>'
        )
    return (
        head + "<table><thead><tr><th>Result</th><th>Rule</th><th>Dimension</th><th>Severity</th>"
        "<th>Expected</th><th>Actual</th><th>Failing rows</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def dataset_page(d: DatasetDetail, *, base: str, theme: str | None) -> str:
    s = d.summary
    body = (
        f'<p class="sub"><a href="{_e(base)}/">← All datasets</a></p>'
        f"<h1>{_e(s.dataset)} {chip(s.status)}</h1>"
        f'<p class="desc">{_e(s.description or "")}</p>'
        f"{_facts(d)}"
        f"<h2>Service level objectives</h2>{_slo_table(d)}"
        f"<h2>SLI history and error budget</h2>{_charts(d)}"
        f"<h2>Breaches</h2>{_breaches(d)}"
        f'<h2>Partition ledger <span class="count">{len(d.partitions)} partitions</span></h2>{_ledger(d)}'
        f"<h2>Latest contract results</h2>{_rules(d)}"
    )
    return layout(s.dataset, body, theme=theme)


# -------------------------------------------------------------------------------- errors
def message_page(
    title: str, message: str, *, base: str, theme: str | None = None, back: bool = True, sign_in: bool = False
) -> str:
    links = []
    if back:
        links.append(f'<a href="{_e(base)}/">← All datasets</a>')
    if sign_in:
        links.append('<a data-airflow="1" href="/">Sign in to Airflow</a>')
    body = f'<div class="notice"><h1>{_e(title)}</h1><p>{_e(message)}</p><p>{" · ".join(links)}</p></div>'
    return layout(title, body, theme=theme)
