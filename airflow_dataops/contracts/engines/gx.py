"""Check a table (or partition) or a DataFrame against a contract with Great Expectations 1.x.

For teams that already run GX: the contract's rules are compiled into a GX
``ExpectationSuite`` (in an ephemeral context, nothing written to disk), run through a
``ValidationDefinition``, and GX's results are mapped back into the same
:class:`~airflow_dataops.contracts.report.GateReport` the SQL and pandas engines return,
with the same rule names.  GX only *measures*: the counts it reports become the
:class:`~airflow_dataops.contracts.rules.Measure` values, and :func:`rules.judge` decides,
so a rule gets the same verdict and the same number from every engine.

=====================  ==============================================================
measure                GX expectation(s)
=====================  ==============================================================
rows                   ``ExpectTableRowCountToBeBetween`` (observed value)
nulls                  ``ExpectColumnValuesToNotBeNull`` (unexpected count)
missing (markers)      not-null + ``ExpectColumnValuesToNotBeInSet`` (markers)
invalid, set           ``ExpectColumnValuesToBeInSet`` (nulls are never invalid)
invalid, pattern       ``ExpectColumnValuesToMatchRegex``
invalid, set+pattern   ``UnexpectedRowsExpectation`` (SQL only)
duplicates             not-null count - ``ExpectColumnUniqueValueCountToBeBetween``
tuple duplicates       ``UnexpectedRowsExpectation`` with ``ROW_NUMBER()`` (SQL only)
max (latency)          ``ExpectColumnMaxToBeBetween`` (observed value)
=====================  ==============================================================

ODCS ``sql`` rules have no GX expectation that returns their number: on a table they run as
the SQL engine runs them (the same query, through the same connection, on the same partition);
on a DataFrame they cannot run and a warning names them.  A ``custom`` rule with
``engine: greatExpectations`` runs its ``implementation``: one expectation or a list, each
``{type: expect_..., kwargs: {...}}`` (or the kwargs inline), YAML text or a mapping::

    quality:
      - type: custom
        engine: greatExpectations
        name: plausibleDelay
        implementation:
          type: expect_column_values_to_be_between
          kwargs: {min_value: -120, max_value: 1800}   # column: the property's, unless given

This module finds the data and runs the suite; the measures' expectations and the reading of
their results are :mod:`~airflow_dataops.contracts.engines.gx_suite`, custom rules
:mod:`~airflow_dataops.contracts.engines.gx_custom`.

GX costs ~8 s to import: it is imported inside :func:`evaluate_gx`, never at module import.
Values never leave GX's results: partial unexpected lists are turned off, and only counts
(and, for columns not classified sensitive, observed numbers) reach the report.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_dataops.contracts import rules as R
from airflow_dataops.contracts.engines import sql_dialects as D
from airflow_dataops.contracts.engines.gx_custom import (
    custom_expectations,
    custom_result,
    gx_rules,
    is_gx_custom_warning,
)
from airflow_dataops.contracts.engines.gx_suite import (
    Suite,
    expectations_for,
    measure_value,
    observed_value,
    sql_dialect,
)
from airflow_dataops.contracts.model import Contract, QualityRule, SchemaObject
from airflow_dataops.contracts.report import GateReport, RuleResult
from airflow_dataops.exceptions import ContractError

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.engine import Connection, Engine


_RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 0, "include_unexpected_rows": False}
_names = itertools.count()


def evaluate_gx(
    contract: Contract,
    *,
    engine_or_connection: Engine | Connection | None = None,
    dataframe: pd.DataFrame | None = None,
    table: str | None = None,
    schema_object: str | None = None,
    partition_column: str | None = None,
    partition_value: str | None = None,
    db_schema: str | None = None,
    dataset: str | None = None,
    now: dt.datetime | None = None,
    columns: Mapping[str, Any] | None = None,
) -> GateReport:
    """Evaluate ``contract``'s rules with a Great Expectations suite.

    ``columns`` (name -> SQLAlchemy type) spares inspecting a table whose columns the caller knows.

    Give either ``engine_or_connection`` and ``table`` (checked where it lives; one partition
    when ``partition_column``/``partition_value`` are given) or a pandas ``dataframe``.

    :raises ContractError: both or neither data source given, the table does not exist, a custom
        GX rule's implementation is not a valid expectation, or GX raised while evaluating a rule.
    """
    if (engine_or_connection is None) == (dataframe is None):
        raise ContractError(
            "evaluate_gx needs exactly one of engine_or_connection= (with table=) or dataframe=",
            file=contract.source,
        )
    obj = contract.schema_object(schema_object)
    if dataframe is not None:
        from airflow_dataops.contracts.engines.pandas import frame_families, partition_rows

        columns = frame_families(dataframe)
        name = dataset or obj.table
        if partition_column and partition_value is not None:
            dataframe = partition_rows(dataframe, partition_column, partition_value)
        source: _Source = _Source(kind="pandas", dataframe=dataframe)
    else:
        if not table:
            raise ContractError(
                "evaluate_gx: table= is required with engine_or_connection=", file=contract.source
            )
        columns, source = _sql_source(
            contract, obj, engine_or_connection, table, db_schema, partition_column, partition_value, columns
        )
        name = dataset or (f"{db_schema}.{table}" if db_schema else table)
    return _evaluate(contract, obj, columns, source, name, partition_value, now)


# -- internals ---------------------------------------------------------------------------------


@dataclass
class _Source:
    kind: str  # "sql" or "pandas"
    dataframe: Any = None
    url: str | None = None
    dialect: str | None = None
    query: str | None = None
    # for ODCS sql rules: (engine or connection, table clause, partition column, partition value)
    sql_target: tuple[Any, Any, str | None, str | None] | None = None


def _sql_source(
    contract: Contract,
    obj: SchemaObject,
    engine_or_connection: Any,
    table: str,
    db_schema: str | None,
    partition_column: str | None,
    partition_value: str | None,
    known: Mapping[str, Any] | None = None,
) -> tuple[dict[str, str | None], _Source]:
    import sqlalchemy as sa

    from airflow_dataops.contracts.engines.sql import table_columns
    from airflow_dataops.contracts.engines.sql_predicates import sql_type_family

    engine = (
        engine_or_connection if isinstance(engine_or_connection, sa.Engine) else engine_or_connection.engine
    )
    if engine.url.database in (None, "", ":memory:") and engine.dialect.name == "sqlite":
        raise ContractError(
            "the gx engine opens its own connection and cannot reach an in-memory SQLite database; "
            "use a file database or the sql engine",
            file=contract.source,
        )
    found = (
        known
        if known is not None
        else table_columns(
            contract, obj, engine_or_connection, table, db_schema, partition_column=partition_column
        )
    )
    columns = {name: sql_type_family(type_) for name, type_ in found.items()}
    t = sa.table(table, *(sa.column(n) for n in columns), schema=db_schema)
    stmt = sa.select(t)
    if partition_column:
        stmt = stmt.where(t.c[partition_column] == partition_value)
    # GX takes a query text: the partition value is rendered as a quoted literal by the dialect
    query = str(stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    return columns, _Source(
        kind="sql",
        url=engine.url.render_as_string(hide_password=False),
        dialect=engine.dialect.name,
        query=query,
        sql_target=(engine_or_connection, t, partition_column, partition_value),
    )


def _evaluate(
    contract: Contract,
    obj: SchemaObject,
    columns: Mapping[str, str | None],
    source: _Source,
    dataset: str,
    partition: str | None,
    now: dt.datetime | None,
) -> GateReport:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    gx_log = logging.getLogger("great_expectations")
    if gx_log.level == logging.NOTSET:  # GX logs connections and docs sites at INFO: keep task logs to ours
        gx_log.setLevel(logging.WARNING)
    import great_expectations as gx  # ~8 s: only when this engine is used

    E = gx.expectations
    # row predicates are compiled for the SQL source's dialect; a DataFrame has none
    dialect = sql_dialect(source.dialect, source.url) if source.kind == "sql" else None
    db_schema = source.sql_target[1].schema if source.sql_target else None
    results: list[RuleResult] = [
        R.schema_result(obj, p, columns.get(p.column), p.column in columns) for p in obj.properties
    ]
    warnings = [w for w in contract.warnings if not is_gx_custom_warning(w, obj)]
    suite = Suite()
    rows_id = suite.add(E.ExpectTableRowCountToBeBetween)
    plan: list[tuple[R.Check, dict[str, str]]] = []
    refused: dict[R.Measure, Any] = {}  # patterns this database's regex engine would read otherwise
    checks = R.plan(contract, obj)
    unreachable = _unreachable(checks, source)
    for check in checks:
        m = check.measure
        if m in unreachable:
            warnings.append(f"{check.name}: not evaluated: {unreachable[m]}")
            continue
        if m.kind == "sql" and source.sql_target is None:
            warnings.append(
                f"{check.name}: sql rules need a database; not evaluated on a DataFrame "
                "(gate the table with engine sql or gx)"
            )
            continue
        if not all(c in columns for c in m.columns):
            plan.append((check, {}))
            continue
        if m.kind == "sql":
            plan.append((check, {"sql": "sql"}))  # measured after the GX run, by the SQL engine's runner
            continue
        if dialect is not None and m.pattern:
            try:
                D.pattern_for(m.pattern, dialect.name)
            except D.PatternRefused as e:
                refused[m] = R.Unmeasured(f"not run: {e}")  # a failed rule with the reason, as on sql
                plan.append((check, {"refused": ""}))
                continue
        ids = expectations_for(m, suite, E, columns, dialect=dialect, db_schema=db_schema)
        if ids is None:
            warnings.append(
                f"{check.name}: not evaluated by the gx engine on a DataFrame: a {m.kind} measure of this "
                "shape (validValues with pattern, several columns, date bounds, multipleOf, a foreign key) "
                "needs SQL"
            )
            continue
        plan.append((check, ids))
    custom: list[tuple[str, str | None, QualityRule, list[str]]] = []
    for prefix, prop_column, rule in gx_rules(obj):
        custom_ids = [
            suite.add(cls, **kwargs) for cls, kwargs in custom_expectations(contract, rule, prop_column, E)
        ]
        custom.append((prefix, prop_column, rule, custom_ids))

    outcome = _run(gx, suite, source)
    rows = int(observed_value(outcome, rows_id, contract, "rowCount") or 0)
    values: dict[R.Measure, Any] = {R.ROWS: rows, **refused}
    for check, measured_by in plan:
        if not measured_by:
            results.append(R.missing_column_result(check))
            continue
        if check.measure not in values:
            if check.measure.kind == "sql":
                values[check.measure] = _sql_rule_value(contract, check, source)
            else:
                values[check.measure] = measure_value(check, measured_by, outcome, rows, contract)
        results.append(R.judge(check, values, now=now))
    sensitive = {p.column for p in obj.properties if p.is_sensitive}
    for prefix, column, rule, expectation_ids in custom:
        results.append(custom_result(prefix, column, rule, expectation_ids, outcome, contract, sensitive))
    return GateReport(
        contract_id=contract.id,
        contract_version=contract.version,
        dataset=dataset,
        partition=partition,
        engine="gx",
        row_count=rows,
        results=tuple(results),
        warnings=tuple(warnings),
    )


def _sql_rule_value(contract: Contract, check: R.Check, source: _Source) -> Any:
    """An ODCS ``sql`` rule's number, by the SQL engine's own runner (same query, same partition)."""
    import sqlalchemy as sa

    from airflow_dataops.contracts.engines.sql import register_sqlite_regexp, run_sql_rule

    assert source.sql_target is not None
    target, table, partition_column, partition_value = source.sql_target
    if isinstance(target, sa.Engine):
        with target.connect() as conn:
            register_sqlite_regexp(conn)
            return run_sql_rule(contract, check, conn, table, partition_column, partition_value)
    register_sqlite_regexp(target)
    return run_sql_rule(contract, check, target, table, partition_column, partition_value)


def _unreachable(checks: tuple[R.Check, ...], source: _Source) -> dict[R.Measure, str]:
    """Foreign keys whose referenced table the SQL source cannot reach (the SQL engine's rule)."""
    if source.sql_target is None or not any(c.measure.kind == "orphans" for c in checks):
        return {}
    import sqlalchemy as sa

    from airflow_dataops.contracts.engines.sql import unreachable_references

    target, table = source.sql_target[0], source.sql_target[1]
    if isinstance(target, sa.Engine):
        with target.connect() as conn:
            return unreachable_references(conn, checks, table.schema)
    return unreachable_references(target, checks, table.schema)


def _run(gx: Any, suite: Suite, source: _Source) -> dict[str, Any]:
    """Run the suite once; return expectation id -> its ``ExpectationValidationResult``."""
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    n = next(_names)
    batch_parameters: dict[str, Any] | None = None
    if source.kind == "sql":
        if source.dialect == "sqlite":
            ds = context.data_sources.add_sqlite(f"dataops_{n}", connection_string=source.url)
        elif source.dialect == "postgresql":
            ds = context.data_sources.add_postgres(f"dataops_{n}", connection_string=source.url)
        else:
            ds = context.data_sources.add_sql(f"dataops_{n}", connection_string=source.url)
        asset = ds.add_query_asset(f"dataops_asset_{n}", query=source.query)
        batch = asset.add_batch_definition_whole_table("all")
    else:
        ds = context.data_sources.add_pandas(f"dataops_{n}")
        asset = ds.add_dataframe_asset(f"dataops_asset_{n}")
        batch = asset.add_batch_definition_whole_dataframe("all")
        batch_parameters = {"dataframe": source.dataframe}
    gx_suite = context.suites.add(gx.ExpectationSuite(f"dataops_suite_{n}", expectations=suite.expectations))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"dataops_validation_{n}", data=batch, suite=gx_suite)
    )
    run = definition.run(batch_parameters=batch_parameters, result_format=_RESULT_FORMAT)
    return {r.expectation_config.meta.get("dataops_id"): r for r in run.results}
