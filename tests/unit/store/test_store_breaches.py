"""Breach episodes: opened once, resolved once, one notification each way, even with two evaluators."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from sli_history import SLO_2D

from airflow_dataops.slo.breaches import sync_breaches
from airflow_dataops.slo.evaluator import evaluate_datasets, run_evaluation
from airflow_dataops.store import StateStore
from airflow_dataops.store.breaches import list_breaches, open_breach, open_breaches, resolve_breach
from airflow_dataops.store.records import upsert_dataset

UTC = timezone.utc
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


#: one partition per hour of publishing: a later publish adds partitions, it does not rerun these
KEYS = "{at:%Y%m%d%H}-{i}"


def test_episode_lifecycle(store, seed_slis):
    upsert_dataset(store, "orders", slo=SLO_2D)
    seed_slis(store, "orders", last=NOW - 3 * DAY, n=10, keys=KEYS)

    first = run_evaluation(store, now=NOW)
    assert [(t.state, t.dataset, t.slo, t.severity) for t in first.transitions] == [
        ("open", "orders", "freshness", "page")
    ]
    episode = first.transitions[0].episode
    assert episode.notified_open_at == NOW and episode.resolved_at is None
    assert episode.burn_rates  # recorded with the episode

    # Still stale ten minutes later: same episode, nobody notified again.
    assert run_evaluation(store, now=NOW + timedelta(minutes=10)).transitions == ()
    assert list(open_breaches(store)) == [("orders", "freshness")]

    # Publishing resumes; once the bad events leave the window the episode resolves, once.
    later = NOW + 31 * DAY  # the bad events have left the 30-day window
    seed_slis(store, "orders", last=later, n=31, keys=KEYS)
    resolved = run_evaluation(store, now=later)
    assert [(t.state, t.dataset) for t in resolved.transitions] == [("resolved", "orders")]
    assert resolved.transitions[0].episode.notified_resolve_at == later
    assert run_evaluation(store, now=later + timedelta(minutes=10)).transitions == ()
    (row,) = list_breaches(store, "orders")
    assert row.resolved_at == later and row.notified_open_at == NOW
    assert open_breaches(store) == {}


def test_no_data_neither_opens_nor_resolves(store):
    upsert_dataset(store, "quiet", slo=SLO_2D)
    open_breach(store, "quiet", "freshness", severity="ticket", burn_rates={}, now=NOW)
    assert run_evaluation(store, now=NOW).transitions == ()
    assert ("quiet", "freshness") in open_breaches(store)


def test_escalation_to_page_updates_the_open_episode_without_notifying(store):
    ep, new = open_breach(store, "x", "freshness", severity="ticket", burn_rates={"1d": 3.5}, now=NOW)
    assert new
    again, new = open_breach(store, "x", "freshness", severity="page", burn_rates={"1d": 20.0}, now=NOW)
    assert not new and again.id == ep.id and again.severity == "page"
    assert resolve_breach(store, "x", "freshness", now=NOW).id == ep.id
    assert resolve_breach(store, "x", "freshness", now=NOW) is None


def _race(store_url, fn, n=4):
    """Run ``fn(store)`` in ``n`` threads, each with its own engine, released together."""
    barrier = threading.Barrier(n)
    results, errors = [], []

    def worker():
        s = StateStore(store_url, connect_timeout=20)
        try:
            barrier.wait(timeout=30)
            results.append(fn(s))
        except Exception as e:  # surfaced below
            errors.append(e)
        finally:
            s.dispose()

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not errors, errors
    return results


def test_concurrent_evaluators_notify_once(store, store_url, seed_slis):
    for name in ("a", "b", "c"):
        upsert_dataset(store, name, slo=SLO_2D)
        seed_slis(store, name, last=NOW - 3 * DAY, n=10, keys=KEYS)
    results = evaluate_datasets(store, now=NOW)

    opened = _race(store_url, lambda s: sync_breaches(s, results, now=NOW))
    flat = [t for run in opened for t in run]
    assert sorted((t.state, t.dataset) for t in flat) == [("open", "a"), ("open", "b"), ("open", "c")]
    assert len(list_breaches(store)) == 3

    later = NOW + 31 * DAY  # the bad events have left the 30-day window
    for name in ("a", "b", "c"):
        seed_slis(store, name, last=later, n=31, keys=KEYS)
    results = evaluate_datasets(store, now=later)
    resolved = _race(store_url, lambda s: sync_breaches(s, results, now=later))
    flat = [t for run in resolved for t in run]
    assert sorted((t.state, t.dataset) for t in flat) == [
        ("resolved", "a"),
        ("resolved", "b"),
        ("resolved", "c"),
    ]
    assert open_breaches(store) == {}


def test_concurrent_open_breach_primitive(store, store_url):
    outcomes = _race(
        store_url, lambda s: open_breach(s, "d", "freshness", severity="page", burn_rates={}, now=NOW), n=6
    )
    assert sum(1 for _, new in outcomes if new) == 1
    assert len({ep.id for ep, _ in outcomes}) == 1
