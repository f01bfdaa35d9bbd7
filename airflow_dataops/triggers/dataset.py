"""``DatasetHealthTrigger``: wait in the triggerer until a dataset is fresh (or its SLOs healthy).

Polls the state store every ``poll_interval`` seconds; each poll runs the blocking store
query in a worker thread (``asyncio.to_thread``) so the triggerer's event loop never waits
on the database.  Fires ``{"status": "success", ...}`` when the condition holds and
``{"status": "timeout", ...}`` when ``timeout`` seconds pass first; a store error is
retried on the next poll (and reported in the timeout event if it persists).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

__all__ = ["CHECKS", "DatasetHealthTrigger", "check_dataset"]

CHECKS = ("freshness", "slo")


def check_dataset(
    dataset: str, check: str, max_lag_seconds: float | None, store: Any = None
) -> tuple[bool, str]:
    """Blocking: whether ``dataset`` passes ``check`` now, and a one-line reason.

    ``freshness``: the newest data is at most ``max_lag_seconds`` old.
    ``slo``: every SLO of the dataset has data and is healthy or at risk (not breached,
    not "no data", not invalid).

    A store that cannot be read (not created yet: nothing was ever published; or down) does
    not pass, with the store's one-line reason: the sensor keeps waiting, bounded by its timeout.
    """
    from airflow_dataops.exceptions import StoreError

    try:
        return _check(dataset, check, max_lag_seconds, store)
    except StoreError as e:
        return False, f"dataset {dataset!r}: the store cannot be read yet: {e}"


def _check(dataset: str, check: str, max_lag_seconds: float | None, store: Any) -> tuple[bool, str]:
    from airflow_dataops.store import StateStore

    store = store or StateStore.from_settings()
    if check == "freshness":
        from airflow_dataops.slo.evaluator import current_lag

        lag = current_lag(store, dataset)
        if lag is None:
            return False, f"dataset {dataset!r} has no freshness SLI yet"
        ok = max_lag_seconds is not None and lag <= max_lag_seconds
        return ok, f"dataset {dataset!r} lag {lag:.0f} s (max {max_lag_seconds:.0f} s)"
    from airflow_dataops.slo.evaluator import evaluate_datasets
    from airflow_dataops.slo.status import DatasetStatus

    (result,) = evaluate_datasets(store, datasets=[dataset])
    ok = result.status in (DatasetStatus.HEALTHY, DatasetStatus.AT_RISK)
    reason = f": {result.error}" if result.error else ""
    return ok, f"dataset {dataset!r} SLO status: {result.status.value}{reason}"


class DatasetHealthTrigger(BaseTrigger):
    """Fire when ``dataset`` passes ``check`` (``freshness`` or ``slo``).

    :param dataset: the dataset name in the store.
    :param check: ``freshness`` (needs ``max_lag_seconds``) or ``slo``.
    :param max_lag_seconds: the largest acceptable lag for ``freshness``.
    :param poll_interval: seconds between polls.
    :param timeout: seconds before giving up with a ``timeout`` event (``None``: never).
    """

    def __init__(
        self,
        *,
        dataset: str,
        check: str,
        max_lag_seconds: float | None = None,
        poll_interval: float = 60.0,
        timeout: float | None = None,
        store_url: str | None = None,
    ) -> None:
        super().__init__()
        if check not in CHECKS:
            raise ValueError(f"DatasetHealthTrigger: check={check!r}; use one of {', '.join(CHECKS)}")
        if check == "freshness" and max_lag_seconds is None:
            raise ValueError("DatasetHealthTrigger: check='freshness' needs max_lag_seconds")
        self.dataset = dataset
        self.check = check
        self.max_lag_seconds = max_lag_seconds
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.store_url = store_url

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "dataset": self.dataset,
                "check": self.check,
                "max_lag_seconds": self.max_lag_seconds,
                "poll_interval": self.poll_interval,
                "timeout": self.timeout,
                "store_url": self.store_url,
            },
        )

    def _store(self) -> Any:
        from airflow_dataops.store import StateStore

        if self.store_url:
            return StateStore(self.store_url)
        return StateStore.from_settings()

    async def run(self) -> AsyncIterator[TriggerEvent]:
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        store = await asyncio.to_thread(self._store)
        reason = "not polled yet"
        while True:
            try:
                ok, reason = await asyncio.to_thread(
                    check_dataset, self.dataset, self.check, self.max_lag_seconds, store
                )
            except Exception as e:  # a store that is down may come back before the timeout
                ok, reason = False, f"store error: {type(e).__name__}: {e}"
                self.log.warning("DatasetHealthTrigger(%s): %s", self.dataset, reason)
            if ok:
                yield TriggerEvent(
                    {"status": "success", "dataset": self.dataset, "check": self.check, "message": reason}
                )
                return
            if deadline is not None and time.monotonic() + self.poll_interval > deadline:
                yield TriggerEvent(
                    {"status": "timeout", "dataset": self.dataset, "check": self.check, "message": reason}
                )
                return
            self.log.info("DatasetHealthTrigger: %s; next poll in %s s", reason, self.poll_interval)
            await asyncio.sleep(self.poll_interval)
