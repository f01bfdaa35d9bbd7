"""Bodies of ``airflow dataops …`` commands: thin shells over the store, the ledger and the contracts.

Every error is one line on stderr (``error: …``) and every exit code means one thing in every
command: 0 ok, 1 a finding, 2 invalid input, 3 the environment (the scheme and the helpers that
apply it live in :mod:`airflow_dataops.cli._common`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from airflow_dataops.cli._common import (
    EXIT_FINDING,
    EXIT_INVALID,
    fail,
    read_store,
    table,
)
from airflow_dataops.exceptions import DataOpsError
from airflow_dataops.store.states import APPLIED


# ------------------------------------------------------------------------------------ db
def db_migrate(args: Any) -> None:
    from airflow_dataops.store import StateStore

    try:
        store = StateStore.from_settings()
        before, after = store.migrate()
    except DataOpsError as e:
        fail(str(e))
    print(f"dataops state store {store.url}: schema version {before} -> {after}")


def db_status(args: Any) -> None:
    """Read-only: says which version the store is at and what to run, never migrates it."""
    from airflow_dataops.store import StateStore
    from airflow_dataops.store.migrations import HEAD, MIGRATIONS, newer_than_code

    try:
        store = StateStore.from_settings()
        version = store.version()
    except DataOpsError as e:
        fail(str(e))
    if version > HEAD:
        fail(str(newer_than_code(version, store.url)))
    if version == HEAD:
        status = "up to date"
    elif version == 0:
        status = "no dataops tables yet: run `airflow dataops db migrate`"
    else:
        count = sum(m.version > version for m in MIGRATIONS)  # numbers may have gaps
        status = f"{count} migration(s) pending: run `airflow dataops db migrate`"
    print(f"url:     {store.url}\nversion: {version} (this airflow-dataops: {HEAD})\nstatus:  {status}")


# ---------------------------------------------------------------------------- partitions
def resolve_datasets(store: Any, target: str) -> list[dict[str, Any]]:
    """Datasets named ``target``, or produced by the DAG ``target``."""
    from airflow_dataops.store.records import get_dataset, list_datasets

    found = get_dataset(store, target)
    if found is not None:
        return [found]
    by_dag = list_datasets(store, dag_id=target)
    if by_dag:
        return by_dag
    known = sorted(
        {d["dataset"] for d in list_datasets(store)}
        | {d["dag_id"] for d in list_datasets(store) if d["dag_id"]}
    )
    fail(
        f"no dataset or DAG called {target!r} in the dataops store {store.url}; "
        f"known: {', '.join(known) or 'none yet (run a DAG that publishes through the ledger first)'}"
    )
    return []


def partitions_status(args: Any) -> None:
    """Ledger state per partition; for a failed or quarantined partition the rules its gate failed
    (expected and actual), and the reason of each rerun (JSON: ``failed_rules``, ``reruns``)."""
    from airflow_dataops.partitions.staleness import stale_partitions
    from airflow_dataops.store.ledger import list_partitions
    from airflow_dataops.store.records import partition_findings

    store = read_store()
    rows: list[dict[str, Any]] = []
    targets = resolve_datasets(store, args.target)
    stale = {
        (s.dataset, s.partition_key): s for s in stale_partitions(store, [d["dataset"] for d in targets])
    }
    for ds in targets:
        findings = partition_findings(store, ds["dataset"])
        for p in list_partitions(store, ds["dataset"], since=args.since):
            found = findings.get(p.partition_key, {})
            behind = stale.get((ds["dataset"], p.partition_key))
            rows.append(
                {
                    "dataset": ds["dataset"],
                    "partition": p.partition_key,
                    "state": p.state,
                    "stale": behind is not None,
                    "rows": p.rows_published,
                    "quarantined": p.rows_quarantined,
                    "last_run": p.run_id,
                    "attempt": p.attempt,
                    "contract": p.contract_version,
                    "gate": p.gate_verdict,
                    "updated": p.updated_at.isoformat(timespec="seconds"),
                    "failed_rules": found.get("failed_rules", []),
                    "reruns": found.get("reruns", []),
                    "stale_because": behind.as_dict() if behind else None,
                }
            )
    if args.output == "json":
        print(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        print(f"no partitions recorded for {args.target!r}" + (f" since {args.since}" if args.since else ""))
        return
    hidden = ("failed_rules", "reruns", "stale_because")
    shown = [
        {k: (("stale" if v else "") if k == "stale" else v) for k, v in r.items() if k not in hidden}
        for r in rows
    ]
    print(table(list(shown[0]), [list(r.values()) for r in shown]))
    details = [line for r in rows for line in _partition_details(r)]
    if details:
        print("\n" + "\n".join(details))


def _partition_details(row: dict[str, Any]) -> list[str]:
    """What failed in a partition's latest gate, and why it was rerun: one line each."""
    where = f"{row['dataset']} {row['partition']}"
    lines = []
    if row["state"] != APPLIED or row["gate"] not in (None, "passed"):
        for r in row["failed_rules"]:
            rows = f", {r['failing_rows']} failing rows" if r.get("failing_rows") is not None else ""
            lines.append(
                f"{where}: [{r.get('severity')}] {r.get('rule')}: expected {r.get('expected')}, "
                f"got {r.get('actual')}{rows}"
            )
    for r in row["reruns"]:
        when = str(r.get("started_at") or "")[:16].replace("T", " ")
        lines.append(f"{where}: rerun {when} by {r.get('requested_by')}: {r.get('reason')}")
    if row.get("stale_because"):
        lines.append(
            f"{where}: stale: {row['stale_because']['detail']}; fix: {row['stale_because']['command']}"
        )
    return lines


def partitions_verify(args: Any) -> None:
    from airflow_dataops.partitions.verify import verify_dataset

    store = read_store()
    findings = []
    for ds in resolve_datasets(store, args.target):
        try:
            findings += verify_dataset(store, ds, since=args.since)
        except DataOpsError as e:
            fail(str(e))
    bad = [f for f in findings if not f.ok]
    if args.output == "json":
        print(json.dumps([f.as_dict() for f in findings], indent=2))
    else:
        print(
            table(
                ["dataset", "partition", "status", "ledger rows", "target rows", "detail"],
                [
                    [f.dataset, f.partition_key, f.status, f.ledger_rows, f.target_rows, f.detail]
                    for f in findings
                ],
            )
        )
        stale = sum(1 for f in bad if f.status == "stale")
        print(
            f"\n{len(findings)} partitions checked, {len(bad) - stale} differ from the ledger, "
            f"{stale} stale (built from a replaced upstream partition)"
        )
        for f in bad:
            if f.rerun_hint:
                print(f"  fix: {f.rerun_hint}")
    _recheck_verified(store, findings, bad)
    if bad:
        raise SystemExit(EXIT_FINDING)


def _recheck_verified(store: Any, findings: Sequence[Any], bad: Sequence[Any]) -> None:
    """A dataset with an open breach whose checked partitions all match the ledger may be fixed:
    ask the evaluator DAG to re-check its SLOs now (slo/recheck.py), so the breach resolves
    without waiting for the schedule.  Said on stderr, so ``-o json`` stays one document."""
    from airflow_dataops.cli._common import requested_by
    from airflow_dataops.slo.recheck import ask_for_recheck, has_open_breach

    for ds in sorted({f.dataset for f in findings} - {f.dataset for f in bad}):
        try:
            if not has_open_breach(store, ds):
                continue
        except DataOpsError:
            continue
        reason = "partitions verify: every checked partition matches the ledger"
        if ask_for_recheck(store, ds, reason=reason, requested_by=requested_by()):
            print(f"{ds} has an open breach: asked the SLO evaluator to re-check it now", file=sys.stderr)


# ------------------------------------------------------------------------------ contracts
def contract_lint(args: Any) -> None:
    from airflow_dataops.contracts.loader import load_contract

    try:
        contract = load_contract(args.file)
    except DataOpsError as e:
        fail(str(e), EXIT_INVALID)
    rules = sum(len(o.quality) + sum(len(p.quality) for p in o.properties) for o in contract.schema)
    print(f"{args.file}: valid ODCS {contract.api_version} contract {contract.id} v{contract.version}")
    print(f"  schema objects: {', '.join(o.name for o in contract.schema) or 'none'}; quality rules: {rules}")
    for warning in contract.warnings:
        print(f"  warning: {warning}")


def contract_diff(args: Any) -> None:
    from airflow_dataops.contracts.diff import diff_contracts
    from airflow_dataops.contracts.loader import load_contract

    try:
        old, new = load_contract(args.old), load_contract(args.new)
    except DataOpsError as e:
        fail(str(e), EXIT_INVALID)
    diff = diff_contracts(old, new)
    if args.output == "json":
        print(
            json.dumps(
                diff.as_dict() if hasattr(diff, "as_dict") else [vars(c) for c in diff.changes],
                indent=2,
                default=str,
            )
        )
    else:
        if not diff.changes:
            print("no changes")
        for change in diff.changes:
            print(f"{getattr(change.kind, 'value', change.kind)!s:13} {change.path}: {change.message}")
    raise SystemExit(diff.exit_code)
