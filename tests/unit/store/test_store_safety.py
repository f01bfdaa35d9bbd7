"""Store safety: readers never create, migrate or write-lock the store; a newer store is refused.

Real stores throughout: SQLite files (read-only by URI, read-only by permission, write-locked by
another connection) and PostgreSQL (a role that may only SELECT).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from airflow_dataops.cli import commands
from airflow_dataops.cli._common import EXIT_ENVIRONMENT
from airflow_dataops.exceptions import StoreError
from airflow_dataops.partitions.ledger import PartitionLedger
from airflow_dataops.store import StateStore, migrations
from airflow_dataops.store import tables as t
from airflow_dataops.store.ledger import list_partitions
from airflow_dataops.store.records import get_dataset, upsert_dataset

HEAD = migrations.HEAD
STORE_FAULT = EXIT_ENVIRONMENT  # the CLI's exit code for a store fault


def _publish_one(store: StateStore, key: str = "2026-11-01") -> None:
    upsert_dataset(store, "flights", dag_id="dag", target_table="flights", partition_column="day")
    ledger = PartitionLedger(store, "flights")
    claim = ledger.begin(key, dag_id="dag", task_id="load", run_id="run_1", attempt=1)
    ledger.finish(
        claim,
        state="applied",
        rows_in=3,
        rows_published=3,
        rows_quarantined=0,
        checksum="3:abc",
        gate_verdict="passed",
        contract_version=None,
    )


@pytest.fixture
def cli_store(monkeypatch: pytest.MonkeyPatch):
    """Point the CLI's [dataops] store_url at ``url``; returns a runner of `partitions status` / `db status`."""

    def point(url: str) -> None:
        monkeypatch.setenv("AIRFLOW__DATAOPS__STORE_URL", url)
        StateStore._shared.clear()

    yield point
    for store in StateStore._shared.values():
        store.dispose()
    StateStore._shared.clear()


def _cli(capsys: pytest.CaptureFixture[str], command: str) -> tuple[int, str, str]:
    args = SimpleNamespace(target="flights", since=None, output="table")
    try:
        getattr(commands, command)(args)
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------------------ missing stores
@pytest.mark.parametrize("where", ["missing-file", "missing-folder"])
@pytest.mark.parametrize("command", ["partitions_status", "partitions_verify", "db_status"])
def test_a_store_url_that_points_nowhere_is_an_error_not_a_new_store(
    tmp_path: Path, where: str, command: str, cli_store, capsys
) -> None:
    db = tmp_path / "typo.db" if where == "missing-file" else tmp_path / "no-such-dir" / "dataops.db"
    cli_store(f"sqlite:///{db}")
    code, _out, err = _cli(capsys, command)
    assert code == STORE_FAULT
    [line] = err.strip().splitlines()
    assert line.startswith(f"error: dataops state store sqlite:///{db} does not exist (")
    assert "nothing was created. Create it with `airflow dataops db migrate`" in line
    assert list(tmp_path.iterdir()) == []  # neither the file nor its folder was created


def test_an_empty_database_is_not_a_store_for_readers(tmp_path: Path, cli_store, capsys) -> None:
    db = tmp_path / "empty.db"
    sqlite3.connect(db).close()
    cli_store(f"sqlite:///{db}")
    code, _, err = _cli(capsys, "partitions_status")
    assert code == STORE_FAULT
    assert "holds no dataops tables (schema version 0); nothing was created" in err
    code, out, _ = _cli(capsys, "db_status")
    assert code == 0
    assert f"version: 0 (this airflow-dataops: {HEAD})" in out
    assert "no dataops tables yet: run `airflow dataops db migrate`" in out
    assert StateStore(f"sqlite:///{db}").version() == 0  # still nothing created


def test_a_person_s_rerun_never_creates_a_store(tmp_path: Path) -> None:
    db = tmp_path / "typo.db"
    with pytest.raises(StoreError, match="does not exist"):
        StateStore(f"sqlite:///{db}").ensure_ready(create=False)
    assert not db.exists()


# ------------------------------------------------------------------------------ versions
def _set_version(store_url: str, version: int) -> None:
    engine = create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(
            t.schema_version.insert().values(
                version=version, description="from the future", applied_at=func.now()
            )
        )
    engine.dispose()


def _counts(store_url: str) -> tuple[int, int, int]:
    engine = create_engine(store_url)
    with engine.connect() as conn:
        counts = tuple(
            conn.execute(select(func.count()).select_from(tbl)).scalar_one()
            for tbl in (t.schema_version, t.partitions, t.partition_history)
        )
    engine.dispose()
    return counts  # type: ignore[return-value]


def test_a_store_newer_than_the_code_is_refused_and_nothing_is_written(
    store_url: str, cli_store, capsys
) -> None:
    StateStore(store_url).migrate()
    _set_version(store_url, HEAD + 1)
    before = _counts(store_url)
    shown = make_url(store_url).render_as_string(hide_password=True)
    expected = (
        f"dataops state store {shown}: store schema v{HEAD + 1} is newer than this airflow-dataops (v{HEAD}): "
        "upgrade airflow-dataops; nothing was read or written"
    )
    store = StateStore(store_url)
    for attempt in (
        store.migrate,
        lambda: PartitionLedger(store, "flights").begin(
            "2026-11-01", dag_id="d", task_id="t", run_id="r", attempt=1
        ),
        lambda: list_partitions(store, "flights"),
    ):
        with pytest.raises(migrations.StoreVersionError) as info:
            attempt()
        assert str(info.value) == expected
    cli_store(store_url)
    for command in ("db_status", "partitions_status"):
        code, _, err = _cli(capsys, command)
        assert (code, err) == (STORE_FAULT, f"error: {expected}\n")
    assert _counts(store_url) == before
    store.dispose()


def test_an_older_store_is_refused_by_readers_and_migrated_by_the_first_write(store_url: str, capsys) -> None:
    store = StateStore(store_url)
    store.migrate()
    engine = create_engine(store_url)
    with engine.begin() as conn:  # back to version 1: no datasets.db_schema
        conn.execute(t.schema_version.delete().where(t.schema_version.c.version > 1))
        conn.execute(text("ALTER TABLE dataops_datasets DROP COLUMN db_schema"))
        conn.execute(text("DROP TABLE dataops_partition_inputs"))  # migration 3
    engine.dispose()
    store.dispose()
    reader = StateStore(store_url)
    with pytest.raises(
        StoreError, match=rf"store schema v1 is older than this airflow-dataops \(v{HEAD}\) and read-only"
    ):
        get_dataset(reader, "flights")
    assert reader.version() == 1  # the reader did not migrate it
    writer = StateStore(store_url)
    _publish_one(writer)
    assert writer.version() == HEAD
    assert get_dataset(StateStore(store_url), "flights")["db_schema"] is None


# ------------------------------------------------------------------------------ read-only stores
def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_readers_work_on_a_sqlite_store_opened_read_only(tmp_path: Path, cli_store, capsys) -> None:
    db = tmp_path / "store.db"
    writer = StateStore(f"sqlite:///{db}")
    _publish_one(writer)
    writer.dispose()
    before = _digest(db)
    url = f"sqlite:///file:{db}?mode=ro&uri=true"
    cli_store(url)
    code, out, err = _cli(capsys, "partitions_status")
    assert (code, err) == (0, "")
    assert "2026-11-01" in out and "applied" in out
    code, out, _ = _cli(capsys, "db_status")
    assert code == 0 and "status:  up to date" in out
    ro = StateStore(url)
    assert [p.state for p in list_partitions(ro, "flights")] == ["applied"]
    with pytest.raises(StoreError, match="attempt to write a readonly database"):
        PartitionLedger(ro, "flights").begin("2026-11-02", dag_id="d", task_id="t", run_id="r", attempt=1)
    assert _digest(db) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through file permissions")
def test_readers_work_on_a_sqlite_file_without_write_permission(tmp_path: Path, cli_store, capsys) -> None:
    db = tmp_path / "store.db"
    writer = StateStore(f"sqlite:///{db}")
    _publish_one(writer)
    writer.dispose()
    db.chmod(0o444)
    cli_store(f"sqlite:///{db}")
    code, out, err = _cli(capsys, "partitions_status")
    assert (code, err) == (0, "")
    assert "applied" in out


def test_readers_work_while_another_connection_holds_the_sqlite_write_lock(
    tmp_path: Path, cli_store, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "store.db"
    _publish_one(StateStore(f"sqlite:///{db}"))
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("DELETE FROM dataops_rerun_requests")
    try:
        monkeypatch.setenv("AIRFLOW__DATAOPS__STORE_CONNECT_TIMEOUT", "1")
        cli_store(f"sqlite:///{db}")
        for command in ("partitions_status", "db_status"):
            code, _out, err = _cli(capsys, command)
            assert (code, err) == (0, ""), command
        assert "applied" in _cli(capsys, "partitions_status")[1]
        # a writer, by contrast, waits for the lock and then says so
        with pytest.raises(StoreError, match="database is locked"):
            PartitionLedger(StateStore(f"sqlite:///{db}", connect_timeout=1), "flights").begin(
                "2026-11-02", dag_id="d", task_id="t", run_id="r", attempt=1
            )
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@pytest.mark.postgres
def test_readers_work_with_a_postgres_role_that_may_only_select(pg_url: str, cli_store, capsys) -> None:
    _publish_one(StateStore(pg_url))
    role = f"ro_{uuid.uuid4().hex[:10]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE ROLE \"{role}\" LOGIN PASSWORD 'ro-pw'"))
        conn.execute(text(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"'))
    ro_url = make_url(pg_url).set(username=role, password="ro-pw").render_as_string(hide_password=False)
    try:
        cli_store(ro_url)
        code, out, err = _cli(capsys, "partitions_status")
        assert (code, err) == (0, "")
        assert "applied" in out
        code, out, _ = _cli(capsys, "db_status")
        assert code == 0 and "up to date" in out
        ro = StateStore(ro_url)
        with pytest.raises(StoreError, match="permission denied"):
            PartitionLedger(ro, "flights").begin("2026-11-02", dag_id="d", task_id="t", run_id="r", attempt=1)
        ro.dispose()
    finally:
        for store in StateStore._shared.values():
            store.dispose()
        StateStore._shared.clear()
        with admin.connect() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))
        admin.dispose()


def test_partitions_rerun_never_creates_a_store_and_its_dry_run_never_migrates(
    tmp_path: Path, cli_store, capsys
) -> None:
    from airflow_dataops.cli.partitions_rerun import partitions_rerun

    def rerun(dry_run: bool) -> tuple[int, str]:
        args = SimpleNamespace(
            dag_id="dag",
            keys=["2026-11-01"],
            date_from=None,
            date_to=None,
            reason="r",
            dry_run=dry_run,
            force=False,
            output="table",
        )
        try:
            partitions_rerun(args)
            code = 0
        except SystemExit as e:
            code = int(e.code or 0)
        return code, capsys.readouterr().err

    db = tmp_path / "typo.db"
    cli_store(f"sqlite:///{db}")
    for dry_run in (True, False):
        code, err = rerun(dry_run)
        assert code == 3 and "does not exist" in err  # the environment, as in every command
    assert not db.exists()
    older = tmp_path / "older.db"
    store = StateStore(f"sqlite:///{older}")
    store.migrate()
    store.dispose()
    engine = create_engine(f"sqlite:///{older}")
    with engine.begin() as conn:
        conn.execute(t.schema_version.delete().where(t.schema_version.c.version > 1))
    engine.dispose()
    cli_store(f"sqlite:///{older}")
    code, err = rerun(True)
    assert code != 0 and "store schema v1 is older than this airflow-dataops" in err
    assert StateStore(f"sqlite:///{older}").version() == 1
