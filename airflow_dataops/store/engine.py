"""``StateStore``: the engine, its transactions and its migrations."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, SQLAlchemyError

from airflow_dataops.exceptions import StoreError
from airflow_dataops.store import migrations


def redact_url(url: str) -> str:
    """The URL with its password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


class StateStore:
    """Our state database, reached through SQLAlchemy.

    Writers create it: the first write transaction (a task publishing, ``airflow dataops db
    migrate``) migrates an empty database to the current version.  Readers never do: a read
    transaction (``begin(write=False)``: ``partitions status/verify``, ``db status``, the UI, the
    SLO commands) neither creates, migrates nor takes a write lock, so it works on a read-only
    store and while a writer holds SQLite's lock, and a store that is missing, empty or at
    another schema version is a one-line error that says what to run.  A store whose schema is
    newer than this code is refused by readers and writers alike.

    SQLite runs in WAL mode, and every write transaction takes the write lock up front
    (``BEGIN IMMEDIATE``) so ledger decisions are serialised; PostgreSQL uses row locks
    (``SELECT … FOR UPDATE``) for the same end.

    :param url: a SQLAlchemy URL, e.g. ``sqlite:////opt/airflow/dataops.db`` or
        ``postgresql+psycopg2://user:pw@host:5432/dataops``.
    :param connect_timeout: seconds to wait for the database (and for SQLite's lock).
    """

    _shared: ClassVar[dict[tuple[str, int], StateStore]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, url: str, *, connect_timeout: int = 10) -> None:
        try:
            self._url = make_url(url)
        except ArgumentError as e:
            raise StoreError(
                f"dataops state store URL {url!r} is not a SQLAlchemy URL ({e}); set [dataops] store_url "
                "(AIRFLOW__DATAOPS__STORE_URL) to e.g. sqlite:////path/dataops.db or "
                "postgresql+psycopg2://user:password@host:5432/dbname."
            ) from e
        self.connect_timeout = connect_timeout
        self._engine: Engine | None = None
        self._ready = False  # migrated by this process: reads and writes may go ahead
        self._readable = False  # checked by this process: present, at this code's schema version
        self._lock = threading.RLock()

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_settings(cls, settings: Any = None) -> StateStore:
        """The store configured in ``[dataops]`` (one shared instance per URL in a process)."""
        from airflow_dataops.config import DataOpsSettings

        settings = settings or DataOpsSettings.from_airflow()
        url = settings.resolve_store_url()
        key = (url, settings.store_connect_timeout)
        with cls._shared_lock:
            store = cls._shared.get(key)
            if store is None:
                store = cls._shared[key] = cls(url, connect_timeout=settings.store_connect_timeout)
            return store

    @property
    def url(self) -> str:
        """The URL with the password masked: safe to log."""
        return self._url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        return self._url.get_backend_name()

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = self._create_engine()
        return self._engine

    def _create_engine(self) -> Engine:
        backend = self._url.get_backend_name()
        if backend == "sqlite":
            database = self._url.database
            if database and database != ":memory:" and not database.startswith("file:"):
                parent = Path(database).expanduser().resolve().parent
                if not parent.is_dir():
                    raise StoreError(
                        f"dataops state store {self.url}: the folder {str(parent)!r} does not exist; "
                        "create it or point [dataops] store_url (AIRFLOW__DATAOPS__STORE_URL) elsewhere."
                    )
            engine = create_engine(
                self._url, connect_args={"timeout": self.connect_timeout, "check_same_thread": False}
            )
            timeout_ms = self.connect_timeout * 1000

            @event.listens_for(engine, "connect")
            def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
                # Let SQLAlchemy, not pysqlite, decide when transactions begin (pysqlite's
                # implicit BEGIN is deferred and would let two writers race on a decision).
                dbapi_conn.isolation_level = None
                cur = dbapi_conn.cursor()
                cur.execute(f"PRAGMA busy_timeout={int(timeout_ms)}")
                if cur.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    with suppress(sqlite3.OperationalError):  # a read-only store keeps its journal mode
                        cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.close()

            @event.listens_for(engine, "begin")
            def _sqlite_begin(conn: Connection) -> None:
                mode = conn.info.pop("dataops_begin", "DEFERRED")
                conn.exec_driver_sql(f"BEGIN {mode}")

            return engine
        if backend == "postgresql":
            return create_engine(
                self._url,
                pool_pre_ping=True,
                connect_args={"connect_timeout": self.connect_timeout},
            )
        try:
            return create_engine(self._url, pool_pre_ping=True)
        except (ArgumentError, ImportError) as e:
            raise StoreError(f"dataops state store {self.url}: cannot create an engine: {e}") from e

    # ---------------------------------------------------------------- transactions
    @contextmanager
    def begin(self, *, write: bool = True) -> Iterator[Connection]:
        """A transaction on the store; committed on success, rolled back on error.

        ``write=True`` takes SQLite's write lock at BEGIN, so a read-then-decide-then-write
        sequence (the ledger's) cannot interleave with another writer; it creates and migrates
        the store on first use.  ``write=False`` never creates, migrates or locks (see the class).
        """
        if write:
            self.ensure_ready()
        else:
            self.ensure_readable()
        with self._connect() as conn:
            if write and self.dialect == "sqlite":
                conn.info["dataops_begin"] = "IMMEDIATE"
            try:
                with conn.begin():
                    yield conn
            except IntegrityError:
                raise  # a decision the caller makes (the ledger retries a lost first claim)
            except DBAPIError as e:  # down, locked, read-only, permission denied: one clear line
                raise self._unreachable(e) from e

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        try:
            conn = self.engine.connect()
        except (DBAPIError, SQLAlchemyError) as e:
            raise self._unreachable(e) from e
        try:
            yield conn
        finally:
            conn.close()

    def _unreachable(self, e: Exception) -> StoreError:
        reason = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        return StoreError(
            f"dataops state store {self.url} cannot be used: {reason}. Check that it is up and that "
            "[dataops] store_url (AIRFLOW__DATAOPS__STORE_URL) is right."
        )

    # ---------------------------------------------------------------- presence
    def sqlite_path(self) -> Path | None:
        """The SQLite database file, or None (PostgreSQL, in-memory)."""
        if self.dialect != "sqlite":
            return None
        database = self._url.database or ""
        if database.startswith("file:"):
            if self._url.query.get("mode") == "memory":
                return None
            database = database[len("file:") :]
        if not database or database == ":memory:":
            return None
        return Path(database).expanduser()

    def _check_exists(self) -> None:
        """Readers never create the store: a SQLite path with no file is an error, not a new store."""
        path = self.sqlite_path()
        if path is not None and not path.is_file():
            where = "its folder does not exist" if not path.parent.is_dir() else "no such file"
            raise StoreError(
                f"dataops state store {self.url} does not exist ({where}: {str(path)!r}); nothing was created. "
                "Create it with `airflow dataops db migrate` (a task's first publish also creates it), or point "
                "[dataops] store_url (AIRFLOW__DATAOPS__STORE_URL) at the existing store."
            )

    def ensure_readable(self) -> None:
        """Check once per process that the store exists at this code's schema version; never migrate."""
        if self._ready or self._readable:
            return
        with self._lock:
            if not (self._ready or self._readable):
                migrations.check_readable(self.version(), self.url)
                self._readable = True

    # ---------------------------------------------------------------- migrations
    def ensure_ready(self, *, create: bool = True) -> None:
        """Migrate the store to the current version once per process (created on first use).

        :param create: False for a person's command: a missing store is an error, not a new one.
        """
        if self._ready:
            return
        if not create:
            self._check_exists()
        with self._lock:
            if not self._ready:
                self._migrate()
                self._ready = True

    def migrate(self) -> tuple[int, int]:
        """Apply pending migrations; returns (version before, version after)."""
        result = self._migrate()
        self._ready = True
        return result

    def _migrate(self) -> tuple[int, int]:
        with self._connect() as conn:
            if self.dialect == "sqlite":
                conn.info["dataops_begin"] = "IMMEDIATE"
            try:
                with conn.begin():
                    return migrations.upgrade(conn)
            except (DBAPIError, SQLAlchemyError) as e:
                raise self._unreachable(e) from e

    def version(self) -> int:
        """The store's schema version (0: no dataops tables); reads only, creates nothing."""
        self._check_exists()
        with self._connect() as conn:
            try:
                with conn.begin():
                    return migrations.current_version(conn)
            except (DBAPIError, SQLAlchemyError) as e:
                raise self._unreachable(e) from e

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        self._ready = False
        self._readable = False
