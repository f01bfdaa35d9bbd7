"""What the pages show, computed from a store: statuses, the overview snapshot, charts as SVG."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from airflow_dataops.plugins import queries, svg
from airflow_dataops.store import StateStore
from airflow_dataops.store.records import SLIRecord, record_slis, upsert_dataset

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
SLO = {"objective": 0.9, "window_days": 30, "slis": {"correctness": {"threshold": 0.9, "unit": "ratio"}}}


@pytest.fixture
def store(tmp_path: object) -> Iterator[StateStore]:
    s = StateStore(f"sqlite:///{tmp_path}/store.db")  # type: ignore[str-bytes-safe]
    s.migrate()
    queries.clear_snapshots()
    yield s
    queries.clear_snapshots()
    s.dispose()


def _daily(store: StateStore, dataset: str, goods: list[bool], *, end: datetime = NOW) -> None:
    n = len(goods)
    record_slis(
        store,
        [
            SLIRecord(
                dataset=dataset,
                kind="correctness",
                value=1.0 if g else 0.5,
                unit="ratio",
                good=g,
                observed_at=end - timedelta(days=n - i),
                partition_key=(end - timedelta(days=n - i)).strftime("%F"),
            )
            for i, g in enumerate(goods)
        ],
    )


def test_statuses_budget_and_burn_rates(store: StateStore) -> None:
    upsert_dataset(store, "good", dag_id="d", slo=SLO)
    upsert_dataset(store, "bad", dag_id="d", slo=SLO)
    upsert_dataset(store, "silent", dag_id="d", slo=SLO)
    upsert_dataset(store, "plain")
    _daily(store, "good", [True] * 30)
    _daily(store, "bad", [True] * 20 + [False] * 10)
    rows = {s.dataset: s for s in queries.overview(store, now=NOW)}
    assert [s.dataset for s in queries.overview(store, now=NOW)] == ["bad", "silent", "good", "plain"]
    assert (rows["good"].status, rows["good"].budget_remaining) == ("healthy", 1.0)
    assert rows["bad"].status == "breached"
    bad = rows["bad"].slos[0]
    # 29 events in (NOW - 30d, NOW]: the first observation sits on the window's open edge.
    assert (bad.good_events, bad.bad_events, bad.total_events) == (19, 10, 29)
    assert rows["bad"].budget_remaining == pytest.approx(1 - (10 / 29) / 0.1)
    assert rows["bad"].burn_rates["30d"] == pytest.approx((10 / 29) / 0.1)
    assert rows["silent"].status == "no_data" and rows["plain"].status == "no_slo"
    assert rows["good"].freshness_seconds is None  # no freshness SLO
    assert rows["good"].slos[0].sli_value == 1.0


def test_a_rerun_partition_counts_once_with_its_latest_verdict(store: StateStore) -> None:
    upsert_dataset(store, "ds", slo=SLO)
    _daily(store, "ds", [True] * 10)
    before = queries.overview(store, now=NOW)[0].slos[0]
    key = (NOW - timedelta(days=2)).strftime("%F")
    record_slis(
        store,
        [
            SLIRecord(
                dataset="ds",
                kind="correctness",
                value=0.5,
                unit="ratio",
                good=False,
                observed_at=NOW - timedelta(days=1, hours=1),
                partition_key=key,
            )
        ],
    )
    after = queries.overview(store, now=NOW)[0].slos[0]
    assert (after.good_events, after.bad_events) == (before.good_events - 1, before.bad_events + 1)


def test_the_snapshot_follows_new_slis_registrations_and_removals(store: StateStore) -> None:
    from sqlalchemy import delete

    from airflow_dataops.store import tables as t

    upsert_dataset(store, "a", slo=SLO)
    upsert_dataset(store, "b", slo=SLO)
    now = datetime.now(timezone.utc)
    _daily(store, "a", [True] * 10, end=now)
    _daily(store, "b", [True] * 10, end=now)
    assert {s.dataset: s.status for s in queries.overview(store)} == {"a": "healthy", "b": "healthy"}
    first = queries._SNAPSHOTS[store.url]

    _daily(store, "b", [False] * 5, end=now + timedelta(seconds=1))  # b goes bad: only b is re-evaluated
    statuses = {s.dataset: s.status for s in queries.overview(store)}
    assert statuses == {"a": "healthy", "b": "breached"}
    second = queries._SNAPSHOTS[store.url]
    assert second.summaries["a"] is first.summaries["a"]

    upsert_dataset(store, "c")
    with store.begin() as conn:
        conn.execute(delete(t.datasets).where(t.datasets.c.dataset == "a"))
    assert sorted(s.dataset for s in queries.overview(store)) == ["b", "c"]


def test_the_snapshot_is_reevaluated_in_the_background_after_its_ttl(
    store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    upsert_dataset(store, "a", slo=SLO)
    queries.overview(store)
    old = queries._SNAPSHOTS[store.url]
    monkeypatch.setattr(queries, "SNAPSHOT_TTL", 0.0)
    queries.overview(store)  # answered from the snapshot; a refresh starts
    import time

    deadline = time.monotonic() + 10
    while queries._SNAPSHOTS[store.url] is old and time.monotonic() < deadline:
        time.sleep(0.02)
    assert queries._SNAPSHOTS[store.url].taken > old.taken


def test_dataset_detail_without_slis(store: StateStore) -> None:
    upsert_dataset(store, "empty", slo=SLO)
    detail = queries.dataset_detail(store, "empty", now=NOW)
    assert detail is not None
    assert (detail.partitions, detail.breaches, detail.contract_result, detail.sli_history) == (
        [],
        [],
        None,
        {},
    )
    assert queries.dataset_detail(store, "missing", now=NOW) is None


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        pytest.param(None, "s", "\u2013", id="none"),
        pytest.param(45.0, "s", "45.0 s", id="seconds"),
        pytest.param(5400.0, "s", "1.5 h", id="hours"),
        pytest.param(2 * 86400.0, "s", "2.0 d", id="days"),
        pytest.param(0.985, "ratio", "98.5%", id="ratio"),
        pytest.param(12.0, "rows", "12 rows", id="other"),
    ],
)
def test_format_value(value: float | None, unit: str, text: str) -> None:
    assert svg.format_value(value, unit) == text


def test_charts_escape_their_labels_and_handle_no_data() -> None:
    start, end = NOW - timedelta(days=90), NOW
    empty = svg.line_chart([], label="<b>x</b>", unit="s", start=start, end=end)
    assert "<b>x</b>" not in empty and "&lt;b&gt;x&lt;/b&gt;" in empty and "no observations" in empty
    points = [(NOW - timedelta(days=d), 3600.0 * d, d % 2 == 0) for d in range(1, 10)]
    chart = svg.line_chart(points, label="freshness", unit="s", start=start, end=end)
    assert chart.count('class="good"') == 4 and chart.count('class="bad"') == 5 and "<polyline" in chart
    burn = svg.burndown_chart([(NOW - timedelta(days=d), 1 - d / 10) for d in range(10, 0, -1)], label="b")
    assert "at risk" in burn and "90% left" in burn
    timeline = svg.breach_timeline(
        [
            {
                "slo": "<i>f</i>",
                "severity": "page",
                "opened_at": (NOW - timedelta(days=3)).isoformat(),
                "resolved_at": None,
            },
            {"slo": "g", "opened_at": (NOW - timedelta(days=2)).isoformat(), "resolved_at": None},
        ],
        start=start,
        end=end,
    )
    assert "&lt;i&gt;f&lt;/i&gt;" in timeline and 'class="bad"' in timeline
    assert "None" not in timeline  # an episode without a severity shows none, not the word "None"


@pytest.mark.parametrize(
    ("remaining", "cls"),
    [(1.0, "good"), (0.1, "warn"), (-0.5, "bad")],
)
def test_budget_bar(remaining: float, cls: str) -> None:
    bar = svg.budget_bar(remaining)
    assert f'class="{cls}"' in bar and f"{remaining * 100:.0f}%" in bar


def test_charts_span_the_data_not_an_empty_90_days() -> None:
    """A 5-day-old dataset's points spread over the chart instead of piling up at its right edge."""
    import re

    start, end = NOW - timedelta(days=90), NOW
    points = [(NOW - timedelta(days=d), 3600.0, True) for d in range(5, 0, -1)]
    chart = svg.line_chart(points, label="freshness", unit="s", start=start, end=end)
    xs = [float(x) for x in re.findall(r'<circle class="good" cx="([0-9.]+)"', chart)]
    width = xs[-1] - xs[0]
    assert len(xs) == 5 and width > 300  # of a 600-wide chart; on a 90-day axis it would be ~27
    old = [(NOW - timedelta(days=d), 3600.0, True) for d in (80, 1)]  # older data: the full 90 days
    xs_old = [
        float(x)
        for x in re.findall(r'cx="([0-9.]+)"', svg.line_chart(old, label="f", unit="s", start=start, end=end))
    ]
    assert xs_old[0] < 150

    budget = [(NOW - timedelta(days=30 - d * 0.5), None if d < 50 else 1.0) for d in range(60)]
    burn = svg.burndown_chart(budget, label="b")
    line = re.search(r'<polyline class="line" points="([^"]+)"', burn).group(1).split()
    assert float(line[0].split(",")[0]) < 100  # the known points start at the left edge
