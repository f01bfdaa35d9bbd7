"""Standard OpenLineage facets and datasets built from our domain values.

Every dataset our events name is built here: the gated table as an input with its data
quality facets (:func:`gated_input`), a written table or quarantine as an output with its row
count and partition (:func:`written_output`), a contract's columns as the schema facet
(:func:`contract_dataset_facets`).  Our own run facets are built in
:mod:`~airflow_dataops.lineage.run_facets`.

Pure functions: they build facet objects and send nothing.  The OpenLineage client is
imported inside each function, so importing this module costs nothing in a task process.

Values of sensitive columns never leave through these builders: pass their names in
``sensitive_columns`` and the measured values (``actual``, and ``expected`` which can list
allowed values) are left out of assertions and tests, and min/max/sum/quantiles out of metrics.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_dataops.contracts.model import SchemaObject
    from airflow_dataops.contracts.report import GateReport, RuleResult

__all__ = [
    "SUBSET_FACET_KEY",
    "assertions_facet",
    "contract_dataset_facets",
    "gated_input",
    "input_dataset",
    "metrics_facet",
    "output_dataset",
    "output_statistics",
    "partition_subset",
    "schema_facet",
    "test_run_facet",
    "written_output",
]

#: The key under which ``inputFacets`` / ``outputFacets`` carry a subset facet (as the client's
#: own dataset reducer does, and the spec's ``BaseSubsetDatasetFacet.json`` requires).
SUBSET_FACET_KEY = "subset"

_SAFE_METRICS = ("nullCount", "distinctCount", "count")
_VALUE_METRICS = ("sum", "min", "max", "quantiles")
_METRIC_ALIASES = {"null_count": "nullCount", "distinct_count": "distinctCount"}


def schema_facet(fields: Iterable[Sequence[str | None]]):
    """``SchemaDatasetFacet`` from ``(name, type, description)`` tuples, in column order.

    ``type`` and ``description`` may be ``None`` (or the tuple shorter); ``ordinal_position``
    is filled 1, 2, 3...
    """
    from openlineage.client.facet_v2 import schema_dataset

    out = []
    for position, field in enumerate(fields, start=1):
        name, type_, description = (*tuple(field), None, None)[:3]
        if not name:
            msg = f"schema field {position} has no name: {tuple(field)!r}"
            raise ValueError(msg)
        out.append(
            schema_dataset.SchemaDatasetFacetFields(
                name=str(name),
                type=None if type_ is None else str(type_),
                description=None if description is None else str(description),
                ordinal_position=position,
                fields=None,  # the client's default [] would serialise as "fields": []
            )
        )
    return schema_dataset.SchemaDatasetFacet(fields=out)


def assertions_facet(
    results: Iterable[RuleResult],
    *,
    sensitive_columns: Iterable[str] = (),
    content_by_rule: Mapping[str, str] | None = None,
):
    """``DataQualityAssertionsDatasetFacet`` (an *input* dataset facet) from rule results.

    Each ``RuleResult`` gives ``assertion`` (the rule kind: the last dotted part of its name,
    e.g. ``nullValues``), ``name``, ``success``, ``column``, ``severity`` (``error`` or ``warn``,
    the spec's words), ``expected`` and ``actual`` as strings, and ``params`` with the ODCS
    dimension and the failing-row count.  For a column in ``sensitive_columns`` neither
    ``expected`` nor ``actual`` is sent.

    :param content_by_rule: optional rule name -> SQL that checked it, sent as ``content``.
    """
    from openlineage.client.facet_v2 import data_quality_assertions_dataset as dqa

    sensitive = set(sensitive_columns)
    content_by_rule = content_by_rule or {}
    assertions = []
    for r in results:
        hide = r.column is not None and r.column in sensitive
        content = content_by_rule.get(r.name)
        assertions.append(
            dqa.Assertion(
                assertion=_rule_kind(r.name),
                success=bool(r.passed),
                column=r.column,
                severity=_severity(r.severity),
                name=r.name,
                expected=None if hide else _text(r.expected),
                actual=None if hide else _text(r.actual),
                content=content,
                contentType="sql" if content else None,
                params=_params(r),
            )
        )
    return dqa.DataQualityAssertionsDatasetFacet(assertions=assertions)


def test_run_facet(results: Iterable[RuleResult], *, sensitive_columns: Iterable[str] = ()):
    """``TestRunFacet`` (a *run* facet) for rules that belong to no single dataset.

    ``status`` is ``pass`` or ``fail``; the other fields as in :func:`assertions_facet`.
    """
    from openlineage.client.facet_v2 import test_run

    sensitive = set(sensitive_columns)
    tests = []
    for r in results:
        hide = r.column is not None and r.column in sensitive
        tests.append(
            test_run.TestExecution(
                name=r.name,
                status="pass" if r.passed else "fail",
                severity=_severity(r.severity),
                type=_rule_kind(r.name),
                description=f"{r.dimension} rule" + (f" on column {r.column}" if r.column else ""),
                expected=None if hide else _text(r.expected),
                actual=None if hide else _text(r.actual),
                params=_params(r),
            )
        )
    return test_run.TestRunFacet(tests=tests)


test_run_facet.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def metrics_facet(
    row_count: int | None,
    column_metrics: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    sensitive_columns: Iterable[str] = (),
    size_bytes: int | None = None,
):
    """``DataQualityMetricsInputDatasetFacet`` from a row count and per-column metrics.

    :param column_metrics: column -> ``{"nullCount", "distinctCount", "count", "sum", "min",
        "max", "quantiles"}`` (``null_count`` / ``distinct_count`` accepted too); ``None``
        values are dropped.  For a sensitive column only the counts are kept.
    :raises ValueError: for an unknown metric name (the message lists the known ones).
    """
    from openlineage.client.facet_v2 import data_quality_metrics_input_dataset as dqm

    sensitive = set(sensitive_columns)
    columns = {}
    for column, metrics in (column_metrics or {}).items():
        kwargs: dict[str, Any] = {}
        for key, value in metrics.items():
            key = _METRIC_ALIASES.get(key, key)
            if key not in _SAFE_METRICS + _VALUE_METRICS:
                msg = (
                    f"unknown metric {key!r} for column {column!r}; "
                    f"known: {', '.join(_SAFE_METRICS + _VALUE_METRICS)}"
                )
                raise ValueError(msg)
            if value is None or (column in sensitive and key in _VALUE_METRICS):
                continue
            if key in ("nullCount", "distinctCount"):
                value = int(value)
            elif key == "quantiles":
                value = {str(q): float(v) for q, v in value.items()}
            else:
                value = float(value)
            kwargs[key] = value
        kwargs.setdefault("quantiles", None)  # the client's default {} would serialise as "quantiles": {}
        columns[column] = dqm.ColumnMetrics(**kwargs)
    return dqm.DataQualityMetricsInputDatasetFacet(
        columnMetrics=columns,
        rowCount=None if row_count is None else int(row_count),
        bytes=None if size_bytes is None else int(size_bytes),
    )


def output_statistics(row_count: int | None, size: int | None = None, *, file_count: int | None = None):
    """``OutputStatisticsOutputDatasetFacet``: rows (and bytes, files) written."""
    from openlineage.client.facet_v2 import output_statistics_output_dataset as stats

    return stats.OutputStatisticsOutputDatasetFacet(
        rowCount=None if row_count is None else int(row_count),
        size=None if size is None else int(size),
        fileCount=None if file_count is None else int(file_count),
    )


def partition_subset(partition_column: str, partition_key: str, *, direction: str = "output"):
    """The subset facet saying "only partition ``{partition_column: partition_key}``".

    A ``PartitionSubsetCondition`` (``BaseSubsetDatasetFacet.json`` 1-0-0) wrapped in
    ``OutputSubsetOutputDatasetFacet`` (``direction="output"``) or
    ``InputSubsetInputDatasetFacet`` (``"input"``); attach it under :data:`SUBSET_FACET_KEY`
    in ``outputFacets`` / ``inputFacets``.
    """
    from openlineage.client.facet_v2 import base_subset_dataset as subset

    if not partition_column or not isinstance(partition_column, str):
        msg = f"partition_column must be a non-empty string; got {partition_column!r}"
        raise ValueError(msg)
    if partition_key is None or str(partition_key) == "":
        msg = f"partition_key must be non-empty; got {partition_key!r}"
        raise ValueError(msg)
    key = str(partition_key)
    condition = subset.PartitionSubsetCondition(
        partitions=[subset.Partition(dimensions={partition_column: key}, identifier=key)]
    )
    if direction == "output":
        return subset.OutputSubsetOutputDatasetFacet(outputCondition=condition)
    if direction == "input":
        return subset.InputSubsetInputDatasetFacet(inputCondition=condition)
    msg = f"direction must be 'input' or 'output'; got {direction!r}"
    raise ValueError(msg)


def input_dataset(
    namespace: str,
    name: str,
    *,
    facets: Mapping[str, Any] | None = None,
    input_facets: Mapping[str, Any] | None = None,
):
    """An OpenLineage ``InputDataset`` (so callers need not import the client)."""
    from openlineage.client.event_v2 import InputDataset

    return InputDataset(
        namespace=namespace, name=name, facets=dict(facets or {}), inputFacets=dict(input_facets or {})
    )


def output_dataset(
    namespace: str,
    name: str,
    *,
    facets: Mapping[str, Any] | None = None,
    output_facets: Mapping[str, Any] | None = None,
):
    """An OpenLineage ``OutputDataset`` (so callers need not import the client)."""
    from openlineage.client.event_v2 import OutputDataset

    return OutputDataset(
        namespace=namespace, name=name, facets=dict(facets or {}), outputFacets=dict(output_facets or {})
    )


def contract_dataset_facets(obj: SchemaObject) -> dict[str, Any]:
    """The dataset facets a contract's schema object gives its table: ``schema``, the columns as the
    data names them (``physicalName`` if given), with their declared types and descriptions."""
    fields = [(p.column, p.physical_type or p.logical_type, p.description) for p in obj.properties]
    return {"schema": schema_facet(fields)} if fields else {}


def gated_input(
    namespace: str,
    name: str,
    *,
    report: GateReport | None,
    facets: Mapping[str, Any] | None = None,
    sensitive_columns: Iterable[str] = (),
    partition_column: str | None = None,
    partition_key: str | None = None,
):
    """The table a gate checked, as an input: its assertions and metrics (from ``report``, when the
    gate got that far) and the partition checked; values of ``sensitive_columns`` left out."""
    input_facets: dict[str, Any] = {}
    if report is not None:
        input_facets["dataQualityAssertions"] = assertions_facet(
            report.results, sensitive_columns=sensitive_columns
        )
        input_facets["dataQualityMetrics"] = metrics_facet(
            report.row_count, sensitive_columns=sensitive_columns
        )
    if partition_key and partition_column:
        input_facets[SUBSET_FACET_KEY] = partition_subset(partition_column, partition_key, direction="input")
    return input_dataset(namespace, name, facets=facets, input_facets=input_facets)


def written_output(
    namespace: str,
    name: str,
    *,
    rows: int | None = None,
    facets: Mapping[str, Any] | None = None,
    partition_column: str | None = None,
    partition_key: str | None = None,
):
    """A table written (a target, a quarantine), as an output: the rows written, when known, and
    the partition written, when given."""
    output_facets: dict[str, Any] = {}
    if rows is not None:
        output_facets["outputStatistics"] = output_statistics(rows)
    if partition_key and partition_column:
        output_facets[SUBSET_FACET_KEY] = partition_subset(partition_column, partition_key)
    return output_dataset(namespace, name, facets=facets, output_facets=output_facets)


def _rule_kind(name: str) -> str:
    return name.rsplit(".", 1)[-1] or name


def _severity(severity: Any) -> str:
    value = str(getattr(severity, "value", severity)).lower()
    return "warn" if value in ("warning", "warn") else value


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _params(r: RuleResult) -> dict[str, Any]:
    params: dict[str, Any] = {"dimension": r.dimension}
    if r.failing_rows is not None:
        params["failingRows"] = int(r.failing_rows)
    return params
