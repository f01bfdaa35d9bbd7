"""SLIs for any task, through Airflow callbacks: ``sli_callbacks(dataset)``.

For a task that publishes a dataset without our operators (a ``BashOperator``, a dbt run)::

    from airflow_dataops.callbacks import sli_callbacks

    BashOperator(task_id="load_orders", bash_command="...", **sli_callbacks("orders"))

On success it records, for the dataset:

* ``freshness``: lag 0 s, good (the data is as fresh as it gets the moment it lands; the
  evaluator grows the lag from here while nothing new lands);
* ``correctness``: 1.0, good (the task succeeded);
* ``cost``: the task's duration in seconds (``good`` left unknown: the SLO's threshold judges it).

On failure: ``correctness`` 0.0, bad, and ``cost`` (the time spent failing).

The callbacks read the ``context`` Airflow passes them (``get_current_context()`` is not
available inside callbacks in Airflow 3.3) and never raise: a store that is down logs one
warning and the task's outcome stands.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import Any

from airflow_dataops.clock import as_utc, utcnow

__all__ = ["SLICallback", "sli_callbacks"]

log = logging.getLogger(__name__)

CALLBACK_KINDS = ("freshness", "correctness", "cost")
_DEFAULT_KINDS = CALLBACK_KINDS


class SLICallback:
    """One Airflow task callback that records SLIs; ``outcome`` is ``success`` or ``failure``."""

    def __init__(self, dataset: str, outcome: str, kinds: Collection[str], store: Any = None) -> None:
        self.dataset = dataset
        self.outcome = outcome
        self.kinds = tuple(kinds)
        self._store = store

    def __repr__(self) -> str:
        return f"SLICallback(dataset={self.dataset!r}, outcome={self.outcome!r}, kinds={self.kinds!r})"

    def records(self, context: Mapping[str, Any], now: datetime | None = None) -> list[Any]:
        """The SLI records this callback would write for ``context``."""
        from airflow_dataops.slo.publish_slis import cost_sli
        from airflow_dataops.store.records import SLIRecord

        now = now or utcnow()
        ti = context.get("ti") or context.get("task_instance")
        dag_id = getattr(ti, "dag_id", None)
        task_id = getattr(ti, "task_id", None)
        run_id = getattr(ti, "run_id", None) or context.get("run_id")
        partition = context.get("partition_key") or None
        if partition is None:
            logical = context.get("logical_date")
            partition = logical.isoformat() if isinstance(logical, datetime) else run_id
        common: dict[str, Any] = {
            "dataset": self.dataset,
            "observed_at": now,
            "partition_key": partition,
            "dag_id": dag_id,
            "task_id": task_id,
            "run_id": run_id,
        }
        out = []
        success = self.outcome == "success"
        if success and "freshness" in self.kinds:
            out.append(
                SLIRecord(
                    kind="freshness",
                    value=0.0,
                    unit="s",
                    good=True,
                    details={"source": "callback", "newest": now.isoformat()},
                    **common,
                )
            )
        if "correctness" in self.kinds:
            out.append(
                SLIRecord(
                    kind="correctness",
                    value=1.0 if success else 0.0,
                    unit="ratio",
                    good=success,
                    details={"source": "callback", "outcome": self.outcome},
                    **common,
                )
            )
        if "cost" in self.kinds:
            start = getattr(ti, "start_date", None)
            if isinstance(start, datetime):
                seconds = max(0.0, (now - as_utc(start)).total_seconds())
                out.append(cost_sli(seconds, {"source": "callback", "outcome": self.outcome}, **common))
        return out

    def __call__(self, context: Mapping[str, Any]) -> None:
        try:
            from airflow_dataops.store import StateStore
            from airflow_dataops.store.records import record_slis

            store = self._store or StateStore.from_settings()
            record_slis(store, self.records(context))
        except Exception as e:  # a callback must never change the task's outcome
            log.warning(
                "dataops: could not record SLIs of %r on %s: %s: %s",
                self.dataset,
                self.outcome,
                type(e).__name__,
                e,
            )


def sli_callbacks(
    dataset: str, *, kinds: Collection[str] = _DEFAULT_KINDS, store: Any = None
) -> dict[str, Callable[[Mapping[str, Any]], None]]:
    """``{"on_success_callback": …, "on_failure_callback": …}`` recording SLIs of ``dataset``.

    :param dataset: the dataset the task produces (as registered, or named in its contract).
    :param kinds: which of ``freshness``, ``correctness``, ``cost`` to record.
    :param store: a ``StateStore`` (default: the one ``[dataops]`` configures).
    :raises ValueError: an empty dataset or an unknown kind (the message lists the valid ones).
    """
    if not isinstance(dataset, str) or not dataset.strip():
        raise ValueError(f"sli_callbacks: dataset must be a non-empty string, got {dataset!r}")
    if isinstance(kinds, str):
        kinds = (kinds,)
    unknown = sorted(set(kinds) - set(CALLBACK_KINDS))
    if unknown or not kinds:
        raise ValueError(
            f"sli_callbacks({dataset!r}): kinds {unknown or list(kinds)!r} not allowed; "
            f"use some of {', '.join(CALLBACK_KINDS)}"
        )
    return {
        "on_success_callback": SLICallback(dataset, "success", kinds, store),
        "on_failure_callback": SLICallback(dataset, "failure", kinds, store),
    }
