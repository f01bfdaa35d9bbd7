"""SLI history for tests: the 2-day freshness SLO most SLO tests register, and the seeding loop
behind the ``seed_slis`` fixture (tests/conftest.py).  A plain module, importable from any test."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

#: Freshness within 2 days, 99 % of daily partitions over 30 days.
SLO_2D: dict[str, Any] = {
    "objective": 0.99,
    "window_days": 30,
    "cadence": "1d",
    "slis": {"freshness": {"threshold": 2, "unit": "d"}},
}


def seed_slis(
    store: Any,
    dataset: str,
    *,
    last: Any,
    n: int = 10,
    step: Any = None,
    kind: str = "freshness",
    value: float = 0.0,
    good: bool | None = True,
    unit: str | None = None,
    keys: str = "{i}",
    slo: dict[str, Any] | None = None,
) -> None:
    from airflow_dataops.store.records import SLIRecord, record_slis, upsert_dataset

    if slo is not None:
        upsert_dataset(store, dataset, slo=slo)
    step = timedelta(days=1) if step is None else step
    record_slis(
        store,
        [
            SLIRecord(
                dataset=dataset,
                kind=kind,
                value=value,
                unit=unit or ("s" if kind == "freshness" else "ratio"),
                good=good,
                observed_at=last - i * step,
                partition_key=keys.format(i=i, dataset=dataset, at=last),
            )
            for i in range(n)
        ],
    )
