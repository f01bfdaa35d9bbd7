"""``airflow dataops report [--since DATE] [--until DATE] [-o table|json]``: operational metrics.

Thin over :func:`airflow_dataops.report.operational_report` (definitions there and in docs/slo.md):
per dataset and per owner, pipeline success rate (M1), breach episodes and time to recovery (M10),
lineage coverage (M11, not measured yet: said so), alert noise (M13), breaches per week (M14) and
SLA violations per month (M15).  Exit 0, or 2 for an invalid date, 3 when the store cannot be read.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

__all__ = ["report_action_command", "report_command"]


def report_action_command() -> Any:
    from airflow.cli.cli_config import ActionCommand, Arg, lazy_load_command

    return ActionCommand(
        name="report",
        help="Operational metrics per dataset and owner: success rate, MTTR, alert noise, on-call load, SLA misses",
        description=(
            "Over [--since, --until) (default: the last 30 days). Exits 0, 2 on an invalid date, 3 when the store "
            "cannot be read. Example: airflow dataops report --since 2026-11-01 -o json"
        ),
        func=lazy_load_command("airflow_dataops.cli.report.report_command"),
        args=(
            Arg(
                ("--since",),
                help="Start of the period (ISO date or datetime, UTC); default 30 days before --until.",
            ),
            Arg(("--until",), help="End of the period, exclusive (ISO date or datetime, UTC); default now."),
            Arg(("-o", "--output"), choices=("table", "json"), default="table", help="Output format."),
        ),
    )


def _when(value: str | None, flag: str) -> datetime | None:
    from airflow_dataops.cli._common import EXIT_INVALID, fail

    if not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        fail(
            f"{flag} {value!r} is not an ISO date or datetime (e.g. 2026-11-01 or 2026-11-01T06:00)",
            EXIT_INVALID,
        )
    from airflow_dataops.clock import as_utc

    return as_utc(at)


def report_command(args: Any) -> None:
    from airflow_dataops.cli._common import EXIT_INVALID, fail, read_store, store_faults
    from airflow_dataops.report import operational_report

    since, until = (
        _when(getattr(args, "since", None), "--since"),
        _when(getattr(args, "until", None), "--until"),
    )
    if since and until and since >= until:
        fail(f"--since {args.since} is not before --until {args.until}", EXIT_INVALID)
    with store_faults():
        store = read_store()
        report = operational_report(store, since=since, until=until)
    data = report.to_dict()
    if getattr(args, "output", "table") == "json":
        print(json.dumps(data, indent=2, default=str))
        return
    print(render(data))


def render(data: dict[str, Any]) -> str:
    from airflow_dataops.cli._common import table
    from airflow_dataops.report import duration_text, percent_text

    def rows(group: dict[str, Any], owner_col: bool) -> list[list[Any]]:
        out = []
        for name, m in group.items():
            months = ", ".join(f"{k}: {v}" for k, v in m["sla_violations_per_month"].items()) or "-"
            out.append(
                [
                    name,
                    *([m.get("owner") or "-"] if owner_col else []),
                    f"{m['runs']['succeeded']}/{m['runs']['succeeded'] + m['runs']['failed']}",
                    percent_text(m["runs"]["success_rate"]),
                    m["breaches"]["opened"],
                    duration_text(m["breaches"]["mttr_seconds"]),
                    f"{m['alert_noise']['resolved_without_action']}/{m['alert_noise']['resolved']}",
                    "-" if m["breaches"]["per_week"] is None else f"{m['breaches']['per_week']:.2f}",
                    months,
                ]
            )
        return out

    cols = [
        "runs ok",
        "M1 success",
        "M10 breaches",
        "MTTR",
        "M13 noise",
        "M14 per week",
        "M15 SLA misses/month",
    ]
    lines = [f"operational report {data['since'][:16]} .. {data['until'][:16]} (UTC)", ""]
    lines.append(table(["dataset", "owner", *cols], rows(data["datasets"], True)))
    lines += ["", table(["owner", *cols], rows(data["owners"], False)), ""]
    lines.append(f"M11 lineage coverage: {data['lineage_coverage']['reason']}")
    return "\n".join(lines)
