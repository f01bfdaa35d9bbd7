"""Error budgets: event counting (occurrences, time slices), missing data, statuses."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_dataops.slo.budget import EventSeries, budget_status
from airflow_dataops.slo.sli import SLIKind
from airflow_dataops.slo.spec import SLOSpec
from airflow_dataops.slo.status import SLOStatus as BudgetStatus

from ._rows import Obs, compute_budget

UTC = timezone.utc
NOW = datetime(2026, 11, 22, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


def spec(**kw):
    base = {
        "dataset": "flights",
        "kind": SLIKind.FRESHNESS,
        "objective": 0.9,
        "window_days": 30,
        "threshold": 6,
        "unit": "h",
    }
    return SLOSpec(**{**base, **kw})


def daily(goods, *, end=NOW, step=DAY, dataset="flights", kind=SLIKind.FRESHNESS, prefix="p"):
    """One observation per step, the last at ``end``; ``goods[i]`` is the state of the i-th."""
    n = len(goods)
    return [
        Obs(
            dataset=dataset,
            kind=kind,
            observed_at=end - (n - 1 - i) * step,
            value=float(i),
            good=g,
            unit="s",
            partition=f"{prefix}{i}",
        )
        for i, g in enumerate(goods)
    ]


@pytest.mark.parametrize(
    ("bad", "consumed", "remaining", "status"),
    [
        pytest.param(0, 0.0, 1.0, BudgetStatus.HEALTHY, id="no-bad"),
        pytest.param(1, 1 / 3, 2 / 3, BudgetStatus.HEALTHY, id="a-third-spent"),
        pytest.param(3, 1.0, 0.0, BudgetStatus.BREACHED, id="exactly-exhausted"),
        pytest.param(6, 2.0, -1.0, BudgetStatus.BREACHED, id="overspent-negative-remaining"),
    ],
)
def test_occurrences_budget(bad, consumed, remaining, status):
    # 90% over 30 daily events: 3 bad events are allowed.
    goods = [True] * (30 - bad) + [False] * bad
    report = compute_budget(daily(goods), spec(), NOW)
    assert (report.total_events, report.bad_events, report.good_events) == (30, bad, 30 - bad)
    assert report.error_budget == pytest.approx(0.1)
    assert report.consumed == pytest.approx(consumed)
    assert report.remaining == pytest.approx(remaining)
    assert report.window_start == NOW - 30 * DAY and report.window_end == NOW
    assert budget_status(report) is status


def test_at_risk_threshold_is_configurable():
    report = compute_budget(daily([True] * 28 + [False] * 2), spec(), NOW)
    assert report.remaining == pytest.approx(1 / 3)
    assert budget_status(report) is BudgetStatus.HEALTHY
    assert budget_status(report, at_risk_below=0.4) is BudgetStatus.AT_RISK
    assert budget_status(report, page_firing=True) is BudgetStatus.BREACHED


@pytest.mark.parametrize(
    "observations",
    [
        pytest.param([], id="never-observed"),
        pytest.param(daily([True] * 5, end=NOW - 40 * DAY), id="only-older-than-window"),
    ],
)
def test_no_observation_in_window_is_no_data_never_healthy(observations):
    report = compute_budget(observations, spec(), NOW)
    assert report.no_data
    assert report.observations == 0
    assert budget_status(report) is BudgetStatus.NO_DATA


def test_window_is_half_open():
    # (now - 30d, now]: an observation exactly 30 days old is out, one exactly at now is in.
    report = compute_budget(daily([False] + [True] * 30), spec(), NOW)
    assert (report.observations, report.bad_events) == (30, 0)


@pytest.mark.parametrize(
    ("policy", "good", "bad", "total"),
    [
        pytest.param("bad", 20, 10, 30, id="bad"),
        pytest.param("good", 30, 0, 30, id="good"),
        pytest.param("ignore", 20, 0, 20, id="ignore"),
    ],
)
def test_missing_partitions_follow_the_policy(policy, good, bad, total):
    # 20 good days, then the pipeline stops: the next 10 days are missing.
    observations = daily([True] * 20, end=NOW - 10 * DAY)
    report = compute_budget(observations, spec(missing_data=policy), NOW)
    assert report.missing_events == 10 - 1  # the 10th is due exactly now: not yet half a day late
    assert (report.good_events, report.bad_events) == (good - (policy == "good"), bad - (policy == "bad"))
    assert report.total_events == total - (policy != "ignore")


@pytest.mark.parametrize(
    ("gap", "missing"),
    [
        pytest.param(timedelta(hours=35), 0, id="jitter-under-half-a-cadence"),
        pytest.param(timedelta(hours=37), 1, id="one-missing"),
        pytest.param(timedelta(days=4), 3, id="three-missing"),
    ],
)
def test_missing_events_in_a_gap(gap, missing):
    first = daily([True] * 3, end=NOW - 10 * DAY - gap, prefix="early")
    second = daily([True] * 11, end=NOW)
    report = compute_budget(first + second, spec(), NOW)
    assert (report.observations, report.missing_events) == (14, missing)


def test_unknown_good_follows_the_policy():
    goods = [True] * 27 + [None] * 3
    assert compute_budget(daily(goods), spec(missing_data="bad"), NOW).bad_events == 3
    ignored = compute_budget(daily(goods), spec(missing_data="ignore"), NOW)
    assert (ignored.total_events, ignored.unknown_events, ignored.observations) == (27, 3, 30)


@pytest.mark.parametrize(
    ("earlier", "later", "bad"),
    [
        pytest.param(False, True, 0, id="bad-then-good-rerun"),
        pytest.param(True, False, 1, id="good-then-bad-rerun"),
    ],
)
def test_a_rerun_partition_counts_once_with_its_latest_observation(earlier, later, bad):
    observations = daily([True] * 29 + [later])  # p29 observed at now ...
    first_try = Obs(
        dataset="flights",
        kind="freshness",
        observed_at=NOW - HOUR,
        value=1.0,
        good=earlier,
        unit="s",
        partition="p29",
    )  # ... and an hour before
    observations.insert(-1, first_try)
    report = compute_budget(observations, spec(), NOW)
    assert (report.observations, report.total_events, report.bad_events) == (30, 30, bad)


def test_naive_now_is_refused():
    with pytest.raises(ValueError) as e:
        compute_budget([], spec(), datetime(2026, 11, 22))
    assert str(e.value) == (
        "dataset 'flights': now must be a timezone-aware datetime, got datetime.datetime(2026, 11, 22, 0, 0)"
    )


# ---------------------------------------------------------------- time slices

T0 = 1_800_000_000.0  # a multiple of 5 minutes (and of an hour)


def slices_spec(**kw):
    return spec(budgeting="timeslices", cadence="1h", **kw)


def test_timeslices_hourly_observations_cover_twelve_slices_each():
    times = [T0 + h * 3600 for h in range(24)]
    goods = [True] * 24
    goods[10] = False
    series = EventSeries(times, goods, slices_spec())
    count = series.count(T0, T0 + 24 * 3600)
    # 288 five-minute slices end in (T0, T0 + 24h]; the bad hour judges 12 of them.
    assert (count.good, count.bad, count.missing) == (276, 12, 0)
    assert count.total == 288


def test_timeslices_stale_observation_makes_missing_slices():
    # One observation at T0 vouches for cadence + one slice (65 minutes = 13 slices); the rest are missing.
    series = EventSeries([T0], [True], slices_spec(missing_data="bad"))
    count = series.count(T0, T0 + 2 * 3600)
    assert (count.good, count.bad, count.missing, count.observations) == (13, 11, 11, 0)


def test_timeslices_window_edges_are_clipped():
    times = [T0 + h * 3600 for h in range(4)]
    series = EventSeries(times, [True, False, True, True], slices_spec())
    # (T0 + 30m, T0 + 1h30m]: 6 slices judged by the first (good) observation, 6 by the second (bad).
    count = series.count(T0 + 1800, T0 + 5400)
    assert (count.good, count.bad, count.missing) == (6, 6, 0)


def test_timeslices_nothing_before_the_first_observation():
    series = EventSeries([T0 + 3600], [True], slices_spec())
    count = series.count(T0, T0 + 3600 + 600)
    assert (count.good, count.bad, count.missing) == (2, 0, 0)


def test_timeslice_budget_from_observations():
    observations = [
        Obs(dataset="flights", kind="freshness", observed_at=NOW - h * HOUR, value=1.0, good=h != 5, unit="s")
        for h in range(30 * 24 + 1)
    ]
    observations.reverse()
    report = compute_budget(observations, slices_spec(objective=0.99), NOW)
    assert report.total_events == 30 * 24 * 12
    assert report.bad_events == 12
    assert report.consumed == pytest.approx(12 / (8640 * 0.01))


def test_series_length_mismatch():
    with pytest.raises(ValueError) as e:
        EventSeries([1.0, 2.0], [True], spec())
    assert str(e.value) == "EventSeries of 'flights': 2 times but 1 states"


def test_a_firing_ticket_is_never_reported_healthy():
    report = compute_budget(daily([True] * 30), spec(), NOW)
    assert budget_status(report) is BudgetStatus.HEALTHY
    assert budget_status(report, ticket_firing=True) is BudgetStatus.AT_RISK
    assert budget_status(report, page_firing=True) is BudgetStatus.BREACHED
