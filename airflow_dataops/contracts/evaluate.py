"""Evaluate a contract on a table, a partition or a DataFrame, and move failing rows aside.

The library under :class:`~airflow_dataops.operators.gate.ContractGateOperator`, the
write-audit-publish operators and ``airflow dataops contract test``; it needs no Airflow.

* :func:`evaluate` checks the contract against the data's columns first (a rule on a missing
  column, a type that contradicts the contract: :class:`ContractError`, the gate fails closed),
  then runs the engine (``sql``: one aggregate scan; ``pandas``; ``gx``) and removes the values
  of sensitive columns from the report.
* :func:`quarantine_rows` moves the failing rows of named row-level rules to
  ``<table>__quarantine`` in one transaction, and refuses unless published + quarantined =
  input: the contract's rules compiled into predicates here, the move itself is
  :func:`airflow_dataops.partitions.quarantine.move_failing_rows`, the one the writer shares.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from airflow_dataops.exceptions import ContractError

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy import Engine, Table

    from airflow_dataops.contracts.model import Contract, SchemaObject
    from airflow_dataops.contracts.report import GateReport
    from airflow_dataops.partitions.quarantine import QuarantineResult, RowRule

ENGINES = ("auto", "sql", "pandas", "gx")
_NUMERIC = ("integer", "number")
_TIMELIKE = ("timestamp", "date", "string", None)


def resolve_engine(engine: str, *, has_dataframe: bool) -> str:
    """``auto`` -> ``pandas`` for a DataFrame, ``sql`` for a table; refuse ``sql`` on a DataFrame."""
    if engine not in ENGINES:
        raise ValueError(f"engine={engine!r} is not one of {', '.join(ENGINES)}")
    if engine == "auto":
        return "pandas" if has_dataframe else "sql"
    if engine == "sql" and has_dataframe:
        raise ValueError("engine='sql' checks a table where it lives; for a DataFrame use pandas, gx or auto")
    return engine


def evaluate(
    contract: Contract,
    *,
    engine: str = "auto",
    sql_engine: Engine | None = None,
    table: str | None = None,
    dataframe: pd.DataFrame | None = None,
    schema_object: str | None = None,
    partition_column: str | None = None,
    partition_value: str | None = None,
    db_schema: str | None = None,
    dataset: str | None = None,
    now: dt.datetime | None = None,
) -> GateReport:
    """Check the contract first, then the data: the report of ``engine`` with sensitive values removed.

    :raises ContractError: the contract cannot be evaluated on this data (missing column, type
        mismatch, a query that fails); the message names the contract, the rule and the field.
    """
    obj = contract.schema_object(schema_object)
    name = engine
    try:
        name = resolve_engine(engine, has_dataframe=dataframe is not None)
    except ValueError as e:
        raise ContractError(str(e), file=contract.source) from e
    if dataframe is None and (sql_engine is None or not table):
        raise ContractError("a gate needs a table (conn_id and table) or a DataFrame", file=contract.source)
    if dataframe is not None:
        from airflow_dataops.contracts.engines.pandas import frame_families, partition_rows

        if partition_column and partition_value is not None:
            if partition_column not in dataframe.columns:
                raise ContractError(
                    f"partition column {partition_column!r} is not a column of the DataFrame "
                    f"(columns: {', '.join(map(str, dataframe.columns))})",
                    file=contract.source,
                    path=obj.path,
                )
            dataframe = partition_rows(dataframe, partition_column, partition_value)
        columns = frame_families(dataframe)
        where = "the DataFrame"
        types = None
    else:
        types = _table_types(contract, obj, sql_engine, table, db_schema, partition_column)  # type: ignore[arg-type]
        columns = _families(types)
        where = f"table {table!r}"
    check_evaluable(contract, obj, columns, where=where, engine=name)
    try:
        if name == "sql":
            from airflow_dataops.contracts.engines.sql import evaluate_sql

            report = evaluate_sql(
                contract,
                engine_or_connection=sql_engine,  # type: ignore[arg-type]
                table=table,  # type: ignore[arg-type]
                schema_object=schema_object,
                partition_column=partition_column,
                partition_value=partition_value,
                db_schema=db_schema,
                now=now,
                columns=types,  # inspected once, above
            )
        elif name == "gx":
            from airflow_dataops.contracts.engines.gx import evaluate_gx

            report = evaluate_gx(
                contract,
                engine_or_connection=sql_engine if dataframe is None else None,
                dataframe=dataframe,
                table=table,
                schema_object=schema_object,
                partition_column=partition_column if dataframe is None else None,
                partition_value=partition_value,
                db_schema=db_schema,
                dataset=dataset,
                now=now,
                columns=types,
            )
        else:
            from airflow_dataops.contracts.engines.pandas import evaluate_dataframe

            frame = dataframe
            if frame is None:
                frame = _read_table(sql_engine, table, types, db_schema, partition_column, partition_value)  # type: ignore[arg-type]
            report = evaluate_dataframe(
                contract,
                frame,
                schema_object=schema_object,
                dataset=dataset,
                partition=partition_value,
                now=now,
            )
    except ContractError:
        raise
    except Exception as e:  # a driver error: say which contract and data, withhold data values
        import sqlalchemy as sa

        from airflow_dataops.contracts.engines.sql import error_detail

        if not isinstance(e, (sa.exc.SQLAlchemyError, TypeError, ValueError)):
            raise
        detail = error_detail(e, any(p.is_sensitive for p in obj.properties))
        raise ContractError(
            f"contract {contract.id} v{contract.version} could not be evaluated on {where} with the {name} "
            f"engine: {type(e).__name__} ({detail})",
            file=contract.source,
            path=obj.path,
        ) from e
    report = replace(report, dataset=dataset or report.dataset, partition=partition_value)
    return redact(report, obj)


def check_evaluable(
    contract: Contract,
    obj: SchemaObject,
    columns: Mapping[str, str | None],
    *,
    where: str = "the data",
    engine: str = "sql",
) -> None:
    """Refuse (``ContractError``) a contract that cannot be evaluated on data with ``columns``.

    ``columns`` maps each column present to its logical family (``integer``, ``string`` ...,
    or ``None`` when unknown).  Checked: every declared column's type fits its
    ``logicalType``/``physicalType``; allowed values and missing markers have the column's type;
    a latency/freshness column holds times.  A MISSING column is not refused here: the engines
    report it as a failed ``<object>.<property>.schema`` rule (and every rule on it as failed,
    "column missing"), so it blocks like any other failed error rule, in the same exit class
    whether or not other rules name the column.
    """
    from airflow_dataops.contracts import rules as R
    from airflow_dataops.contracts.datatypes import compatible, physical_family

    head = f"contract {contract.id} v{contract.version}"
    checks = R.plan(contract, obj)
    for prop in obj.properties:
        if prop.column not in columns:
            continue
        actual = columns[prop.column]
        for label, declared in (
            ("logicalType", prop.logical_type),
            ("physicalType", physical_family(prop.physical_type)),
        ):
            if declared and not compatible(declared, actual):
                rules = [c.name for c in checks if prop.column in c.measure.columns] or [
                    f"{obj.name}.{prop.name}.schema"
                ]
                raise ContractError(
                    f"{head}: type mismatch on field {prop.name!r}: the contract declares {label} "
                    f"{(prop.logical_type if label == 'logicalType' else prop.physical_type)!r} but column "
                    f"{prop.column!r} of {where} is {actual}; rules that cannot be evaluated: {', '.join(rules)}",
                    file=contract.source,
                    path=f"{prop.path}.{label}",
                )
    for check in checks:
        m = check.measure
        if not m.columns or m.kind == "sql":
            continue
        actual = columns.get(m.column)
        values = [*(m.valid_values or ()), *m.markers]
        bad = None
        if actual in _NUMERIC and any(isinstance(v, str) and not _numeric_text(v) for v in values):
            bad = "text values for a numeric column"
        elif actual == "string" and any(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
        ):
            bad = "numbers for a text column"
        elif m.kind == "max" and actual not in _TIMELIKE:
            bad = f"a {actual} column where a timestamp is needed"
        if bad:
            raise ContractError(
                f"{head}: type mismatch in rule {check.name!r} on field {m.column!r}: {bad} "
                f"(column {m.column!r} of {where} is {actual})",
                file=contract.source,
                path=_path(obj, check, m.column),
            )


def redact(report: GateReport, obj: SchemaObject) -> GateReport:
    """Drop measured values (``actual``) of rules on sensitive columns; counts of failing rows stay."""
    sensitive = sensitive_columns(obj)
    if not sensitive:
        return report
    results = tuple(replace(r, actual=None) if r.column in sensitive else r for r in report.results)
    return replace(report, results=results)


def sensitive_columns(obj: SchemaObject) -> set[str]:
    return {p.column for p in obj.properties if p.is_sensitive} | {
        p.name for p in obj.properties if p.is_sensitive
    }


def row_rules(
    contract: Contract,
    rules: Sequence[str],
    table: Table,
    *,
    schema_object: str | None = None,
    db_schema: str | None = None,
    partition_column: str | None = None,
    partition_value: str | None = None,
) -> list[RowRule]:
    """The quarantine's row rules for ``rules``: each with the predicate TRUE for its failing rows
    of ``table`` (one partition if given). The one place a rule name becomes a quarantine
    predicate, for the gate's :func:`quarantine_rows` and the write-audit-publish protocol.

    :raises ContractError: a name in ``rules`` is not a row-level rule of the contract.
    """
    from airflow_dataops.contracts.engines.sql_predicates import row_predicates
    from airflow_dataops.partitions.quarantine import RowRule

    predicates = row_predicates(
        contract,
        schema_object,
        table=table,
        partition_column=partition_column,
        partition_value=partition_value,
        db_schema=db_schema,
        columns={c.name: c.type for c in table.columns},
    )
    unknown = [r for r in rules if r not in predicates]
    if unknown:
        raise ContractError(
            f"rules {unknown} are not row-level rules of contract {contract.id}; row-level rules: "
            f"{', '.join(predicates) or 'none'}",
            file=contract.source,
        )
    return [RowRule(name=n, failing=predicates[n]) for n in rules]


def quarantine_rows(
    engine: Engine,
    *,
    contract: Contract,
    table: str,
    rules: Sequence[str],
    schema_object: str | None = None,
    partition_column: str | None = None,
    partition_value: str | None = None,
    run_id: str | None = None,
    db_schema: str | None = None,
    now: dt.datetime | None = None,
) -> QuarantineResult:
    """Move the rows of ``table`` (one partition if given) that break ``rules`` to ``<table>__quarantine``.

    ONE transaction (:func:`~airflow_dataops.partitions.quarantine.move_failing_rows`): copy the
    failing rows (with partition key, the rules each broke, run id and time) to the quarantine
    table and delete them from ``table``; it commits only if the rows left plus the rows moved
    equal the rows before, else rolls back.

    :raises ContractError: a name in ``rules`` is not a row-level rule of the contract.
    """
    from airflow_dataops.contracts.engines.sql import register_sqlite_regexp
    from airflow_dataops.partitions.quarantine import move_failing_rows
    from airflow_dataops.partitions.tables import reflect_columns

    register_sqlite_regexp(engine)
    target = reflect_columns(engine, table, db_schema)
    failing = row_rules(
        contract,
        rules,
        target,
        schema_object=schema_object,
        db_schema=db_schema,
        partition_column=partition_column,
        partition_value=partition_value,
    )
    return move_failing_rows(
        engine,
        target=target,
        rules=failing,
        partition_column=partition_column,
        partition_value=partition_value,
        run_id=run_id,
        db_schema=db_schema,
        now=now,
        prepare=register_sqlite_regexp,
    )


def _table_types(
    contract: Contract,
    obj: SchemaObject,
    engine: Engine,
    table: str,
    db_schema: str | None,
    partition_column: str | None = None,
) -> dict[str, Any]:
    from airflow_dataops.contracts.engines.sql import table_columns

    return table_columns(
        contract,
        obj,
        engine,
        table,
        db_schema,
        partition_column=partition_column,
        context=f"contract {contract.id} v{contract.version}: ",
    )


def _families(types: Mapping[str, Any]) -> dict[str, str | None]:
    from airflow_dataops.contracts.engines.sql_predicates import sql_type_family

    return {name: sql_type_family(type_) for name, type_ in types.items()}


def _read_table(
    engine: Engine,
    table: str,
    types: Mapping[str, Any],
    db_schema: str | None,
    partition_column: str | None,
    partition_value: str | None,
) -> pd.DataFrame:
    import pandas as pd
    import sqlalchemy as sa

    # the columns and types inspected once already (_table_types): no second reflection
    t = sa.Table(table, sa.MetaData(), *(sa.Column(n, type_) for n, type_ in types.items()), schema=db_schema)
    stmt = sa.select(t)
    if partition_column:
        stmt = stmt.where(t.c[partition_column] == partition_value)
    with engine.connect() as conn:
        return pd.read_sql(stmt, conn)


def _path(obj: SchemaObject, check: Any, column: str) -> str:
    if check.rule is not None and check.rule.path:
        return check.rule.path
    prop = obj.get_property(column)
    return prop.path if prop is not None else obj.path


def _numeric_text(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True
