"""``read_sli_columns`` on both backends: every dataset and kind, ties in insertion order.

On SQLite the read seeks the ``(dataset, kind, observed_at)`` index once per dataset and kind
(the datasets found by a loose index scan when none are named); these check what that must
keep: datasets that share prefixes or sort oddly, kinds not named, rows observed at the same
instant in the order they were written (a rerun's verdict is the LAST row of its partition).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_dataops.store import StateStore
from airflow_dataops.store.records import SLIRecord, record_slis
from airflow_dataops.store.slo_reads import read_sli_columns

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
NAMES = ["a", "a b", "a.b", "ab", "Z", "ümlaut", "x" * 300]


def _row(dataset: str, kind: str, value: float, at: datetime, key: str | None = None) -> SLIRecord:
    return SLIRecord(
        dataset=dataset, kind=kind, value=value, unit="s", good=value < 5, observed_at=at, partition_key=key
    )


def test_every_dataset_and_kind_is_read_with_ties_in_insertion_order(store_url: str) -> None:
    store = StateStore(store_url)
    rows = []
    for n, name in enumerate(NAMES):
        rows += [_row(name, "freshness", float(n), NOW - timedelta(hours=2)), _row(name, "cost", 1.0, NOW)]
    same = NOW - timedelta(hours=1)  # three rows at one instant: written 7, 3, 9
    rows += [_row("a", "freshness", v, same, "k") for v in (7.0, 3.0, 9.0)]
    rows.append(_row("a", "freshness", 0.5, NOW - timedelta(days=3)))  # before the window
    rows.append(_row("a", "freshness", 0.5, NOW + timedelta(hours=1)))  # after it
    record_slis(store, rows)

    cols = read_sli_columns(store, since=NOW - timedelta(days=1), until=NOW)
    assert sorted(cols) == sorted((name, kind) for name in NAMES for kind in ("cost", "freshness"))
    a = cols[("a", "freshness")]
    assert a.values == [0.0, 7.0, 3.0, 9.0]
    assert a.partitions == [None, "k", "k", "k"]
    assert a.goods in ([True, False, True, False], [1, 0, 1, 0])
    assert a.times[1] == a.times[3] == pytest.approx(same.timestamp(), abs=0.01)  # julianday: ~10 µs
    for n, name in enumerate(NAMES):
        assert cols[(name, "freshness")].values[0] == float(n)

    named = read_sli_columns(
        store, since=NOW - timedelta(days=1), until=NOW, datasets=["ab", "nope"], kinds=["freshness"]
    )
    assert list(named) == [("ab", "freshness")]
    assert read_sli_columns(store, since=NOW - timedelta(days=1), until=NOW, kinds=[]) == {}
    store.dispose()
