# ruff: noqa: RUF001 - en dashes and multiplication signs are intended typography
"""The frame and the small pieces of every dataops page: escaping, layout, chips, links.

Every value from the store (dataset names, descriptions, owners, rule names and texts,
partition keys) passes through :func:`esc` (``html.escape``) or :func:`url_part`
(``urllib.parse.quote``) before it reaches a page.  The pages work without JavaScript (sorting
and filtering are links and a GET form); the few lines of inline script in :func:`layout` only
follow Airflow's colour mode, copy a rerun command, and open links to Airflow's own pages in
the top window rather than inside the plugin's iframe.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import quote

from airflow_dataops.plugins.queries import STATUS_LABEL, STATUS_ORDER

__all__ = [
    "ago",
    "airflow_link",
    "burns",
    "chip",
    "dag_links",
    "dataset_href",
    "esc",
    "layout",
    "task_link",
    "url_part",
]


def esc(value: Any) -> str:
    """``value`` safe inside HTML text or a quoted attribute; ``None`` is empty."""
    return "" if value is None else escape(str(value), quote=True)


def url_part(value: str) -> str:
    """``value`` as one path segment of a URL (``/`` quoted too)."""
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
        f"<title>{esc(title)} · dataops</title><style>{_CSS}</style><script>{_SCRIPT}</script></head>"
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
    return f'<span class="chip {esc(cls)}">{esc(label)}</span>'


def burns(rates: Mapping[str, float | None]) -> str:
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
            f'<span class="{"chip bad" if hot else "num"}" title="burn rate over {esc(label)}">'
            f"{esc(label)} {text}</span>"
        )
    return " ".join(parts)


def ago(at: datetime | None, now: datetime) -> str:
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


def airflow_link(href: str, text: str) -> str:
    return f'<a data-airflow="1" href="{esc(href)}">{esc(text)}</a>'


def dag_links(dag_id: str | None, task_id: str | None) -> str:
    if not dag_id:
        return '<span class="muted">–</span>'
    out = airflow_link(f"/dags/{url_part(dag_id)}", dag_id)
    if task_id:
        out += " / " + airflow_link(f"/dags/{url_part(dag_id)}/tasks/{url_part(task_id)}", task_id)
    return out


def task_link(dag_id: str | None, task_id: str | None) -> str:
    if not dag_id or not task_id:
        return '<span class="muted">–</span>'
    return airflow_link(f"/dags/{url_part(dag_id)}/tasks/{url_part(task_id)}", task_id)


def dataset_href(base: str, name: str) -> str:
    return f"{base}/datasets/{url_part(name)}"
