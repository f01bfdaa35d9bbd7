"""Sensors on a dataset's state in the dataops store: fresh enough, or SLOs healthy.

Both poke (``mode="poke"`` or ``"reschedule"``) or defer to the triggerer
(``deferrable=True``: ``DatasetHealthTrigger`` polls the store without holding a worker slot).

Example::

    DatasetFreshnessSensor(task_id="orders_fresh", dataset="orders", max_lag=timedelta(hours=6))
    SLOHealthySensor(task_id="flights_ok", dataset="flights", deferrable=True)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["DatasetFreshnessSensor", "SLOHealthySensor"]


class _DatasetSensor(BaseSensorOperator):
    check = ""
    template_fields: Sequence[str] = ("dataset",)

    def __init__(self, *, dataset: str, deferrable: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(dataset, str) or not dataset:
            raise ValueError(f"{type(self).__name__}: dataset must be a non-empty string, got {dataset!r}")
        self.dataset = dataset
        self.deferrable = deferrable

    def _max_lag_seconds(self) -> float | None:
        return None

    def poke(self, context: Context) -> bool:
        from airflow_dataops.triggers.dataset import check_dataset

        ok, reason = check_dataset(self.dataset, self.check, self._max_lag_seconds())
        self.log.info("%s", reason)
        return ok

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        if self.poke(context):
            return None
        from airflow_dataops.triggers.dataset import DatasetHealthTrigger

        timeout = self.timeout.total_seconds() if isinstance(self.timeout, timedelta) else float(self.timeout)
        self.defer(
            trigger=DatasetHealthTrigger(
                dataset=self.dataset,
                check=self.check,
                max_lag_seconds=self._max_lag_seconds(),
                poll_interval=float(
                    self.poke_interval.total_seconds()
                    if isinstance(self.poke_interval, timedelta)
                    else self.poke_interval
                ),
                timeout=timeout,
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> None:
        from airflow.sdk.exceptions import AirflowSensorTimeout

        if not event or event.get("status") != "success":
            message = (event or {}).get("message", "no event")
            raise AirflowSensorTimeout(f"{type(self).__name__}({self.dataset!r}) timed out: {message}")
        self.log.info("%s", event.get("message"))


class DatasetFreshnessSensor(_DatasetSensor):
    """Wait until the newest data of ``dataset`` is at most ``max_lag`` old.

    The lag is ``now - newest data time``, from the dataset's newest freshness SLI (recorded on
    publish, or by ``sli_callbacks``).  A dataset never published is not fresh.

    :param dataset: the dataset name in the store.
    :param max_lag: the largest acceptable lag.
    :param deferrable: wait in the triggerer instead of a worker slot.
    """

    check = "freshness"

    def __init__(self, *, dataset: str, max_lag: timedelta, **kwargs: Any) -> None:
        if not isinstance(max_lag, timedelta) or max_lag <= timedelta(0):
            raise ValueError(f"DatasetFreshnessSensor: max_lag must be a positive timedelta, got {max_lag!r}")
        super().__init__(dataset=dataset, **kwargs)
        self.max_lag = max_lag

    def _max_lag_seconds(self) -> float | None:
        return self.max_lag.total_seconds()


class SLOHealthySensor(_DatasetSensor):
    """Wait until every SLO of ``dataset`` has data and is not breached.

    ``at risk`` passes (budget is low but left); ``breached``, ``no data`` and an invalid SLO
    definition keep waiting.

    :param dataset: the dataset name in the store.
    :param deferrable: wait in the triggerer instead of a worker slot.
    """

    check = "slo"
