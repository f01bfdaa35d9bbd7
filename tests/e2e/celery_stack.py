"""A real Airflow 3.3 with CeleryExecutor on one machine: Redis broker, PostgreSQL, separate workers.

:class:`CeleryAirflowStack` is :class:`~e2e.scheduler.AirflowStack` (api-server, scheduler,
dag-processor; every wait bounded, every process in its own process group, logs kept) plus
what a distributed deployment has:

- a Redis broker (:class:`RedisServer`: Debian's ``redis-server`` on a free loopback port, a temp
  dir, no persistence), started by the harness and stopped by PID;
- PostgreSQL as Airflow's metadata DB and as Celery's result backend (``db+postgresql…``);
- a triggerer;
- N Celery workers (``airflow celery worker``), each its own process tree with its own
  Celery hostname (``-H worker1@%h``), its own queue next to the default one, and its own
  log-server port, so one can be SIGKILLed (:meth:`CeleryAirflowStack.kill_worker`) like a
  host that died, and restarted (:meth:`CeleryAirflowStack.start_worker`).

Recovery from a dead worker is Airflow's own: the task instance stops heart-beating, the
scheduler fails it after ``[scheduler] task_instance_heartbeat_timeout`` and its retry (``[core]
default_task_retries``) goes to a live worker; the stack shortens those timeouts (see
``RECOVERY_ENV``) so a test sees it within a minute.  Celery's ``acks_late`` (the provider's
default) keeps a message that a worker reserved but never started in Redis until the
``visibility_timeout``, which must stay above the longest task (Redis hands the message out
again after it, and a second start of a running try is reported to the scheduler as a failure).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

from e2e.scheduler import AirflowStack, StackError, free_port

# Short, for tests; production keeps Airflow's defaults (300 s heartbeat timeout, 300 s retry delay).
RECOVERY_ENV = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
    "AIRFLOW__CORE__DEFAULT_TASK_RETRIES": "2",
    "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "2",
    "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "900",
}


def redis_server_binary() -> str | None:
    return shutil.which("redis-server") or next(
        (p for p in ("/usr/bin/redis-server", "/usr/sbin/redis-server") if os.access(p, os.X_OK)), None
    )


class RedisServer:
    """``redis-server`` on a free loopback port with a private temp dir and no persistence."""

    def __init__(self, workdir: Path) -> None:
        binary = redis_server_binary()
        if binary is None:
            raise StackError(
                "redis-server not found: install the Debian package (apt-get install redis-server; "
                "`make system-deps` does it as root)"
            )
        self.binary = binary
        self.dir = Path(workdir) / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> RedisServer:
        import redis

        argv = [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.dir)]
        argv += ["--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes"]
        log = (self.dir / "redis.log").open("wb")
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise StackError(f"redis-server exited {self.proc.returncode}: {self.log()}")
            with contextlib.suppress(redis.RedisError):
                if redis.Redis.from_url(self.url, socket_timeout=1).ping():
                    return self
            time.sleep(0.2)
        raise StackError(f"redis-server not answering on {self.url} after {timeout} s: {self.log()}")

    def log(self) -> str:
        path = self.dir / "redis.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def create_database(admin_url: str, prefix: str = "t") -> str:
    """A fresh, empty database on the PostgreSQL server of ``admin_url``; its URL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


class CeleryAirflowStack(AirflowStack):
    """:class:`AirflowStack` on CeleryExecutor: triggerer and ``workers`` Celery workers as well.

    :param metadata_url: Airflow's metadata DB (a PostgreSQL SQLAlchemy URL); also Celery's result backend.
    :param broker_url: the Redis broker (e.g. :attr:`RedisServer.url`).
    :param workers: how many Celery workers to start (named ``worker1``, ``worker2``, …).
    :param concurrency: task processes per worker.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        metadata_url: str,
        broker_url: str,
        workers: int = 2,
        concurrency: int = 2,
        dags_folder: Path | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        env = {
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
            "AIRFLOW__CELERY__BROKER_URL": broker_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata_url,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(concurrency),
            "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
            "AIRFLOW__CELERY__TASK_ACKS_LATE": "True",
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            **RECOVERY_ENV,
            **(extra_env or {}),
        }
        super().__init__(workdir, dags_folder=dags_folder, extra_env=env, parallelism=workers * concurrency)
        self.worker_names = [f"worker{i + 1}" for i in range(workers)]
        self.concurrency = concurrency
        self._log_ports = {name: free_port() for name in self.worker_names}

    def start(self, *, migrate_timeout: float = 240) -> CeleryAirflowStack:
        super().start(migrate_timeout=migrate_timeout)
        self._spawn("triggerer", ["triggerer"])
        for name in self.worker_names:
            self.start_worker(name)
        return self

    def start_worker(self, name: str) -> None:
        """Start (or restart, after :meth:`kill_worker`) the Celery worker ``name``."""
        old = self.procs.get(name)
        if old is not None and old.poll() is None:
            raise StackError(f"worker {name} is still running (pid {old.pid})")
        args = ["celery", "worker", "-H", f"{name}@%h", "-q", f"default,{name}", "-c", str(self.concurrency)]
        self._spawn(name, args, env={"AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self._log_ports[name])})

    def wait_for_workers(self, timeout: float = 180) -> list[str]:
        """Wait until every worker answers Celery's ping (``celery inspect ping`` through the broker)."""
        from celery import Celery

        app = Celery(broker=self.env["AIRFLOW__CELERY__BROKER_URL"])
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        try:
            while time.monotonic() < deadline:
                self._check_alive()
                replies = app.control.ping(timeout=1.0) or []
                seen = sorted(name for reply in replies for name in reply)
                if all(any(s.startswith(f"{w}@") for s in seen) for w in self.worker_names):
                    return seen
                time.sleep(1)
        finally:
            app.close()
        raise StackError(f"Celery workers answering after {timeout} s: {seen}\n{self.logs()}")

    def worker_of(self, pid: int) -> str | None:
        """The worker that process ``pid`` (a task process, say) descends from, if any.

        By ancestry, not process group: the Task SDK supervisor puts each task process in a
        process group of its own (so it can signal the task's whole tree)."""
        import psutil

        mains = {self.procs[n].pid: n for n in self.worker_names if n in self.procs}
        try:
            chain = [psutil.Process(pid), *psutil.Process(pid).parents()]
        except psutil.Error:
            return None
        return next((mains[p.pid] for p in chain if p.pid in mains), None)

    def worker_pids(self, name: str) -> set[int]:
        """Every live process of worker ``name``: Celery, its pool, the task supervisors and their tasks."""
        import psutil

        main = psutil.Process(self.procs[name].pid)
        return {main.pid, *(c.pid for c in main.children(recursive=True))}

    def kill_worker(self, name: str) -> set[int]:
        """SIGKILL worker ``name`` and every process under it at once, as if its host died."""
        proc = self.procs[name]
        pids = self.worker_pids(name)
        for pid in sorted(pids - {proc.pid}, reverse=True):  # task processes, each in a group of its own
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        return pids

    def stop(self, grace: float = 15) -> None:
        """Stop as the base stack does, then SIGKILL any task process that outlived its worker."""
        import psutil

        left: list[psutil.Process] = []
        for proc in self.procs.values():
            with contextlib.suppress(psutil.Error):
                left += psutil.Process(proc.pid).children(recursive=True)
        super().stop(grace)
        for child in left:
            with contextlib.suppress(psutil.Error):
                child.kill()

    def _check_alive(self) -> None:
        # a worker the test killed on purpose is not a failure of the stack
        dead = {
            n: p.returncode
            for n, p in self.procs.items()
            if p.poll() is not None and p.returncode != -signal.SIGKILL
        }
        if dead:
            raise StackError(f"Airflow processes exited: {dead}\n{self.logs()}")


@contextlib.contextmanager
def celery_stack(
    workdir: Path,
    admin_url: str,
    *,
    workers: int = 2,
    concurrency: int = 2,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[tuple[CeleryAirflowStack, dict[str, str]]]:
    """Redis + fresh PostgreSQL databases (metadata, dataops store, warehouse) + a started stack.

    Yields the stack and the URLs (``metadata``, ``store``, ``warehouse``, ``broker``); the
    warehouse is the ``dataops_warehouse`` connection and the store is ``[dataops] store_url``.
    """
    from connections import connection_json

    urls = {role: create_database(admin_url, prefix=f"celery_{role}") for role in ("meta", "store", "wh")}
    env = {
        "AIRFLOW__DATAOPS__STORE_URL": urls["store"],
        "AIRFLOW_CONN_DATAOPS_WAREHOUSE": connection_json(urls["wh"]),
        **(extra_env or {}),
    }
    with RedisServer(workdir) as redis:
        stack = CeleryAirflowStack(
            workdir,
            metadata_url=urls["meta"],
            broker_url=redis.url,
            workers=workers,
            concurrency=concurrency,
            extra_env=env,
        )
        with stack:
            yield (
                stack,
                {
                    "metadata": urls["meta"],
                    "store": urls["store"],
                    "warehouse": urls["wh"],
                    "broker": redis.url,
                },
            )
