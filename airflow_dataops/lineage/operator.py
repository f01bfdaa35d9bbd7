"""OpenLineage for our operators: what ``get_openlineage_facets_on_*`` return.

The operators keep what they learned during ``execute`` in a plain dict; this module
turns it into an ``OperatorLineage``.  Any failure here is logged and yields an empty
lineage: lineage never fails a task.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def _empty() -> Any:
    from airflow.providers.openlineage.extractors.base import OperatorLineage

    return OperatorLineage()


def _contract_fields(
    contract_path: str | None, schema_object: str | None
) -> tuple[list[tuple[str, str | None, str | None]], set[str]]:
    if not contract_path:
        return [], set()
    from airflow_dataops.contracts.loader import load_contract

    obj = load_contract(contract_path).schema_object(schema_object)
    fields = [(p.name, p.physical_type or p.logical_type, p.description) for p in obj.properties]
    sensitive = {p.name for p in obj.properties if p.is_sensitive}
    return fields, sensitive


def lineage_for_partition_write(operator: Any, state: dict[str, Any], *, succeeded: bool) -> Any:
    """Inputs/outputs and facets of one write-audit-publish task."""
    try:
        return _partition_write(operator, state, succeeded=succeeded)
    except Exception:
        log.warning(
            "dataops: could not build OpenLineage facets for %s; lineage skipped",
            operator.task_id,
            exc_info=True,
        )
        return _empty()


def _partition_write(operator: Any, state: dict[str, Any], *, succeeded: bool) -> Any:
    from airflow.providers.openlineage.extractors.base import OperatorLineage
    from airflow.sdk import BaseHook

    from airflow_dataops.lineage import builders, facets
    from airflow_dataops.lineage.naming import dataset_namespace_and_name

    conn = BaseHook.get_connection(operator.conn_id)
    ds = dataset_namespace_and_name(conn, operator.table, schema=operator.db_schema)
    fields, sensitive = _contract_fields(operator.contract, operator.schema_object)
    dataset_facets: dict[str, Any] = {}
    if fields:
        dataset_facets["schema"] = builders.schema_facet(fields)
    report = state.get("report")
    key = state.get("partition")
    ledger = state.get("ledger") or {}
    run_facets: dict[str, Any] = {}
    inputs: list[Any] = []
    if report is not None:
        inputs.append(
            builders.input_dataset(
                ds.namespace,
                ds.name,
                facets=dataset_facets,
                input_facets={
                    "dataQualityAssertions": builders.assertions_facet(
                        report.results, sensitive_columns=sensitive
                    ),
                    "dataQualityMetrics": builders.metrics_facet(
                        report.row_count, sensitive_columns=sensitive
                    ),
                    **(
                        {
                            builders.SUBSET_FACET_KEY: builders.partition_subset(
                                operator.partition_column, key, direction="input"
                            )
                        }
                        if key
                        else {}
                    ),
                },
            )
        )
        run_facets[facets.DataOpsGateRunFacet.FACET_KEY] = builders.gate_run_facet(
            report, mode=state.get("mode", "fail"), verdict=state.get("verdict", "failed"), partition_key=key
        )
    inputs += _tables_read(operator, state, conn, ds, key)
    output_facets: dict[str, Any] = {}
    result = ledger.get("result")
    if succeeded and result is not None:
        output_facets["outputStatistics"] = builders.output_statistics(result.rows_published)
    if key:
        output_facets[builders.SUBSET_FACET_KEY] = builders.partition_subset(operator.partition_column, key)
    outputs = [
        builders.output_dataset(ds.namespace, ds.name, facets=dataset_facets, output_facets=output_facets)
    ]
    quarantined = result.rows_quarantined if (succeeded and result is not None) else None
    if quarantined or (quarantined is not None and state.get("mode") == "quarantine"):
        # the partition's quarantine rows were replaced too: an output with its own row count
        from airflow_dataops.partitions.writer import quarantine_table_name

        q = dataset_namespace_and_name(conn, quarantine_table_name(operator.table), schema=operator.db_schema)
        q_facets: dict[str, Any] = {"outputStatistics": builders.output_statistics(quarantined)}
        if key:
            q_facets[builders.SUBSET_FACET_KEY] = builders.partition_subset(operator.partition_column, key)
        outputs.append(builders.output_dataset(q.namespace, q.name, output_facets=q_facets))
    if ledger.get("partition"):
        run_id, attempt = state.get("run_id") or "unknown", state.get("attempt") or 1
        # as it happened: a gate refusal or a failed publish is "failed", never "skipped"
        decision = ledger.get("decision", "")
        if decision == "stale" and decision not in facets.LEDGER_DECISIONS:
            decision = "rerun"  # a stale partition replaced: a rerun, until the facet's schema knows "stale"
        decision = decision if decision in facets.LEDGER_DECISIONS else "skipped"
        run_facets[facets.DataOpsPartitionLedgerRunFacet.FACET_KEY] = facets.DataOpsPartitionLedgerRunFacet(
            dataset=report.dataset if report is not None else operator.table,
            partitionKey=ledger["partition"],
            decision=decision,
            runId=run_id,
            attempt=max(1, int(attempt or 1)),
            reason=ledger.get("reason") or ledger.get("error"),
            rowsIn=result.rows_in if result else None,
            rowsPublished=result.rows_published if result else None,
            rowsQuarantined=result.rows_quarantined if result else None,
            checksum=result.checksum if result else None,
            applyId=ledger.get("apply_id"),
            supersedes=_superseded(ledger.get("previous"), result),
        )
    return OperatorLineage(inputs=inputs, outputs=outputs, run_facets=run_facets)


def _superseded(previous: Any, result: Any) -> Any:
    """The published version this write replaced, and whether its rows were kept for a rollback."""
    from airflow_dataops.lineage.facets import version_ref

    if previous is None or result is None or previous.state not in ("applied", "quarantined"):
        return None
    return version_ref(
        previous.apply_id,
        rows=previous.rows_published,
        checksum=previous.checksum,
        state="superseded",
        kept=getattr(result, "kept", None) is not None,
    )


_PARSER_DIALECT = {"postgres": "postgresql", "postgresql": "postgresql", "sqlite": "sqlite", "mysql": "mysql"}


def _tables_read(operator: Any, state: dict[str, Any], conn: Any, target: Any, key: str | None) -> list[Any]:
    """Input datasets for the tables the task's query reads (Airflow's OpenLineage SQL parser), in the
    same warehouse namespace; the target itself is left out (it already is an input when gated)."""
    from airflow_dataops.lineage import builders
    from airflow_dataops.lineage.naming import dataset_namespace_and_name

    tables = state.get("tables_read")
    if tables is None:
        try:
            tables = operator.read_tables(_PARSER_DIALECT.get((conn.conn_type or "").lower()))
        except Exception:
            log.debug("dataops: no tables read by %s for lineage", operator.task_id, exc_info=True)
            tables = []
    out = []
    seen = {(target.namespace, target.name)}
    for schema, table in tables:
        ds = dataset_namespace_and_name(conn, table, schema=schema or operator.db_schema)
        if (ds.namespace, ds.name) in seen:
            continue
        seen.add((ds.namespace, ds.name))
        out.append(builders.input_dataset(ds.namespace, ds.name))
    return out
