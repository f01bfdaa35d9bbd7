"""Write-audit-publish operators: stage → gate → replace one partition → ledger → SLIs.

``PartitionedSQLOperator`` stages the rows a SQL query returns; ``DataFramePartitionOperator``
(and the ``@partitioned_task`` decorator) stages the DataFrame a Python callable returns.
Both then share one path: the contract is checked on the staged rows where they live,
the partition is replaced in one target transaction, and the ledger records it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context
    from sqlalchemy import Engine, Table

    from airflow_dataops.contracts.model import Contract
    from airflow_dataops.contracts.report import GateReport
    from airflow_dataops.store.ledger import Claim


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
        from airflow_dataops import warehouse
        from airflow_dataops.config import DataOpsSettings
        from airflow_dataops.contracts.loader import load_contract
        from airflow_dataops.partitions.keys import resolve_partition_key
        from airflow_dataops.partitions.ledger import PartitionLedger
        from airflow_dataops.store import StateStore

        # Fresh per run: an operator object outlives one run in dag.test() and in-process executors,
        # and lineage must never describe the previous run.
        ti = context.get("ti")
        self._lineage = {"run_id": getattr(ti, "run_id", None), "attempt": getattr(ti, "try_number", None)}
        settings = DataOpsSettings.from_airflow()
        mode = self.mode or settings.default_gate_mode
        contract = load_contract(self.contract) if self.contract else None
        dataset = self._dataset_name(contract)
        key = resolve_partition_key(context, self.partition_key)
        store = StateStore.from_settings(settings)
        store.ensure_ready()  # fail closed: no ledger, no publish
        self._register(store, dataset, contract, context)
        ledger = PartitionLedger(store, dataset, lease=self.lease)
        ti = context["ti"]
        claim = self._claim(ledger, key, context, contract, settings.on_already_applied)
        started = time.monotonic()
        engine = warehouse.engine(self.conn_id, probe=True)
        self._claim_id = claim.apply_id  # stage apart from any other attempt at this partition
        if claim.took_over_from is not None:
            self._drop_stage_of(engine, key, claim.took_over_from.id)
        stage = None
        try:
            # read the inputs' apply ids before the data: an upstream replaced meanwhile shows stale
            self._inputs = self._resolve_inputs(context, store, dataset, key, engine.dialect.name)
            stage = self.stage(context, engine, key)
            report = self._gate(engine, stage, contract, dataset, key) if contract else None
            return self._publish(
                context, store, ledger, claim, engine, stage, contract, report, mode, started
            )
        except BaseException as e:
            if self._lineage.get("ledger", {}).get("apply_id") != claim.apply_id:
                # Only an apply the ledger has not recorded as done failed; after finish() the
                # partition is published and recorded, and a later error (SLIs, events) must not
                # mark it failed (its retry would needlessly apply it again).
                ledger.fail(
                    claim, error=f"{type(e).__name__}: {e}", gate_verdict=self._lineage.get("verdict")
                )
                self._lineage["ledger"] = {"decision": "failed", "partition": key, "error": str(e)[:500]}
            raise
        finally:
            if stage is not None:
                from airflow_dataops.partitions.writer import drop_stage

                try:
                    drop_stage(engine, stage)
                except Exception:  # a leftover stage table is harmless; the attempt taking over drops it
                    self.log.warning("could not drop staging table %s", stage.name, exc_info=True)
            self.log.debug("ti %s done", ti)

    def _resolve_inputs(
        self, context: Context, store: Any, dataset: str, key: str, dialect: str
    ) -> list[Any]:
        """The upstream partitions this apply reads (``inputs=``, events, the SQL's tables) and their apply ids."""
        from airflow_dataops.partitions.inputs import inputs_for_apply

        try:
            tables = self.read_tables(dialect)
        except Exception as e:  # an unparsable query still runs; it just records no SQL inputs
            self.log.warning(
                "dataops: could not read the tables of the query (%s); no SQL inputs recorded", e
            )
            tables = []
        self._lineage["tables_read"] = tables
        return inputs_for_apply(
            store,
            dataset=dataset,
            partition_key=key,
            declared=self.inputs,
            events=context.get("triggering_asset_events"),
            tables=tables,
            conn_id=self.conn_id,
            db_schema=self.db_schema,
            log=self.log,
        )

    def _drop_stage_of(self, engine: Engine, key: str, claim_id: int) -> None:
        """Drop the staging table of the attempt this one took over (killed, or stale and doomed)."""
        from airflow_dataops.partitions.writer import drop_stage, stage_table_name

        name = stage_table_name(self.table, key, claim_id)
        try:
            drop_stage(engine, name, self.db_schema)
        except Exception:
            self.log.warning("could not drop staging table %s", name, exc_info=True)

    def _dataset_name(self, contract: Contract | None) -> str:
        if self.dataset:
            return self.dataset
        if contract is not None:
            return contract.schema_object(self.schema_object).name
        return self.table

    def _register(self, store: Any, dataset: str, contract: Contract | None, context: Context) -> None:
        from airflow_dataops.store.records import upsert_dataset

        upsert_dataset(
            store,
            dataset,
            contract_id=contract.id if contract else None,
            contract_version=contract.version if contract else None,
            contract_path=str(self.contract) if self.contract else None,
            owner=self.owner,
            description=(contract.schema_object(self.schema_object).description if contract else None),
            dag_id=self.dag_id,
            task_id=self.task_id,
            conn_id=self.conn_id,
            target_table=self.table,
            partition_column=self.partition_column,
            slo=(contract.dataops.get("slo") if contract else None),
            db_schema=self.db_schema,  # where `partitions verify` reads the table
        )

    def _claim(
        self, ledger: Any, key: str, context: Context, contract: Contract | None, default_policy: str
    ) -> Claim:
        from airflow.sdk.exceptions import AirflowSkipException

        from airflow_dataops.exceptions import PartitionAlreadyApplied

        ti = context["ti"]
        try:
            claim = ledger.begin(
                key,
                dag_id=ti.dag_id,
                task_id=ti.task_id,
                run_id=ti.run_id,
                attempt=ti.try_number,
                dag_version=str(getattr(ti, "dag_version_id", "") or "") or None,
                contract_version=contract.version if contract else None,
            )
        except PartitionAlreadyApplied as e:
            self._lineage["ledger"] = {"decision": "refused", "partition": key, "reason": str(e)}
            if (self.on_already_applied or default_policy) == "skip":
                self.log.warning("%s", e)
                raise AirflowSkipException(str(e)) from e
            raise
        if claim.action == "rerun":
            self.log.info("rerun of partition %r requested by %s: %s", key, claim.requested_by, claim.reason)
        elif claim.action == "stale":
            self.log.info("partition %r is replaced because it is %s", key, claim.reason)
        if claim.took_over_from is not None:
            self.log.warning("%s", claim.took_over_from.error or "took over an unfinished attempt")
        return claim

    def _gate(self, engine: Engine, stage: Table, contract: Contract, dataset: str, key: str) -> GateReport:
        from dataclasses import replace

        from airflow_dataops.contracts.engines.sql import evaluate_sql

        report = evaluate_sql(
            contract,
            engine_or_connection=engine,
            table=stage.name,
            schema_object=self.schema_object,
            db_schema=self.db_schema,
            columns={c.name: c.type for c in stage.columns},  # staged just now: no need to inspect it
        )
        return replace(report, dataset=dataset, partition=key)

    def _publish(
        self,
        context: Context,
        store: Any,
        ledger: Any,
        claim: Claim,
        engine: Engine,
        stage: Table,
        contract: Contract | None,
        report: GateReport | None,
        mode: str,
        started: float,
    ) -> dict[str, Any]:
        from airflow_dataops.contracts import gate
        from airflow_dataops.contracts.report import Verdict
        from airflow_dataops.operators._common import record_and_enforce
        from airflow_dataops.partitions.versions import version_to_keep
        from airflow_dataops.partitions.writer import RowRule, ensure_target, publish

        ti = context["ti"]
        key = claim.partition_key
        verdict = gate.decide(report, mode) if report is not None else Verdict.PASSED
        self._lineage.update(report=report, verdict=verdict.value, mode=mode, partition=key)
        rules: list[RowRule] = []
        if report is not None:
            record_and_enforce(
                store,
                report,
                report.to_dict(),
                verdict=verdict,
                mode=mode,
                ti=ti,
                log=self.log,
                when_failed="Nothing was published; the partition is unchanged.",
            )
            if verdict is Verdict.QUARANTINED:
                from airflow_dataops.contracts.engines.sql_predicates import row_predicates

                predicates = row_predicates(
                    contract,  # type: ignore[arg-type]
                    self.schema_object,
                    table=stage,
                    db_schema=self.db_schema,
                    columns={c.name: c.type for c in stage.columns},
                )
                rules = [RowRule(name=n, failing=predicates[n]) for n in gate.quarantinable(report)]
        target = ensure_target(engine, stage, table=self.table, db_schema=self.db_schema)
        # The ledger's fence commits the target only while this claim still holds the partition,
        # and records the apply in the same store transaction (a taken-over attempt rolls back).
        result = publish(
            engine,
            stage=stage,
            target=target,
            partition_column=self.partition_column,
            partition_key=key,
            quarantine_rules=rules,
            run_id=ti.run_id,
            db_schema=self.db_schema,
            fence=ledger.fence(
                claim,
                gate_verdict=verdict.value,
                contract_version=contract.version if contract else None,
                inputs=getattr(self, "_inputs", ()),
            ),
            keep=version_to_keep(claim),  # the replaced version, for `partitions rollback`
        )
        state = "quarantined" if result.rows_quarantined else "applied"
        self._lineage["ledger"] = {
            "decision": claim.action if claim.action in ("rerun", "stale") else "applied",
            "partition": key,
            "reason": claim.reason,
            "result": result,
            "apply_id": claim.apply_id,
            "previous": claim.previous,  # the version replaced (kept, if result.kept)
        }
        slis = self._record_slis(
            context, store, engine, target, contract, report, ledger.dataset, key, started, result
        )
        self._emit_partition_event(context, key)
        self._ask_for_slo_recheck(store, ledger.dataset, key, claim, context)
        summary = {
            "dataset": ledger.dataset,
            "partition_key": key,
            "action": claim.action,
            "state": state,
            "rows_in": result.rows_in,
            "rows_published": result.rows_published,
            "rows_quarantined": result.rows_quarantined,
            "checksum": result.checksum,
            "gate": report.summary() | {"verdict": verdict.value, "mode": mode}
            if report is not None
            else None,
            "slis": slis,
        }
        self.log.info(
            "published partition %r of %s: %d rows (%d quarantined), gate %s",
            key,
            ledger.dataset,
            result.rows_published,
            result.rows_quarantined,
            verdict.value,
        )
        return summary

    def _record_slis(
        self,
        context: Context,
        store: Any,
        engine: Engine,
        target: Table,
        contract: Contract | None,
        report: GateReport | None,
        dataset: str,
        key: str,
        started: float,
        result: Any,
    ) -> dict[str, Any]:
        from airflow_dataops.slo.evaluator import current_lag
        from airflow_dataops.slo.publish_slis import slis_for_publish
        from airflow_dataops.store.records import record_slis

        ti = context["ti"]
        now = datetime.now(timezone.utc)
        records = slis_for_publish(
            engine=engine,
            target=target,
            partition_column=self.partition_column,
            partition_key=key,
            contract=contract,
            schema_object=self.schema_object,
            report=report,
            dataset=dataset,
            seconds=time.monotonic() - started,
            rows_published=result.rows_published,
            dag_id=ti.dag_id,
            task_id=ti.task_id,
            run_id=ti.run_id,
            now=now,
            lag_before=current_lag(store, dataset, now=now),
        )
        record_slis(store, records)
        return {r.kind: {"value": r.value, "unit": r.unit, "good": r.good} for r in records}

    def _ask_for_slo_recheck(
        self, store: Any, dataset: str, key: str, claim: Claim, context: Context
    ) -> None:
        """A rerun, or any publish while a breach is open, may be the fix: ask the evaluator DAG to
        re-check the dataset's SLOs now rather than on its next scheduled run (slo/recheck.py)."""
        from airflow_dataops.slo.recheck import ask_for_recheck, has_open_breach

        try:
            why = "rerun applied" if claim.action == "rerun" else None
            if why is None and has_open_breach(store, dataset):
                why = "published while a breach is open"
        except Exception:  # the time schedule still evaluates; a publish never fails on this
            self.log.warning("could not read open breaches of %s", dataset, exc_info=True)
            return
        if why:
            ti = context["ti"]
            ask_for_recheck(
                store,
                dataset,
                reason=f"partition {key!r} {why} ({ti.dag_id}/{ti.run_id})",
                requested_by=f"{ti.dag_id}.{ti.task_id}",
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
        from sqlalchemy import text

        from airflow_dataops.partitions.writer import stage_table_name

        name = stage_table_name(self.table, partition_key, getattr(self, "_claim_id", None))
        preparer = engine.dialect.identifier_preparer
        qualified = (
            preparer.quote(name)
            if not self.db_schema
            else f"{preparer.quote_schema(self.db_schema)}.{preparer.quote(name)}"
        )
        body = self.sql.strip().rstrip(";")
        params = {"partition_key": partition_key, **self.parameters}
        stmt = text(f"CREATE TABLE {qualified} AS {body}")
        used = {k: v for k, v in params.items() if f":{k}" in body}
        with engine.begin() as conn:
            conn.execute(text(f"DROP TABLE IF EXISTS {qualified}"))
            conn.execute(stmt, used)
        from airflow_dataops.partitions.writer import reflect_columns

        return reflect_columns(engine, name, self.db_schema)


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
        import pandas as pd

        from airflow_dataops.partitions.writer import stage_frame

        frame = self.python_callable(partition_key=partition_key, **self.op_kwargs)
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(
                f"{self.task_id}: the callable must return a pandas DataFrame for partition {partition_key!r}, "
                f"got {type(frame).__name__}"
            )
        if self.partition_column not in frame.columns:
            frame = frame.assign(**{self.partition_column: partition_key})
        else:
            wrong = frame[self.partition_column].astype(str) != partition_key
            if wrong.any():
                sample = frame.loc[wrong, self.partition_column].astype(str).unique()[:3].tolist()
                raise ValueError(
                    f"{self.task_id}: {int(wrong.sum())} rows have {self.partition_column} other than the partition "
                    f"key {partition_key!r} (e.g. {sample}); a partition write may only hold its own key"
                )
        return stage_frame(
            engine,
            frame,
            table=self.table,
            partition_key=partition_key,
            db_schema=self.db_schema,
            claim_id=getattr(self, "_claim_id", None),
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
