# ruff: noqa: RUF001 - en dashes and multiplication signs are intended typography
"""Server-rendered HTML for one dataset's page: facts, SLOs, charts, breaches, ledger, rules.

Every value from the store passes through ``markup.esc`` or ``markup.url_part``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow_dataops.plugins import svg
from airflow_dataops.plugins.markup import burns, chip, dag_links, esc, layout
from airflow_dataops.plugins.queries import DatasetDetail

__all__ = ["dataset_page"]


# ------------------------------------------------------------------------------- dataset
def _facts(d: DatasetDetail) -> str:
    s = d.summary
    items = [
        ("Owner", esc(s.owner or "–")),
        ("Produced by", dag_links(s.dag_id, s.task_id)),
        (
            "Contract",
            f"{esc(s.contract_id or '–')} <span class=muted>v{esc(s.contract_version or '?')}</span>",
        ),
        ("Target table", f"<code>{esc(s.target_table or '–')}</code>"),
        ("Objective", esc(s.objective or "–")),
    ]
    if d.contract_path:
        items.append(("Contract file", f"<code>{esc(d.contract_path)}</code>"))
    return '<dl class="facts">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items) + "</dl>"


def _slo_table(d: DatasetDetail) -> str:
    if d.summary.error:
        return f'<p class="desc">{chip("invalid")} {esc(d.summary.error)}</p>'
    if not d.summary.slos:
        return '<p class="muted">No SLO is declared for this dataset (add a <code>dataops.slo</code> block to its contract).</p>'
    rows = []
    for v in d.summary.slos:
        objective = f"{v.objective * 100:g}% over {v.window_days:g} d" if v.objective is not None else "–"
        if v.threshold:
            objective += f" ({esc(v.threshold)})"
        firing = (
            " ".join(f'<span class="chip bad">{esc(f)}</span>' for f in v.firing)
            or '<span class="muted">none</span>'
        )
        events = f"{v.good_events} good / {v.bad_events} bad" + (
            f" ({v.missing_events} missing)" if v.missing_events else ""
        )
        detail = f'<div class="desc">{esc(v.error)}</div>' if v.error else ""
        rows.append(
            f"<tr><td><strong>{esc(v.kind)}</strong>{detail}</td><td>{chip(v.status)}</td><td>{objective}</td>"
            f"<td>{svg.budget_bar(v.budget_remaining)}</td><td>{burns(v.burn_rates)}</td><td>{firing}</td>"
            f'<td class="num">{esc(svg.format_value(v.sli_value, v.unit))}</td><td>{events}</td></tr>'
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
            f"<tr><td>{esc(b['slo'])}</td><td>{esc(b['severity'])}</td><td>{state}</td>"
            f"<td>{esc(b['opened_at'][:16].replace('T', ' '))}</td>"
            f"<td>{esc((b.get('resolved_at') or '')[:16].replace('T', ' ')) or '–'}</td>"
            f"<td>{burns(rates)}</td></tr>"
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
            f"<tr><td><code>{esc(p['partition_key'])}</code></td><td>{chip(p['state'])}"
            f"{' ' + chip('stale') if p.get('stale') else ''}</td>"
            f'<td class="num">{esc(p["rows_published"] if p["rows_published"] is not None else "–")}{quarantined}</td>'
            f"<td>{esc(p['contract_version'] or '–')}</td><td>{chip(p['gate_verdict'])}</td>"
            f"<td>{esc((p['updated_at'] or '')[:16].replace('T', ' '))}</td><td>{_findings(p)}</td>"
            f"<td>{_versions(p)}</td>"
            f'<td><code class="cmd">{esc(p["rerun_command"])}</code><button class="copy" type="button" '
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
        f'<div class="rule"><code>{esc(r["rule"])}</code> <span class="muted">{esc(r.get("severity") or "")}</span>: '
        f"expected {esc(r.get('expected'))}, got {esc(r.get('actual'))}"
        + (f", {esc(r['failing_rows'])} failing rows" if r.get("failing_rows") is not None else "")
        + "</div>"
        for r in p.get("failed_rules") or []
    ]
    lines += [
        f'<div class="rerun">rerun {esc((r.get("started_at") or "")[:16].replace("T", " "))} by '
        f"{esc(r.get('requested_by') or '?')}: {esc(r.get('reason') or '')}</div>"
        for r in p.get("reruns") or []
    ]
    if p.get("stale"):
        lines.append(f'<div class="stale">stale: {esc(p["stale"])}</div>')
    return "".join(lines) or '<span class="muted">–</span>'


def _versions(p: dict[str, Any]) -> str:
    """The partition's rollbacks (who, why, which version) and its kept versions with their state."""
    lines = [
        f'<div class="rollback">{chip("rolled_back")} to version {esc(r["restored"])} '
        f"{esc((r.get('at') or '')[:16].replace('T', ' '))} by {esc(r.get('requested_by') or '?')}: "
        f"{esc(r.get('reason') or '')}</div>"
        for r in p.get("rollbacks") or []
    ]
    lines += [
        f'<div class="version"><code>{esc(v["apply_id"])}</code> {esc(v["rows"])} rows {chip(v["state"])}</div>'
        for v in p.get("versions") or []
    ]
    return "".join(lines) or '<span class="muted">–</span>'


def _rules(d: DatasetDetail) -> str:
    r = d.contract_result
    if not r:
        return '<p class="muted">No contract check has run yet.</p>'
    head = (
        f'<p class="sub">{chip(r["verdict"])} contract {esc(r["contract_id"])} v{esc(r["contract_version"])}, '
        f"partition <code>{esc(r['partition_key'] or '–')}</code>, {esc(r['rules_total'] - r['rules_failed'])}/"
        f"{esc(r['rules_total'])} rules passed, {esc(r['rows_checked'] if r['rows_checked'] is not None else '?')} "
        f"rows, {esc(r['engine'])} engine, mode {esc(r['mode'])}, checked {esc((r['checked_at'] or '')[:16])} UTC"
        f"{' by ' + dag_links(r['dag_id'], r['task_id']) if r.get('dag_id') else ''}</p>"
    )
    rules = sorted(r["rules"], key=lambda x: (bool(x.get("passed")), str(x.get("name"))))
    rows = []
    for rule in rules:
        passed = rule.get("passed")
        verdict = chip("passed") if passed else chip("failed" if rule.get("severity") == "error" else "warn")
        failing = rule.get("failing_rows")
        rows.append(
            f"<tr><td>{verdict}</td><td><code>{esc(rule.get('name'))}</code></td><td>{esc(rule.get('dimension') or '')}</td>"
            f"<td>{esc(rule.get('severity') or '')}</td><td>{esc(rule.get('expected'))}</td><td>{esc(rule.get('actual'))}</td>"
            f'<td class="num">{esc(failing if failing is not None else "")}</td></tr>'
        )
    return (
        head + "<table><thead><tr><th>Result</th><th>Rule</th><th>Dimension</th><th>Severity</th>"
        "<th>Expected</th><th>Actual</th><th>Failing rows</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def dataset_page(d: DatasetDetail, *, base: str, theme: str | None) -> str:
    s = d.summary
    body = (
        f'<p class="sub"><a href="{esc(base)}/">← All datasets</a></p>'
        f"<h1>{esc(s.dataset)} {chip(s.status)}</h1>"
        f'<p class="desc">{esc(s.description or "")}</p>'
        f"{_facts(d)}"
        f"<h2>Service level objectives</h2>{_slo_table(d)}"
        f"<h2>SLI history and error budget</h2>{_charts(d)}"
        f"<h2>Breaches</h2>{_breaches(d)}"
        f'<h2>Partition ledger <span class="count">{len(d.partitions)} partitions</span></h2>{_ledger(d)}'
        f"<h2>Latest contract results</h2>{_rules(d)}"
    )
    return layout(s.dataset, body, theme=theme)
