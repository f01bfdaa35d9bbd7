"""Which upstream partitions an apply reads: ``inputs=``, asset events and the SQL's tables (#16)."""

from __future__ import annotations

import types
from typing import Any

import pytest

from airflow_dataops.partitions import inputs as pin
from airflow_dataops.store.inputs import InputRef

DATASETS = [
    {"dataset": "orders", "dag_id": "orders_daily", "task_id": "load", "target_table": "orders", "db_schema": None, "conn_id": "wh"},
    {"dataset": "fx", "dag_id": "fx_daily", "task_id": "load", "target_table": "rates", "db_schema": "ref", "conn_id": "wh"},
    {"dataset": "eu_sales", "dag_id": "eu", "task_id": "t", "target_table": "sales", "db_schema": None, "conn_id": "eu_wh"},
    {"dataset": "us_sales", "dag_id": "us", "task_id": "t", "target_table": "sales", "db_schema": None, "conn_id": "us_wh"},
]  # fmt: skip


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        pytest.param(["orders"], (("orders", None),), id="name"),
        pytest.param([("orders", "{{ partition_key }}")], (("orders", "{{ partition_key }}"),), id="pair"),
        pytest.param(
            {"fx": ["2026-11-27", "2026-11-28"]}, (("fx", "2026-11-27"), ("fx", "2026-11-28")), id="mapping"
        ),
        pytest.param(None, (), id="none"),
    ],
)
def test_declared_inputs_are_normalised(declared: Any, expected: tuple[Any, ...]) -> None:
    assert pin.normalize_declared(declared, owner="Op 't'") == expected


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        pytest.param(
            "orders", "Op 't': inputs='orders' (str); give a list of a dataset name", id="bare-string"
        ),
        pytest.param(
            [("orders", "k", "x")],
            "Op 't': inputs item ('orders', 'k', 'x') is not a dataset name",
            id="triple",
        ),
        pytest.param([""], "Op 't': inputs dataset '' must be a non-empty string", id="empty-name"),
        pytest.param(
            {"orders": " "}, "Op 't': inputs key ' ' for 'orders' must be a non-empty string", id="blank-key"
        ),
    ],
)
def test_malformed_inputs_say_what_was_given_and_what_is_allowed(declared: Any, message: str) -> None:
    with pytest.raises(ValueError) as e:
        pin.normalize_declared(declared, owner="Op 't'")
    assert str(e.value).startswith(message)


def test_declared_keys_default_to_the_apply_key() -> None:
    refs = pin.from_declared((("orders", None), ("fx", "2026-11-27")), "2026-11-28")
    assert refs == [
        InputRef(dataset="orders", partition_key="2026-11-28", source="declared"),
        InputRef(dataset="fx", partition_key="2026-11-27", source="declared"),
    ]


def _event(key: str | None, dag: str = "orders_daily", task: str = "load", extra: Any = None) -> Any:
    return types.SimpleNamespace(partition_key=key, source_dag_id=dag, source_task_id=task, extra=extra or {})


def test_events_map_to_the_dataset_their_task_publishes() -> None:
    events = {
        "a": [_event("2026-11-27"), _event("2026-11-28"), _event(None)],
        "b": [_event("x", dag="nobody")],
    }
    assert pin.from_events(events, DATASETS) == [
        InputRef(dataset="orders", partition_key="2026-11-27", source="event"),
        InputRef(dataset="orders", partition_key="2026-11-28", source="event"),
    ]
    named = {"a": [_event("k", dag="other", extra={"dataops_dataset": "fx"})]}
    assert pin.from_events(named, DATASETS) == [InputRef(dataset="fx", partition_key="k", source="event")]
    assert pin.from_events(None, DATASETS) == [] and pin.from_events({}, DATASETS) == []


def test_sql_tables_come_from_the_openlineage_parser() -> None:
    sql = (
        "WITH o AS (SELECT * FROM orders WHERE order_date = :partition_key) "
        "SELECT o.order_date, SUM(o.amount * r.rate) FROM o JOIN ref.rates AS r ON r.day = o.order_date "
        "WHERE 'FROM fake_table' <> '' GROUP BY 1"
    )
    assert sorted(pin.sql_tables(sql, "sqlite"), key=lambda t: t[1]) == [(None, "orders"), ("ref", "rates")]


def test_sql_tables_match_datasets_by_table_schema_and_connection() -> None:
    refs = pin.from_sql([(None, "orders"), ("ref", "rates"), (None, "rates"), (None, "sales"), (None, "unknown")],
                        DATASETS, partition_key="k", conn_id="eu_wh", db_schema=None)  # fmt: skip
    assert [r.dataset for r in refs] == ["orders", "fx", "eu_sales"]  # rates outside ref: not fx's table
    spelled_out = pin.from_sql([("public", "orders"), ("main", "orders")], DATASETS, partition_key="k",
                               conn_id="wh", db_schema=None)  # fmt: skip
    assert [r.dataset for r in spelled_out] == ["orders", "orders"]
    ambiguous = pin.from_sql([(None, "sales")], DATASETS, partition_key="k", conn_id="wh", db_schema=None)
    assert ambiguous == []  # two datasets, neither on this connection: not guessed


def test_an_earlier_source_wins_and_the_own_dataset_is_never_an_input() -> None:
    declared = [InputRef(dataset="orders", partition_key="2026-11-27", source="declared")]
    events = [InputRef(dataset="orders", partition_key="2026-11-28", source="event"),
              InputRef(dataset="fx", partition_key="2026-11-28", source="event")]  # fmt: skip
    sql = [InputRef(dataset="fx", partition_key="2026-11-28", source="sql"),
           InputRef(dataset="me", partition_key="2026-11-28", source="sql")]  # fmt: skip
    assert pin.merge(declared, events, sql, exclude="me") == [declared[0], events[1]]
