"""``airflow dataops partitions rollback | versions | prune``: kept versions of partitions.

Thin shells over :mod:`airflow_dataops.partitions.rollback`.  Examples::

    airflow dataops partitions versions orders_daily -k 2026-11-28
    airflow dataops partitions rollback orders_daily -k 2026-11-28 --reason "the resent file was wrong" --dry-run
    airflow dataops partitions rollback orders_daily -k 2026-11-28 --to 41 --reason "back to Friday's load"
    airflow dataops partitions prune orders_daily --dry-run

Exit codes are the project's: 0 done, 1 refused (nothing was changed: busy, no such version,
purged, nothing to roll back), 2 invalid input, 3 the store or the warehouse cannot be used or
the DAG or dataset is unknown.
"""

from __future__ import annotations

import json
from typing import Any

from airflow_dataops.cli._common import (
    EXIT_ENVIRONMENT,
    EXIT_FINDING,
    exit_code_of,
    fail,
    requested_by,
    table,
)
from airflow_dataops.exceptions import DataOpsError


def rollback_action_commands() -> tuple[Any, ...]:
    """The ``rollback``, ``versions`` and ``prune`` ActionCommands of the ``partitions`` group."""
    from airflow.cli.cli_config import ActionCommand, Arg, lazy_load_command

    def cmd(name: str) -> Any:
        return lazy_load_command(f"airflow_dataops.cli.partitions_rollback.{name}")

    target = Arg(("target",), help="The DAG that publishes the partition, or the dataset's name.")
    dataset = Arg(("--dataset",), help="Which dataset, when the DAG publishes several.")
    key = Arg(("-k", "--partition-key"), dest="key", required=True, metavar="KEY", help="The partition key.")
    output = Arg(("-o", "--output"), choices=("table", "json"), default="table", help="Output format.")
    dry_run = Arg(
        ("--dry-run",), action="store_true", default=False, help="Show what would happen; change nothing."
    )
    return (
        ActionCommand(
            name="rollback",
            help="Restore a kept earlier version of a partition, atomically, through the ledger",
            description=(
                "Restores the version the current one replaced (or --to APPLY_ID, see `partitions versions`) in "
                "one warehouse transaction fenced by the ledger, with your reason; the replaced version is kept, "
                "so the rollback can be undone. The partition gets a new apply id, so partitions built from it "
                "downstream become stale. Exits 1 when refused (nothing changed), 2 on invalid input, 3 when the "
                "store or warehouse cannot be used. Example: airflow dataops partitions rollback orders_daily "
                '-k 2026-11-28 --reason "the resent file was wrong"'
            ),
            func=cmd("partitions_rollback"),
            args=(
                target,
                key,
                Arg(
                    ("--to",),
                    dest="to",
                    metavar="APPLY_ID",
                    help="The kept version to restore (its apply id).",
                ),
                Arg(
                    ("--reason",), required=True, help="Why: kept in the ledger with the partition's history."
                ),
                dataset,
                dry_run,
                output,
            ),
        ),
        ActionCommand(
            name="versions",
            help="List the kept versions of partitions (apply id, rows, checksum, kept, purged)",
            description="Example: airflow dataops partitions versions orders_daily -k 2026-11-28",
            func=cmd("partitions_versions"),
            args=(
                target,
                Arg(("-k", "--partition-key"), dest="key", metavar="KEY", help="Only this partition."),
                dataset,
                output,
            ),
        ),
        ActionCommand(
            name="prune",
            help="Delete kept partition versions beyond retention (settings partition_versions_keep and partition_versions_keep_days)",
            description=(
                "A version is kept while it is among the newest partition_versions_keep (default 3) of its "
                "partition OR younger than partition_versions_keep_days (default 7). Nothing else deletes kept "
                "versions. Example: airflow dataops partitions prune orders_daily --dry-run"
            ),
            func=cmd("partitions_prune"),
            args=(target, dataset, dry_run, output),
        ),
    )


def _exit_code(error: DataOpsError) -> int:
    """A refused rollback (a ledger decision) is a finding; the store or a warehouse the environment."""
    from airflow_dataops.exceptions import LedgerError

    return exit_code_of(error, otherwise=EXIT_FINDING if isinstance(error, LedgerError) else EXIT_ENVIRONMENT)


def _store(*, write: bool) -> Any:
    from airflow_dataops.store import StateStore

    try:
        store = StateStore.from_settings()
        if write:
            store.ensure_ready(create=False)  # a person's write migrates an older store, never creates one
        else:
            store.ensure_readable()
    except DataOpsError as e:
        fail(str(e), _exit_code(e))
    return store


def _datasets(store: Any, target: str, dataset: str | None, *, one: bool) -> list[dict[str, Any]]:
    from airflow_dataops.cli.commands import resolve_datasets

    found = resolve_datasets(store, target)
    if dataset:
        found = [d for d in found if d["dataset"] == dataset]
        if not found:
            fail(
                f"{target!r} does not publish a dataset {dataset!r}; see `airflow dataops partitions status {target}`",
                2,
            )
    if one and len(found) > 1:
        names = ", ".join(d["dataset"] for d in found)
        fail(f"DAG {target!r} publishes several datasets ({names}); name one with --dataset", 2)
    return found


def _apply_id(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        fail(
            f"--to {raw!r} is not an apply id; give a positive whole number from `airflow dataops partitions versions`",
            2,
        )
    return value


def partitions_rollback(args: Any) -> None:
    from airflow_dataops.partitions.keys import validate_partition_key
    from airflow_dataops.partitions.rollback import plan_rollback, rollback_command, rollback_partition

    to = _apply_id(args.to)
    try:
        validate_partition_key(args.key)
    except DataOpsError as e:
        fail(str(e), 2)
    if not args.reason or not args.reason.strip():
        fail('a rollback needs a reason (--reason "…"): it is kept in the ledger for whoever looks next', 2)
    store = _store(write=not args.dry_run)
    [ds] = _datasets(store, args.target, args.dataset, one=True)
    try:
        current, version = plan_rollback(store, ds, args.key, to_apply_id=to)
        if args.dry_run:
            plan = {
                "dataset": ds["dataset"],
                "partition": args.key,
                "dry_run": True,
                "current": {
                    "apply_id": current.apply_id,
                    "rows": current.rows_published,
                    "checksum": current.checksum,
                },
                "restore": version.as_dict(),
            }
            if args.output == "json":
                print(json.dumps(plan, indent=2))
            else:
                print(
                    f"would roll back partition {args.key!r} of {ds['dataset']}: restore version {version.apply_id} "
                    f"({version.rows} rows, checksum {version.checksum}, kept {version.kept_at:%Y-%m-%d %H:%M}) in place "
                    f"of apply {current.apply_id} ({current.rows_published} rows, checksum {current.checksum}), which "
                    "would be kept. Nothing was changed (dry run)."
                )
            return
        result = rollback_partition(
            store, ds, args.key, to_apply_id=to, reason=args.reason, requested_by=requested_by()
        )
    except DataOpsError as e:
        fail(str(e), _exit_code(e))
    from airflow_dataops.lineage.rollback import emit_rollback

    emit_rollback(ds, result, previous=current, restored=version)
    if args.output == "json":
        print(json.dumps(result.as_dict(), indent=2))
        return
    undo = rollback_command(args.target, args.key, result.replaced_apply_id)
    print(
        f"rolled back partition {args.key!r} of {ds['dataset']}: restored version {result.restored_apply_id} "
        f"({result.rows} rows, checksum {result.checksum}) as apply {result.apply_id}, in place of apply "
        f"{result.replaced_apply_id}"
    )
    print(f"reason: {result.reason} (requested by {result.requested_by})")
    if result.replaced_kept:
        print(f"apply {result.replaced_apply_id} is kept; undo with: {undo}")
    print(
        "partitions built from the replaced version downstream are now stale; see: "
        f"airflow dataops partitions status {args.target}"
    )


def partitions_versions(args: Any) -> None:
    from airflow_dataops.store.ledger import list_partitions
    from airflow_dataops.store.versions import list_versions

    store = _store(write=False)
    rows: list[dict[str, Any]] = []
    for ds in _datasets(store, args.target, args.dataset, one=False):
        current = {p.partition_key: p for p in list_partitions(store, ds["dataset"])}
        for v in list_versions(store, ds["dataset"], args.key):
            now = current.get(v.partition_key)
            rows.append(
                {
                    "dataset": ds["dataset"],
                    "partition": v.partition_key,
                    **v.as_dict(),
                    "current_apply": now.apply_id if now else None,
                }
            )
    if args.output == "json":
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        print(f"no kept versions for {args.target!r}" + (f" partition {args.key!r}" if args.key else ""))
        return

    headers = [
        "dataset",
        "partition",
        "apply_id",
        "rows",
        "checksum",
        "kept_at",
        "replaced_by",
        "purged_at",
        "current_apply",
    ]
    print(table(headers, [[r[h] for h in headers] for r in rows]))


def partitions_prune(args: Any) -> None:
    from airflow_dataops.config import DataOpsSettings
    from airflow_dataops.partitions.rollback import prune_dataset

    store = _store(write=not args.dry_run)
    try:
        settings = DataOpsSettings.from_airflow()
        results = [
            prune_dataset(
                store,
                ds,
                keep=settings.partition_versions_keep,
                keep_days=settings.partition_versions_keep_days,
                dry_run=args.dry_run,
            )
            for ds in _datasets(store, args.target, args.dataset, one=False)
        ]
    except DataOpsError as e:
        fail(str(e), _exit_code(e))
    if args.output == "json":
        print(
            json.dumps(
                [
                    {
                        "dataset": r.dataset,
                        "dry_run": r.dry_run,
                        "purged": [{"partition": v.partition_key, **v.as_dict()} for v in r.purged],
                        "kept": r.kept,
                        "rows_deleted": r.rows_deleted,
                    }
                    for r in results
                ],
                indent=2,
            )
        )
        return
    verb = "would purge" if args.dry_run else "purged"
    for r in results:
        print(
            f"{r.dataset}: {verb} {len(r.purged)} version(s), {r.kept} kept "
            f"(retention: newest {settings.partition_versions_keep} per partition or younger than "
            f"{settings.partition_versions_keep_days} days)"
            + ("" if r.dry_run else f"; {r.rows_deleted} rows deleted")
        )
        for v in r.purged:
            print(f"  {v.partition_key}  apply {v.apply_id}  {v.rows} rows  kept {v.kept_at:%Y-%m-%d %H:%M}")
