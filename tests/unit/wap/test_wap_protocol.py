"""The write-audit-publish protocol driven directly: no operator, no task context, no Airflow
connection or metadata DB; a real store and a real warehouse of the same kind (SQLite, and
PostgreSQL when DATAOPS_TEST_PG_URL is set)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from unit.contracts._helpers import make_contract

from airflow_dataops.contracts.model import Contract
from airflow_dataops.exceptions import ContractViolation, PartitionAlreadyApplied
from airflow_dataops.partitions.ledger import PartitionLedger
from airflow_dataops.wap.protocol import PartitionWrite
from airflow_dataops.wap.staging import partition_frame, stage_dataframe, stage_query
from airflow_dataops.wap.target import Attempt, PartitionTarget

KEY = "2026-11-01"
CONTRACT = make_contract(
    """\
    - name: orders
      properties:
        - name: id
          logicalType: integer
          required: true
        - name: day
          logicalType: string
          required: true
        - name: amount
          logicalType: number
          logicalTypeOptions: {minimum: 0}
    """,
    name="orders",
)


@pytest.fixture
def engine(warehouse_url: str) -> Iterator[sa.Engine]:
    e = sa.create_engine(warehouse_url)
    yield e
    e.dispose()


def orders(n: int, *, bad: int = 0, key: str = KEY) -> pd.DataFrame:
    """``n`` orders of partition ``key``; the first ``bad`` have a negative amount (below the contract's minimum)."""
    return pd.DataFrame(
        {"id": range(1, n + 1), "day": [key] * n, "amount": [-1.0 if i < bad else 10.0 * i for i in range(n)]}
    )


def writer(
    store: Any, *, mode: str = "fail", run: str = "manual__1", contract: Contract | None = CONTRACT
) -> PartitionWrite:
    return PartitionWrite(
        PartitionTarget(
            table="orders", partition_column="day", contract=contract, dag_id="nightly", task_id="load"
        ),
        attempt=Attempt(dag_id="nightly", task_id="load", run_id=run),
        store=store,
        mode=mode,
    )


def frame_stager(frame: pd.DataFrame) -> Any:
    def stage(engine: sa.Engine, key: str, claim_id: int) -> sa.Table:
        return stage_dataframe(
            engine,
            frame,
            table="orders",
            partition_column="day",
            partition_key=key,
            owner="load",
            claim_id=claim_id,
        )

    return stage


def write(store: Any, engine: sa.Engine, frame: pd.DataFrame, **kwargs: Any) -> dict[str, Any]:
    return writer(store, **kwargs).run(KEY, stage=frame_stager(frame), warehouse=engine)


def target_rows(engine: sa.Engine, table: str = "orders") -> list[tuple[Any, ...]]:
    if not sa.inspect(engine).has_table(table):
        return []
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.text(f"SELECT id, amount FROM {table} WHERE day = :k ORDER BY id"), {"k": KEY}
            )
        ]


def tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


# ------------------------------------------------------------------------------ tests
def test_a_partition_is_published_and_recorded_once(store: Any, engine: sa.Engine) -> None:
    summary = write(store, engine, orders(5))
    assert {
        k: summary[k] for k in ("dataset", "partition_key", "action", "state", "rows_in", "rows_published")
    } == {
        "dataset": "orders",
        "partition_key": KEY,
        "action": "apply",
        "state": "applied",
        "rows_in": 5,
        "rows_published": 5,
    }
    assert summary["gate"]["verdict"] == "passed"
    assert [r[0] for r in target_rows(engine)] == [1, 2, 3, 4, 5]
    state = PartitionLedger(store, "orders").state(KEY)
    assert (state.state, state.rows_published, state.checksum) == ("applied", 5, summary["checksum"])
    assert not [t for t in tables(engine) if "__stage" in t]  # the staging table is gone


def test_failing_rows_are_quarantined_and_the_rest_published(store: Any, engine: sa.Engine) -> None:
    summary = write(store, engine, orders(6, bad=2), mode="quarantine")
    assert (summary["state"], summary["rows_published"], summary["rows_quarantined"]) == ("quarantined", 4, 2)
    assert summary["gate"]["verdict"] == "quarantined"
    assert all(amount >= 0 for _, amount in target_rows(engine))
    assert [r[0] for r in target_rows(engine, "orders__quarantine")] == [1, 2]
    assert PartitionLedger(store, "orders").state(KEY).state == "quarantined"


def test_a_failing_contract_is_refused_and_the_partition_kept(store: Any, engine: sa.Engine) -> None:
    write(store, engine, orders(5))
    PartitionLedger(store, "orders").request_rerun(
        [KEY], reason="resent", requested_by="oncall", dag_id="nightly"
    )
    refused = writer(store, run="manual__2")
    with pytest.raises(ContractViolation, match=r"orders partition '2026-11-01': failed") as e:
        refused.run(KEY, stage=frame_stager(orders(8, bad=3)), warehouse=engine)
    assert "Nothing was published; the partition is unchanged." in str(e.value)
    assert [r[0] for r in target_rows(engine)] == [1, 2, 3, 4, 5]  # the published version stands
    assert refused.trace["verdict"] == "failed" and refused.trace["ledger"]["decision"] == "failed"
    history = PartitionLedger(store, "orders").history(KEY)
    assert (history[-1].action, history[-1].state, history[-1].gate_verdict) == ("rerun", "failed", "failed")
    assert not [t for t in tables(engine) if "__stage" in t]


def test_a_rerun_replaces_the_partition_and_never_appends(store: Any, engine: sa.Engine) -> None:
    write(store, engine, orders(5))
    PartitionLedger(store, "orders").request_rerun(
        [KEY], reason="late rows", requested_by="oncall", dag_id="nightly"
    )
    summary = write(store, engine, orders(8), run="manual__2")
    assert (summary["action"], summary["rows_published"]) == ("rerun", 8)
    assert [r[0] for r in target_rows(engine)] == list(range(1, 9))
    history = PartitionLedger(store, "orders").history(KEY)
    assert [(h.action, h.state) for h in history if h.action != "rerun_requested"] == [
        ("apply", "superseded"),
        ("rerun", "applied"),
    ]


def test_applying_a_partition_twice_is_refused(store: Any, engine: sa.Engine) -> None:
    write(store, engine, orders(5))
    again = writer(store, run="manual__2")
    with pytest.raises(
        PartitionAlreadyApplied, match=r"partition '2026-11-01' of dataset 'orders' was already applied"
    ):
        again.run(KEY, stage=frame_stager(orders(9)), warehouse=engine)
    assert again.trace["ledger"]["decision"] == "refused"
    assert len(target_rows(engine)) == 5
    assert [h.action for h in PartitionLedger(store, "orders").history(KEY)] == ["apply", "refused"]


def test_a_query_is_staged_in_the_warehouse_with_the_key_bound(store: Any, engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE raw_orders (id INTEGER, day VARCHAR(10), amount FLOAT)"))
        conn.execute(
            sa.text("INSERT INTO raw_orders VALUES (:id, :day, :amount)"),
            [
                {"id": 1, "day": KEY, "amount": 5.0},
                {"id": 2, "day": KEY, "amount": 6.0},
                {"id": 3, "day": "x", "amount": 7.0},
            ],
        )
    sql = "SELECT id, day, amount FROM raw_orders WHERE day = :partition_key AND amount > :floor;"

    def stage(engine: sa.Engine, key: str, claim_id: int) -> sa.Table:
        return stage_query(
            engine, sql, table="orders", partition_key=key, claim_id=claim_id, parameters={"floor": 5.5}
        )

    summary = writer(store).run(
        KEY, stage=stage, warehouse=lambda: engine, read_tables=lambda dialect: [(None, "raw_orders")]
    )
    assert summary["rows_published"] == 1
    assert target_rows(engine) == [(2, 6.0)]


def test_without_a_contract_nothing_is_gated(store: Any, engine: sa.Engine) -> None:
    w = writer(store, contract=None)
    summary = w.run(KEY, stage=frame_stager(orders(3, bad=3)), warehouse=engine)
    assert (summary["gate"], summary["rows_published"], w.trace["verdict"]) == (None, 3, "passed")


def test_a_mode_that_is_not_a_gate_mode_is_refused(store: Any) -> None:
    with pytest.raises(
        ValueError, match=r"^PartitionWrite: mode='strict'; use one of fail, quarantine, warn$"
    ):
        writer(store, mode="strict")


def test_the_dataset_is_named_after_the_contract_unless_given() -> None:
    assert PartitionTarget(table="t", partition_column="d", contract=CONTRACT).name == "orders"
    assert PartitionTarget(table="t", partition_column="d").name == "t"
    assert (
        PartitionTarget(table="t", partition_column="d", contract=CONTRACT, dataset="sales").name == "sales"
    )


@pytest.mark.parametrize(
    ("frame", "error", "message"),
    [
        pytest.param(
            [1, 2],
            TypeError,
            "load: the callable must return a pandas DataFrame for partition '2026-11-01', got list",
            id="not-a-frame",
        ),
        pytest.param(
            pd.DataFrame({"day": [KEY, "2026-11-02"]}),
            ValueError,
            "load: 1 rows have day other than the partition key '2026-11-01' (e.g. ['2026-11-02'])",
            id="other-key",
        ),
    ],
)
def test_a_frame_must_hold_its_own_partition(frame: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as e:
        partition_frame(frame, partition_column="day", partition_key=KEY, owner="load")
    assert str(e.value).startswith(message)


def test_a_frame_without_the_partition_column_gets_the_key() -> None:
    out = partition_frame(
        pd.DataFrame({"id": [1, 2]}), partition_column="day", partition_key=KEY, owner="load"
    )
    assert out["day"].tolist() == [KEY, KEY]
