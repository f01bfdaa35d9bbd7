"""``airflow dataops …``: the command tree, registered through the provider's ``cli`` key.

Only argument definitions live here; every command body is imported lazily, because
Airflow builds this tree on every ``airflow`` call.
"""

from __future__ import annotations

from typing import Any


def get_dataops_cli_commands() -> list[Any]:
    from airflow.cli.cli_config import ActionCommand, Arg, GroupCommand, lazy_load_command

    from airflow_dataops.cli.partitions_rerun import rerun_action_command
    from airflow_dataops.cli.partitions_rollback import rollback_action_commands
    from airflow_dataops.cli.report import report_action_command
    from airflow_dataops.cli.slo import slo_cli_group
    from airflow_dataops.cli.triage import triage_action_command

    def cmd(name: str) -> Any:
        return lazy_load_command(f"airflow_dataops.cli.commands.{name}")

    target = Arg(("target",), help="A DAG id or a dataset name (as in the contract's schema object).")
    since = Arg(("--since",), help="Only partitions whose key sorts at or after this one (e.g. 2026-11-01).")
    output = Arg(("-o", "--output"), choices=("table", "json"), default="table", help="Output format.")
    contract_file = Arg(("file",), help="Path of an ODCS v3 contract (YAML).")

    db = GroupCommand(
        name="db",
        help="Manage the dataops state store (ledger, SLIs, contract results)",
        subcommands=(
            ActionCommand(
                name="migrate",
                help="Create or upgrade the state store's tables",
                description="Example: airflow dataops db migrate",
                func=cmd("db_migrate"),
                args=(),
            ),
            ActionCommand(
                name="status",
                help="Show where the state store is and its schema version",
                description="Example: airflow dataops db status",
                func=cmd("db_status"),
                args=(),
            ),
        ),
    )
    partitions = GroupCommand(
        name="partitions",
        help="Inspect, verify, rerun and roll back partitions written through the ledger",
        subcommands=(
            ActionCommand(
                name="status",
                help="A table of partitions: state, rows, last run, contract version, gate verdict",
                description="Example: airflow dataops partitions status nycflights_daily --since 2026-11-01",
                func=cmd("partitions_status"),
                args=(target, since, output),
            ),
            ActionCommand(
                name="verify",
                help="Compare the ledger with the target table (rows and checksum per partition)",
                description="Exits 1 when any partition differs. Example: airflow dataops partitions verify flights",
                func=cmd("partitions_verify"),
                args=(target, since, output),
            ),
            rerun_action_command(),
            *rollback_action_commands(),
        ),
    )
    contract = GroupCommand(
        name="contract",
        help="Lint, diff and test ODCS data contracts (lint and diff need no Airflow metadata database)",
        subcommands=(
            ActionCommand(
                name="lint",
                help="Load a contract, validate it against ODCS v3.1 and list what we do not evaluate",
                description="Exits 2 on an invalid contract (one line: file, line, YAML path, what to fix). "
                "Example: airflow dataops contract lint dags/contracts/flights.odcs.yaml",
                func=cmd("contract_lint"),
                args=(contract_file,),
            ),
            ActionCommand(
                name="diff",
                help="Classify the changes between two versions of a contract as breaking, compatible or informational",
                description="Exits 1 on a breaking change unless the major version was bumped, 2 when a contract "
                "is invalid. "
                "Example: airflow dataops contract diff old.odcs.yaml new.odcs.yaml",
                func=cmd("contract_diff"),
                args=(
                    Arg(("old",), help="The contract as it was."),
                    Arg(("new",), help="The contract as proposed."),
                    output,
                ),
            ),
            ActionCommand(
                name="test",
                help="Run a contract's rules against a table (or one partition) and print every rule's result",
                description="Stores, moves and writes nothing: the warehouse session is read-only. Exits 1 when a "
                "blocking rule fails (or cannot run), 2 when the contract or the arguments are invalid, 3 when the "
                "connection is unknown, not SQL or unreachable, or the schema or table does not exist. "
                "Example: airflow dataops contract test dags/contracts/flights.odcs.yaml "
                "--conn-id warehouse --table flights --partition 2013-01-01 --partition-column flight_date",
                func=lazy_load_command("airflow_dataops.cli.contract_test.contract_test"),
                args=(
                    contract_file,
                    Arg(
                        ("--conn-id",),
                        required=True,
                        help="Airflow connection of the warehouse (any common-sql hook).",
                    ),
                    Arg(("--table",), required=True, help="The table to check."),
                    Arg(("--partition",), help="Check only this partition: the value of --partition-column."),
                    Arg(("--partition-column",), help="The column holding the partition key."),
                    Arg(
                        ("--engine",),
                        choices=("sql", "pandas", "gx"),
                        default="sql",
                        help="Engine that evaluates the rules.",
                    ),
                    Arg(
                        ("--schema-object",),
                        help="The contract's schema object describing the table (if several).",
                    ),
                    Arg(
                        ("--db-schema",),
                        help="The database schema of the table; unqualified tables in sql rules resolve in it too.",
                    ),
                    Arg(
                        ("--allow-unsafe-sql-rules-on",),
                        metavar="DIALECT",
                        help="Run sql rules on this SQLAlchemy dialect (e.g. mssql) although airflow-dataops cannot "
                        "make them read-only there (sqlite, postgresql, mysql/mariadb and duckdb are guarded); "
                        "same as [dataops] "
                        "allow_unsafe_sql_rules_on.",
                    ),
                    output,
                ),
            ),
        ),
    )
    return [
        GroupCommand(
            name="dataops",
            help="airflow-dataops: contracts, partition ledger, SLOs",
            subcommands=(
                triage_action_command(),
                report_action_command(),
                db,
                partitions,
                contract,
                slo_cli_group(),
            ),
        )
    ]
