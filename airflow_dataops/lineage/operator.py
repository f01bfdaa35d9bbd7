"""OpenLineage for our operators: what ``get_openlineage_facets_on_*`` return.

The operators keep what they learned during ``execute`` in a plain dict; this module turns it
into an ``OperatorLineage``, with the datasets of :mod:`~airflow_dataops.lineage.builders` and
the run facets of :mod:`~airflow_dataops.lineage.run_facets`:

* :func:`lineage_for_gate`: ``ContractGateOperator``, the gated table as input (and, when it
  moved rows, the table and its quarantine as outputs);
* :func:`lineage_for_partition_write`: the write-audit-publish operators, the gated stage as
  the target's input, the tables the query read, the partition written and its quarantine.

Any failure here is logged and yields an empty lineage: lineage never fails a task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["lineage_for_gate", "lineage_for_partition_write"]


def lineage_for_gate(operator: Any, state: dict[str, Any], *, succeeded: bool) -> Any:
    """Inputs/outputs and facets of one ``ContractGateOperator`` task."""
    return _or_empty(_gate, operator, state, succeeded=succeeded)


def lineage_for_partition_write(operator: Any, state: dict[str, Any], *, succeeded: bool) -> Any:
    """Inputs/outputs and facets of one write-audit-publish task."""
    return _or_empty(_partition_write, operator, state, succeeded=succeeded)


def _or_empty(build: Callable[..., Any], operator: Any, state: dict[str, Any], *, succeeded: bool) -> Any:
    try:
        return build(operator, state, succeeded=succeeded)
    except Exception:  # lineage never fails a task
        getattr(operator, "log", log).warning(
            "dataops: could not build OpenLineage facets for %s; lineage skipped",
            operator.task_id,
            exc_info=True,
        )
        from airflow.providers.openlineage.extractors.base import OperatorLineage

        return OperatorLineage()


@dataclass(frozen=True)
class _ContractView:
    """What the task's contract says about its table: the dataset facets (its columns) and the
    columns whose values never leave (none without a contract)."""

    facets: dict[str, Any]
    sensitive: frozenset[str]

    @classmethod
    def of(cls, operator: Any, state: dict[str, Any]) -> _ContractView:
        obj = state.get("obj")  # the schema object the task used, else loaded from its contract
        if obj is None and operator.contract:
            from airflow_dataops.contracts.loader import load_contract

            obj = load_contract(operator.contract).schema_object(operator.schema_object)
        if obj is None:
            return cls({}, frozenset())
        from airflow_dataops.contracts.evaluate import sensitive_columns
        from airflow_dataops.lineage import builders

        return cls(builders.contract_dataset_facets(obj), frozenset(sensitive_columns(obj)))

    def gated_input(self, ds: Any, report: Any, partition_column: str | None, key: str | None) -> Any:
        from airflow_dataops.lineage import builders

        return builders.gated_input(
            ds.namespace,
            ds.name,
            report=report,
            facets=self.facets,
            sensitive_columns=self.sensitive,
            partition_column=partition_column,
            partition_key=key,
        )


def _gate(operator: Any, state: dict[str, Any], *, succeeded: bool) -> Any:
    from airflow.providers.openlineage.extractors.base import OperatorLineage

    from airflow_dataops.lineage import builders, facets, run_facets

    report = state.get("report")
    contract = _ContractView.of(operator, state)
    run: dict[str, Any] = {}
    if report is not None:
        run[facets.DataOpsGateRunFacet.FACET_KEY] = run_facets.gate_run_facet(
            report,
            mode=state.get("mode", "fail"),
            verdict=state.get("verdict", "failed"),
            partition_key=report.partition,
        )
    if not operator.conn_id or not operator.table:
        return OperatorLineage(run_facets=run)
    from airflow.sdk import BaseHook

    from airflow_dataops.lineage.naming import dataset_namespace_and_name

    conn = BaseHook.get_connection(str(operator.conn_id))
    ds = dataset_namespace_and_name(conn, operator.table, schema=operator.db_schema)
    inputs = [contract.gated_input(ds, report, operator.partition_column, state.get("partition"))]
    outputs = []
    moved = state.get("quarantine")
    if succeeded and moved is not None:
        q = dataset_namespace_and_name(conn, moved.quarantine_table, schema=operator.db_schema)
        outputs.append(builders.written_output(q.namespace, q.name, rows=moved.rows_quarantined))
        outputs.append(
            builders.written_output(ds.namespace, ds.name, rows=moved.rows_published, facets=contract.facets)
        )
    return OperatorLineage(inputs=inputs, outputs=outputs, run_facets=run)


def _partition_write(operator: Any, state: dict[str, Any], *, succeeded: bool) -> Any:
    from airflow.providers.openlineage.extractors.base import OperatorLineage
    from airflow.sdk import BaseHook

    from airflow_dataops.lineage import builders, facets, run_facets
    from airflow_dataops.lineage.naming import dataset_namespace_and_name

    conn = BaseHook.get_connection(operator.conn_id)
    ds = dataset_namespace_and_name(conn, operator.table, schema=operator.db_schema)
    contract = _ContractView.of(operator, state)
    report = state.get("report")
    key = state.get("partition")
    ledger = state.get("ledger") or {}
    run: dict[str, Any] = {}
    inputs: list[Any] = []
    if report is not None:
        inputs.append(contract.gated_input(ds, report, operator.partition_column, key))
        run[facets.DataOpsGateRunFacet.FACET_KEY] = run_facets.gate_run_facet(
            report, mode=state.get("mode", "fail"), verdict=state.get("verdict", "failed"), partition_key=key
        )
    inputs += _tables_read(operator, state, conn, ds)
    result = ledger.get("result")
    written = result if (succeeded and result is not None) else None
    outputs = [
        builders.written_output(
            ds.namespace,
            ds.name,
            rows=written.rows_published if written is not None else None,
            facets=contract.facets,
            partition_column=operator.partition_column,
            partition_key=key,
        )
    ]
    quarantined = written.rows_quarantined if written is not None else None
    if quarantined or (quarantined is not None and state.get("mode") == "quarantine"):
        # the partition's quarantine rows were replaced too: an output with its own row count
        from airflow_dataops.partitions.quarantine import quarantine_table_name

        q = dataset_namespace_and_name(conn, quarantine_table_name(operator.table), schema=operator.db_schema)
        outputs.append(
            builders.written_output(
                q.namespace,
                q.name,
                rows=quarantined,
                partition_column=operator.partition_column,
                partition_key=key,
            )
        )
    if ledger.get("partition"):
        run[facets.DataOpsPartitionLedgerRunFacet.FACET_KEY] = run_facets.write_ledger_run_facet(
            ledger,
            dataset=report.dataset if report is not None else operator.table,
            run_id=state.get("run_id"),
            attempt=state.get("attempt"),
        )
    return OperatorLineage(inputs=inputs, outputs=outputs, run_facets=run)


_PARSER_DIALECT = {"postgres": "postgresql", "postgresql": "postgresql", "sqlite": "sqlite", "mysql": "mysql"}


def _tables_read(operator: Any, state: dict[str, Any], conn: Any, target: Any) -> list[Any]:
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
