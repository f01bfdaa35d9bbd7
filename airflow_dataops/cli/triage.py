"""``airflow dataops triage DATASET`` / ``--dag DAG_ID``: one command, one screen, for on-call.

Thin over :func:`airflow_dataops.triage.triage`: SLO statuses with budget and burn, the open
breach, then every partition that needs action with the exact next command.  Exit codes are the
project's: 0 nothing to act on, 1 a finding (open breach, breached SLO, partition to fix), 2 invalid
input (a malformed setting), 3 the environment (store unreachable, dataset or DAG unknown).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["render", "triage_action_command", "triage_command"]


def triage_action_command() -> Any:
    from airflow.cli.cli_config import ActionCommand, Arg, lazy_load_command

    return ActionCommand(
        name="triage",
        help="Everything on-call needs about a dataset: SLOs, open breach, partitions to fix and the command for each",
        description=(
            "Exits 0 when nothing needs action, 1 when something does (an open breach, a breached SLO, a failed, "
            "quarantined, missing or abandoned partition), 2 on invalid input, 3 when the store cannot be read or "
            "the dataset or DAG is unknown. Examples: airflow dataops triage flights; "
            "airflow dataops triage --dag nycflights_daily -o json"
        ),
        func=lazy_load_command("airflow_dataops.cli.triage.triage_command"),
        args=(
            Arg(
                ("dataset",),
                nargs="?",
                default=None,
                help="The dataset (as in the contract's schema object).",
            ),
            Arg(("--dag",), dest="dag_id", help="Every dataset this DAG publishes, instead of one dataset."),
            Arg(("-o", "--output"), choices=("table", "json"), default="table", help="Output format."),
        ),
    )


def triage_command(args: Any) -> None:
    from airflow_dataops.cli._common import EXIT_ENVIRONMENT, EXIT_INVALID, fail, read_store, store_faults
    from airflow_dataops.store.records import get_dataset, list_datasets
    from airflow_dataops.triage import triage

    dataset, dag_id = getattr(args, "dataset", None), getattr(args, "dag_id", None)
    if bool(dataset) == bool(dag_id):
        fail("name one dataset, or one DAG with --dag (not both)", EXIT_INVALID)
    with store_faults():
        store = read_store()
        if dag_id:
            rows = list_datasets(store, dag_id=dag_id)
            if not rows:
                fail(
                    f"DAG {dag_id!r} has published no dataset through the ledger in {store.url}",
                    EXIT_ENVIRONMENT,
                )
        else:
            found = get_dataset(store, str(dataset))
            if found is None:
                fail(
                    f"dataset {dataset!r} is not registered in the dataops store {store.url}; "
                    "`airflow dataops slo status` lists the registered ones",
                    EXIT_ENVIRONMENT,
                )
            rows = [found]
        report = triage(store, rows, target=dataset or f"--dag {dag_id}")
    if getattr(args, "output", "table") == "json":
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        print(render(report))
    raise SystemExit(report.exit_code)


def render(report: Any) -> str:
    """One screen: the SLOs and open breaches, then each partition to act on with its command."""
    from airflow_dataops.cli._common import table
    from airflow_dataops.slo.status import LABEL

    when = report.evaluated_at.strftime("%Y-%m-%d %H:%M UTC")
    out = [f"triage {report.target}: {report.severity.upper()} (evaluated {when})", ""]
    slo_rows = []
    for d in report.datasets:
        if not d["slos"]:
            text = LABEL[d["status"]] + (f": {d['error']}" if d.get("error") else "")
            slo_rows.append([d["dataset"], "-", text, "-", "-", "-"])
        for s in d["slos"]:
            budget = "-" if s["budget_remaining"] is None else f"{s['budget_remaining']:.1%}"
            burn = " ".join(f"{k}={v:.2f}" for k, v in s["burn_rates"].items() if v is not None) or "-"
            b = s.get("open_breach")
            opened = f"{b['severity']} since {b['opened_at'][:16].replace('T', ' ')}" if b else "-"
            slo_rows.append([d["dataset"], s["slo"], LABEL[s["status"]], budget, burn, opened])
    out.append(table(["dataset", "slo", "status", "budget left", "burn rates", "open breach"], slo_rows))
    out.append("")
    if not report.actions and not report.more_missing:
        out.append("no partition needs action")
        return "\n".join(out)
    out.append(f"partitions that need action ({len(report.actions)}):")
    for a in report.actions:
        out.append(f"  {a.dataset} {a.partition}  {a.problem.upper()}")
        out += [f"      {line}" for line in a.detail]
        if a.advice:
            out.append(f"      {a.advice}:")
        if a.command:
            out.append(f"      $ {a.command}")
    for name, n in report.more_missing.items():
        out.append(
            f"  {name}: {n} more missing partition(s) not listed (`airflow dataops partitions status {name}`)"
        )
    return "\n".join(out)
