"""The gate's decision: from a report and a mode to a verdict, and which rows to quarantine.

fail        any failed error-severity rule blocks; warning-severity failures are recorded
quarantine  failed error-severity ROW-level rules move their failing rows aside and the
            rest is published; a failed error-severity AGGREGATE rule (row count, a
            threshold on nulls, freshness, schema) still blocks
warn        everything is recorded, nothing blocks
"""

from __future__ import annotations

from airflow_dataops.config import GATE_MODES, GateMode
from airflow_dataops.contracts.report import GateReport, Severity, Verdict


def check_mode(mode: str) -> str:
    if mode not in GATE_MODES:
        raise ValueError(f"gate mode {mode!r} is not one of {', '.join(GATE_MODES)}")
    return mode


def quarantinable(report: GateReport) -> tuple[str, ...]:
    """Names of failed error-severity rules whose failing rows are moved aside in quarantine mode."""
    return tuple(r.name for r in report.blocking if r.quarantinable)


def decide(report: GateReport, mode: str) -> Verdict:
    check_mode(mode)
    if report.passed:
        return Verdict.PASSED
    if mode == GateMode.WARN or not report.blocking:
        return Verdict.WARNED
    if mode == GateMode.FAIL:
        return Verdict.FAILED
    aggregate_blocking = [r for r in report.blocking if not r.quarantinable]
    if aggregate_blocking:
        return Verdict.FAILED
    return Verdict.QUARANTINED


def explain(report: GateReport, verdict: Verdict, *, mode: str) -> str:
    """One paragraph for the task log and the exception: what failed, by how much."""
    lines = [
        f"contract {report.contract_id} v{report.contract_version} on {report.dataset}"
        + (f" partition {report.partition!r}" if report.partition else "")
        + f": {verdict.value} (mode {mode}, {len(report.results)} rules, {len(report.failed)} failed, "
        f"{report.row_count} rows)"
    ]
    for r in report.failed:
        rows = f", {r.failing_rows} failing rows" if r.failing_rows is not None else ""
        sev = "ERROR" if r.severity is Severity.ERROR else "warning"
        lines.append(f"  [{sev}] {r.name}: expected {r.expected}, got {r.actual}{rows}")
        if mode != GateMode.QUARANTINE or r.severity is not Severity.ERROR:
            continue
        if r.quarantinable and r.quarantine_note:
            lines.append(f"      {r.quarantine_note}")
        elif not r.quarantinable:
            why = (
                "it tolerates some failing rows (a threshold), and moving them aside would game it"
                if r.row_level and r.failing_rows is not None
                else "no failing rows can be selected for it (an aggregate or schema rule, or its column "
                "is missing)"
            )
            lines.append(f"      not quarantined: {why}; it blocks the partition")
    return "\n".join(lines)
