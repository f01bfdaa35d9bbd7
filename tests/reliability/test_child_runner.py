"""The process harness the crash and concurrency tests stand on: a child that hangs fails its test
with the child's own stack and is killed, so it can never keep the session (or CI) waiting."""

from __future__ import annotations

import multiprocessing
import os
import time

import pytest
from partition_workers import CHILD_NAME, run_children


def _sleep_forever_in_here() -> None:
    while True:
        time.sleep(60)


def _ours() -> list[multiprocessing.Process]:
    """The harness's children still alive (the OpenLineage listener's pool workers are not ours)."""
    return [c for c in multiprocessing.active_children() if c.name == CHILD_NAME]


def _pid() -> int:
    return os.getpid()


def test_results_come_back_from_one_process_per_call() -> None:
    pids = run_children([(_pid, (), {}), (_pid, (), {}), (_pid, (), {})], timeout=60)
    assert len(set(pids)) == 3 and os.getpid() not in pids
    assert _ours() == []


def test_a_hung_child_fails_with_its_stack_and_is_killed() -> None:
    started = time.monotonic()
    with pytest.raises(AssertionError) as failed:
        run_children([(_pid, (), {}), (_sleep_forever_in_here, (), {})], timeout=2)
    message = str(failed.value)
    assert "1 of 2 child process(es) did not report within 2 s" in message
    assert "_sleep_forever_in_here" in message  # where it hung, from the child's own stack
    assert _ours() == []  # nothing left to hang the session at exit
    assert time.monotonic() - started < 30


def _exit_without_a_word() -> None:
    os._exit(7)


def test_a_child_that_dies_without_reporting_fails_at_once_with_its_exit_code() -> None:
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"exited without reporting: \d+ \(exit code 7\)"):
        run_children([(_exit_without_a_word, (), {})], timeout=120)
    assert time.monotonic() - started < 30  # not the 120 s timeout
