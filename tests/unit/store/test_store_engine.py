"""The state store: created on first use, versioned migrations, clear errors when unreachable."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from airflow_dataops.exceptions import StoreError
from airflow_dataops.store import StateStore, migrations
from airflow_dataops.store import tables as t


def test_migrate_creates_every_table_and_is_idempotent(store_url: str) -> None:
    store = StateStore(store_url)
    assert store.migrate() == (0, migrations.HEAD)
    assert store.migrate() == (migrations.HEAD, migrations.HEAD)
    names = set(inspect(store.engine).get_table_names())
    assert {tbl.name for tbl in t.metadata.sorted_tables} <= names
    assert store.version() == migrations.HEAD
    store.dispose()


def test_store_is_created_by_its_first_write(tmp_path: Path) -> None:
    db = tmp_path / "first-use.db"
    store = StateStore(f"sqlite:///{db}")
    assert not db.exists()
    with store.begin() as conn:
        assert conn.execute(select(t.partitions)).all() == []
    assert db.exists()
    assert store.version() == migrations.HEAD


def test_sqlite_store_runs_in_wal_mode(tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 'wal.db'}")
    store.migrate()
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_concurrent_first_use_migrates_once(store_url: str) -> None:
    errors: list[BaseException] = []

    def migrate() -> None:
        try:
            StateStore(store_url).migrate()
        except BaseException as e:  # pragma: no cover - the assertion below reports it
            errors.append(e)

    threads = [threading.Thread(target=migrate) for _ in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert errors == []
    with StateStore(store_url).engine.connect() as conn:
        versions = conn.execute(select(t.schema_version.c.version)).scalars().all()
    assert versions == [m.version for m in migrations.MIGRATIONS]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "postgresql+psycopg2://dataops:canary-pw-123@127.0.0.1:1/dataops",
            "dataops state store postgresql+psycopg2://dataops:***@127.0.0.1:1/dataops cannot be used: "
            'connection to server at "127.0.0.1", port 1 failed: Connection refused',
            id="closed-port",
        ),
        pytest.param(
            "sqlite:////nonexistent-dir/sub/dataops.db",
            "dataops state store sqlite:////nonexistent-dir/sub/dataops.db: the folder '/nonexistent-dir/sub' "
            "does not exist; create it or point [dataops] store_url (AIRFLOW__DATAOPS__STORE_URL) elsewhere.",
            id="missing-folder",
        ),
        pytest.param(
            "definitely not a url",
            "dataops state store URL 'definitely not a url' is not a SQLAlchemy URL",
            id="not-a-url",
        ),
    ],
)
def test_unusable_store_gives_one_clear_line(url: str, expected: str) -> None:
    with pytest.raises(StoreError) as info:
        StateStore(url, connect_timeout=2).migrate()
    message = str(info.value)
    assert message.startswith(expected)
    assert "\n" not in message
    assert "canary-pw-123" not in message


def test_read_only_store_fails_closed(tmp_path: Path) -> None:
    db = tmp_path / "ro.db"
    StateStore(f"sqlite:///{db}").migrate()
    ro = StateStore(f"sqlite:///file:{db}?mode=ro&uri=true")
    from airflow_dataops.store.ledger import request_rerun

    ro._ready = True  # already migrated; we only want to see the write refused
    with pytest.raises(StoreError, match="cannot be used: attempt to write a readonly database"):
        request_rerun(ro, dataset="d", partition_keys=["k"], dag_id=None, reason="r", requested_by="me")
