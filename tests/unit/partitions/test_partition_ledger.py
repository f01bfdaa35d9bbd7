"""The partition ledger on a real store (SQLite and PostgreSQL): claims, refusals, reruns, takeovers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airflow_dataops.clock import utcnow
from airflow_dataops.exceptions import LedgerError, PartitionAlreadyApplied
from airflow_dataops.partitions.ledger import PartitionInProgress, PartitionLedger

RUN1, RUN2 = "scheduled__2026-11-01", "manual__2026-11-02"


def _begin(ledger: PartitionLedger, key: str = "2026-11-01", *, run: str = RUN1, attempt: int = 1):
    return ledger.begin(
        key, dag_id="dag", task_id="load", run_id=run, attempt=attempt, contract_version="1.0.0"
    )


def _finish(ledger: PartitionLedger, claim, rows: int = 10) -> None:
    ledger.finish(
        claim,
        state="applied",
        rows_in=rows,
        rows_published=rows,
        rows_quarantined=0,
        checksum=f"{rows}:abc",
        gate_verdict="passed",
        contract_version="1.0.0",
    )


def test_first_apply_is_granted_and_recorded(store) -> None:
    ledger = PartitionLedger(store, "flights")
    claim = _begin(ledger)
    assert claim.action == "apply"
    assert ledger.state("2026-11-01").state == "applying"
    _finish(ledger, claim, rows=973)
    state = ledger.state("2026-11-01")
    assert (state.state, state.rows_published, state.checksum, state.run_id) == (
        "applied",
        973,
        "973:abc",
        RUN1,
    )
    assert state.lease_expires_at is None
    [entry] = ledger.history("2026-11-01")
    assert (entry.action, entry.state, entry.rows_published, entry.attempt) == ("apply", "applied", 973, 1)
    assert entry.finished_at is not None


def test_second_apply_without_rerun_request_is_refused_with_how_to_rerun(store) -> None:
    ledger = PartitionLedger(store, "flights")
    _finish(ledger, _begin(ledger), rows=973)
    with pytest.raises(PartitionAlreadyApplied) as info:
        _begin(ledger, run=RUN2)
    message = str(info.value)
    assert "partition '2026-11-01' of dataset 'flights' was already applied at " in message
    assert (
        f"by run '{RUN1}' (attempt 1; 973 rows published, 0 quarantined, contract 1.0.0, gate passed)"
        in message
    )
    assert "nothing was written" in message
    assert "airflow dataops partitions rerun dag -k '2026-11-01' --reason" in message
    assert ledger.state("2026-11-01").state == "applied"
    assert [e.action for e in ledger.history("2026-11-01")] == ["apply", "refused"]


def test_rerun_request_carries_its_reason_and_supersedes_the_old_apply(store) -> None:
    ledger = PartitionLedger(store, "flights")
    _finish(ledger, _begin(ledger), rows=973)
    ledger.request_rerun(
        ["2026-11-01"], reason="rows corrupted by a manual fix", requested_by="oncall", dag_id="dag"
    )
    claim = _begin(ledger, run=RUN1, attempt=2)
    assert (claim.action, claim.reason, claim.requested_by) == (
        "rerun",
        "rows corrupted by a manual fix",
        "oncall",
    )
    _finish(ledger, claim, rows=973)
    history = ledger.history("2026-11-01")
    assert [(e.action, e.state) for e in history] == [
        ("apply", "superseded"),
        ("rerun_requested", "requested"),
        ("rerun", "applied"),
    ]
    assert history[-1].reason == "rows corrupted by a manual fix"
    # the request is consumed: a further apply is refused again
    with pytest.raises(PartitionAlreadyApplied):
        _begin(ledger, run=RUN2)


def test_a_live_claim_keeps_other_runs_off(store) -> None:
    ledger = PartitionLedger(store, "flights")
    _begin(ledger)
    with pytest.raises(PartitionInProgress, match=f"is being applied by run '{RUN1}' attempt 1 since "):
        _begin(ledger, run=RUN2)


def test_a_retry_of_the_same_run_takes_over_a_dead_attempt(store) -> None:
    ledger = PartitionLedger(store, "flights")
    _begin(ledger, attempt=1)  # killed: never finishes
    claim = _begin(ledger, attempt=2)
    assert claim.took_over_from is not None and claim.took_over_from.attempt == 1
    _finish(ledger, claim)
    first, second = ledger.history("2026-11-01")
    assert first.state == "failed"
    assert (
        first.error
        == f"attempt 1 of run {RUN1} did not finish (killed or lost); taken over by attempt 2 of run {RUN1}"
    )
    assert second.state == "applied"


def test_an_expired_lease_lets_another_run_take_over(store) -> None:
    ledger = PartitionLedger(store, "flights", lease=timedelta(milliseconds=1))
    _begin(ledger)
    import time

    time.sleep(0.05)
    claim = _begin(ledger, run=RUN2)
    assert claim.took_over_from is not None


def test_the_slow_attempt_cannot_finish_after_a_takeover(store) -> None:
    ledger = PartitionLedger(store, "flights")
    slow = _begin(ledger, attempt=1)
    fast = _begin(ledger, attempt=2)
    _finish(ledger, fast)
    with pytest.raises(LedgerError, match="was taken over by another attempt while this one was writing"):
        _finish(ledger, slow)
    assert ledger.state("2026-11-01").apply_id == fast.apply_id


def test_a_failed_first_apply_can_be_retried(store) -> None:
    ledger = PartitionLedger(store, "flights")
    claim = _begin(ledger)
    ledger.fail(claim, error="ContractViolation: 3 rules failed", gate_verdict="failed")
    assert (ledger.state("2026-11-01").state, ledger.state("2026-11-01").gate_verdict) == ("failed", "failed")
    _finish(ledger, _begin(ledger, attempt=2))
    assert ledger.state("2026-11-01").state == "applied"


def test_a_failed_rerun_keeps_the_published_state_and_the_request(store) -> None:
    ledger = PartitionLedger(store, "flights")
    first = _begin(ledger)
    _finish(ledger, first, rows=5)
    ledger.request_rerun(["2026-11-01"], reason="late data arrived", requested_by="oncall", dag_id="dag")
    rerun = _begin(ledger, attempt=2)
    ledger.fail(rerun, error="OperationalError: connection dropped")
    state = ledger.state("2026-11-01")
    assert (state.state, state.apply_id, state.rows_published) == ("applied", first.apply_id, 5)
    retry = _begin(ledger, attempt=3)
    assert (retry.action, retry.reason) == ("rerun", "late data arrived")


def test_a_rerun_needs_a_reason(store) -> None:
    ledger = PartitionLedger(store, "flights")
    with pytest.raises(LedgerError, match=r"a rerun needs a reason \(--reason"):
        ledger.request_rerun(["2026-11-01"], reason="  ", requested_by="me", dag_id="dag")


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        pytest.param("", "partition key must not be empty or blank, got ''", id="empty"),
        pytest.param("   ", "partition key must not be empty or blank, got '   '", id="blank"),
        pytest.param(
            "a\x00b", "partition key 'a\\x00b' contains control or invisible characters ['\\x00']", id="nul"
        ),
        pytest.param("k" * 251, "partition key is 251 characters long; the limit is 250", id="too-long"),
        pytest.param(20261101, "partition key must be a string, got int 20261101", id="not-a-string"),
    ],
)
def test_unusable_partition_keys_are_refused_naming_the_value(store, key, expected) -> None:
    with pytest.raises(LedgerError) as info:
        _begin(PartitionLedger(store, "flights"), key)
    assert str(info.value).startswith(expected)


def test_partitions_are_listed_in_key_order_and_filtered_by_since(store) -> None:
    ledger = PartitionLedger(store, "flights")
    for key in ("2026-11-03", "2026-11-01", "2026-11-02"):
        _finish(ledger, _begin(ledger, key))
    assert [p.partition_key for p in ledger.partitions()] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert [p.partition_key for p in ledger.partitions(since="2026-11-02")] == ["2026-11-02", "2026-11-03"]
    assert all(p.updated_at <= utcnow() for p in ledger.partitions())


@pytest.mark.parametrize("key", ["2026-11-01", "it's", "$(touch /tmp/pwned)", "`id`", "a b; rm -rf /", "*"])
def test_the_rerun_hint_pastes_safely_into_a_shell(key: str) -> None:
    import shlex

    from airflow_dataops.partitions.ledger import rerun_command

    argv = shlex.split(rerun_command("nycflights_daily", key))
    assert argv[:7] == ["airflow", "dataops", "partitions", "rerun", "nycflights_daily", "-k", key]
