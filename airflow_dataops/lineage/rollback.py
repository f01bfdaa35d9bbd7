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


def rollback_run_facet(result: Any, *, previous: Any, restored: Any) -> Any:
    """The ledger facet of one rollback (``result``: ``partitions.rollback.RollbackResult``)."""
    from airflow_dataops.lineage.facets import DataOpsPartitionLedgerRunFacet, version_ref

    return DataOpsPartitionLedgerRunFacet(
        dataset=result.dataset,
        partitionKey=result.partition_key,
        decision="rolled_back",
        runId=result.run_id,
        attempt=1,
        reason=result.reason,
        requestedBy=result.requested_by,
        rowsIn=result.rows,
        rowsPublished=result.rows,
        rowsQuarantined=0,
        checksum=result.checksum,
        applyId=result.apply_id,
        supersedes=version_ref(
            result.replaced_apply_id,
            rows=getattr(previous, "rows_published", None),
            checksum=getattr(previous, "checksum", None),
            state="rolled_back",
            kept=result.replaced_kept,
        ),
        restored=version_ref(restored.apply_id, rows=restored.rows, checksum=restored.checksum),
    )


def emit_rollback(dataset: dict[str, Any], result: Any, *, previous: Any, restored: Any) -> bool:
    """Send the rollback's event; ``False`` when lineage is off or the emission failed (one warning)."""
    from airflow_dataops.lineage.emit import emit_run_event, lineage_guard

    with lineage_guard(f"rollback lineage for {result.dataset}"):
        from airflow_dataops.lineage import builders

        facet = rollback_run_facet(result, previous=previous, restored=restored)
        outputs = []
        table, conn_id = dataset.get("target_table"), dataset.get("conn_id")
        if table and conn_id:
            from airflow.sdk import BaseHook

            from airflow_dataops.lineage.naming import dataset_namespace_and_name

            ds = dataset_namespace_and_name(
                BaseHook.get_connection(conn_id), table, schema=dataset.get("db_schema") or None
            )
            output_facets: dict[str, Any] = {"outputStatistics": builders.output_statistics(result.rows)}
            if dataset.get("partition_column"):
                output_facets[builders.SUBSET_FACET_KEY] = builders.partition_subset(
                    dataset["partition_column"], result.partition_key
                )
            outputs.append(builders.output_dataset(ds.namespace, ds.name, output_facets=output_facets))
        return emit_run_event(
            f"dataops_rollback.{result.dataset}",
            run_facets={facet.FACET_KEY: facet},
            outputs=outputs,
            event_type="COMPLETE",
        )
    return False
