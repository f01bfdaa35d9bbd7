"""Collects what the reliability suite measured and writes docs/reliability.md at the end of the session.

A test calls :func:`record` with what it ran and what came out; ``tests/conftest.py`` writes the
summary when the session finishes (only when at least one reliability test ran), so the document
says what was measured in the last run, never what someone typed.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "docs" / "reliability.md"
_ROWS: dict[str, tuple[str, int, str]] = {}


def record(key: str, *, scenario: str, runs: int, result: str) -> None:
    _ROWS[key] = (scenario, runs, result)


def write(exitstatus: int) -> Path | None:
    """Write the report; only for a whole-suite run (``make test`` sets DATAOPS_WRITE_REPORTS=1), so a
    partial run never replaces the document with a subset of the scenarios."""
    import os

    if not _ROWS or os.environ.get("DATAOPS_WRITE_REPORTS") != "1":
        return None
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Reliability",
        "",
        "Written by the reliability suite (`tests/reliability/`, run by `make test`) at the end of its run:",
        "each row is a scenario that ran, how many times, and what was measured. Nothing here is typed by hand.",
        "`make soak` runs the same suite with 10x the crash runs and concurrency rounds (it does not rewrite this page).",
        "",
        "| scenario | runs | result |",
        "|---|---|---|",
    ]
    for key in sorted(_ROWS):
        scenario, runs, result = _ROWS[key]
        lines.append(f"| {scenario} | {runs} | {result} |")
    lines += ["", f"_Last run: {stamp}; pytest exit status {exitstatus}._", ""]
    REPORT.write_text("\n".join(lines))
    return REPORT
