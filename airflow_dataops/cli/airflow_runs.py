"""Airflow's side of ``partitions rerun``: the DAG runs, read from Airflow's metadata DB, and
changed only through Airflow's own commands.

:class:`MetadataDBRuns` implements ``partitions.rerun.AirflowRuns`` for the CLI process, which,
unlike a task, may use the metadata DB.  We never write Airflow's tables ourselves: a clear is
``airflow dags clear DAG --run-id R -y`` (parsed by Airflow's own CLI parser, run in-process), a
new run is ``airflow.api.common.trigger_dag.trigger_dag`` (what ``POST /api/v2/dags/{dag_id}/dagRuns``
does).  The tests stand in for it with a recording fake of the same protocol.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow_dataops.partitions.rerun import RerunRefused, RunInfo

__all__ = ["MetadataDBRuns"]


class MetadataDBRuns:
    """Airflow's runs, read from its metadata DB and changed only through Airflow's own commands.

    For the CLI process (which, unlike a task, may use the metadata DB): clearing goes through
    ``airflow dags clear DAG --run-id R -y`` (parsed by Airflow's own CLI parser and run
    in-process), triggering through ``airflow.api.common.trigger_dag.trigger_dag`` with
    ``partition_key`` (what ``POST /api/v2/dags/{dag_id}/dagRuns`` does), or, for a DAG whose
    timetable is not partitioned, with the logical date parsed from the key.

    :param date_format: how a non-partitioned DAG's keys are derived from logical dates.
    """

    def __init__(self, *, date_format: str = "%Y-%m-%d") -> None:
        self.date_format = date_format

    def _dag(self, dag_id: str) -> Any:
        from airflow.models.dagbag import DBDagBag
        from airflow.utils.session import create_session

        with create_session() as session:
            return DBDagBag().get_latest_version_of_dag(dag_id, session=session)

    def dag_partitioned(self, dag_id: str) -> bool | None:
        dag = self._dag(dag_id)
        if dag is None:
            return None
        tt = dag.timetable
        return bool(getattr(tt, "partitioned", False) or getattr(tt, "partitioned_at_runtime", False))

    def _runs(self, dag_id: str) -> list[RunInfo]:
        from airflow.models.dagrun import DagRun
        from airflow.utils.session import create_session
        from sqlalchemy import select

        query = (
            select(DagRun.run_id, DagRun.state, DagRun.partition_key, DagRun.logical_date)
            .where(DagRun.dag_id == dag_id)
            .order_by(DagRun.run_after.desc(), DagRun.id.desc())
        )
        with create_session() as session:
            return [
                RunInfo(
                    run_id=r.run_id,
                    state=str(r.state) if r.state else None,
                    partition_key=r.partition_key,
                    logical_date=r.logical_date,
                )
                for r in session.execute(query)
            ]

    def _key_of(self, run: RunInfo) -> str | None:
        if run.partition_key:
            return run.partition_key
        return run.logical_date.strftime(self.date_format) if run.logical_date else None

    def runs_for(self, dag_id: str, key: str) -> list[RunInfo]:
        return [r for r in self._runs(dag_id) if self._key_of(r) == key]

    def keys_between(self, dag_id: str, start: str, end: str) -> set[str]:
        return {k for r in self._runs(dag_id) if (k := self._key_of(r)) is not None and start <= k <= end}

    def check_key(self, dag_id: str, key: str) -> None:
        dag = self._dag(dag_id)
        if dag is None:
            raise RerunRefused(f"Airflow does not know DAG {dag_id!r}; nothing was requested")
        if self.dag_partitioned(dag_id):
            try:
                dag.validate_partition_key(key)
                dag.timetable.resolve_partition_date(key)
            except Exception as e:
                raise RerunRefused(
                    f"partition {key!r} has no run yet and Airflow would not create one for DAG {dag_id!r}: {e}. "
                    "Check the key's format against the DAG's timetable. Nothing was requested"
                ) from e
            return
        try:
            datetime.strptime(key, self.date_format)
        except ValueError:
            raise RerunRefused(
                f"partition {key!r} has no run yet, and DAG {dag_id!r} is not partitioned, so a run for it needs "
                f"a logical date: the key does not parse as {self.date_format!r}. Trigger it yourself with "
                f"`airflow dags trigger {dag_id} --logical-date …`. Nothing was requested"
            ) from None

    def clear(self, dag_id: str, run_id: str) -> str:
        import contextlib
        import io

        from airflow.cli import cli_parser

        args = cli_parser.get_parser().parse_args(["dags", "clear", dag_id, "--run-id", run_id, "-y"])
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            args.func(args)
        return out.getvalue().strip() or f"cleared run {run_id}"

    def trigger(self, dag_id: str, key: str, *, note: str, user: str) -> str:
        from datetime import timezone

        from airflow.api.common.trigger_dag import trigger_dag
        from airflow.utils.types import DagRunTriggeredByType

        kwargs: dict[str, Any] = {}
        if self.dag_partitioned(dag_id):
            kwargs["partition_key"] = key
        else:
            kwargs["logical_date"] = datetime.strptime(key, self.date_format).replace(tzinfo=timezone.utc)
        run = trigger_dag(
            dag_id,
            triggered_by=DagRunTriggeredByType.CLI,
            triggering_user_name=user,
            note=note[:1000],
            **kwargs,
        )
        if run is None:
            raise RerunRefused(f"Airflow created no run for DAG {dag_id!r} partition {key!r}")
        return str(run.run_id)
