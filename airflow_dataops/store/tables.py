"""Our tables, in SQLAlchemy Core.  Only ``airflow_dataops.store`` touches them.

Every table is prefixed ``dataops_`` so the store can share a database (even
Airflow's own PostgreSQL instance, in another schema) without clashing.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

# One row per schema migration applied; the highest version is the store's version.
schema_version = Table(
    "dataops_schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", String(200), nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)

# Which datasets exist, who produces them and under which contract.
datasets = Table(
    "dataops_datasets",
    metadata,
    Column("dataset", String(500), primary_key=True),
    Column("contract_id", String(500)),
    Column("contract_version", String(100)),
    Column("contract_path", Text),
    Column("owner", String(200)),
    Column("description", Text),
    Column("dag_id", String(250)),
    Column("task_id", String(250)),
    Column("conn_id", String(250)),
    Column("target_table", String(500)),
    Column("partition_column", String(250)),
    Column("slo", JSON),
    Column("db_schema", String(250)),  # migration 2: the warehouse schema of target_table
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Current state of each partition: the row the ledger locks when it decides.
partitions = Table(
    "dataops_partitions",
    metadata,
    Column("dataset", String(500), primary_key=True),
    Column("partition_key", String(500), primary_key=True),
    Column("state", String(20), nullable=False),
    Column("apply_id", Integer),  # the history row that holds (or last held) the partition
    Column("dag_id", String(250)),
    Column("run_id", String(250)),
    Column("attempt", Integer),
    Column("lease_expires_at", DateTime(timezone=True)),
    Column("rows_published", Integer),
    Column("rows_quarantined", Integer),
    Column("checksum", String(64)),
    Column("contract_version", String(100)),
    Column("gate_verdict", String(20)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_dataops_partitions_updated", "updated_at"),  # migration 5: the UI's change marks
)
ix_partitions_updated = next(i for i in partitions.indexes if i.name == "ix_dataops_partitions_updated")

# Append-only: every apply (and every refusal and rerun request) ever made.
partition_history = Table(
    "dataops_partition_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset", String(500), nullable=False),
    Column("partition_key", String(500), nullable=False),
    Column("action", String(20), nullable=False),  # apply | rerun | refused | rerun_requested
    Column(
        "state", String(20), nullable=False
    ),  # applying | applied | quarantined | failed | superseded | ...
    Column("dag_id", String(250)),
    Column("task_id", String(250)),
    Column("run_id", String(250)),
    Column("attempt", Integer),
    Column("dag_version", String(100)),
    Column("contract_version", String(100)),
    Column("rows_in", Integer),
    Column("rows_published", Integer),
    Column("rows_quarantined", Integer),
    Column("checksum", String(64)),
    Column("gate_verdict", String(20)),
    Column("requested_by", String(250)),
    Column("reason", Text),
    Column("error", Text),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Index("ix_dataops_history_partition", "dataset", "partition_key", "id"),
)

# Migration 3: what each apply was built from.  One row per (apply, upstream partition) it read,
# with the upstream's apply id at that time; a downstream partition whose input's current apply
# id differs is stale (``store.inputs.stale_inputs``, the one definition).
partition_inputs = Table(
    "dataops_partition_inputs",
    metadata,
    Column("apply_id", Integer, primary_key=True, autoincrement=False),  # the downstream's history row
    Column("input_dataset", String(500), primary_key=True),
    Column("input_partition_key", String(500), primary_key=True),
    Column("dataset", String(500), nullable=False),
    Column("partition_key", String(500), nullable=False),
    Column("input_apply_id", Integer, nullable=False),
    Column("source", String(20), nullable=False),  # event | declared | sql
    Index("ix_dataops_inputs_upstream", "input_dataset", "input_partition_key"),
    Index("ix_dataops_inputs_partition", "dataset", "partition_key", "apply_id"),
)

# A rerun asked for by a person (CLI) and not yet carried out.
rerun_requests = Table(
    "dataops_rerun_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset", String(500), nullable=False),
    Column("partition_key", String(500), nullable=False),
    Column("dag_id", String(250)),
    Column("reason", Text, nullable=False),
    Column("requested_by", String(250), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("consumed_at", DateTime(timezone=True)),
    Column("consumed_by_run", String(250)),
    Index("ix_dataops_rerun_open", "dataset", "partition_key", "consumed_at"),
)

# SLI observations: one row per dataset, kind and observation.
sli_observations = Table(
    "dataops_sli",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset", String(500), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("partition_key", String(500)),
    Column("value", Float),
    Column("unit", String(20), nullable=False),
    Column("good", Boolean),
    Column("observed_at", DateTime(timezone=True), nullable=False),
    Column("dag_id", String(250)),
    Column("task_id", String(250)),
    Column("run_id", String(250)),
    Column("details", JSON),
    Index("ix_dataops_sli_dataset_time", "dataset", "kind", "observed_at"),
)
# Migration 5: the bad freshness observations by time (partial: only those rows), for the
# operations report's SLA violations (M15), which the UI's overview computes on its first request.
_bad_freshness = (sli_observations.c.kind == "freshness") & sli_observations.c.good.is_(False)
ix_sli_bad_freshness = Index(
    "ix_dataops_sli_bad_freshness",
    sli_observations.c.observed_at,
    sqlite_where=_bad_freshness,
    postgresql_where=_bad_freshness,
)

# Contract gate results: the whole report, and the verdict for quick listing.
contract_results = Table(
    "dataops_contract_results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset", String(500), nullable=False),
    Column("partition_key", String(500)),
    Column("contract_id", String(500), nullable=False),
    Column("contract_version", String(100), nullable=False),
    Column("engine", String(20), nullable=False),
    Column("mode", String(20), nullable=False),
    Column("verdict", String(20), nullable=False),
    Column("rows_checked", Integer),
    Column("rules_total", Integer, nullable=False),
    Column("rules_failed", Integer, nullable=False),
    Column("report", JSON, nullable=False),
    Column("dag_id", String(250)),
    Column("task_id", String(250)),
    Column("run_id", String(250)),
    Column("checked_at", DateTime(timezone=True), nullable=False),
    Index("ix_dataops_results_dataset", "dataset", "checked_at"),
)

# SLO breach episodes: opened once, resolved once, notified once each way.
breaches = Table(
    "dataops_breaches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset", String(500), nullable=False),
    Column("slo", String(100), nullable=False),
    Column("severity", String(20), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True)),
    Column("burn_rates", JSON),
    Column("notified_open_at", DateTime(timezone=True)),
    Column("notified_resolve_at", DateTime(timezone=True)),
    Index("ix_dataops_breaches_open", "dataset", "slo", "resolved_at"),
)

# Migration 4: superseded versions of a partition, kept in the warehouse so a rollback can restore
# them. The rows live in ``<target>__versions`` (column ``_dataops_apply_id``); this is their index.
partition_versions = Table(
    "dataops_partition_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset", String(500), nullable=False),
    Column("partition_key", String(500), nullable=False),
    Column("apply_id", Integer, nullable=False),  # the history row whose published rows these are
    Column("rows", Integer, nullable=False),
    Column("checksum", String(64), nullable=False),
    Column("versions_table", String(500), nullable=False),
    Column("db_schema", String(250)),
    Column("kept_at", DateTime(timezone=True), nullable=False),
    Column("kept_by_apply", Integer),  # the apply (or rollback) that replaced it
    Column("purged_at", DateTime(timezone=True)),
    Index("ux_dataops_versions_apply", "dataset", "partition_key", "apply_id", unique=True),
)

# Migration 4: one row per rollback, naming the version it restored and the one it replaced.
rollbacks = Table(
    "dataops_rollbacks",
    metadata,
    Column("apply_id", Integer, primary_key=True, autoincrement=False),  # the rollback's history row
    Column("dataset", String(500), nullable=False),
    Column("partition_key", String(500), nullable=False),
    Column("restored_apply_id", Integer, nullable=False),
    Column("replaced_apply_id", Integer),
    Index("ix_dataops_rollbacks_partition", "dataset", "partition_key"),
)

# Requests to re-evaluate SLOs now (a rerun applied, a verify found the data right): the
# evaluator DAG's asset watcher (triggers/recheck.py) fires on the first unconsumed row and the
# evaluator marks the rows it answered consumed (migration 6).
slo_rechecks = Table(
    "dataops_slo_rechecks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset", String(500), nullable=False),
    Column("reason", Text, nullable=False),
    Column("requested_by", String(250), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("consumed_at", DateTime(timezone=True)),
    Index("ix_dataops_slo_rechecks_open", "consumed_at", "id"),
)
