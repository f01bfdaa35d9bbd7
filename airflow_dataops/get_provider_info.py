"""Provider metadata read by Airflow's ProvidersManager (entry point ``apache_airflow_provider``).

Kept free of imports: Airflow calls this in every process that discovers providers.
"""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-dataops",
        "name": "DataOps",
        "description": "Contract gates, idempotent partition writes, dataset SLOs and lineage for Airflow 3.",
        "versions": ["0.1.0"],
        "integrations": [{"integration-name": "DataOps", "tags": ["software"]}],
        "cli": ["airflow_dataops.cli.definition.get_dataops_cli_commands"],
        "plugins": [{"name": "dataops", "plugin-class": "airflow_dataops.plugins.plugin.DataOpsPlugin"}],
        "notifications": ["airflow_dataops.notifications.slo.SLOBreachNotifier"],
        "task-decorators": [
            {
                "class-name": "airflow_dataops.decorators.partitioned.partitioned_task_decorator",
                "name": "partitioned",
            }
        ],
        "operators": [
            {
                "integration-name": "DataOps",
                "python-modules": [
                    "airflow_dataops.operators.partitioned",
                    "airflow_dataops.operators.gate",
                    "airflow_dataops.operators.slo",
                ],
            }
        ],
        "sensors": [{"integration-name": "DataOps", "python-modules": ["airflow_dataops.sensors.dataset"]}],
        "triggers": [
            {
                "integration-name": "DataOps",
                "python-modules": ["airflow_dataops.triggers.dataset", "airflow_dataops.triggers.recheck"],
            }
        ],
        "config": {
            "dataops": {
                "description": "Settings of airflow-dataops: where its state store lives and how gates behave.",
                "options": {
                    "store_url": {
                        "description": "SQLAlchemy URL of the dataops state store (ledger, SLI history, "
                        "contract results). Empty means an embedded SQLite file in AIRFLOW_HOME.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "postgresql+psycopg2://dataops:secret@db:5432/dataops",
                        "default": "",
                        "sensitive": True,
                    },
                    "store_conn_id": {
                        "description": "An Airflow connection whose URI is the state store. Used when "
                        "store_url is empty.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "dataops_store",
                        "default": "",
                    },
                    "store_connect_timeout": {
                        "description": "Seconds to wait for the state store before failing with a clear error.",
                        "version_added": "0.1.0",
                        "type": "integer",
                        "example": "10",
                        "default": "10",
                    },
                    "default_gate_mode": {
                        "description": "Gate mode when an operator does not set one: fail, quarantine or warn.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "quarantine",
                        "default": "fail",
                    },
                    "partition_versions_keep": {
                        "description": "Superseded versions of each partition kept for `airflow dataops "
                        "partitions rollback` when `partitions prune` runs (newest first; 0 keeps none and "
                        "publishing keeps no version). Nothing is deleted except by `partitions prune`.",
                        "version_added": "0.2.0",
                        "type": "integer",
                        "example": "5",
                        "default": "3",
                    },
                    "partition_versions_keep_days": {
                        "description": "Days a superseded partition version is kept by `partitions prune`, "
                        "however many versions there are.",
                        "version_added": "0.2.0",
                        "type": "integer",
                        "example": "30",
                        "default": "7",
                    },
                    "lineage_emit_timeout_seconds": {
                        "description": "Upper bound in seconds on one OpenLineage emission made by airflow-dataops "
                        "itself (SLO breach events); a slower or failing backend logs one warning and never "
                        "fails the task.",
                        "version_added": "0.1.0",
                        "type": "float",
                        "example": "2",
                        "default": "5",
                    },
                    "contract_max_bytes": {
                        "description": "Largest contract (or SLO sidecar) file read, in bytes; a larger one is "
                        "refused with one line.",
                        "version_added": "0.1.0",
                        "type": "integer",
                        "example": "4194304",
                        "default": "4194304",
                    },
                    "contract_max_depth": {
                        "description": "Deepest nesting of mappings and lists accepted in a contract's YAML.",
                        "version_added": "0.1.0",
                        "type": "integer",
                        "example": "64",
                        "default": "64",
                    },
                    "contract_max_nodes": {
                        "description": "Most YAML values a contract may expand to, every alias counted each time "
                        "it is used (an alias bomb is refused while parsing).",
                        "version_added": "0.1.0",
                        "type": "integer",
                        "example": "200000",
                        "default": "200000",
                    },
                    "allow_unsafe_sql_rules_on": {
                        "description": "Comma-separated SQLAlchemy dialect names (e.g. mssql) on which contract sql "
                        "rules may run although airflow-dataops cannot make them read-only there; sqlite, "
                        "postgresql, mysql/mariadb and duckdb are always guarded and need no entry.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "mysql",
                        "default": "",
                    },
                    "on_already_applied": {
                        "description": "What an apply of an already-applied partition does without a rerun "
                        "request: skip (task skipped, nothing written) or fail.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "fail",
                        "default": "skip",
                    },
                },
            }
        },
    }
