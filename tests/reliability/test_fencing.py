"""Ledger fencing, clock skew and store safety under failure, on real SQLite and PostgreSQL.

- Stale attempts: an attempt whose lease expired while it still ran reaches its publish after
  another attempt took the partition over (before or after the winner published).  Its fence
  refuses, its target transaction rolls back: the target holds the winner's rows and the ledger
  agrees (``partitions verify``: ok).
- Clock skew: a worker whose clock runs 3 h fast or slow neither sees a live lease as expired
  nor grants one already over: leases run on the store's clock.
- A store whose schema is newer than the code: the operator refuses before writing anything,
  to the store or the warehouse.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta, timezone
from itertools import permutations
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from partition_workers import (
    COLUMN,
    DATASET,
    TABLE,
    source,
    source_multiset,
    target_multiset,
    warehouse_engine,
)
from reliability_report import record
from sqlalchemy import create_engine, func, inspect, select, update

from airflow_dataops.partitions.ledger import PartitionInProgress, PartitionLedger, StaleClaim
from airflow_dataops.partitions.verify import verify_dataset
from airflow_dataops.partitions.writer import drop_stage, ensure_target, publish, stage_frame
from airflow_dataops.store import StateStore, migrations
from airflow_dataops.store import ledger as db
from airflow_dataops.store import tables as t
from airflow_dataops.store.records import get_dataset, upsert_dataset

KEY = "2026-11-05"
LONG_AGO = datetime(2000, 1, 1, tzinfo=timezone.utc)
_OUTCOMES: Counter[str] = Counter()


class Attempt:
    """One attempt at the partition, step by step, as ``PartitionWriteOperator`` runs them."""

    def __init__(self, store: StateStore, warehouse_url: str, run_id: str, n: int) -> None:
        self.ledger = PartitionLedger(store, DATASET)
        self.engine = warehouse_engine(warehouse_url)
        self.run_id, self.n = run_id, n

    def claim(self) -> Attempt:
        self.claim_ = self.ledger.begin(KEY, dag_id="dag", task_id="load", run_id=self.run_id, attempt=1)
        return self

    def stage(self) -> Attempt:
        self.staged = stage_frame(
            self.engine, source(KEY, self.n), table=TABLE, partition_key=KEY, claim_id=self.claim_.apply_id
        )
        return self

    def publish(self) -> Any:
        if getattr(self, "staged", None) is None:
            self.stage()
        stage = self.staged
        try:
            target = ensure_target(self.engine, stage, table=TABLE)
            return publish(
                self.engine,
                stage=stage,
                target=target,
                partition_column=COLUMN,
                partition_key=KEY,
                run_id=self.run_id,
                fence=self.ledger.fence(self.claim_, gate_verdict=None, contract_version=None),
            )
        finally:
            drop_stage(self.engine, stage)


def expire_lease(store: StateStore, key: str = KEY) -> None:
    """The lease runs out while its attempt still runs (a long stall, a paused VM, a lost worker)."""
    with store.begin() as conn:
        conn.execute(
            update(t.partitions)
            .where(t.partitions.c.dataset == DATASET, t.partitions.c.partition_key == key)
            .values(lease_expires_at=LONG_AGO)
        )


def _register(store: StateStore) -> dict[str, Any]:
    upsert_dataset(store, DATASET, dag_id="dag", target_table=TABLE, partition_column=COLUMN)
    found = get_dataset(store, DATASET)
    assert found is not None
    return found


def _verify_ok(store: StateStore, warehouse_url: str) -> bool:
    engine = warehouse_engine(warehouse_url)
    try:
        findings = verify_dataset(store, _register(store), engine=engine)
    finally:
        engine.dispose()
    return [f.status for f in findings] == ["ok"]


def _backend(url: str) -> str:
    return "PostgreSQL" if url.startswith("postgresql") else "SQLite"


# ------------------------------------------------------------------------------ stale attempts
@pytest.mark.parametrize("loser_publishes", ["after_the_winner", "before_the_winner"])
def test_a_stale_attempt_never_overwrites_the_winner(
    store: StateStore, store_url: str, warehouse_url: str, loser_publishes: str
) -> None:
    stale = Attempt(store, warehouse_url, "run_stale", n=200).claim()
    expire_lease(store)
    winner = Attempt(store, warehouse_url, "run_winner", n=150).claim()
    assert winner.claim_.took_over_from is not None
    if loser_publishes == "after_the_winner":
        winner.publish()
        with pytest.raises(StaleClaim, match="was taken over by run 'run_winner' attempt 1"):
            stale.publish()
    else:
        with pytest.raises(StaleClaim, match="its write was rolled back"):
            stale.publish()
        assert not inspect(stale.engine).has_table(TABLE) or target_multiset(warehouse_url, KEY) == Counter()
        winner.publish()
    assert target_multiset(warehouse_url, KEY) == source_multiset(KEY, 150)
    state = stale.ledger.state(KEY)
    assert (state.state, state.run_id, state.rows_published) == ("applied", "run_winner", 150)
    assert _verify_ok(store, warehouse_url)
    entries = {e.run_id: e.state for e in stale.ledger.history(KEY)}
    assert entries == {"run_stale": "superseded", "run_winner": "applied"}
    _OUTCOMES[f"stale-{_backend(store_url)}"] += 1


def test_a_stale_attempt_is_fenced_when_store_and_warehouse_are_one_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'one.db'}"
    store = StateStore(url, connect_timeout=5)
    store.migrate()
    stale = Attempt(store, url, "run_stale", n=200).claim()
    expire_lease(store)
    winner = Attempt(store, url, "run_winner", n=150).claim()
    winner.publish()
    with pytest.raises(StaleClaim):
        stale.publish()
    assert target_multiset(url, KEY) == source_multiset(KEY, 150)
    assert _verify_ok(store, url)
    _OUTCOMES["stale-SQLite-one-file"] += 1
    store.dispose()


def test_operator_attempt_taken_over_mid_run_fails_and_publishes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operator's own path: its lease runs out while it stages, another run applies, it is refused."""
    from airflow_dataops.operators.partitioned import DataFramePartitionOperator

    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    warehouse = tmp_path / "warehouse.db"
    monkeypatch.setenv("AIRFLOW__DATAOPS__STORE_URL", store_url)
    monkeypatch.setenv(
        "AIRFLOW_CONN_FENCE_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(warehouse)})
    )
    StateStore._shared.clear()
    store = StateStore(store_url)
    warehouse_url = f"sqlite:///{warehouse}"

    def rows(partition_key: str) -> Any:
        expire_lease(store)  # this attempt stalls past its lease...
        Attempt(store, warehouse_url, "run_winner", n=150).claim().publish()  # ...and another run applies
        return source(partition_key, 200)

    op = DataFramePartitionOperator(
        task_id="load",
        python_callable=rows,
        conn_id="fence_warehouse",
        table=TABLE,
        partition_column=COLUMN,
        dataset=DATASET,
        partition_key=KEY,
    )
    ti = SimpleNamespace(dag_id="dag", task_id="load", run_id="run_stale", try_number=1, dag_version_id=None)
    try:
        with pytest.raises(StaleClaim):
            op.execute({"ti": ti, "run_id": "run_stale", "outlet_events": None})
        assert target_multiset(warehouse_url, KEY) == source_multiset(KEY, 150)
        state = PartitionLedger(store, DATASET).state(KEY)
        assert (state.run_id, state.rows_published) == ("run_winner", 150)
        assert _verify_ok(store, warehouse_url)
        _OUTCOMES["stale-operator"] += 1
    finally:
        StateStore._shared.clear()
        store.dispose()


def test_a_stale_attempt_staging_while_the_winner_runs_cannot_swap_its_rows(
    store: StateStore, store_url: str, warehouse_url: str
) -> None:
    """Both attempts run at once: the stale one stages between the winner's staging and its publish.
    Each claim stages into its own table, so the winner publishes its own rows, not the stale ones."""
    stale = Attempt(store, warehouse_url, "run_stale", n=200).claim()
    expire_lease(store)
    winner = Attempt(store, warehouse_url, "run_winner", n=150).claim().stage()
    stale.stage()
    assert stale.staged.name != winner.staged.name
    with pytest.raises(StaleClaim):
        stale.publish()  # ...and it drops only its own staging table
    winner.publish()
    assert target_multiset(warehouse_url, KEY) == source_multiset(KEY, 150)
    assert _verify_ok(store, warehouse_url)
    _OUTCOMES[f"stale-interleaved-{_backend(store_url)}"] += 1


INTERLEAVINGS = sorted(
    {
        order
        for order in permutations(["stale.stage", "stale.publish", "win.stage", "win.publish"])
        if order.index("stale.stage") < order.index("stale.publish")
        and order.index("win.stage") < order.index("win.publish")
    }
)


@pytest.mark.parametrize("order", INTERLEAVINGS, ids=["-".join(o) for o in INTERLEAVINGS])
def test_every_interleaving_of_a_stale_attempt_and_the_winner_ends_with_the_winner(
    store: StateStore, store_url: str, warehouse_url: str, order: tuple[str, ...]
) -> None:
    attempts = {"stale": Attempt(store, warehouse_url, "run_stale", n=200).claim()}
    expire_lease(store)
    attempts["win"] = Attempt(store, warehouse_url, "run_winner", n=150).claim()
    refused = 0
    for step in order:
        who, what = step.split(".")
        if (who, what) == ("stale", "publish"):
            with pytest.raises(StaleClaim):
                attempts[who].publish()
            refused += 1
        else:
            getattr(attempts[who], what)()
    assert refused == 1
    assert target_multiset(warehouse_url, KEY) == source_multiset(KEY, 150)
    assert _verify_ok(store, warehouse_url)
    _OUTCOMES[f"stale-interleaving-{_backend(store_url)}"] += 1


def test_the_attempt_taking_over_drops_the_stale_attempt_s_staging_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_dataops.operators.partitioned import DataFramePartitionOperator

    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    warehouse_url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    monkeypatch.setenv("AIRFLOW__DATAOPS__STORE_URL", store_url)
    monkeypatch.setenv(
        "AIRFLOW_CONN_FENCE_WAREHOUSE",
        json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "warehouse.db")}),
    )
    StateStore._shared.clear()
    store = StateStore(store_url)
    stale = Attempt(store, warehouse_url, "run_stale", n=200).claim().stage()
    expire_lease(store)
    op = DataFramePartitionOperator(
        task_id="load",
        python_callable=lambda partition_key: source(partition_key, 150),
        conn_id="fence_warehouse",
        table=TABLE,
        partition_column=COLUMN,
        dataset=DATASET,
        partition_key=KEY,
    )
    ti = SimpleNamespace(dag_id="dag", task_id="load", run_id="run_winner", try_number=1, dag_version_id=None)
    try:
        assert op.execute({"ti": ti, "run_id": "run_winner", "outlet_events": None})["rows_published"] == 150
        assert not inspect(stale.engine).has_table(stale.staged.name)
        assert [n for n in inspect(stale.engine).get_table_names() if "__stage_" in n] == []
        with pytest.raises(Exception, match="no such table"):
            stale.publish()  # doomed anyway: its staged rows are gone, and its fence would refuse
        assert target_multiset(warehouse_url, KEY) == source_multiset(KEY, 150)
        _OUTCOMES["stale-operator-takeover"] += 1
    finally:
        StateStore._shared.clear()
        store.dispose()


# ------------------------------------------------------------------------------ clock skew
class _SkewedDatetime(datetime):
    skew = timedelta(0)

    @classmethod
    def now(cls, tz: Any = None) -> Any:  # type: ignore[override]
        return datetime.now(tz) + cls.skew


def skew_worker_clock(monkeypatch: pytest.MonkeyPatch, skew: timedelta) -> None:
    """This process's clock, as the ledger code would read it, runs ``skew`` off."""
    monkeypatch.setattr(_SkewedDatetime, "skew", skew)
    monkeypatch.setattr(db, "datetime", _SkewedDatetime)
    monkeypatch.setattr(db, "utcnow", lambda: _SkewedDatetime.now(timezone.utc))


@pytest.mark.parametrize("skewed", ["fast", "slow"])
def test_a_skewed_worker_clock_cannot_shorten_a_lease(
    store: StateStore, store_url: str, monkeypatch: pytest.MonkeyPatch, skewed: str
) -> None:
    """Fast: the second worker's clock is 3 h ahead, so by its clock the first lease (2 h) is over.
    Slow: the first worker's clock is 3 h behind, so by its clock the lease it takes ended an hour ago."""
    ledger = PartitionLedger(store, DATASET, lease=timedelta(hours=2))
    if skewed == "slow":
        skew_worker_clock(monkeypatch, -timedelta(hours=3))
    first = ledger.begin(KEY, dag_id="dag", task_id="load", run_id="run_1", attempt=1)
    monkeypatch.undo()
    if skewed == "fast":
        skew_worker_clock(monkeypatch, timedelta(hours=3))
    with pytest.raises(PartitionInProgress, match="is being applied by run 'run_1'"):
        ledger.begin(KEY, dag_id="dag", task_id="load", run_id="run_2", attempt=1)
    state = ledger.state(KEY)
    now = db.current_time(store)
    assert timedelta(hours=1, minutes=59) < state.lease_expires_at - now <= timedelta(hours=2)
    assert state.apply_id == first.apply_id
    _OUTCOMES[f"skew-{_backend(store_url)}"] += 1


# ------------------------------------------------------------------------------ newer store
def test_an_operator_on_a_newer_store_writes_nothing_anywhere(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_dataops.operators.partitioned import DataFramePartitionOperator

    StateStore(store_url).migrate()
    engine = create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(
            t.schema_version.insert().values(
                version=migrations.HEAD + 1, description="from the future", applied_at=func.now()
            )
        )

    def counts() -> tuple[int, ...]:
        with engine.connect() as conn:
            return tuple(
                conn.execute(select(func.count()).select_from(tbl)).scalar_one()
                for tbl in (t.schema_version, t.datasets, t.partitions, t.partition_history)
            )

    before = counts()
    warehouse = tmp_path / "warehouse.db"
    monkeypatch.setenv("AIRFLOW__DATAOPS__STORE_URL", store_url)
    monkeypatch.setenv(
        "AIRFLOW_CONN_FENCE_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(warehouse)})
    )
    StateStore._shared.clear()
    op = DataFramePartitionOperator(
        task_id="load",
        python_callable=lambda partition_key: source(partition_key),
        conn_id="fence_warehouse",
        table=TABLE,
        partition_column=COLUMN,
        partition_key=KEY,
    )
    ti = SimpleNamespace(dag_id="dag", task_id="load", run_id="run_1", try_number=1, dag_version_id=None)
    try:
        with pytest.raises(migrations.StoreVersionError, match="upgrade airflow-dataops"):
            op.execute({"ti": ti, "run_id": "run_1", "outlet_events": None})
    finally:
        for s in StateStore._shared.values():
            s.dispose()
        StateStore._shared.clear()
    assert counts() == before
    assert not warehouse.exists() or not inspect(create_engine(f"sqlite:///{warehouse}")).has_table(TABLE)
    engine.dispose()
    _OUTCOMES[f"newer-{_backend(store_url)}"] += 1


def test_zz_report_fencing_outcomes() -> None:
    """Last in the module: what the scenarios above measured, for docs/reliability.md."""
    stale = {k: v for k, v in _OUTCOMES.items() if k.startswith("stale")}
    if stale:
        backends = sorted({b for k in stale for b in ("SQLite", "PostgreSQL") if b in k})
        record(
            "fencing-stale",
            scenario="stale attempt (lease expired while it ran) against the winner: publishing after it, "
            "before it, in all 6 interleavings of stage/publish, store and warehouse in one SQLite file, "
            f"through the operator ({', '.join(backends)})",
            runs=sum(stale.values()),
            result=f"{sum(stale.values())} of {sum(stale.values())}: the stale publish refused by the fence "
            "(StaleClaim) or found its stage dropped; target = the winner's rows and verify ok every time; "
            "0 overwrites",
        )
    skew = sum(v for k, v in _OUTCOMES.items() if k.startswith("skew"))
    if skew:
        record(
            "fencing-skew",
            scenario="worker clock 3 h fast / 3 h slow against a live 2 h lease (SQLite, PostgreSQL)",
            runs=skew,
            result=f"{skew} of {skew}: the other run refused in_progress; lease measured on the store's clock",
        )
    newer = sum(v for k, v in _OUTCOMES.items() if k.startswith("newer"))
    if newer:
        record(
            "store-newer",
            scenario="operator against a store whose schema is newer than the code",
            runs=newer,
            result=f"{newer} of {newer} refused (upgrade airflow-dataops); 0 store rows, 0 warehouse tables written",
        )
