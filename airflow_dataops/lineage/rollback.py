"""The OpenLineage event of a ``partitions rollback``: decision ``rolled_back``, with both versions.

A rollback runs from the CLI, not in a task, so no listener reports it: it is sent as a
standalone ``RunEvent`` of job ``dataops_rollback.<dataset>`` whose output is the partition it
replaced, and whose ``dataops_partitionLedger`` facet names the version restored and the one
rolled back (kept, so the rollback can be undone).  Like every emission it never raises.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def emit_rollback(dataset: dict[str, Any], result: Any, *, previous: Any, restored: Any) -> bool:
    """Send the rollback's event; ``False`` when lineage is off or the emission failed (one warning)."""
    from airflow_dataops.lineage.emit import emit_run_event, lineage_guard

    with lineage_guard(f"rollback lineage for {result.dataset}"):
        from airflow_dataops.lineage import builders
        from airflow_dataops.lineage.run_facets import rollback_run_facet

        facet = rollback_run_facet(result, previous=previous, restored=restored)
        outputs = []
        table, conn_id = dataset.get("target_table"), dataset.get("conn_id")
        if table and conn_id:
            from airflow.sdk import BaseHook

            from airflow_dataops.lineage.naming import dataset_namespace_and_name

            ds = dataset_namespace_and_name(
                BaseHook.get_connection(conn_id), table, schema=dataset.get("db_schema") or None
            )
            outputs.append(
                builders.written_output(
                    ds.namespace,
                    ds.name,
                    rows=result.rows,
                    partition_column=dataset.get("partition_column"),
                    partition_key=result.partition_key,
                )
            )
        return emit_run_event(
            f"dataops_rollback.{result.dataset}",
            run_facets={facet.FACET_KEY: facet},
            outputs=outputs,
            event_type="COMPLETE",
        )
    return False
