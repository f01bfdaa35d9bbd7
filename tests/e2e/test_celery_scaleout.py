"""nycflights_daily on CeleryExecutor: 31 partitions over two workers, 8 racing reruns, one worker SIGKILLed.

The stack (tests/e2e/celery_stack.py) is a real distributed Airflow on one machine: Redis as
broker, PostgreSQL as metadata DB, Celery result backend, dataops store and warehouse, two
``airflow celery worker`` processes with their own hostnames and queues, scheduler,
dag-processor, triggerer and api-server.  The DAG is the repository's own
``dags/nycflights_daily.py``, unchanged; retries and timeouts come from Airflow's config
(``[core] default_task_retries``, ``[scheduler] task_instance_heartbeat_timeout``).

While the partitions run, eight ``airflow dataops partitions rerun`` processes ask for the
same partition at once, and one worker is SIGKILLed (with its whole process tree: Celery,
its pool, the task supervisors and tasks) while the ledger says one of its partitions is
``applying``.  Airflow recovers it on its own: the task stops heart-beating, the scheduler
fails the try, and the retry on a live worker takes the partition over in the ledger; a replacement
worker is then started under the killed one's name, as a process supervisor would.

Afterwards: exactly one ``apply`` per partition is published in the ledger's history (the
reruns are recorded as ``rerun``, at most one per recorded request, and none stays open); the warehouse holds every
source row of every partition exactly once (published + quarantined = source, no duplicate);
``partitions verify`` exits 0; the cost SLIs and the OpenLineage ledger facets say what the
ledger says.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from e2e.celery_stack import celery_stack, redis_server_binary
from e2e.scheduler import StackError

pytestmark = [pytest.mark.scheduler, pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(900)]

DAG_ID = "nycflights_daily"
DATASET = "flights"
KEYS = [f"2026-01-{d:02d}" for d in range(1, 32)]  # 31 partitions, all long before "yesterday"
RERUN_KEY = KEYS[0]
RERUNS = 8
REASON = "e2e: eight people asked for the same rerun at once"
PUBLISHED = ("applied", "quarantined")


def _published(h: Any) -> bool:
    """The history row of an apply or rerun that published (later replaced ones are ``superseded``)."""
    replaced = h.state == "superseded" and h.checksum is not None and not h.error
    return h.state in PUBLISHED or replaced


ADMIN_URL = os.environ.get("DATAOPS_TEST_PG_URL", "")


@pytest.fixture
def admin_url() -> str:
    if not ADMIN_URL:
        pytest.skip("DATAOPS_TEST_PG_URL is not set (make test starts a PostgreSQL server and sets it)")
    if redis_server_binary() is None:
        message = "redis-server is not installed (Debian package redis-server; `make system-deps` as root)"
        if os.environ.get("DATAOPS_REQUIRE_PG") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return ADMIN_URL


def test_flights_on_two_celery_workers_with_racing_reruns_and_a_killed_worker(
    tmp_path: Path, admin_url: str
) -> None:
    from airflow_dataops.store import StateStore

    env = {"AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG": "6"}
    with celery_stack(tmp_path, admin_url, workers=2, concurrency=2, extra_env=env) as (af, urls):
        store = StateStore(urls["store"])
        assert sorted(w.split("@")[0] for w in af.wait_for_workers()) == ["worker1", "worker2"]
        dag = af.wait_for_dag(DAG_ID, timeout=240)
        assert dag["max_active_runs"] > 1, dag
        af.unpause(DAG_ID)
        runs = {key: af.trigger(DAG_ID, partition_key=key) for key in KEYS}

        # 1. once the first partition is applied, eight reruns of it are asked for at the same moment
        assert af.wait_for_run(DAG_ID, runs[RERUN_KEY], timeout=400) == "success", af.logs()
        argv = [sys.executable, "-m", "airflow", "dataops", "partitions", "rerun", DAG_ID]
        reruns = [
            subprocess.Popen(
                [*argv, "-k", RERUN_KEY, "--reason", REASON],
                env=af.env,
                cwd=af.workdir,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(RERUNS)
        ]

        # 2. meanwhile: SIGKILL the worker running a partition the ledger has just claimed
        victim = _kill_a_worker_mid_apply(af, store, exclude={RERUN_KEY})
        af.start_worker(victim["worker"])  # a replacement joins, as a supervisor would restart it

        outcomes = [(p.wait(timeout=400), *p.communicate()) for p in reruns]
        accepted = [o for o in outcomes if o[0] == 0]
        # A rerun that loses the race is refused with one line, never a traceback: before recording
        # anything (another one's clear already queued the run), or after recording its request when
        # Airflow refused its clear (two `dags clear` of one run at once collide in Airflow's own
        # tables); that request is consumed by the run the other rerun cleared.
        busy = [o for o in outcomes if o[0] == 1 and "being worked on right now" in o[2]]
        recorded = [
            o for o in outcomes if o[0] == 1 and "The ledger already holds the rerun requests" in o[2]
        ]
        assert len(accepted) + len(busy) + len(recorded) == RERUNS, outcomes
        assert accepted and not any("Traceback" in o[2] for o in outcomes), outcomes
        print(
            f"reruns: {len(accepted)} accepted, {len(busy)} refused as busy, {len(recorded)} recorded but not cleared"
            + (f"; e.g. {recorded[0][2][:400]}" if recorded else "")
        )

        # 3. every run ends, all successful, the killed one by its retry on a live worker
        states = _wait_for_all_runs(af, timeout=600)
        assert set(states) == {"success"}, (states, af.logs())
        victim_tis = af.task_instances(DAG_ID, victim["run_id"])
        assert victim_tis[0]["try_number"] > victim["attempt"], victim_tis

        # 4. the ledger: exactly one apply per partition, the killed attempt taken over by its retry
        history = _history(store)
        by_key: dict[str, list[Any]] = {}
        for h in history:
            by_key.setdefault(h.partition_key, []).append(h)
        assert set(KEYS) <= set(by_key), sorted(by_key)
        for key, entries in by_key.items():
            applies = [h for h in entries if h.action == "apply" and _published(h)]
            assert len(applies) == 1, (key, [(h.action, h.state, h.run_id, h.attempt) for h in entries])
        killed = next(h for h in history if h.id == victim["apply_id"])
        assert killed.state == "failed" and "did not finish (killed or lost)" in (killed.error or ""), killed
        takeover = [
            h
            for h in by_key[victim["key"]]
            if h.run_id == victim["run_id"] and (h.attempt or 0) > victim["attempt"] and _published(h)
        ]
        assert len(takeover) == 1, by_key[victim["key"]]

        # the eight reruns: each accepted one recorded its request; all consumed; at most one rerun each
        rerun_key = by_key[RERUN_KEY]
        requested = [h for h in rerun_key if h.action == "rerun_requested"]
        done = [h for h in rerun_key if h.action == "rerun" and _published(h)]
        assert len(requested) == len(accepted) + len(recorded), (outcomes, requested)
        assert 1 <= len(done) <= len(requested), rerun_key
        assert all(h.reason == REASON for h in [*requested, *done])
        assert _open_rerun_requests(store) == 0

        # 5. the warehouse: published + quarantined rows = the source rows, each exactly once
        counts = _warehouse_counts(urls["warehouse"])
        sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "dags"))
        from nycflights_daily import flights_for_day

        for key in KEYS:
            source = flights_for_day(key)
            current = _current(store, key)
            total, distinct, published = counts[key]
            assert total == len(source) and distinct == len(source.drop_duplicates()), (key, counts[key])
            assert published == current.rows_published, (key, counts[key], current)

        verify = af.cli("dataops", "partitions", "verify", DAG_ID, "-o", "json", timeout=300)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        statuses = {f["partition_key"]: f["status"] for f in json.loads(verify.stdout)}
        assert all(statuses[k] == "ok" for k in KEYS), statuses

        # 6. SLIs and lineage say what the ledger says
        _assert_slis_agree(store, history)
        _assert_lineage_agrees(af.lineage_file, history)

        # 7. both workers did the work (and the replacement rejoined under the killed one's name)
        for name in af.worker_names:
            log = (af.home / f"logs-{name}.txt").read_text(errors="replace")
            assert "Executing workload in Celery" in log, name


# ------------------------------------------------------------------------------ helpers
def _kill_a_worker_mid_apply(
    af: Any, store: Any, *, exclude: set[str], timeout: float = 400
) -> dict[str, Any]:
    """Wait for a partition the ledger shows ``applying`` (claimed: staging, gate and publish under
    way), SIGKILL the worker whose process group runs its task, and say which.

    The ledger row is read again just before the kill: the fence cannot have committed between
    that read and the SIGKILL unless it did so within those milliseconds, and the test checks
    afterwards that the killed attempt was indeed taken over."""
    from sqlalchemy import select

    from airflow_dataops.store import tables as t

    h = t.partition_history
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with store.begin(write=False) as conn:
            rows = conn.execute(select(h).where(h.c.state == "applying", h.c.action == "apply")).all()
        for row in rows:
            if row.partition_key in exclude:
                continue
            tis = af.task_instances(DAG_ID, row.run_id)
            pid = tis[0].get("pid") if tis else None
            worker = af.worker_of(int(pid)) if pid else None
            if worker is None:
                continue
            with store.begin(write=False) as conn:  # still ours, still applying: kill now
                state = conn.execute(select(h.c.state).where(h.c.id == row.id)).scalar_one()
            if state != "applying":
                continue
            af.kill_worker(worker)
            return {
                "worker": worker,
                "key": row.partition_key,
                "run_id": row.run_id,
                "attempt": row.attempt,
                "apply_id": row.id,
            }
        time.sleep(0.1)
    raise StackError(f"no partition was seen applying on a worker within {timeout} s\n{af.logs()}")


def _wait_for_all_runs(af: Any, *, timeout: float) -> Counter[str]:
    deadline = time.monotonic() + timeout
    states: Counter[str] = Counter()
    while time.monotonic() < deadline:
        af._check_alive()
        states = Counter(r["state"] for r in af.runs(DAG_ID))
        if sum(states.values()) >= len(KEYS) and not set(states) - {"success", "failed"}:
            return states
        time.sleep(3)
    raise StackError(f"runs not finished after {timeout} s: {dict(states)}\n{af.logs()}")


def _history(store: Any) -> list[Any]:
    from airflow_dataops.store.ledger import history

    return history(store, DATASET)


def _current(store: Any, key: str) -> Any:
    from airflow_dataops.store.ledger import get_partition

    state = get_partition(store, DATASET, key)
    assert state is not None and state.state in PUBLISHED, (key, state)
    return state


def _open_rerun_requests(store: Any) -> int:
    from sqlalchemy import func, select

    from airflow_dataops.store import tables as t

    r = t.rerun_requests
    with store.begin(write=False) as conn:
        return int(conn.execute(select(func.count()).where(r.c.consumed_at.is_(None))).scalar_one())


def _warehouse_counts(url: str) -> dict[str, tuple[int, int, int]]:
    """flight_date → (rows published + quarantined, distinct such rows, rows published)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = [
                name
                for name in ("flights", "flights__quarantine")
                if conn.execute(text("SELECT to_regclass(:n)"), {"n": f"public.{name}"}).scalar()
            ]
            columns = [
                c
                for c in conn.execute(
                    text(
                        "SELECT column_name FROM information_schema.columns WHERE table_name = 'flights' "
                        "ORDER BY ordinal_position"
                    )
                ).scalars()
            ]
            cols = ", ".join(f'"{c}"' for c in columns)
            union = " UNION ALL ".join(f'SELECT {cols} FROM "{name}"' for name in tables)
            rows = conn.execute(
                text(f"SELECT flight_date, count(*) FROM ({union}) u GROUP BY flight_date")
            ).all()
            distinct = dict(
                conn.execute(
                    text(
                        f"SELECT flight_date, count(*) FROM (SELECT DISTINCT * FROM ({union}) u) d GROUP BY 1"
                    )
                ).all()
            )
            published = dict(
                conn.execute(text('SELECT flight_date, count(*) FROM "flights" GROUP BY 1')).all()
            )
    finally:
        engine.dispose()
    return {str(k): (int(n), int(distinct[k]), int(published.get(k, 0))) for k, n in rows}


def _interrupted(history: list[Any]) -> set[str]:
    """Partitions an attempt of which died or was refused: their SLIs/lineage may lack that attempt's record."""
    return {h.partition_key for h in history if h.state in ("failed", "refused")}


def _assert_slis_agree(store: Any, history: list[Any]) -> None:
    """One cost SLI per published apply (same run, same rows); none for an apply that did not publish."""
    from sqlalchemy import select

    from airflow_dataops.store import tables as t

    s = t.sli_observations
    with store.begin(write=False) as conn:
        slis = conn.execute(
            select(s.c.partition_key, s.c.run_id, s.c.details).where(
                s.c.dataset == DATASET, s.c.kind == "cost"
            )
        ).all()
    observed = Counter((r.partition_key, r.run_id, int(r.details["rows"])) for r in slis)
    ledger = Counter((h.partition_key, h.run_id, h.rows_published) for h in history if _published(h))
    assert not observed - ledger, f"SLIs of publishes the ledger does not hold: {observed - ledger}"
    skip = _interrupted(history)
    missing = {k: n for k, n in (ledger - observed).items() if k[0] not in skip}
    assert not missing, f"published applies without their SLI: {missing}"


def _assert_lineage_agrees(path: Path, history: list[Any]) -> None:
    """The COMPLETE events' ledger facets: one per published apply, same decision, rows and checksum."""
    facet_key = "dataops_partitionLedger"
    seen: Counter[tuple[str, str, str, int | None, str | None]] = Counter()
    for line in path.read_text().splitlines():
        event = json.loads(line)
        facet = event.get("run", {}).get("facets", {}).get(facet_key)
        if event.get("eventType") != "COMPLETE" or not facet or facet.get("dataset") != DATASET:
            continue
        if facet["decision"] in ("applied", "rerun"):
            decision = "apply" if facet["decision"] == "applied" else "rerun"
            seen[
                (
                    facet["partitionKey"],
                    facet["runId"],
                    decision,
                    facet.get("rowsPublished"),
                    facet.get("checksum"),
                )
            ] += 1
    ledger = Counter(
        (h.partition_key, h.run_id, h.action, h.rows_published, h.checksum) for h in history if _published(h)
    )
    assert not seen - ledger, f"lineage reports publishes the ledger does not hold: {seen - ledger}"
    skip = _interrupted(history)
    missing = {k: n for k, n in (ledger - seen).items() if k[0] not in skip}
    assert not missing, f"published applies without their lineage event: {missing}"
