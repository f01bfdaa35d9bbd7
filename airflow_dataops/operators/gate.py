"""``ContractGateOperator``: check a table, one partition of it, or a DataFrame against its contract.

The stand-alone gate, for data some other task already wrote (the write-audit-publish
operators gate their own staged rows).  One task: evaluate (one aggregate scan with the SQL
engine), decide by mode, move failing rows aside in ``quarantine`` mode, store the report,
summarise it in XCom, fail the task when the verdict is ``failed``::

    ContractGateOperator(
        task_id="gate_flights",
        contract="contracts/flights.odcs.yaml",
        conn_id="warehouse",
        table="flights",
        partition_column="flight_date",
        partition="{{ ds }}",
        mode="quarantine",
    )

A contract that cannot be evaluated on this data (a rule on a missing column, a column whose
type contradicts the contract, an unknown metric, a query that does not run) fails the task
with a :class:`~airflow_dataops.exceptions.ContractError` naming the contract, the rule and
the field, in every mode: the gate fails closed, it never passes what it could not check.

Values of columns the contract classifies as sensitive (``restricted``, ``confidential``,
``pii`` ...) never reach the stored report, the log, XCom or lineage: only counts leave.

:func:`evaluate` and :func:`quarantine_rows` are the library functions under the operator
(the ``airflow dataops contract test`` command uses the first).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_dataops.exceptions import ContractError

if TYPE_CHECKING:
    import pandas as pd
    from airflow.sdk import Context
    from sqlalchemy import Engine

    from airflow_dataops.contracts.model import Contract, SchemaObject
    from airflow_dataops.contracts.report import GateReport

ENGINES = ("auto", "sql", "pandas", "gx")
_NUMERIC = ("integer", "number")
_TIMELIKE = ("timestamp", "date", "string", None)


# ============================================================================ library functions
@dataclass(frozen=True, kw_only=True)
class QuarantineResult:
    """What a stand-alone quarantine moved: ``rows_published + rows_quarantined == rows_in``."""

    table: str
    quarantine_table: str
    rows_in: int
    rows_published: int
    rows_quarantined: int
    rules: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "quarantine_table": self.quarantine_table,
            "rows_in": self.rows_in,
            "rows_published": self.rows_published,
            "rows_quarantined": self.rows_quarantined,
            "rules": list(self.rules),
        }


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
        from airflow_dataops.contracts.engines.pandas import _family

        if partition_column and partition_value is not None:
            if partition_column not in dataframe.columns:
                raise ContractError(
                    f"partition column {partition_column!r} is not a column of the DataFrame "
                    f"(columns: {', '.join(map(str, dataframe.columns))})",
                    file=contract.source,
                    path=obj.path,
                )
            dataframe = dataframe[dataframe[partition_column].astype(str) == str(partition_value)]
        columns = {str(c): _family(dataframe[c]) for c in dataframe.columns}
        where = "the DataFrame"
    else:
        columns = _table_columns(contract, obj, sql_engine, table, db_schema)  # type: ignore[arg-type]
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
            )
        else:
            from airflow_dataops.contracts.engines.pandas import evaluate_dataframe

            frame = dataframe
            if frame is None:
                frame = _read_table(sql_engine, table, db_schema, partition_column, partition_value)  # type: ignore[arg-type]
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

        if not isinstance(e, (sa.exc.SQLAlchemyError, TypeError, ValueError)):
            raise
        sensitive = any(p.is_sensitive for p in obj.properties)
        detail = (
            "details withheld: the contract classifies columns as sensitive" if sensitive else _first_line(e)
        )
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
    or ``None`` when unknown).  Checked: every column a rule needs is present; every declared
    column's type fits its ``logicalType``/``physicalType``; allowed values and missing markers
    have the column's type; a latency/freshness column holds times.
    """
    from airflow_dataops.contracts import rules as R

    head = f"contract {contract.id} v{contract.version}"
    listing = ", ".join(columns) or "none"
    checks = R.plan(contract, obj)
    for check in checks:
        if check.measure.kind == "sql" and engine != "sql":
            continue
        for col in check.measure.columns:
            if col not in columns:
                raise ContractError(
                    f"{head}: rule {check.name!r} needs column {col!r}, which {where} does not have "
                    f"(columns: {listing}); fix the property name (or physicalName) or the data",
                    file=contract.source,
                    path=_path(obj, check, col),
                )
    for prop in obj.properties:
        if prop.column not in columns:
            continue
        actual = columns[prop.column]
        for label, declared in (
            ("logicalType", prop.logical_type),
            ("physicalType", R.physical_family(prop.physical_type)),
        ):
            if declared and not R.compatible(declared, actual):
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

    ONE transaction: copy the failing rows (with partition key, the rules each broke, run id
    and time) to the quarantine table and delete them from ``table``; it commits only if the
    rows left plus the rows moved equal the rows before, else rolls back.
    """
    import sqlalchemy as sa

    from airflow_dataops.contracts.engines.sql import register_sqlite_regexp, row_predicates
    from airflow_dataops.partitions.writer import (
        Q_AT,
        Q_KEY,
        Q_RULES,
        Q_RUN,
        RowRule,
        _ensure_quarantine,
        _rule_names,
    )

    register_sqlite_regexp(engine)
    predicates = row_predicates(contract, schema_object)
    unknown = [r for r in rules if r not in predicates]
    if unknown:
        raise ContractError(
            f"rules {unknown} are not row-level rules of contract {contract.id}; row-level rules: "
            f"{', '.join(predicates) or 'none'}",
            file=contract.source,
        )
    target = sa.Table(table, sa.MetaData(), schema=db_schema, autoload_with=engine)
    row_rules = [RowRule(name=n, failing=predicates[n]) for n in rules]
    quarantine = _ensure_quarantine(engine, target, db_schema=db_schema)
    part = target.c[partition_column] == partition_value if partition_column else sa.true()
    failing = sa.or_(*(r.failing for r in row_rules)) if row_rules else sa.false()
    columns = [c.name for c in target.columns]
    count = sa.select(sa.func.count()).select_from(target)
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            register_sqlite_regexp(conn)
        if conn.dialect.name == "postgresql":  # no writer may slip rows in between count and move
            conn.execute(
                sa.text(
                    f"LOCK TABLE {conn.dialect.identifier_preparer.format_table(target)} IN SHARE ROW EXCLUSIVE MODE"
                )
            )
        rows_in = conn.execute(count.where(part)).scalar_one()
        to_move = conn.execute(count.where(part, failing)).scalar_one()
        source = sa.select(
            *[target.c[n] for n in columns],
            sa.literal(partition_value, sa.String()),
            _rule_names(row_rules),
            sa.literal(run_id, sa.String()),
            sa.literal(now or dt.datetime.now().astimezone(), sa.DateTime(timezone=True)),
        ).where(part, failing)
        conn.execute(quarantine.insert().from_select([*columns, Q_KEY, Q_RULES, Q_RUN, Q_AT], source))
        deleted = conn.execute(target.delete().where(part, failing)).rowcount
        rows_left = conn.execute(count.where(part)).scalar_one()
        if deleted != to_move or rows_left + to_move != rows_in:
            raise RuntimeError(
                f"quarantine of {table!r} would not balance (rows before {rows_in}, moved {to_move}, deleted "
                f"{deleted}, left {rows_left}); rolled back, the table is unchanged"
            )
    return QuarantineResult(
        table=table,
        quarantine_table=quarantine.name,
        rows_in=rows_in,
        rows_published=rows_left,
        rows_quarantined=to_move,
        rules=tuple(rules),
    )


# ============================================================================ the operator
class ContractGateOperator(BaseOperator):
    """Gate a table, one partition of it, or a DataFrame with an ODCS contract.

    :param contract: path of the ODCS contract (templated).
    :param conn_id: Airflow connection of the warehouse (any common-sql ``DbApiHook``).
    :param table: the table to check (templated).
    :param partition_column: the column holding the partition key (templated).
    :param partition: the partition value to check, e.g. ``"{{ ds }}"`` (templated); the whole
        table when not given.
    :param mode: ``fail`` | ``quarantine`` | ``warn`` (default ``[dataops] default_gate_mode``).
    :param engine: ``auto`` (SQL for a table, pandas for a DataFrame) | ``sql`` | ``pandas`` | ``gx``.
    :param schema_object: which schema object of the contract describes the data.
    :param dataset: name in the state store (default: the schema object's name).
    :param db_schema: the warehouse schema of the table.
    :param dataframe_callable: returns the DataFrame to check (called with ``op_kwargs``).
    :param dataframe_task_id: pull the DataFrame from this task's XCom instead.
    :param now: reference time of latency/freshness rules (templated ISO text; default: now).
    """

    template_fields: Sequence[str] = (
        "contract",
        "table",
        "partition",
        "partition_column",
        "db_schema",
        "op_kwargs",
        "now",
    )
    ui_color = "#fde2c8"

    def __init__(
        self,
        *,
        contract: str,
        conn_id: str | None = None,
        table: str | None = None,
        partition_column: str | None = None,
        partition: str | None = None,
        mode: str | None = None,
        engine: str = "auto",
        schema_object: str | None = None,
        dataset: str | None = None,
        db_schema: str | None = None,
        dataframe_callable: Callable[..., Any] | None = None,
        dataframe_task_id: str | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        now: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        from airflow_dataops.config import GATE_MODES

        name = type(self).__name__
        if mode is not None and mode not in GATE_MODES:
            raise ValueError(f"{name}: mode={mode!r}; use one of {', '.join(GATE_MODES)}")
        if engine not in ENGINES:
            raise ValueError(f"{name}: engine={engine!r}; use one of {', '.join(ENGINES)}")
        has_frame = dataframe_callable is not None or dataframe_task_id is not None
        if dataframe_callable is not None and dataframe_task_id is not None:
            raise ValueError(f"{name}: give dataframe_callable or dataframe_task_id, not both")
        if dataframe_callable is not None and not callable(dataframe_callable):
            raise TypeError(f"{name}: dataframe_callable must be callable, got {dataframe_callable!r}")
        if not has_frame and not (conn_id and table):
            raise ValueError(
                f"{name}: give conn_id and table (a table to check) or dataframe_callable / dataframe_task_id"
            )
        if has_frame and engine == "sql":
            raise ValueError(f"{name}: engine='sql' checks a table; for a DataFrame use auto, pandas or gx")
        if has_frame and mode == "quarantine":
            raise ValueError(
                f"{name}: mode='quarantine' moves failing rows of a table; a DataFrame gate can only fail or warn "
                "(use DataFramePartitionOperator to quarantine while writing)"
            )
        if partition is not None and not partition_column:
            raise ValueError(f"{name}: partition= needs partition_column=")
        self.contract = contract
        self.conn_id = conn_id
        self.table = table
        self.partition_column = partition_column
        self.partition = partition
        self.mode = mode
        self.engine = engine
        self.schema_object = schema_object
        self.dataset = dataset
        self.db_schema = db_schema
        self.dataframe_callable = dataframe_callable
        self.dataframe_task_id = dataframe_task_id
        self.op_kwargs = dict(op_kwargs or {})
        self.now = now
        self._lineage: dict[str, Any] = {}

    def _sql_engine(self) -> Engine:
        from airflow_dataops.operators._common import sql_hook

        if not self.conn_id:
            raise ValueError(f"{self.task_id}: checking a table needs conn_id")
        return sql_hook(self.conn_id).get_sqlalchemy_engine()

    def _dataframe(self, context: Context) -> pd.DataFrame | None:
        import pandas as pd

        if self.dataframe_callable is not None:
            frame = self.dataframe_callable(**self.op_kwargs)
            source = "dataframe_callable"
        elif self.dataframe_task_id is not None:
            frame = context["ti"].xcom_pull(task_ids=self.dataframe_task_id)
            source = f"the XCom of task {self.dataframe_task_id!r}"
        else:
            return None
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(
                f"{self.task_id}: {source} must give a pandas DataFrame, got {type(frame).__name__}"
            )
        return frame

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_dataops.config import DataOpsSettings
        from airflow_dataops.contracts import gate
        from airflow_dataops.contracts.loader import load_contract
        from airflow_dataops.contracts.report import Verdict
        from airflow_dataops.operators._common import record_and_enforce
        from airflow_dataops.store import StateStore

        settings = DataOpsSettings.from_airflow()
        mode = self.mode or settings.default_gate_mode
        self._lineage = {"mode": mode, "partition": self.partition}
        contract = load_contract(self.contract)
        obj = contract.schema_object(self.schema_object)
        store = StateStore.from_settings(settings)
        store.ensure_ready()  # fail closed: a result we cannot record is a gate we cannot trust
        frame = self._dataframe(context)
        if frame is not None and mode == "quarantine":
            raise ContractError(
                f"{self.task_id}: gate mode 'quarantine' (from [dataops] default_gate_mode) cannot move rows of "
                "a DataFrame; set mode='fail' or 'warn' on this operator",
                file=contract.source,
            )
        engine = self._sql_engine() if frame is None else None
        now = _parse_now(self.now)
        report = evaluate(
            contract,
            engine=self.engine,
            sql_engine=engine,
            table=self.table,
            dataframe=frame,
            schema_object=self.schema_object,
            partition_column=self.partition_column,
            partition_value=self.partition,
            db_schema=self.db_schema,
            dataset=self.dataset or obj.name,
            now=now,
        )
        verdict = gate.decide(report, mode)
        self._lineage.update(report=report, verdict=verdict.value, contract=contract, obj=obj)
        ti = context["ti"]
        moved: QuarantineResult | None = None
        if verdict is Verdict.QUARANTINED:
            moved = quarantine_rows(
                engine,  # type: ignore[arg-type]
                contract=contract,
                table=self.table,  # type: ignore[arg-type]
                rules=gate.quarantinable(report),
                schema_object=self.schema_object,
                partition_column=self.partition_column,
                partition_value=self.partition,
                run_id=ti.run_id,
                db_schema=self.db_schema,
            )
            self._lineage["quarantine"] = moved
        stored = report.to_dict()
        if moved is not None:
            stored["quarantine"] = moved.to_dict()
        record_and_enforce(
            store,
            report,
            stored,
            verdict=verdict,
            mode=mode,
            ti=ti,
            log=self.log,
            when_failed="The gate failed; the data was left as it is.",
        )
        if moved is not None:
            self.log.warning(
                "moved %d of %d rows to %s (%s); %d rows remain",
                moved.rows_quarantined,
                moved.rows_in,
                moved.quarantine_table,
                ", ".join(moved.rules),
                moved.rows_published,
            )
        for warning in report.warnings:
            self.log.info("contract: %s", warning)
        return summarise(report, verdict=verdict.value, mode=mode, quarantine=moved)

    # ------------------------------------------------------------------ lineage
    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        return self._lineage_or_empty(succeeded=True)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        return self._lineage_or_empty(succeeded=False)

    def _lineage_or_empty(self, *, succeeded: bool) -> Any:
        try:
            return _gate_lineage(self, self._lineage, succeeded=succeeded)
        except Exception:  # lineage never fails a task
            self.log.warning(
                "dataops: could not build OpenLineage facets for %s; lineage skipped",
                self.task_id,
                exc_info=True,
            )
            from airflow.providers.openlineage.extractors.base import OperatorLineage

            return OperatorLineage()


def summarise(
    report: GateReport, *, verdict: str, mode: str, quarantine: QuarantineResult | None = None
) -> dict[str, Any]:
    """The XCom value: the report's summary, the verdict and each failed rule (no data values)."""
    return {
        **report.summary(),
        "verdict": verdict,
        "mode": mode,
        "blocking": [r.name for r in report.blocking],
        "failures": [
            {
                "name": r.name,
                "severity": r.severity.value,
                "expected": r.expected,
                "actual": r.actual,
                "failing_rows": r.failing_rows,
            }
            for r in report.failed
        ],
        "quarantine": quarantine.to_dict() if quarantine is not None else None,
    }


# ============================================================================ internals
def _gate_lineage(operator: ContractGateOperator, state: dict[str, Any], *, succeeded: bool) -> Any:
    from airflow.providers.openlineage.extractors.base import OperatorLineage

    from airflow_dataops.lineage import builders, facets

    report = state.get("report")
    obj = state.get("obj")
    if obj is None:
        from airflow_dataops.contracts.loader import load_contract

        obj = load_contract(operator.contract).schema_object(operator.schema_object)
    sensitive = sensitive_columns(obj)
    run_facets: dict[str, Any] = {}
    if report is not None:
        run_facets[facets.DataOpsGateRunFacet.FACET_KEY] = facets.DataOpsGateRunFacet(
            contractId=report.contract_id,
            contractVersion=report.contract_version,
            mode=state.get("mode", "fail"),
            verdict=state.get("verdict", "failed"),
            rulesTotal=len(report.results),
            rulesFailed=len(report.failed),
            dataset=report.dataset,
            partitionKey=report.partition,
        )
    if not operator.conn_id or not operator.table:
        return OperatorLineage(run_facets=run_facets)
    from airflow.sdk import BaseHook

    from airflow_dataops.lineage.naming import dataset_namespace_and_name

    conn = BaseHook.get_connection(str(operator.conn_id))
    ds = dataset_namespace_and_name(conn, operator.table, schema=operator.db_schema)
    fields = [(p.column, p.physical_type or p.logical_type, p.description) for p in obj.properties]
    dataset_facets = {"schema": builders.schema_facet(fields)} if fields else {}
    input_facets: dict[str, Any] = {}
    if report is not None:
        input_facets["dataQualityAssertions"] = builders.assertions_facet(
            report.results, sensitive_columns=sensitive
        )
        input_facets["dataQualityMetrics"] = builders.metrics_facet(
            report.row_count, sensitive_columns=sensitive
        )
    key = state.get("partition")
    if key and operator.partition_column:
        input_facets[builders.SUBSET_FACET_KEY] = builders.partition_subset(
            operator.partition_column, key, direction="input"
        )
    inputs = [builders.input_dataset(ds.namespace, ds.name, facets=dataset_facets, input_facets=input_facets)]
    outputs = []
    moved = state.get("quarantine")
    if succeeded and moved is not None:
        q = dataset_namespace_and_name(conn, moved.quarantine_table, schema=operator.db_schema)
        outputs.append(
            builders.output_dataset(
                q.namespace,
                q.name,
                output_facets={"outputStatistics": builders.output_statistics(moved.rows_quarantined)},
            )
        )
        outputs.append(
            builders.output_dataset(
                ds.namespace,
                ds.name,
                facets=dataset_facets,
                output_facets={"outputStatistics": builders.output_statistics(moved.rows_published)},
            )
        )
    return OperatorLineage(inputs=inputs, outputs=outputs, run_facets=run_facets)


def _table_columns(
    contract: Contract, obj: SchemaObject, engine: Engine, table: str, db_schema: str | None
) -> dict[str, str | None]:
    import sqlalchemy as sa

    from airflow_dataops.contracts.engines.sql import _family

    try:
        found = sa.inspect(engine).get_columns(table, schema=db_schema)
    except sa.exc.NoSuchTableError as e:
        name = f"{db_schema}.{table}" if db_schema else table
        raise ContractError(
            f"contract {contract.id} v{contract.version}: table {name!r} does not exist; "
            "create it or pass the right table= / db_schema=",
            file=contract.source,
            path=obj.path,
        ) from e
    return {c["name"]: _family(c["type"]) for c in found}


def _read_table(
    engine: Engine,
    table: str,
    db_schema: str | None,
    partition_column: str | None,
    partition_value: str | None,
) -> pd.DataFrame:
    import pandas as pd
    import sqlalchemy as sa

    t = sa.Table(table, sa.MetaData(), schema=db_schema, autoload_with=engine)
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


def _first_line(e: BaseException) -> str:
    text = str(getattr(e, "orig", None) or e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:300]


def _parse_now(value: str | dt.datetime | None) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as e:
        raise ValueError(f"now={value!r} is not an ISO date-time (e.g. 2026-11-21T00:00:00+00:00)") from e


__all__: tuple[str, ...] = (
    "ContractGateOperator",
    "QuarantineResult",
    "check_evaluable",
    "evaluate",
    "quarantine_rows",
    "redact",
    "summarise",
)
