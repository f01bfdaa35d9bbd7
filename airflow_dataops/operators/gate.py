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

:func:`~airflow_dataops.contracts.evaluate.evaluate` and
:func:`~airflow_dataops.contracts.evaluate.quarantine_rows` are the library functions under the
operator; import them from :mod:`airflow_dataops.contracts.evaluate`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_dataops.config import GATE_MODES, GateMode
from airflow_dataops.contracts.evaluate import ENGINES, evaluate, quarantine_rows
from airflow_dataops.exceptions import ContractError

if TYPE_CHECKING:
    import pandas as pd
    from airflow.sdk import Context
    from sqlalchemy import Engine

    from airflow_dataops.contracts.report import GateReport
    from airflow_dataops.partitions.quarantine import QuarantineResult


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
    :param op_kwargs: keyword arguments of ``dataframe_callable`` (templated).
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
        if has_frame and mode == GateMode.QUARANTINE:
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
        from airflow_dataops import warehouse

        if not self.conn_id:
            raise ValueError(f"{self.task_id}: checking a table needs conn_id")
        return warehouse.engine(self.conn_id, probe=True)

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
        from airflow_dataops.store import StateStore
        from airflow_dataops.wap.audit import record_and_enforce

        settings = DataOpsSettings.from_airflow()
        mode = self.mode or settings.default_gate_mode
        self._lineage = {"mode": mode, "partition": self.partition}
        contract = load_contract(self.contract)
        obj = contract.schema_object(self.schema_object)
        store = StateStore.from_settings(settings)
        store.ensure_ready()  # fail closed: a result we cannot record is a gate we cannot trust
        frame = self._dataframe(context)
        if frame is not None and mode == GateMode.QUARANTINE:
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
        from airflow_dataops.lineage.operator import lineage_for_gate

        return lineage_for_gate(self, self._lineage, succeeded=True)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        from airflow_dataops.lineage.operator import lineage_for_gate

        return lineage_for_gate(self, self._lineage, succeeded=False)


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
    "summarise",
)
