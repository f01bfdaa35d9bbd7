"""``airflow dataops partitions rerun``: the CLI shell over ``airflow_dataops.partitions.rerun``
(and ``partitions.downstream`` for ``--downstream``): the arguments, Airflow's runs
(``cli.airflow_runs``), the plan as a table or JSON, the one-line error and its exit code.

Example::

    airflow dataops partitions rerun nycflights_daily -k 2026-11-19 --reason "upstream resent the day" --dry-run
    airflow dataops partitions rerun nycflights_daily --from 2026-11-01 --to 2026-11-03 --reason "bug #123 fixed"
    airflow dataops partitions rerun orders_daily -k 2026-11-28 --downstream --reason "30 orders cancelled"
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airflow_dataops.cli._common import EXIT_FINDING, EXIT_INVALID, exit_code_of, fail, requested_by, table
from airflow_dataops.exceptions import DataOpsError

if TYPE_CHECKING:
    from airflow_dataops.partitions.downstream import DownstreamPlan
    from airflow_dataops.partitions.rerun import PlannedRerun, RerunPlan, RerunSelection

_DRY_RUN = "dry run: nothing was recorded and no run was touched; drop --dry-run to do it."


def rerun_action_command() -> Any:
    """The ``rerun`` ActionCommand for the ``partitions`` group of ``cli/definition.py``."""
    from airflow.cli.cli_config import ActionCommand, lazy_load_command

    return ActionCommand(
        name="rerun",
        help="Rerun partitions on purpose: record the reason in the ledger, then clear or trigger their Airflow runs",
        description=(
            "Records a rerun request with your reason for each partition, then clears the partition's latest "
            "Airflow run (airflow dags clear --run-id) or, if it never ran, triggers a run with that "
            "partition_key; the scheduler replaces the partition. --dry-run lists what would rerun and be "
            "replaced and changes nothing. --downstream also reruns, in dependency order across DAGs, every "
            "partition built from these (from the inputs the ledger recorded), with the same reason. Exits 1 when the rerun is refused (nothing was requested), 2 on a "
            "malformed setting, 3 when the store or Airflow's runs cannot be reached. "
            "Example: airflow dataops partitions rerun nycflights_daily "
            '-k 2026-11-19 --reason "upstream resent the day"'
        ),
        func=lazy_load_command("airflow_dataops.cli.partitions_rerun.partitions_rerun"),
        args=rerun_cli_args(),
    )


def rerun_cli_args() -> tuple[Any, ...]:
    from airflow.cli.cli_config import Arg

    return (
        Arg(("dag_id",), help="The DAG that publishes the partitions."),
        Arg(
            ("-k", "--partition-key"),
            dest="keys",
            action="append",
            metavar="KEY",
            help="A partition key to rerun; repeat for several.",
        ),
        Arg(
            ("--from",),
            dest="date_from",
            metavar="FIRST",
            help="First partition key of a window (inclusive).",
        ),
        Arg(("--to",), dest="date_to", metavar="LAST", help="Last partition key of a window (inclusive)."),
        Arg(("--reason",), required=True, help="Why: kept in the ledger with each partition's history."),
        Arg(
            ("--dry-run",), action="store_true", default=False, help="Show what would rerun; change nothing."
        ),
        Arg(
            ("--force",),
            action="store_true",
            default=False,
            help="Rerun even if a partition's run is queued or running right now.",
        ),
        Arg(
            ("--downstream",),
            action="store_true",
            default=False,
            help="Also rerun every partition built from these (recorded inputs), across DAGs, in dependency order.",
        ),
        Arg(
            ("--wait-timeout",),
            dest="wait_timeout",
            type=float,
            default=3600.0,
            metavar="SECONDS",
            help="With --downstream: how long to wait for a step to be applied before clearing the next one.",
        ),
        Arg(("-o", "--output"), choices=("table", "json"), default="table", help="Output format."),
    )


def partitions_rerun(args: Any) -> None:
    from airflow_dataops.cli.airflow_runs import MetadataDBRuns
    from airflow_dataops.partitions.rerun import apply_rerun, plan_rerun
    from airflow_dataops.store import StateStore

    try:
        store = StateStore.from_settings()
        if args.dry_run:
            store.ensure_readable()  # a dry run changes nothing, not even the store's schema
        else:
            store.ensure_ready(create=False)  # a person's rerun migrates an older store, never creates one
        airflow = MetadataDBRuns()
        if getattr(args, "downstream", False):
            _rerun_downstream(args, store, airflow)
            return
        plan = plan_rerun(store, args.dag_id, reason=args.reason, airflow=airflow, **_selection(args))
        if args.dry_run:
            _print(args, plan, None, dry_run=True)
            return
        outcome = apply_rerun(store, plan, requested_by=requested_by(), airflow=airflow)
    except DataOpsError as e:
        fail(str(e), exit_code_of(e, otherwise=EXIT_FINDING))  # a rerun the ledger refuses is a finding
    _print(args, plan, outcome, dry_run=False)


def _selection(args: Any) -> RerunSelection:
    """The partitions the arguments name (``-k`` or ``--from``/``--to``), and ``--force``."""
    return {"keys": args.keys, "date_from": args.date_from, "date_to": args.date_to, "force": args.force}


def _rerun_downstream(args: Any, store: Any, airflow: Any) -> None:
    """``--downstream``: the chain below the partitions, planned from the ledger's recorded inputs."""
    from airflow_dataops.partitions.downstream import apply_downstream, plan_downstream

    if args.wait_timeout is not None and args.wait_timeout < 0:
        fail(f"--wait-timeout {args.wait_timeout} is negative; give seconds >= 0", EXIT_INVALID)
    plan = plan_downstream(store, args.dag_id, reason=args.reason, airflow=airflow, **_selection(args))
    as_json = getattr(args, "output", "table") == "json"
    if args.dry_run:
        print(
            json.dumps(plan.as_dict() | {"dry_run": True}, indent=2)
            if as_json
            else format_downstream(plan, dry_run=True)
        )
        return
    if not as_json:
        print(format_downstream(plan, dry_run=False))
    outcomes = apply_downstream(
        store,
        plan,
        requested_by=requested_by(),
        airflow=airflow,
        wait_timeout=args.wait_timeout,
        say=(lambda _m: None) if as_json else print,
    )
    if as_json:
        print(
            json.dumps(
                plan.as_dict()
                | {
                    "dry_run": False,
                    "cleared": {o.plan.dag_id: o.cleared for o in outcomes},
                    "triggered": {o.plan.dag_id: o.triggered for o in outcomes},
                },
                indent=2,
            )
        )
        return
    for o in outcomes:
        for key, run_id in o.cleared.items():
            print(f"cleared run {run_id} of {o.plan.dag_id} for partition {key!r}")
        for key, run_id in o.triggered.items():
            print(f"triggered run {run_id} of {o.plan.dag_id} for partition {key!r}")
    print(f"follow with: airflow dataops partitions status {plan.steps[-1].dag_id}")


def _print(args: Any, plan: Any, outcome: Any, *, dry_run: bool) -> None:
    if getattr(args, "output", "table") == "json":
        print(
            json.dumps(
                {
                    "dag_id": plan.dag_id,
                    "reason": plan.reason,
                    "dry_run": dry_run,
                    "partitions": [i.as_dict() for i in plan.items],
                    "cleared": outcome.cleared if outcome else {},
                    "triggered": outcome.triggered if outcome else {},
                },
                indent=2,
            )
        )
        return
    print(format_plan(plan, dry_run=dry_run))
    if outcome is None:
        return
    for key, run_id in outcome.cleared.items():
        print(f"cleared run {run_id} for partition {key!r}")
    for key, run_id in outcome.triggered.items():
        print(f"triggered run {run_id} for partition {key!r}")
    print(f"the scheduler reruns them now; follow with: airflow dataops partitions status {plan.dag_id}")


# ------------------------------------------------------------------------------ text
def _action(item: PlannedRerun) -> str:
    from airflow_dataops.partitions.downstream import AWAIT
    from airflow_dataops.partitions.rerun import CLEAR

    if item.action == AWAIT:
        return "runs on the upstream's asset event"
    if item.action == CLEAR:
        return f"clear run {item.airflow_run} ({item.airflow_run_state})"
    return "trigger a new run"


def format_plan(plan: RerunPlan, *, dry_run: bool) -> str:
    """The plan as a table a person can check before (or instead of) running it."""
    headers = ["dataset", "partition", "state", "rows", "last run", "updated", "action"]
    rows = []
    for i in plan.items:
        d = i.as_dict()
        rows.append(
            [d["dataset"], d["partition"], d["state"], d["rows"], d["last_run"], d["updated"], _action(i)]
        )
    replaced = [i for i in plan.items if i.replaces]
    verb = "would" if dry_run else "will"
    lines = [
        table(headers, rows),
        "",
        f"{len(plan.keys)} partition(s) of {plan.dag_id} {verb} rerun: {len(plan.runs_to_clear())} run(s) cleared, "
        f"{len(plan.keys_to_trigger())} new run(s) triggered; {len(replaced)} applied partition(s) "
        f"({sum(i.rows or 0 for i in replaced)} rows) {verb} be replaced.",
        f"reason: {plan.reason}",
    ]
    return "\n".join([*lines, _DRY_RUN] if dry_run else lines)


def format_downstream(plan: DownstreamPlan, *, dry_run: bool) -> str:
    """The chain as a table, step by step: what each partition is and what will happen to it."""
    headers = ["step", "dag", "dataset", "partition", "state", "rows", "action", "built from"]
    rows = []
    for n, step in enumerate(plan.steps, start=1):
        for i in step.plan.items:
            state = i.ledger_state or "never applied"
            if (i.dataset, i.partition_key) in plan.stale:
                state += " (stale)"
            fed = ", ".join(step.fed_by.get(i.partition_key, ())) or "(root)"
            rows.append([n, step.dag_id, i.dataset, i.partition_key, state, i.rows, _action(i), fed])
    verb = "would" if dry_run else "will"
    dags = len({s.dag_id for s in plan.steps})
    lines = [
        table(headers, rows),
        "",
        f"{len(plan.items)} partition(s) in {len(plan.steps)} step(s) across {dags} DAG(s) {verb} rerun, "
        "each step after the ones it reads from.",
        f"reason (recorded for all): {plan.reason}",
    ]
    return "\n".join([*lines, _DRY_RUN] if dry_run else lines)


def main(argv: list[str] | None = None) -> None:
    """``python -m airflow_dataops.cli.partitions_rerun DAG …``: the same command without the provider CLI.

    Useful before ``rerun`` is registered in the provider's command tree, and in tests.
    """
    import argparse

    import airflow  # noqa: F401  (configures Airflow's settings and ORM, as the `airflow` entry point does)

    parser = argparse.ArgumentParser(prog="airflow dataops partitions rerun")
    for arg in rerun_cli_args():
        arg.add_to_parser(parser)
    partitions_rerun(parser.parse_args(argv))


if __name__ == "__main__":
    main()
