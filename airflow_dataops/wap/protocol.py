"""The write-audit-publish protocol for one partition, as a plain class: no Airflow in it.

::

    claim    the ledger grants this attempt the partition, or refuses it (already applied,
             being applied); a take-over drops the staging table of the attempt it replaces
    inputs   the upstream partitions this apply reads, with their apply ids, read before the data
    stage    the rows go to a staging table named after the claim (``wap.staging``)
    audit    the contract's gate on the staged rows; the report and verdict are recorded, and a
             failed gate ends here: nothing published, the partition unchanged (``wap.audit``)
    publish  the partition is replaced in one warehouse transaction that only the ledger's fence
             commits, while this claim still holds the partition (docs/architecture.md,
             "Ledger protocol and fencing"); the replaced version is kept for rollback
    after    the publish's SLIs; an SLO re-check asked for after a rerun or during an open breach

An attempt that fails before the ledger recorded its apply is recorded failed; one that fails
after (its SLIs, say) is not, so its retry is refused rather than applied twice.

Why one module of ~420 lines: the steps are one class, in the order they run, so the ordering
rules above (inputs before data, audit before publish, fail only what the ledger has not
recorded) can be checked in one read; the values it takes are ``wap.target``'s, the staging
and audit helpers ``wap.staging``'s and ``wap.audit``'s.

``operators/partitioned.py`` turns an Airflow context into a :class:`PartitionWrite` (of a
``wap.target.PartitionTarget`` by a ``wap.target.Attempt``) and one :meth:`PartitionWrite.run`;
tests drive the same call on a store and a warehouse engine::

    write = PartitionWrite(
        PartitionTarget(table="flights", partition_column="flight_date", contract=contract),
        attempt=Attempt(dag_id="nightly", task_id="load", run_id="manual__1"),
        store=store,
        mode="quarantine",
    )
    summary = write.run("2026-11-01", stage=stager, warehouse=engine)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_dataops.clock import utcnow
from airflow_dataops.store.states import published_state

if TYPE_CHECKING:
    from sqlalchemy import Engine, Table

    from airflow_dataops.config import DataOpsSettings
    from airflow_dataops.contracts.report import GateReport
    from airflow_dataops.partitions.ledger import PartitionLedger
    from airflow_dataops.partitions.writer import PublishResult
    from airflow_dataops.store import StateStore
    from airflow_dataops.store.ledger import Claim
    from airflow_dataops.wap.target import Attempt, PartitionTarget

__all__ = ["PartitionWrite", "Stager"]

#: ``stager(engine, partition_key, claim_id)`` stages the partition's rows and returns the table.
Stager = Callable[["Engine", str, int], "Table"]

_log = logging.getLogger(__name__)


class PartitionWrite:
    """One write-audit-publish of one partition of ``target`` by ``attempt``.

    :param store: the state store (ledger, results, SLIs); made ready (migrated) before anything is
        written, and a store that cannot be is an error: no ledger, no publish.
    :param mode: gate mode ``fail`` | ``quarantine`` | ``warn``.
    :param lease: how long the claim keeps other attempts off the partition (the store's clock).
    :param settings: ``[dataops]`` settings (how many replaced versions to keep); default the defaults.
    :param log: where the steps are logged (a task's logger).

    :attr trace: what the steps learned (report, verdict, ledger decision, publish result, tables
        read), filled as they go, also when one fails: the operators' lineage reads it.
    """

    def __init__(
        self,
        target: PartitionTarget,
        *,
        attempt: Attempt,
        store: StateStore,
        mode: str = "fail",
        lease: timedelta = timedelta(hours=2),
        settings: DataOpsSettings | None = None,
        log: logging.Logger | Any = None,
    ) -> None:
        from airflow_dataops.config import GATE_MODES, DataOpsSettings

        if mode not in GATE_MODES:
            raise ValueError(f"PartitionWrite: mode={mode!r}; use one of {', '.join(GATE_MODES)}")
        self.target = target
        self.attempt = attempt
        self.store = store
        self.mode = mode
        self.lease = lease
        self.settings = settings or DataOpsSettings()
        self.log = log or _log
        self.trace: dict[str, Any] = {"run_id": attempt.run_id, "attempt": attempt.attempt}

    # ------------------------------------------------------------------ the protocol
    def run(
        self,
        partition_key: str,
        *,
        stage: Stager,
        warehouse: Engine | Callable[[], Engine],
        events: Any = None,
        read_tables: Callable[[str], Sequence[tuple[str | None, str]]] | None = None,
    ) -> dict[str, Any]:
        """Claim, stage, audit and publish ``partition_key``; return the summary of the write.

        :param stage: stages the rows (see :data:`Stager`), e.g. with ``wap.staging``.
        :param warehouse: the warehouse engine, or a function returning it (called once the
            partition is claimed).
        :param events: the asset events that triggered the run (their partitions are inputs).
        :param read_tables: ``read_tables(dialect)``: the warehouse tables the rows are read from.
        :returns: dataset, partition key, action, state, rows in / published / quarantined,
            checksum, gate summary, SLIs.
        :raises PartitionAlreadyApplied: applied before, and no rerun was requested.
        :raises PartitionInProgress: another attempt holds a live claim.
        :raises ContractViolation: the gate failed (nothing published).
        :raises StaleClaim: this attempt was taken over while it ran; its write was rolled back.
        """
        from airflow_dataops.partitions.ledger import PartitionLedger

        self.store.ensure_ready()  # fail closed: no ledger, no publish
        self._register()
        ledger = PartitionLedger(self.store, self.target.name, lease=self.lease)
        claim = self._claim(ledger, partition_key)
        started = time.monotonic()
        engine = warehouse() if callable(warehouse) else warehouse
        key = claim.partition_key
        if claim.took_over_from is not None:
            self._drop_stage(engine, self._stage_name(key, claim.took_over_from.id))
        staged = None
        try:
            # read the inputs' apply ids before the data: an upstream replaced meanwhile shows stale
            inputs = self._inputs(key, engine.dialect.name, events, read_tables)
            staged = stage(engine, key, claim.apply_id)
            report = self._audit(engine, staged, key)
            return self._publish(ledger, claim, engine, staged, report, inputs, started)
        except BaseException as e:
            if self.trace.get("ledger", {}).get("apply_id") != claim.apply_id:
                # Only an apply the ledger has not recorded as done failed; after the fence the
                # partition is published and recorded, and a later error (SLIs) must not mark it
                # failed (its retry would needlessly apply it again).
                ledger.fail(claim, error=f"{type(e).__name__}: {e}", gate_verdict=self.trace.get("verdict"))
                self.trace["ledger"] = {"decision": "failed", "partition": key, "error": str(e)[:500]}
            raise
        finally:
            if staged is not None:
                self._drop_stage(engine, staged)

    # ------------------------------------------------------------------ the steps
    def _register(self) -> None:
        from airflow_dataops.store.records import upsert_dataset

        t, contract = self.target, self.target.contract
        upsert_dataset(
            self.store,
            t.name,
            contract_id=contract.id if contract else None,
            contract_version=contract.version if contract else None,
            contract_path=t.contract_path,
            owner=t.owner,
            description=(contract.schema_object(t.schema_object).description if contract else None),
            dag_id=t.dag_id,
            task_id=t.task_id,
            conn_id=t.conn_id,
            target_table=t.table,
            partition_column=t.partition_column,
            slo=(contract.dataops.get("slo") if contract else None),
            db_schema=t.db_schema,  # where `partitions verify` reads the table
        )

    def _claim(self, ledger: PartitionLedger, key: str) -> Claim:
        from airflow_dataops.exceptions import PartitionAlreadyApplied

        a, contract = self.attempt, self.target.contract
        try:
            claim = ledger.begin(
                key,
                dag_id=a.dag_id,
                task_id=a.task_id,
                run_id=a.run_id,
                attempt=a.attempt,
                dag_version=a.dag_version,
                contract_version=contract.version if contract else None,
            )
        except PartitionAlreadyApplied as e:
            self.trace["ledger"] = {"decision": "refused", "partition": key, "reason": str(e)}
            raise
        if claim.action == "rerun":
            self.log.info("rerun of partition %r requested by %s: %s", key, claim.requested_by, claim.reason)
        elif claim.action == "stale":
            self.log.info("partition %r is replaced because it is %s", key, claim.reason)
        if claim.took_over_from is not None:
            self.log.warning("%s", claim.took_over_from.error or "took over an unfinished attempt")
        return claim

    def _stage_name(self, key: str, claim_id: int) -> str:
        from airflow_dataops.partitions.writer import stage_table_name

        return stage_table_name(self.target.table, key, claim_id)

    def _drop_stage(self, engine: Engine, stage: Table | str) -> None:
        """Drop a staging table: this attempt's when done, or that of the attempt it took over
        (killed, or stale and doomed).  A leftover is harmless: the next take-over drops it."""
        from airflow_dataops.partitions.writer import drop_stage

        try:
            drop_stage(engine, stage, self.target.db_schema)
        except Exception:
            name = stage if isinstance(stage, str) else stage.name
            self.log.warning("could not drop staging table %s", name, exc_info=True)

    def _inputs(
        self,
        key: str,
        dialect: str,
        events: Any,
        read_tables: Callable[[str], Sequence[tuple[str | None, str]]] | None,
    ) -> list[Any]:
        """The upstream partitions this apply reads (declared, events, the SQL's tables) and their apply ids."""
        from airflow_dataops.partitions.inputs import inputs_for_apply

        try:
            tables = list(read_tables(dialect)) if read_tables is not None else []
        except Exception as e:  # an unparsable query still runs; it just records no SQL inputs
            self.log.warning(
                "dataops: could not read the tables of the query (%s); no SQL inputs recorded", e
            )
            tables = []
        self.trace["tables_read"] = tables
        return inputs_for_apply(
            self.store,
            dataset=self.target.name,
            partition_key=key,
            declared=self.target.inputs,
            events=events,
            tables=tables,
            conn_id=self.target.conn_id,
            db_schema=self.target.db_schema,
            log=self.log,
        )

    def _audit(self, engine: Engine, staged: Table, key: str) -> GateReport | None:
        """The gate on the staged rows (none without a contract); recorded, and raised if it failed."""
        from airflow_dataops.contracts import gate
        from airflow_dataops.contracts.report import Verdict
        from airflow_dataops.wap.audit import audit_staged, record_and_enforce

        t = self.target
        report = None
        if t.contract is not None:
            report = audit_staged(
                engine,
                staged,
                t.contract,
                dataset=t.name,
                partition_key=key,
                schema_object=t.schema_object,
                db_schema=t.db_schema,
            )
        verdict = gate.decide(report, self.mode) if report is not None else Verdict.PASSED
        self.trace.update(report=report, verdict=verdict.value, mode=self.mode, partition=key)
        if report is not None:
            record_and_enforce(
                self.store,
                report,
                report.to_dict(),
                verdict=verdict,
                mode=self.mode,
                ti=self.attempt,
                log=self.log,
                when_failed="Nothing was published; the partition is unchanged.",
            )
        return report

    def _publish(
        self,
        ledger: PartitionLedger,
        claim: Claim,
        engine: Engine,
        staged: Table,
        report: GateReport | None,
        inputs: Iterable[Any],
        started: float,
    ) -> dict[str, Any]:
        from airflow_dataops.partitions.versions import version_to_keep
        from airflow_dataops.partitions.writer import ensure_target, publish
        from airflow_dataops.wap.audit import quarantine_rules

        t, key, verdict = self.target, claim.partition_key, self.trace["verdict"]
        rules = []
        if report is not None and verdict == "quarantined":
            rules = quarantine_rules(
                t.contract,  # type: ignore[arg-type]  # a report means a contract
                report,
                staged,
                schema_object=t.schema_object,
                db_schema=t.db_schema,
            )
        target = ensure_target(engine, staged, table=t.table, db_schema=t.db_schema)
        where: dict[str, Any] = {
            "target": target,
            "partition_column": t.partition_column,
            "partition_key": key,
        }
        # The ledger's fence commits the target only while this claim still holds the partition,
        # and records the apply in the same store transaction (a taken-over attempt rolls back).
        fence = ledger.fence(
            claim,
            gate_verdict=verdict,
            contract_version=t.contract.version if t.contract else None,
            inputs=inputs,
        )
        keep = version_to_keep(
            claim, settings=self.settings
        )  # the replaced version, for `partitions rollback`
        result = publish(
            engine,
            stage=staged,
            quarantine_rules=rules,
            run_id=self.attempt.run_id,
            db_schema=t.db_schema,
            fence=fence,
            keep=keep,
            **where,
        )
        self.trace["ledger"] = {
            "decision": claim.action if claim.action in ("rerun", "stale") else "applied",
            "partition": key,
            "reason": claim.reason,
            "result": result,
            "apply_id": claim.apply_id,
            "previous": claim.previous,  # the version replaced (kept, if result.kept)
        }
        slis = self.record_slis(engine, where, report, time.monotonic() - started, result)
        self._ask_for_slo_recheck(key, claim)
        self.log.info(
            "published partition %r of %s: %d rows (%d quarantined), gate %s",
            key,
            t.name,
            result.rows_published,
            result.rows_quarantined,
            verdict,
        )
        return {
            "dataset": t.name,
            "partition_key": key,
            "action": claim.action,
            "state": published_state(result.rows_quarantined),
            "rows_in": result.rows_in,
            "rows_published": result.rows_published,
            "rows_quarantined": result.rows_quarantined,
            "checksum": result.checksum,
            "gate": report.summary() | {"verdict": verdict, "mode": self.mode}
            if report is not None
            else None,
            "slis": slis,
        }

    def record_slis(
        self,
        engine: Engine,
        where: dict[str, Any],
        report: GateReport | None,
        seconds: float,
        result: PublishResult,
    ) -> dict[str, Any]:
        """Record the publish's SLIs (freshness, completeness, correctness, cost); return them by kind."""
        from airflow_dataops.slo.evaluator import current_lag
        from airflow_dataops.slo.publish_slis import slis_for_publish
        from airflow_dataops.store.records import record_slis
        from airflow_dataops.wap.target import run_names

        dataset = self.target.name
        now = utcnow()
        records = slis_for_publish(
            engine=engine,
            contract=self.target.contract,
            schema_object=self.target.schema_object,
            report=report,
            dataset=dataset,
            seconds=seconds,
            rows_published=result.rows_published,
            now=now,
            lag_before=current_lag(self.store, dataset, now=now),
            **where,
            **run_names(self.attempt),
        )
        record_slis(self.store, records)
        return {r.kind: {"value": r.value, "unit": r.unit, "good": r.good} for r in records}

    def _ask_for_slo_recheck(self, key: str, claim: Claim) -> None:
        """A rerun, or any publish while a breach is open, may be the fix: ask the evaluator DAG to
        re-check the dataset's SLOs now rather than on its next scheduled run (slo/recheck.py)."""
        from airflow_dataops.slo.recheck import ask_for_recheck, has_open_breach

        a, dataset = self.attempt, self.target.name
        try:
            why = "rerun applied" if claim.action == "rerun" else None
            if why is None and has_open_breach(self.store, dataset):
                why = "published while a breach is open"
        except Exception:  # the time schedule still evaluates; a publish never fails on this
            self.log.warning("could not read open breaches of %s", dataset, exc_info=True)
            return
        if why:
            ask_for_recheck(
                self.store,
                dataset,
                reason=f"partition {key!r} {why} ({a.dag_id}/{a.run_id})",
                requested_by=f"{a.dag_id}.{a.task_id}",
            )
