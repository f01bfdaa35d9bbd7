"""Bodies of ``airflow dataops …`` commands: thin shells over the store, the ledger and the contracts.

Every error is one line on stderr (``error: …``) and every exit code means one thing in every
command:

0  success: nothing to report (contract valid, no blocking rule failed, ledger and target agree)
1  a finding: a blocking rule failed, a partition differs from the ledger, a breaking contract change
2  invalid input: a contract that cannot be loaded, arguments that do not fit together, a malformed
   ``[dataops]`` setting
3  the environment: the state store or a warehouse connection is unknown or unreachable, a named
   dataset, schema or table does not exist
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from airflow_dataops.exceptions import ConfigError, DataOpsError

EXIT_OK = 0
EXIT_FINDING = 1
EXIT_INVALID = 2
EXIT_ENVIRONMENT = 3


def _fail(message: str, code: int | None = None) -> NoReturn:
    """Print ``error: <message>`` (one line) on stderr and exit with ``code``.

    Without ``code``, the exception being handled decides: a malformed ``[dataops]`` setting
    (``ConfigError``) is invalid input (2), anything else the environment (3).
    """
    if code is None:
        code = EXIT_INVALID if isinstance(sys.exc_info()[1], ConfigError) else EXIT_ENVIRONMENT
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    raise SystemExit(code)


def _store() -> Any:
    """The store, for a read-only command: never created, migrated or write-locked here."""
    from airflow_dataops.store import StateStore

    try:
        store = StateStore.from_settings()
        store.ensure_readable()
    except DataOpsError as e:
        _fail(str(e))
    return store


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join(out)


# ------------------------------------------------------------------------------------ db
def db_migrate(args: Any) -> None:
    from airflow_dataops.store import StateStore

    try:
        store = StateStore.from_settings()
        before, after = store.migrate()
    except DataOpsError as e:
        _fail(str(e))
    print(f"dataops state store {store.url}: schema version {before} -> {after}")


def db_status(args: Any) -> None:
    """Read-only: says which version the store is at and what to run, never migrates it."""
    from airflow_dataops.store import StateStore
    from airflow_dataops.store.migrations import HEAD, newer_than_code

    try:
        store = StateStore.from_settings()
        version = store.version()
    except DataOpsError as e:
        _fail(str(e))
    if version > HEAD:
        _fail(str(newer_than_code(version, store.url)))
    if version == HEAD:
        status = "up to date"
    elif version == 0:
        status = "no dataops tables yet: run `airflow dataops db migrate`"
    else:
        status = f"{HEAD - version} migration(s) pending: run `airflow dataops db migrate`"
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
    _fail(
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

    store = _store()
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
    print(_table(list(shown[0]), [list(r.values()) for r in shown]))
    details = [line for r in rows for line in _partition_details(r)]
    if details:
        print("\n" + "\n".join(details))


def _partition_details(row: dict[str, Any]) -> list[str]:
    """What failed in a partition's latest gate, and why it was rerun: one line each."""
    where = f"{row['dataset']} {row['partition']}"
    lines = []
    if row["state"] != "applied" or row["gate"] not in (None, "passed"):
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

    store = _store()
    findings = []
    for ds in resolve_datasets(store, args.target):
        try:
            findings += verify_dataset(store, ds, since=args.since)
        except DataOpsError as e:
            _fail(str(e))
    bad = [f for f in findings if not f.ok]
    if args.output == "json":
        print(json.dumps([f.as_dict() for f in findings], indent=2))
    else:
        print(
            _table(
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
    if bad:
        raise SystemExit(1)


# ------------------------------------------------------------------------------ contracts
def contract_lint(args: Any) -> None:
    from airflow_dataops.contracts.loader import load_contract

    try:
        contract = load_contract(args.file)
    except DataOpsError as e:
        _fail(str(e), EXIT_INVALID)
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
        _fail(str(e), EXIT_INVALID)
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
