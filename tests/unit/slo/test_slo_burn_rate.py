"""Burn rates and multi-window, multi-burn-rate alerts: the SRE workbook's figures, scaling, evaluation."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_dataops.slo.budget import EventSeries
from airflow_dataops.slo.burn_rate import (
    WORKBOOK_POLICY,
    AlertSeverity,
    alert_lookback,
    alert_windows,
    budget_consumed,
    burn_rate,
    burn_rate_threshold,
    detection_time,
    evaluate_series,
    time_to_exhaustion,
)
from airflow_dataops.slo.sli import SLIKind
from airflow_dataops.slo.spec import SLOSpec
from airflow_dataops.slo.status import SLOStatus as BudgetStatus

from ._rows import Obs, evaluate_alerts
from ._rows import evaluate as evaluate_dataset

UTC = timezone.utc
NOW = datetime(2026, 11, 22, tzinfo=UTC)
SECOND, MINUTE, HOUR, DAY = timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
MONTH = 30 * DAY


def spec(**kw):
    base = {
        "dataset": "flights",
        "kind": SLIKind.FRESHNESS,
        "objective": 0.999,
        "window_days": 30,
        "threshold": 6,
        "unit": "h",
        "cadence": timedelta(minutes=1),
    }
    return SLOSpec(**{**base, **kw})


def table(s):
    return [(w.label, pytest.approx(w.factor), w.severity.value) for w in alert_windows(s)]


# ---------------------------------------------------------------- the workbook's figures


def test_error_budget_of_a_999_slo_is_a_tenth_of_a_percent():
    assert spec().error_budget == pytest.approx(0.001)


def test_burn_rate_is_bad_fraction_over_error_budget():
    assert burn_rate(0.001, 0.999) == pytest.approx(1.0)
    assert burn_rate(0.0144, 0.999) == pytest.approx(14.4)
    assert burn_rate(1.0, 0.999) == pytest.approx(1000.0)


def test_burn_rate_144_over_one_hour_consumes_2_percent_of_a_30_day_budget():
    assert budget_consumed(14.4, HOUR, MONTH) == pytest.approx(0.02)


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        pytest.param(1, 30 * DAY, id="rate-1-30-days"),
        pytest.param(14.4, 50 * HOUR, id="rate-14.4-50-hours"),
        pytest.param(6, 5 * DAY, id="rate-6-5-days"),
        pytest.param(3, 10 * DAY, id="rate-3-10-days"),
    ],
)
def test_time_to_exhaust_a_30_day_budget(rate, expected):
    assert time_to_exhaustion(rate, MONTH) == expected


def test_time_to_exhaustion_of_a_partly_spent_budget_and_of_no_burn():
    assert time_to_exhaustion(14.4, MONTH, remaining=0.5) == 25 * HOUR
    assert time_to_exhaustion(14.4, MONTH, remaining=-0.2) == timedelta(0)
    assert time_to_exhaustion(0.0, MONTH) is None
    assert (time_to_exhaustion(14.4, MONTH) / DAY) == pytest.approx(2.0833, abs=1e-4)


@pytest.mark.parametrize(
    ("share", "long", "factor"),
    [
        pytest.param(0.02, HOUR, 14.4, id="2pct-1h-14.4"),
        pytest.param(0.05, 6 * HOUR, 6.0, id="5pct-6h-6"),
        pytest.param(0.10, DAY, 3.0, id="10pct-1d-3"),
        pytest.param(0.10, 3 * DAY, 1.0, id="10pct-3d-1"),
    ],
)
def test_factors_derive_from_budget_shares(share, long, factor):
    assert burn_rate_threshold(share, long, MONTH) == pytest.approx(factor)
    assert budget_consumed(factor, long, MONTH) == pytest.approx(share)


def test_workbook_table_for_a_30_day_window():
    assert table(spec()) == [
        ("1h/5m", pytest.approx(14.4), "page"),
        ("6h/30m", pytest.approx(6.0), "page"),
        ("1d/2h", pytest.approx(3.0), "ticket"),
        ("3d/6h", pytest.approx(1.0), "ticket"),
    ]
    assert [w.long / w.short for w in alert_windows(spec())] == [12, 12, 12, 12]
    assert [p[2] for p in WORKBOOK_POLICY] == [0.02, 0.05, 0.10, 0.10]


def test_detection_time_formula():
    # A total outage on a 99.9% SLO fires the 1h/14.4 alert after 0.0144 hours = 51.84 seconds.
    assert detection_time(1.0, 0.999, HOUR, 14.4).total_seconds() == pytest.approx(51.84)
    assert detection_time(0.1, 0.999, HOUR, 14.4).total_seconds() == pytest.approx(518.4)


def per_second(good_for, bad_for, *, end=NOW):
    """One observation per second: good, then bad for the last ``bad_for``; the last at ``end``."""
    n_good, n_bad = int(good_for.total_seconds()), int(bad_for.total_seconds())
    start = end - (n_good + n_bad - 1) * SECOND
    return [
        Obs(
            dataset="flights",
            kind=SLIKind.FRESHNESS,
            observed_at=start + i * SECOND,
            value=0.0,
            good=i < n_good,
            unit="s",
        )
        for i in range(n_good + n_bad)
    ]


def test_a_total_outage_fires_the_fast_page_after_52_seconds():
    s = spec(cadence=SECOND)
    burst = per_second(7 * HOUR, timedelta(seconds=60))
    burst_start = burst[-60].observed_at - SECOND  # the first bad event is one second after it
    fired_at = None
    for n in range(45, 61):
        now = burst_start + n * SECOND
        fast = evaluate_alerts(burst, s, now)[0]
        assert fast.window.label == "1h/5m"
        if fast.fired:
            fired_at = n
            break
    # The workbook's 51.84 s, on whole seconds: 52 bad events in the 3,600 of the last hour
    # burn at 14.44 > 14.4; 51 burn at 14.17.
    assert fired_at == 52
    decisions = evaluate_alerts(burst, s, burst_start + 52 * SECOND)
    fast, slow_page, ticket_1d, _ = decisions
    assert fast.long_burn == pytest.approx(52 / 3600 / 0.001)
    assert fast.short_burn == pytest.approx(52 / 300 / 0.001)
    assert (fast.severity, fast.threshold, fast.fired) == (AlertSeverity.PAGE, pytest.approx(14.4), True)
    assert not slow_page.fired and not ticket_1d.fired
    evaluation = evaluate_dataset(burst, s, burst_start + 52 * SECOND)
    assert evaluation.status is BudgetStatus.BREACHED
    assert [a.window.label for a in evaluation.firing] == ["1h/5m", "3d/6h"]  # 3d: only 7h of history


# ---------------------------------------------------------------- scaling


def test_hourly_cadence_scales_the_pages_to_12h_over_1h_keeping_their_speed():
    assert table(spec(cadence="1h")) == [
        ("12h/1h", pytest.approx(6.0), "page"),  # 1h/5m (14.4x) and 6h/30m (6x) collapse: the lower wins
        ("1d/2h", pytest.approx(3.0), "ticket"),
        ("3d/6h", pytest.approx(1.0), "ticket"),
    ]


def test_daily_cadence_scales_every_pair_to_12d_over_1d_and_pages_only_faster_than_tickets():
    assert table(spec(cadence="1d")) == [
        ("12d/1d", pytest.approx(6.0), "page"),
        ("12d/1d", pytest.approx(1.0), "ticket"),
    ]


@pytest.mark.parametrize("cadence", ["1m", "1h", "3h", "1d", "7d"])
@pytest.mark.parametrize("window_days", [7, 28, 30, 90])
def test_a_page_never_fires_below_a_ticket_on_the_same_windows(cadence, window_days):
    windows = alert_windows(spec(cadence=cadence, window_days=window_days))
    pages = {(w.long, w.short): w.factor for w in windows if w.severity.value == "page"}
    for w in windows:
        if w.severity.value == "ticket" and (w.long, w.short) in pages:
            assert pages[(w.long, w.short)] >= w.factor


@pytest.mark.parametrize("cadence", ["1m", "1h", "3h", "1d"])
@pytest.mark.parametrize("window_days", [7, 28, 30, 90])
def test_scaled_windows_trigger_on_the_same_budget_share(cadence, window_days):
    s = spec(cadence=cadence, window_days=window_days)
    for w in alert_windows(s):
        assert budget_consumed(w.factor, w.long, s.window) == pytest.approx(w.budget_share)
        assert w.short >= s.cadence
        assert w.long <= s.window


def test_a_7_day_slo_keeps_the_windows_and_rescales_the_factors():
    assert table(spec(window_days=7)) == [
        ("1h/5m", pytest.approx(3.36), "page"),
        ("6h/30m", pytest.approx(1.4), "page"),
        ("1d/2h", pytest.approx(0.7), "ticket"),
        ("3d/6h", pytest.approx(0.7 / 3), "ticket"),
    ]


def test_unreachable_factor_is_capped_at_the_highest_burn_rate():
    windows = alert_windows(spec(objective=0.9))  # at most 1 / 0.1 = 10
    assert [(w.factor, w.capped) for w in windows][:2] == [
        (pytest.approx(10.0), True),
        (pytest.approx(6.0), False),
    ]
    outage = per_second(7 * HOUR, 2 * HOUR)
    fast = evaluate_alerts(outage, spec(objective=0.9, cadence=SECOND), NOW)[0]
    assert (fast.long_burn, fast.fired) == (pytest.approx(10.0), True)


def hourly(goods, *, end=NOW):
    n = len(goods)
    return [
        Obs(
            dataset="flights",
            kind=SLIKind.FRESHNESS,
            observed_at=end - (n - 1 - i) * HOUR,
            value=float(i),
            good=g,
            unit="s",
            partition=f"h{i}",
        )
        for i, g in enumerate(goods)
    ]


def test_one_bad_hourly_partition_pages_on_the_scaled_window():
    s = spec(cadence="1h")
    decisions = evaluate_alerts(hourly([True] * 99 + [False]), s, NOW)
    page = decisions[0]
    assert page.window.label == "12h/1h"
    # 1 bad in 12 events over 12h: (1/12) / 0.001 = 83.3 > 1.2; the last hour: 1000 > 1.2.
    assert (page.long_burn, page.short_burn, page.fired) == (
        pytest.approx(1000 / 12),
        pytest.approx(1000.0),
        True,
    )
    recovered = evaluate_alerts(hourly([True] * 99 + [False] + [True], end=NOW + HOUR), s, NOW + HOUR)[0]
    assert recovered.long_burn == pytest.approx(1000 / 12) and recovered.short_burn == 0.0
    assert not recovered.fired  # the short window resets the page an hour after the burning stopped


def test_a_stopped_hourly_pipeline_pages_once_a_partition_is_half_an_hour_late():
    s = spec(cadence="1h")
    observations = hourly([True] * 100)
    assert not evaluate_alerts(observations, s, NOW + 89 * MINUTE)[0].fired
    page = evaluate_alerts(observations, s, NOW + 91 * MINUTE)[0]
    assert page.fired and page.short_burn == pytest.approx(1000.0)


def test_one_bad_day_tickets_and_two_page_a_daily_dataset():
    s = spec(cadence="1d", objective=0.99)
    observations = [
        Obs(
            dataset="flights",
            kind="freshness",
            observed_at=NOW - (59 - i) * DAY,
            value=0.0,
            good=i != 59,
            unit="s",
            partition=f"d{i}",
        )
        for i in range(60)
    ]
    page, ticket = evaluate_alerts(observations, s, NOW)
    assert page.long_burn == pytest.approx((1 / 12) / 0.01)  # 8.3x: above the page factor 6x at 99%
    assert page.fired and ticket.fired
    one_bad_long_ago = [
        Obs(
            dataset="flights",
            kind="freshness",
            observed_at=NOW - (59 - i) * DAY,
            value=0.0,
            good=i != 50,
            unit="s",
            partition=f"d{i}",
        )
        for i in range(60)
    ]
    page, ticket = evaluate_alerts(one_bad_long_ago, s, NOW)
    assert not page.fired and not ticket.fired  # the latest day is good: the short window says it stopped


# ---------------------------------------------------------------- evaluate_dataset


def test_evaluate_dataset_healthy():
    s = spec(cadence="1h", objective=0.99)
    result = evaluate_dataset(hourly([True] * (40 * 24)), s, NOW)
    assert (result.status, result.no_data, result.total_events, result.good_events) == (
        BudgetStatus.HEALTHY,
        False,
        720,
        720,
    )
    assert result.budget_remaining == 1.0
    assert result.sli_value is None  # the rows carry no values here (see _rows.columns)
    assert set(result.burn_rates) == {"12h", "1h", "1d", "2h", "3d", "6h", "30d"}
    assert all(v == 0.0 for v in result.burn_rates.values())
    assert result.firing == ()


def test_evaluate_dataset_at_risk():
    s = spec(cadence="1h", objective=0.99)  # 720 events: 7.2 bad allowed
    goods = [True] * (40 * 24)
    for i in range(200, 206):
        goods[-i] = False  # 6 bad, days ago: budget 1 - 6/7.2 = 0.167 left, no alert firing
    result = evaluate_dataset(hourly(goods), s, NOW)
    assert result.budget_remaining == pytest.approx(1 - 6 / 7.2)
    assert result.status is BudgetStatus.AT_RISK
    assert result.burn_rates["30d"] == pytest.approx((6 / 720) / 0.01)


def test_evaluate_dataset_without_data_says_so():
    result = evaluate_dataset([], spec(), NOW)
    assert (result.status, result.no_data, result.budget_remaining, result.sli_value) == (
        BudgetStatus.NO_DATA,
        True,
        None,
        None,
    )
    assert all(a.fired is False and a.long_burn is None for a in result.alerts)


def test_evaluate_series_from_plain_columns_matches_the_evaluation():
    s = spec(cadence="1h", objective=0.99)
    observations = hourly([True] * 700 + [False] * 3 + [True] * 20)
    times, goods = [o.observed_at.timestamp() for o in observations], [o.good for o in observations]
    series = EventSeries.from_columns(times, goods, s, NOW, lookback=alert_lookback(s))
    assert (
        len(series.times) == 722
    )  # (now - 30d, now] plus one cadence of margin before it; older rows skipped
    assert evaluate_series(EventSeries(times, goods, s), s, NOW) == evaluate_series(series, s, NOW)
    a = evaluate_series(series, s, NOW)
    b = evaluate_dataset(observations, s, NOW)
    assert (a.status, a.total_events, a.bad_events, a.burn_rates, a.alerts) == (
        b.status,
        b.total_events,
        b.bad_events,
        b.burn_rates,
        b.alerts,
    )
    # 3 bad of 720 on 99%: 7.2 allowed, 58% left; the 3d window burns at 4.2 but its 6h window is clean.
    assert (b.status, b.budget_remaining) == (BudgetStatus.HEALTHY, pytest.approx(1 - 3 / 7.2))
