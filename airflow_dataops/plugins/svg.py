# ruff: noqa: RUF001 - en dashes and multiplication signs are intended typography
"""Charts as inline SVG, rendered on the server: no JavaScript, no build chain.

Every chart scales to its container (``viewBox`` + ``width="100%"``) and takes its
colours from CSS classes (``.ax``, ``.grid``, ``.line``, ``.good``, ``.bad`` …) that the
page styles for light and dark mode.  Text is escaped: SLI kinds and labels may come
from user contracts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from airflow_dataops.plugins.markup import esc

_PAD_L, _PAD_R, _PAD_T, _PAD_B = 52, 12, 22, 24


def format_value(value: float | None, unit: str | None) -> str:
    """``3.2 h`` for seconds, ``98.5%`` for ratios, the number and unit otherwise."""
    if value is None or not math.isfinite(value):
        return "–"
    if unit == "s":
        magnitude = abs(value)
        if magnitude >= 86400:
            return f"{value / 86400:.1f} d"
        if magnitude >= 3600:
            return f"{value / 3600:.1f} h"
        if magnitude >= 60:
            return f"{value / 60:.0f} min"
        return f"{value:.1f} s"
    if unit in ("ratio", None):
        return f"{value * 100:.1f}%" if unit == "ratio" else f"{value:g}"
    if unit == "percent":
        return f"{value:.1f}%"
    return f"{value:g} {unit}"


def _tick_label(value: float, unit: str | None, scale: float) -> str:
    """Axis labels in one unit per axis (``12 h``, ``18 h``, ``24 h``; not ``20.0 h``, ``1.2 d``)."""
    suffix = {86400.0: "d", 3600.0: "h", 60.0: "min"}.get(scale) if unit == "s" else None
    if suffix:
        return f"{value / scale:g} {suffix}"
    return format_value(value, unit)


def _nice_ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=raw)
    first = math.floor(lo / step) * step
    ticks: list[float] = []
    v = first
    while v <= hi + step * 0.5 and len(ticks) < 12:
        ticks.append(round(v, 10))
        v += step
    return ticks


def _frame(width: int, height: int, label: str, body: str) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{esc(label)}" preserveAspectRatio="xMidYMid meet">'
        f"<title>{esc(label)}</title>{body}</svg>"
    )


def _time_axis(t0: float, t1: float, x: Any, height: int) -> str:
    out = []
    for i in range(5):
        ts = t0 + (t1 - t0) * i / 4
        px = x(ts)
        text = (
            datetime.fromtimestamp(ts, timezone.utc).strftime("%b %d")
            if t1 - t0 > 2 * 86400
            else datetime.fromtimestamp(ts, timezone.utc).strftime("%H:%M")
        )
        anchor = "start" if i == 0 else "end" if i == 4 else "middle"
        out.append(
            f'<text class="lbl" x="{px:.1f}" y="{height - 6}" text-anchor="{anchor}">{esc(text)}</text>'
        )
    return "".join(out)


def line_chart(
    points: Sequence[tuple[datetime, float | None, bool | None]],
    *,
    label: str,
    unit: str | None,
    start: datetime,
    end: datetime,
    width: int = 600,
    height: int = 190,
    reference: float | None = None,
    reference_label: str = "",
) -> str:
    """SLI values over time: a line, and a dot per observation coloured good / bad / unknown.

    The time axis spans the data: from ``start``, or from just before the first point when the
    data is younger (a 5-day-old dataset fills the chart instead of its last 5% of 90 days).
    """
    data = [(p[0].timestamp(), p[1], p[2]) for p in points if p[1] is not None and math.isfinite(p[1])]
    data.sort(key=lambda d: d[0])
    t0, t1 = start.timestamp(), end.timestamp()
    if data and data[0][0] > t0:
        t0 = max(t0, data[0][0] - max((t1 - data[0][0]) * 0.05, 3600.0))
    if not data:
        body = (
            f'<rect class="plot" x="{_PAD_L}" y="{_PAD_T}" width="{width - _PAD_L - _PAD_R}" '
            f'height="{height - _PAD_T - _PAD_B}"/>'
            f'<text class="lbl" x="{width / 2}" y="{height / 2}" text-anchor="middle">no observations</text>'
        )
        return _frame(width, height, label, body)
    values = [v for _, v, _ in data] + ([reference] if reference is not None else [])
    lo, hi = min(values), max(values)
    if unit == "ratio":
        lo, hi = min(lo, 0.9), max(hi, 1.0)
    lo = min(lo, 0.0) if lo >= 0 and hi > 0 and lo < hi * 0.25 else lo
    scale = 1.0
    if unit == "s":  # ticks on whole minutes, hours or days
        span = max(abs(lo), abs(hi))
        scale = 86400.0 if span >= 3 * 86400 else 3600.0 if span >= 3 * 3600 else 60.0 if span >= 180 else 1.0
    ticks = [tick * scale for tick in _nice_ticks(lo / scale, hi / scale)]
    lo, hi = ticks[0], ticks[-1] if ticks[-1] > ticks[0] else ticks[0] + 1
    pw, ph = width - _PAD_L - _PAD_R, height - _PAD_T - _PAD_B

    def x(ts: float) -> float:
        return _PAD_L + (ts - t0) / ((t1 - t0) or 1) * pw

    def y(v: float) -> float:
        return _PAD_T + ph - (v - lo) / ((hi - lo) or 1) * ph

    parts = [f'<rect class="plot" x="{_PAD_L}" y="{_PAD_T}" width="{pw}" height="{ph}"/>']
    for tick in ticks:
        py = y(tick)
        parts.append(f'<line class="grid" x1="{_PAD_L}" x2="{width - _PAD_R}" y1="{py:.1f}" y2="{py:.1f}"/>')
        parts.append(
            f'<text class="lbl" x="{_PAD_L - 6}" y="{py + 4:.1f}" text-anchor="end">'
            f"{esc(_tick_label(tick, unit, scale))}</text>"
        )
    if reference is not None:
        py = y(reference)
        parts.append(f'<line class="ref" x1="{_PAD_L}" x2="{width - _PAD_R}" y1="{py:.1f}" y2="{py:.1f}"/>')
        if reference_label:
            parts.append(
                f'<text class="lbl" x="{width - _PAD_R - 4}" y="{py - 4:.1f}" text-anchor="end">'
                f"{esc(reference_label)}</text>"
            )
    path = " ".join(f"{x(ts):.1f},{y(v):.1f}" for ts, v, _ in data)
    parts.append(f'<polyline class="line" points="{path}"/>')
    for ts, v, good in data:
        cls = "good" if good is True else "bad" if good is False else "unknown"
        when = datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="minutes")
        parts.append(
            f'<circle class="{cls}" cx="{x(ts):.1f}" cy="{y(v):.1f}" r="3">'
            f"<title>{esc(when)}: {esc(format_value(v, unit))} ({cls})</title></circle>"
        )
    parts.append(_time_axis(t0, t1, x, height))
    parts.append(f'<text class="ttl" x="{_PAD_L}" y="14">{esc(label)}</text>')
    return _frame(width, height, label, "".join(parts))


def burndown_chart(
    points: Sequence[tuple[datetime, float | None]],
    *,
    label: str,
    at_risk_below: float = 0.25,
    width: int = 600,
    height: int = 190,
) -> str:
    """Error budget remaining over the SLO window: 100% at the top, the at-risk line, 0 (exhausted)."""
    known = [(p[0].timestamp(), p[1]) for p in points if p[1] is not None]
    if not points:
        return _frame(width, height, label, "")
    t0, t1 = points[0][0].timestamp(), points[-1][0].timestamp()
    if known and known[0][0] > t0:  # span the data: no empty stretch before the first event
        t0 = known[0][0] if known[0][0] < t1 else t0
    lo = min([0.0, *(v for _, v in known)])
    lo = max(lo, -1.0)
    hi = 1.0
    pw, ph = width - _PAD_L - _PAD_R, height - _PAD_T - _PAD_B

    def x(ts: float) -> float:
        return _PAD_L + (ts - t0) / ((t1 - t0) or 1) * pw

    def y(v: float) -> float:
        return _PAD_T + ph - (max(v, lo) - lo) / ((hi - lo) or 1) * ph

    parts = [f'<rect class="plot" x="{_PAD_L}" y="{_PAD_T}" width="{pw}" height="{ph}"/>']
    for tick in sorted({lo, 0.0, 0.5, 1.0}):
        py = y(tick)
        parts.append(f'<line class="grid" x1="{_PAD_L}" x2="{width - _PAD_R}" y1="{py:.1f}" y2="{py:.1f}"/>')
        parts.append(
            f'<text class="lbl" x="{_PAD_L - 6}" y="{py + 4:.1f}" text-anchor="end">{tick * 100:.0f}%</text>'
        )
    py = y(at_risk_below)
    parts.append(f'<line class="ref" x1="{_PAD_L}" x2="{width - _PAD_R}" y1="{py:.1f}" y2="{py:.1f}"/>')
    parts.append(
        f'<text class="lbl" x="{width - _PAD_R - 4}" y="{py - 4:.1f}" text-anchor="end">at risk</text>'
    )
    if known:
        area = (
            [f"{x(known[0][0]):.1f},{y(lo):.1f}"]
            + [f"{x(ts):.1f},{y(v):.1f}" for ts, v in known]
            + [f"{x(known[-1][0]):.1f},{y(lo):.1f}"]
        )
        parts.append(f'<polygon class="area" points="{" ".join(area)}"/>')
        parts.append(f'<polyline class="line" points="{" ".join(area[1:-1])}"/>')
        last = known[-1][1]
        parts.append(
            f'<text class="lbl strong" x="{x(known[-1][0]) - 4:.1f}" y="{y(last) - 6:.1f}" '
            f'text-anchor="end">{last * 100:.0f}% left</text>'
        )
    else:
        parts.append(
            f'<text class="lbl" x="{width / 2}" y="{height / 2}" text-anchor="middle">no events in the window</text>'
        )
    parts.append(_time_axis(t0, t1, x, height))
    parts.append(f'<text class="ttl" x="{_PAD_L}" y="14">{esc(label)}</text>')
    return _frame(width, height, label, "".join(parts))


def budget_bar(remaining: float | None, *, width: int = 120, height: int = 12) -> str:
    """A bar of the error budget left (red when overspent, amber below 25%)."""
    if remaining is None:
        return '<span class="muted">–</span>'
    share = max(0.0, min(1.0, remaining))
    cls = "bad" if remaining <= 0 else "warn" if remaining < 0.25 else "good"
    text = f"{remaining * 100:.0f}%"
    return (
        f'<span class="budget"><svg class="bar" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="error budget {text} left">'
        f'<rect class="track" x="0" y="0" width="{width}" height="{height}" rx="3"/>'
        f'<rect class="{cls}" x="0" y="0" width="{share * width:.1f}" height="{height}" rx="3"/></svg>'
        f'<span class="num">{esc(text)}</span></span>'
    )


def breach_timeline(
    episodes: Sequence[Mapping[str, Any]],
    *,
    start: datetime,
    end: datetime,
    width: int = 1200,
) -> str:
    """One lane per SLO, a bar per breach episode from opened to resolved (open: to now)."""
    lanes = sorted({str(e["slo"]) for e in episodes})
    row_h = 22
    height = _PAD_T + max(1, len(lanes)) * row_h + _PAD_B
    t0, t1 = start.timestamp(), end.timestamp()
    left = 110
    pw = width - left - _PAD_R

    def x(ts: float) -> float:
        return left + (min(max(ts, t0), t1) - t0) / ((t1 - t0) or 1) * pw

    parts = [
        f'<rect class="plot" x="{left}" y="{_PAD_T}" width="{pw}" height="{max(1, len(lanes)) * row_h}"/>'
    ]
    if not lanes:
        parts.append(
            f'<text class="lbl" x="{left + pw / 2}" y="{_PAD_T + 15}" text-anchor="middle">'
            "no breach in this period</text>"
        )
    for i, lane in enumerate(lanes):
        ly = _PAD_T + i * row_h
        parts.append(f'<text class="lbl" x="{left - 6}" y="{ly + 15}" text-anchor="end">{esc(lane)}</text>')
        for e in episodes:
            if str(e["slo"]) != lane:
                continue
            opened = datetime.fromisoformat(e["opened_at"]).timestamp()
            resolved = datetime.fromisoformat(e["resolved_at"]).timestamp() if e.get("resolved_at") else t1
            if resolved < t0 or opened > t1:
                continue
            x0, x1 = x(opened), x(resolved)
            cls = "bad" if e.get("severity") == "page" else "warn"
            state = "open" if not e.get("resolved_at") else "resolved"
            parts.append(
                f'<rect class="{cls}" x="{x0:.1f}" y="{ly + 4}" width="{max(x1 - x0, 3):.1f}" height="{row_h - 8}" rx="2">'
                f"<title>{esc(lane)} {esc(e.get('severity'))} {state}: {esc(e['opened_at'])} → "
                f"{esc(e.get('resolved_at') or 'now')}</title></rect>"
            )
    parts.append(_time_axis(t0, t1, x, height))
    return _frame(width, height, "breach timeline", "".join(parts))
