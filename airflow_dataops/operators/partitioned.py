"""Write-audit-publish operators: stage → gate → replace one partition → ledger → SLIs.

``PartitionedSQLOperator`` stages the rows a SQL query returns; ``DataFramePartitionOperator``
(and the ``@partitioned_task`` decorator) stages the DataFrame a Python callable returns.
Both then share one path, :class:`airflow_dataops.wap.protocol.PartitionWrite`: the contract is
checked on the staged rows where they live, the partition is replaced in one target
transaction, and the ledger records it.  The operators are its Airflow shell: the task's
context in (partition key, task instance, triggering asset events), the summary out as XCom,
the partition key on the outlet asset events, and lineage from what the protocol traced.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context
    from sqlalchemy import Engine, Table

    from airflow_dataops.contracts.model import Contract
    from airflow_dataops.wap.target import Attempt, PartitionTarget


class PartitionWriteOperator(BaseOperator):
    """Base of the write-audit-publish operators; subclasses implement :meth:`stage`.

    On ``execute`` it resolves the partition key, claims the partition in the ledger, stages the
    rows in the warehouse, runs the contract's gate on the staged rows, replaces the partition in
    one transaction and commits it through the ledger's fence (only while its claim still holds
    the partition; the apply is recorded under the same lock), records the SLIs, adds the
    partition key to the outlet asset events and emits lineage.  It returns (XCom) a summary:
    dataset, partition key, action, state, rows in / published / quarantined, checksum, gate
    summary, SLIs.

    Failures: a failed gate in ``fail`` mode raises ``ContractViolation`` (nothing published, the
    partition unchanged); an already-applied partition raises ``PartitionAlreadyApplied``, or
    skips the task under ``on_already_applied="skip"``; the message names the rerun command.  An
    attempt taken over while it ran (its lease expired) raises ``StaleClaim`` at its fence: its
    write is rolled back and the attempt that took over stands (docs/architecture.md, "Ledger
    protocol and fencing").  A store whose schema is newer than the installed airflow-dataops
    raises ``StoreVersionError`` before anything is written (a retry cannot help: upgrade).

    :param conn_id: Airflow connection of the warehouse (any common-sql ``DbApiHook``).
    :param table: target table.
    :param partition_column: the column holding the partition key in the target.
    :param contract: path of the ODCS contract the rows must meet (optional, but then nothing is gated).
    :param dataset: dataset name in the ledger and SLOs (default: the contract's schema object, else the table).
    :param schema_object: which schema object of the contract describes the table.
    :param mode: gate mode ``fail`` | ``quarantine`` | ``warn`` (default ``[dataops] default_gate_mode``).
    :param partition_key: explicit key (templated); default the run's ``partition_key``, else its logical date.
    :param on_already_applied: ``skip`` or ``fail`` when the partition is applied and no rerun was requested.
    :param lease: how long this attempt's claim keeps other runs off the partition (default 2 h,
        measured on the store's clock).
    :param db_schema: the warehouse schema of the table, where the database has schemas; recorded
        with the dataset, so ``partitions verify`` reads the same schema.
    :param inputs: upstream datasets this task reads, recorded with each apply so the ledger knows
        what the partition was built from (and when it goes stale): dataset names (same partition
        key), ``(dataset, key)`` pairs or ``{dataset: key or [keys]}``; keys are templated.  Inputs
        from the run's triggering asset events (and, for SQL, the query's tables) are recorded too.
    """

    template_fields: Sequence[str] = ("partition_key", "table", "contract", "inputs")
    ui_color = "#d9f2e6"

    def __init__(
        self,
        *,
        conn_id: str,
        table: str,
        partition_column: str,
        contract: str | None = None,
        dataset: str | None = None,
        schema_object: str | None = None,
        mode: str | None = None,
        partition_key: str | None = None,
        on_already_applied: str | None = None,
        lease: timedelta = timedelta(hours=2),
        db_schema: str | None = None,
        inputs: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        from airflow_dataops.config import GATE_MODES, ON_ALREADY_APPLIED
        from airflow_dataops.partitions.inputs import normalize_declared

        if mode is not None and mode not in GATE_MODES:
            raise ValueError(f"{type(self).__name__}: mode={mode!r}; use one of {', '.join(GATE_MODES)}")
        if on_already_applied is not None and on_already_applied not in ON_ALREADY_APPLIED:
            raise ValueError(
                f"{type(self).__name__}: on_already_applied={on_already_applied!r}; "
                f"use one of {', '.join(ON_ALREADY_APPLIED)}"
            )
        self.conn_id = conn_id
        self.table = table
        self.partition_column = partition_column
        self.contract = contract
        self.dataset = dataset
        self.schema_object = schema_object
        self.mode = mode
        self.partition_key = partition_key
        self.on_already_applied = on_already_applied
        self.lease = lease
        self.db_schema = db_schema
        self.inputs = normalize_declared(inputs, owner=f"{type(self).__name__} {self.task_id!r}")
        self._lineage: dict[str, Any] = {}

    # ------------------------------------------------------------------ to override
    def stage(self, context: Context, engine: Engine, partition_key: str) -> Table:
        """Put this partition's rows into a staging table in the warehouse and return it."""
        raise NotImplementedError

    def read_tables(self, dialect: str | None) -> list[tuple[str | None, str]]:
        """``(schema, table)`` of the warehouse tables this task reads (SQL operators parse their query)."""
        return []

    # ------------------------------------------------------------------ the pipeline
    def execute(self, context: Context) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowSkipException

        from airflow_dataops import warehouse
        from airflow_dataops.config import DataOpsSettings
        from airflow_dataops.contracts.loader import load_contract
        from airflow_dataops.exceptions import PartitionAlreadyApplied
        from airflow_dataops.partitions.keys import resolve_partition_key
        from airflow_dataops.store import StateStore
        from airflow_dataops.wap.protocol import PartitionWrite

        # Fresh per run: an operator object outlives one run in dag.test() and in-process executors,
        # and lineage must never describe the previous run.
        ti = context.get("ti")
        self._lineage = {"run_id": getattr(ti, "run_id", None), "attempt": getattr(ti, "try_number", None)}
        settings = DataOpsSettings.from_airflow()
        contract = load_contract(self.contract) if self.contract else None
        target = self._target(contract)
        key = resolve_partition_key(context, self.partition_key)
        write = PartitionWrite(
            target,
            attempt=self._attempt(context["ti"]),
            store=StateStore.from_settings(settings),
            mode=self.mode or settings.default_gate_mode,
            lease=self.lease,
            settings=settings,
            log=self.log,
        )
        self._lineage = write.trace

        def stage(engine: Engine, partition_key: str, claim_id: int) -> Table:
            self._claim_id = claim_id  # stage apart from any other attempt at this partition
            return self.stage(context, engine, partition_key)

        try:
            summary = write.run(
                key,
                stage=stage,
                warehouse=lambda: warehouse.engine(self.conn_id, probe=True),
                events=context.get("triggering_asset_events"),
                read_tables=self.read_tables,
            )
        except PartitionAlreadyApplied as e:
            if (self.on_already_applied or settings.on_already_applied) == "skip":
                self.log.warning("%s", e)
                raise AirflowSkipException(str(e)) from e
            raise
        self._emit_partition_event(context, key)
        return summary

    def _target(self, contract: Contract | None) -> PartitionTarget:
        from airflow_dataops.wap.target import PartitionTarget

        return PartitionTarget(
            table=self.table,
            partition_column=self.partition_column,
            contract=contract,
            contract_path=str(self.contract) if self.contract else None,
            schema_object=self.schema_object,
            dataset=self.dataset,
            db_schema=self.db_schema,
            conn_id=self.conn_id,
            inputs=self.inputs,
            owner=self.owner,
            dag_id=self.dag_id,
            task_id=self.task_id,
        )

    @staticmethod
    def _attempt(ti: Any) -> Attempt:
        """The task instance as the ledger's claim names it."""
        from airflow_dataops.wap.target import Attempt

        return Attempt(
            dag_id=ti.dag_id,
            task_id=ti.task_id,
            run_id=ti.run_id,
            attempt=ti.try_number,
            dag_version=str(getattr(ti, "dag_version_id", "") or "") or None,
        )

    def _emit_partition_event(self, context: Context, key: str) -> None:
        """Outlet asset events carry the partition key, so partitioned downstream DAGs can map it."""
        outlet_events = context.get("outlet_events")
        if not outlet_events:
            return
        for outlet in self.outlets or ():
            try:
                outlet_events[outlet].add_partitions(key)
            except (TypeError, KeyError):  # an alias, or not an asset: nothing to attach a key to
                continue

    # ------------------------------------------------------------------ lineage
    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        from airflow_dataops.lineage.operator import lineage_for_partition_write

        return lineage_for_partition_write(self, self._lineage, succeeded=True)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        from airflow_dataops.lineage.operator import lineage_for_partition_write

        return lineage_for_partition_write(self, self._lineage, succeeded=False)


class PartitionedSQLOperator(PartitionWriteOperator):
    """Write-audit-publish the rows a SQL ``SELECT`` returns for one partition.

    The query runs in the warehouse (``CREATE TABLE <stage> AS <sql>``); bind the partition
    as ``:partition_key``, never by string formatting::

        PartitionedSQLOperator(
            task_id="daily_revenue",
            conn_id="warehouse",
            sql="SELECT order_date AS day, SUM(amount) AS revenue FROM orders "
            "WHERE order_date = :partition_key GROUP BY order_date",
            table="daily_revenue",
            partition_column="day",
            contract="contracts/daily_revenue.odcs.yaml",
        )

    :param sql: the ``SELECT`` (templated; a ``.sql`` file is read as a template).
    :param parameters: more bound parameters, by name.
    """

    template_fields: Sequence[str] = (*PartitionWriteOperator.template_fields, "sql")
    template_ext: Sequence[str] = (".sql",)

    def __init__(self, *, sql: str, parameters: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sql = sql
        self.parameters = dict(parameters or {})

    def read_tables(self, dialect: str | None) -> list[tuple[str | None, str]]:
        from airflow_dataops.partitions.inputs import sql_tables

        return sql_tables(self.sql, dialect)

    def stage(self, context: Context, engine: Engine, partition_key: str) -> Table:
        from airflow_dataops.wap.staging import stage_query

        return stage_query(
            engine,
            self.sql,
            table=self.table,
            partition_key=partition_key,
            claim_id=getattr(self, "_claim_id", None),
            db_schema=self.db_schema,
            parameters=self.parameters,
        )


class DataFramePartitionOperator(PartitionWriteOperator):
    """Write-audit-publish the pandas DataFrame a Python callable returns for one partition.

    The callable gets ``partition_key`` (and any ``op_kwargs``) and returns the partition's rows;
    the partition column is filled with the key if the frame does not have it, and a frame that
    holds another key is refused.

    :param python_callable: ``python_callable(partition_key=…, **op_kwargs)`` returns a pandas DataFrame.
    :param op_kwargs: more keyword arguments of the callable (templated).
    """

    template_fields: Sequence[str] = (*PartitionWriteOperator.template_fields, "op_kwargs")

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not callable(python_callable):
            raise TypeError(f"python_callable must be callable, got {python_callable!r}")
        self.python_callable = python_callable
        self.op_kwargs = dict(op_kwargs or {})

    def stage(self, context: Context, engine: Engine, partition_key: str) -> Table:
        from airflow_dataops.wap.staging import stage_dataframe

        return stage_dataframe(
            engine,
            self.python_callable(partition_key=partition_key, **self.op_kwargs),
            table=self.table,
            partition_column=self.partition_column,
            partition_key=partition_key,
            owner=self.task_id,
            claim_id=getattr(self, "_claim_id", None),
            db_schema=self.db_schema,
        )


def partitioned_task(
    python_callable: Callable[..., Any] | None = None,
    **kwargs: Any,
) -> Any:
    """Decorator: turn a function returning a DataFrame into a ``DataFramePartitionOperator``.

    ``@partitioned_task(**operator_kwargs)`` makes the function a factory of the operator, with the
    function's name as ``task_id``; calling it in a DAG creates the task (keyword arguments given
    to the call override the decorator's).  ``@task.partitioned`` is the TaskFlow form.

    Example::

        @partitioned_task(conn_id="warehouse", table="flights", partition_column="flight_date",
                          contract="contracts/flights.odcs.yaml", mode="quarantine")
        def flights(partition_key: str) -> pd.DataFrame:
            ...

        flights()  # in a DAG: a task with task_id "flights"
    """

    def wrap(fn: Callable[..., Any]) -> Callable[..., DataFramePartitionOperator]:
        def factory(**overrides: Any) -> DataFramePartitionOperator:
            params = {"task_id": fn.__name__, **kwargs, **overrides}
            return DataFramePartitionOperator(python_callable=fn, **params)

        factory.__name__ = fn.__name__
        factory.__doc__ = fn.__doc__
        return factory

    return wrap(python_callable) if python_callable is not None else wrap


__all__ = (
    "DataFramePartitionOperator",
    "PartitionWriteOperator",
    "PartitionedSQLOperator",
    "partitioned_task",
)
