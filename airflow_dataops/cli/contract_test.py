"""``airflow dataops contract test FILE --conn-id ID --table T``: run a contract's rules against live data.

The same library call as ``ContractGateOperator`` (:func:`airflow_dataops.operators.gate.evaluate`),
nothing stored, nothing moved.  Exit codes: 0 every error-severity rule held (warnings may have
failed), 1 a blocking rule failed, 2 the contract could not be read or evaluated.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from airflow_dataops.exceptions import DataOpsError


def contract_test(args: Any) -> None:
    from airflow_dataops.cli.commands import _table
    from airflow_dataops.contracts.evaluate import evaluate
    from airflow_dataops.contracts.loader import load_contract

    partition = getattr(args, "partition", None)
    partition_column = getattr(args, "partition_column", None)
    if partition is not None and not partition_column:
        _fail("--partition needs --partition-column (the column holding the partition key)")
    try:
        contract = load_contract(args.file)
        engine = _engine(args.conn_id)
        report = evaluate(
            contract,
            engine=getattr(args, "engine", None) or "sql",
            sql_engine=engine,
            table=args.table,
            schema_object=getattr(args, "schema_object", None),
            partition_column=partition_column,
            partition_value=partition,
            db_schema=getattr(args, "db_schema", None),
        )
    except (DataOpsError, ValueError, TypeError) as e:
        _fail(str(e))
        return
    if getattr(args, "output", "table") == "json":
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        where = f"{report.dataset}" + (f" partition {partition!r}" if partition else "")
        print(
            f"{contract.id} v{contract.version} on {where}: {report.row_count} rows, engine {report.engine}"
        )
        print(
            _table(
                ["rule", "dimension", "severity", "expected", "actual", "failing rows", "result"],
                [
                    [
                        r.name,
                        r.dimension,
                        r.severity.value,
                        r.expected,
                        r.actual,
                        r.failing_rows,
                        "pass" if r.passed else ("FAIL" if r.severity.value == "error" else "warn"),
                    ]
                    for r in report.results
                ],
            )
        )
        blocking = report.blocking
        print(
            f"\n{len(report.results)} rules, {len(report.failed)} failed, {len(blocking)} blocking"
            + (f": {', '.join(r.name for r in blocking)}" if blocking else "")
        )
        for warning in report.warnings:
            print(f"  warning: {warning}")
    if report.blocking:
        raise SystemExit(1)


def _engine(conn_id: str) -> Any:
    from airflow.providers.common.sql.hooks.sql import DbApiHook
    from airflow.sdk import BaseHook

    hook = BaseHook.get_connection(conn_id).get_hook()
    if not isinstance(hook, DbApiHook):
        raise TypeError(
            f"connection {conn_id!r} gives a {type(hook).__name__}, not a SQL (common-sql DbApiHook) hook"
        )
    return hook.get_sqlalchemy_engine()


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)
