"""``airflow dataops contract test FILE --conn-id ID --table T``: run a contract's rules against live data.

The same library call as ``ContractGateOperator`` (:func:`airflow_dataops.contracts.evaluate.evaluate`),
nothing stored, nothing moved, nothing written: the warehouse session is read-only
(:func:`airflow_dataops.warehouse.engine` with ``read_only=True``: PostgreSQL and MySQL
``SET SESSION … READ ONLY``, SQLite ``PRAGMA query_only``, DuckDB opened read-only) on top of the
read-only guard every ``sql`` rule runs under, and a SQLite or DuckDB file that does not exist is
an error, never a new empty database.

Exit codes (the same meaning in every ``airflow dataops`` command, see :mod:`airflow_dataops.cli.commands`):
0 no blocking rule failed (warnings may have), 1 a blocking rule failed, 2 the contract or the
arguments are invalid, 3 the environment: the connection is unknown, not SQL or unreachable, the
schema or table does not exist.
"""

from __future__ import annotations

import json
from typing import Any

from airflow_dataops import warehouse
from airflow_dataops.cli._common import EXIT_ENVIRONMENT, EXIT_FINDING, EXIT_INVALID, fail, table
from airflow_dataops.exceptions import DataOpsError, WarehouseError


def contract_test(args: Any) -> None:
    from airflow_dataops.contracts import sql_rules
    from airflow_dataops.contracts.evaluate import evaluate
    from airflow_dataops.contracts.loader import load_contract

    partition = getattr(args, "partition", None)
    partition_column = getattr(args, "partition_column", None)
    db_schema = getattr(args, "db_schema", None)
    if partition is not None and not partition_column:
        fail("--partition needs --partition-column (the column holding the partition key)", EXIT_INVALID)
    try:
        contract = load_contract(args.file)
    except DataOpsError as e:
        fail(str(e), EXIT_INVALID)
    try:
        engine = warehouse.engine(args.conn_id, read_only=True)
        check_target(engine, args.conn_id, args.table, db_schema)
        with sql_rules.allow_unsafe_on(getattr(args, "allow_unsafe_sql_rules_on", None)):
            report = evaluate(
                contract,
                engine=getattr(args, "engine", None) or "sql",
                sql_engine=engine,
                table=args.table,
                schema_object=getattr(args, "schema_object", None),
                partition_column=partition_column,
                partition_value=partition,
                db_schema=db_schema,
            )
    except WarehouseError as e:
        fail(str(e), EXIT_ENVIRONMENT)
    except (DataOpsError, ValueError, TypeError) as e:
        fail(str(e), EXIT_INVALID)
    except Exception as e:  # the warehouse went away mid-run: one line, environment class
        import sqlalchemy as sa

        if not isinstance(e, sa.exc.SQLAlchemyError):
            raise
        fail(f"the warehouse of connection {args.conn_id!r} failed: {_first_line(e)}", EXIT_ENVIRONMENT)
    if getattr(args, "output", "table") == "json":
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        where = f"{report.dataset}" + (f" partition {partition!r}" if partition else "")
        print(
            f"{contract.id} v{contract.version} on {where}: {report.row_count} rows, engine {report.engine}"
        )
        print(
            table(
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
        raise SystemExit(EXIT_FINDING)


def check_target(engine: Any, conn_id: str, table: str, db_schema: str | None) -> None:
    """Refuse (``WarehouseError``) an unknown ``--db-schema`` or ``--table`` with what does exist."""
    import sqlalchemy as sa

    inspector = sa.inspect(engine)
    if db_schema is not None:
        schemas = inspector.get_schema_names()
        if db_schema not in schemas:
            raise WarehouseError(
                f"schema {db_schema!r} does not exist in the warehouse of connection {conn_id!r} "
                f"(schemas: {', '.join(schemas) or 'none'}); pass the right --db-schema"
            )
    if not inspector.has_table(table, schema=db_schema):
        name = f"{db_schema}.{table}" if db_schema else table
        raise WarehouseError(
            f"table {name!r} does not exist in the warehouse of connection {conn_id!r}; "
            "pass the right --table (and --db-schema)"
        )


def _first_line(e: BaseException) -> str:
    text = str(getattr(e, "orig", None) or e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:300]
