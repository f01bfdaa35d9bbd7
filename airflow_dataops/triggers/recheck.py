"""``SLORecheckTrigger``: the asset watcher that runs the SLO evaluator as soon as a fix lands.

Airflow's event-driven scheduling (an ``Asset`` with an ``AssetWatcher``) runs this trigger in
the triggerer for as long as a DAG is scheduled on the asset.  Every ``poll_interval`` seconds it
reads the newest unconsumed SLO re-check request from the store (one index read, in a worker
thread) and fires one event per new request id it has not fired for; Airflow turns the event into
an asset event (with no partition key, so a non-partitioned evaluator DAG is queued) and the
scheduler runs the evaluator, which consumes the requests, re-evaluates and announces each breach
transition once (see ``SLOEvaluationOperator``).

Why a watcher and not an outlet of the partitioned task: an asset event emitted by a partitioned
run carries the run's partition key, and Airflow queues only partition-aware DAGs for those; the
evaluator is not one.  Why not the metadata database from the task: tasks never touch it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

if TYPE_CHECKING:
    from airflow.sdk import Asset, AssetOrTimeSchedule

__all__ = [
    "SLO_RECHECK_ASSET_NAME",
    "SLO_RECHECK_URI",
    "SLORecheckTrigger",
    "evaluator_schedule",
    "slo_recheck_asset",
]

SLO_RECHECK_ASSET_NAME = "dataops_slo_recheck"
SLO_RECHECK_URI = "dataops://slo/recheck"


class SLORecheckTrigger(BaseEventTrigger):
    """Fire when the store holds an SLO re-check request newer than the last one fired for.

    :param poll_interval: seconds between polls of the store.
    :param store_url: the store (default: ``[dataops] store_url`` in the triggerer's config).
    """

    def __init__(self, *, poll_interval: float = 5.0, store_url: str | None = None) -> None:
        super().__init__()
        if not poll_interval > 0:
            raise ValueError(
                f"SLORecheckTrigger: poll_interval={poll_interval!r}; use a number of seconds > 0"
            )
        self.poll_interval = float(poll_interval)
        self.store_url = store_url

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"poll_interval": self.poll_interval, "store_url": self.store_url},
        )

    def _store(self) -> Any:
        from airflow_dataops.store import StateStore

        return StateStore(self.store_url) if self.store_url else StateStore.from_settings()

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_dataops.store.rechecks import pending_recheck

        fired = 0  # after a triggerer restart, requests still unconsumed fire once more: never lost
        store = await asyncio.to_thread(self._store)  # one engine for the watcher's life, not one per poll
        while True:
            try:
                newest = await asyncio.to_thread(pending_recheck, store)
            except Exception as e:  # a store that is down or not migrated yet may come back
                self.log.warning("SLORecheckTrigger: store not readable: %s: %s", type(e).__name__, e)
                newest = None
            if newest is not None and newest > fired:
                fired = newest
                yield TriggerEvent({"recheck_request_id": newest})
            await asyncio.sleep(self.poll_interval)


def slo_recheck_asset(*, poll_interval: float = 5.0, store_url: str | None = None) -> Asset:
    """The asset the evaluator DAG listens to, watched by ``SLORecheckTrigger``."""
    from airflow.sdk import Asset, AssetWatcher

    trigger = SLORecheckTrigger(poll_interval=poll_interval, store_url=store_url)
    return Asset(
        name=SLO_RECHECK_ASSET_NAME,
        uri=SLO_RECHECK_URI,
        watchers=[AssetWatcher(name=SLO_RECHECK_ASSET_NAME, trigger=trigger)],
    )


def evaluator_schedule(
    every: timedelta = timedelta(minutes=10), *, poll_interval: float = 5.0, store_url: str | None = None
) -> AssetOrTimeSchedule:
    """Every ``every`` (a dataset nobody publishes still decays) or at once on a re-check request."""
    from airflow.sdk import AssetOrTimeSchedule, DeltaTriggerTimetable

    if every <= timedelta(0):
        raise ValueError(f"evaluator_schedule: every={every!r}; use a positive timedelta")
    return AssetOrTimeSchedule(
        timetable=DeltaTriggerTimetable(every),
        assets=slo_recheck_asset(poll_interval=poll_interval, store_url=store_url),
    )
