"""Workers for the ledger protocol tests: what the operator does, minus Airflow, in a real OS process.

Shared by tests/integration/test_ledger_protocol.py and tests/reliability/ (crash and concurrency
soak).  ``apply_partition`` can be told to hold at a point (before staging, after staging, inside
the publish transaction before its fence, between the target's commit and the ledger's record of
it, inside the fence) so a test can SIGKILL it exactly there.
"""

from __future__ import annotations

import faulthandler
import multiprocessing as mp
import os
import queue as queue_module
import random
import shutil
import signal
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import MetaData, Table, create_engine, select

DATASET, TABLE, COLUMN = "flights", "flights", "flight_date"
# Children fork from a clean, single-threaded server process, never from pytest itself: by the time
# the reliability tests run, earlier `dag.test()` runs have left threads in the pytest process (an
# asyncio loop, tqdm's monitor, a queue feeder), and a child forked while one of them held a lock
# hangs on it forever. The server imports once what every worker needs, so a child starts in
# milliseconds; only installed packages (Python 3.11's server does not see the tests' sys.path),
# and pytest, which each child imports again when the suite runs through the `pytest` script.
CTX = mp.get_context("forkserver")
CTX.set_forkserver_preload(
    [
        "pandas",
        "sqlalchemy",
        "pytest",
        "airflow_dataops.config",
        "airflow_dataops.partitions.ledger",
        "airflow_dataops.partitions.rollback",
        "airflow_dataops.partitions.versions",
        "airflow_dataops.partitions.writer",
        "airflow_dataops.store",
    ]
)
#: The name of every process this harness starts (tests/conftest.py kills any left at the end).
CHILD_NAME = "dataops-test-child"
POINTS = ["before_stage", "after_stage", "in_publish_transaction", "before_finish"]


def source(key: str, n: int = 200) -> pd.DataFrame:
    """The source rows of partition ``key``: deterministic, with NULLs and duplicates of their own."""
    seed = sum(map(ord, key))
    return pd.DataFrame(
        {
            "flight": [(seed + i) % 97 for i in range(n)],  # repeats on purpose
            "origin": [("JFK", "LGA", None)[i % 3] for i in range(n)],
            "delay": [float(i % 11) - 3.5 for i in range(n)],
            COLUMN: [key] * n,
        }
    )


def warehouse_engine(url: str) -> Any:
    if url.startswith("sqlite"):
        return create_engine(url, connect_args={"timeout": 60})
    return create_engine(url)


def target_multiset(url: str, key: str) -> Counter[tuple[Any, ...]]:
    engine = warehouse_engine(url)
    try:
        t = Table(TABLE, MetaData(), autoload_with=engine)
        with engine.connect() as conn:
            rows = conn.execute(
                select(t.c.flight, t.c.origin, t.c.delay, t.c[COLUMN]).where(t.c[COLUMN] == key)
            ).all()
        return Counter(tuple(r) for r in rows)
    finally:
        engine.dispose()


def source_multiset(key: str, n: int = 200) -> Counter[tuple[Any, ...]]:
    frame = source(key, n).astype(object).where(source(key, n).notna(), None)
    return Counter(tuple(r) for r in frame.itertuples(index=False, name=None))


# ----------------------------------------------------------------------------- the worker
def holder(hold_at: str | None, marker: str | None) -> Callable[[str], None]:
    """``hold(point)``: at ``hold_at``, write the point to the file ``marker`` and wait there for SIGKILL."""

    def hold(point: str) -> None:
        if hold_at == point:
            Path(marker or "").write_text(point)
            while True:  # wait here for SIGKILL
                time.sleep(60)

    return hold


def apply_partition(
    store_url: str,
    warehouse_url: str,
    key: str,
    run_id: str,
    attempt: int,
    *,
    n: int = 200,
    hold_at: str | None = None,
    marker: str | None = None,
    barrier: Any = None,
) -> str:
    """What ``PartitionWriteOperator.execute`` does, minus Airflow; returns how it ended."""
    from airflow_dataops.exceptions import PartitionAlreadyApplied
    from airflow_dataops.partitions.ledger import PartitionInProgress, PartitionLedger
    from airflow_dataops.partitions.writer import drop_stage, ensure_target, publish, stage_frame
    from airflow_dataops.store import StateStore

    hold = holder(hold_at, marker)
    store = StateStore(store_url, connect_timeout=60)
    engine = warehouse_engine(warehouse_url)
    ledger = PartitionLedger(store, DATASET)
    if barrier is not None:
        barrier.wait(timeout=60)
    try:
        claim = ledger.begin(key, dag_id="dag", task_id="load", run_id=run_id, attempt=attempt)
    except PartitionAlreadyApplied:
        return "refused:already_applied"
    except PartitionInProgress:
        return "refused:in_progress"
    hold("before_stage")
    stage = stage_frame(engine, source(key, n), table=TABLE, partition_key=key)
    hold("after_stage")
    target = ensure_target(engine, stage, table=TABLE)
    fence = ledger.fence(claim, gate_verdict=None, contract_version=None)
    from airflow_dataops.config import DataOpsSettings
    from airflow_dataops.partitions.versions import version_to_keep

    keep = version_to_keep(claim, settings=DataOpsSettings())  # as the operator: keep what is replaced

    def fence_then_hold(result: Any, commit: Any, conn: Any) -> None:
        def commit_then_hold() -> None:  # "before_finish": target committed, ledger not yet recorded
            commit()
            hold("before_finish")

        fence(result, commit_then_hold, conn)

    result = publish(
        engine,
        stage=stage,
        target=target,
        partition_column=COLUMN,
        partition_key=key,
        run_id=run_id,
        before_commit=lambda: hold("in_publish_transaction"),
        fence=fence_then_hold,
        keep=keep,
    )
    drop_stage(engine, stage)
    engine.dispose()
    store.dispose()
    return f"applied:{claim.action}:{result.rows_published}"


def run_and_report(
    queue: Any,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    dump_dir: str | None = None,
) -> None:
    """The child's side of :func:`run_children`: report ``fn``'s result (or its error) on ``queue``.

    With ``dump_dir``, SIGUSR1 writes every thread's Python stack to ``<dump_dir>/<pid>.txt``, so a
    parent that gives up on a hung child can say where it hung."""
    if dump_dir is not None:
        dump = open(Path(dump_dir) / f"{os.getpid()}.txt", "w")  # noqa: SIM115  # lives as long as the child
        faulthandler.register(signal.SIGUSR1, file=dump, all_threads=True)
    try:
        queue.put((os.getpid(), fn(*args, **kwargs)))
    except BaseException as e:  # report, never hang the parent
        queue.put((os.getpid(), f"error:{type(e).__name__}: {e}\n{traceback.format_exc()}"))


Call = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]


def run_children(calls: list[Call], *, timeout: float = 120) -> list[Any]:
    """Run each ``(fn, args, kwargs)`` in a process of its own; their results, in the order they end.

    A child that has not reported within ``timeout`` seconds fails the test with its Python stack,
    and is killed: a hung child never outlives the test, so it can neither hang the session at exit
    nor hold a lock over the next test."""
    dumps = Path(tempfile.mkdtemp(prefix="dataops-children-"))
    queue = CTX.Queue()
    procs = [
        CTX.Process(
            target=run_and_report, args=(queue, fn, args, kwargs, str(dumps)), daemon=True, name=CHILD_NAME
        )
        for fn, args, kwargs in calls
    ]
    for p in procs:
        p.start()
    deadline = time.monotonic() + timeout
    results: list[Any] = []
    pending = {p.pid: p for p in procs}
    try:
        while pending:
            try:
                pid, result = queue.get(timeout=1.0)
            except queue_module.Empty:
                if not any(p.is_alive() for p in pending.values()):  # died without a word: say so now
                    with suppress(queue_module.Empty):
                        pid, result = queue.get(timeout=1.0)  # unless its report was still in the pipe
                        pending.pop(pid, None)
                        results.append(result)
                        continue
                    codes = ", ".join(f"{p.pid} (exit code {p.exitcode})" for p in pending.values())
                    raise AssertionError(f"child process(es) exited without reporting: {codes}") from None
                if time.monotonic() > deadline:
                    raise AssertionError(_hung(procs, dumps, timeout)) from None
                continue
            pending.pop(pid, None)
            results.append(result)
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
                p.join(timeout=10)
        queue.close()
        shutil.rmtree(dumps, ignore_errors=True)
    return results


def _hung(procs: list[Any], dumps: Path, timeout: float) -> str:
    """Ask each child still running for its stacks, kill it, and say what they were doing."""
    alive = [p for p in procs if p.is_alive()]
    for p in alive:
        with suppress(ProcessLookupError):  # it may end between the check and the signal
            os.kill(p.pid, signal.SIGUSR1)
    time.sleep(1.0)
    lines = [f"{len(alive)} of {len(procs)} child process(es) did not report within {timeout:.0f} s"]
    for p in alive:
        p.kill()
        dump = dumps / f"{p.pid}.txt"
        stacks = dump.read_text() if dump.exists() else "(no stack written)"
        lines.append(f"--- child {p.pid}:\n{stacks or '(empty stack dump)'}")
    return "\n".join(lines)


def run_workers(jobs: list[tuple[tuple[Any, ...], dict[str, Any]]], timeout: float = 120) -> list[str]:
    """``apply_partition(*args, **kwargs)`` per job, each in its own process; how each ended."""
    return run_children([(apply_partition, a, k) for a, k in jobs], timeout=timeout)


def kill_at(point: str | None, tmp_path: Path, args: tuple[Any, ...], *, delay: float | None = None) -> None:
    """Start a worker, SIGKILL it when it reaches ``point`` (or after ``delay`` seconds)."""
    kill_in(apply_partition, point, tmp_path, args, delay=delay, what="worker")


def kill_in(
    fn: Callable[..., Any],
    point: str | None,
    tmp_path: Path,
    args: tuple[Any, ...],
    *,
    delay: float | None = None,
    what: str,
    **kwargs: Any,
) -> None:
    """Start ``fn(*args, hold_at=point, marker=…, **kwargs)`` in a process, SIGKILL it when it reaches
    ``point`` (or after ``delay`` seconds)."""
    marker = tmp_path / f"marker-{random.random()}"
    proc = CTX.Process(
        target=fn,
        args=args,
        kwargs={"hold_at": point, "marker": str(marker), **kwargs},
        daemon=True,
        name=CHILD_NAME,
    )
    proc.start()
    if point is not None:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.is_alive(), f"{what} exited ({proc.exitcode}) before reaching {point}"
            assert time.monotonic() < deadline, f"{what} never reached {point}"
            time.sleep(0.02)
    else:
        time.sleep(delay or 0)
    if proc.is_alive():  # a worker that already finished (a random delay) has nothing left to kill
        proc.kill()  # SIGKILL; the forkserver reaps it, so this is multiprocessing's, not os.kill's
    proc.join(timeout=30)


def target_multiset_or_empty(url: str, key: str) -> Counter[tuple[Any, ...]]:
    from sqlalchemy import inspect

    engine = warehouse_engine(url)
    try:
        if not inspect(engine).has_table(TABLE):
            return Counter()
    finally:
        engine.dispose()
    return target_multiset(url, key)
