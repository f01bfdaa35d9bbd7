"""A real Airflow 3.3 on one machine, for end-to-end tests: api-server + scheduler + dag-processor.

Each ``AirflowStack`` gets its own ``AIRFLOW_HOME`` (a temp folder) with an embedded SQLite
metadata DB, ``LocalExecutor``, the execution API served by its own api-server, and the env
our provider needs (dataops store, warehouse connection, OpenLineage file transport).  Task
processes run under the Task SDK supervisor there, so code that reaches for Airflow's
metadata DB from a task fails as it would in production (``dag.test()`` does not check).

Every wait has a deadline; processes are started in their own process group and stopped
by PID (SIGTERM to the group, then SIGKILL).  Logs of each process are kept in
``<home>/logs-<name>.txt`` and their tails are attached to any timeout error.

Usage::

    with AirflowStack(tmp_path, extra_env={...}) as af:
        af.wait_for_dag("nycflights_daily", timeout=180)
        af.unpause("nycflights_daily")
        run_id = af.trigger("nycflights_daily", partition_key="2026-01-10")
        af.wait_for_run("nycflights_daily", run_id, timeout=180)
        af.cli("dataops", "partitions", "status", "nycflights_daily")
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
TERMINAL_RUN_STATES = ("success", "failed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class StackError(RuntimeError):
    """The stack did not reach the state a test waited for; the message carries the process logs."""


class AirflowStack:
    """Start, drive and stop a real Airflow on an isolated ``AIRFLOW_HOME``.

    :param workdir: a folder of its own (e.g. pytest's ``tmp_path``); everything goes under it.
    :param dags_folder: the DAGs to parse (default the repository's ``dags/``).
    :param extra_env: more environment for every process (warehouse connection, store URL, …).
    :param parallelism: how many task processes LocalExecutor runs at once.
    :param triggerer: also run a triggerer (deferrable tasks, asset watchers).
    """

    def __init__(
        self,
        workdir: Path,
        *,
        dags_folder: Path | None = None,
        extra_env: Mapping[str, str] | None = None,
        parallelism: int = 2,
        triggerer: bool = False,
    ) -> None:
        self.workdir = Path(workdir)
        self.home = self.workdir / "airflow"
        self.home.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.dags_folder = Path(dags_folder or ROOT / "dags")
        self.lineage_file = self.workdir / "lineage.jsonl"
        self.env = self._environment(extra_env or {}, parallelism)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.with_triggerer = triggerer
        self._token: str | None = None

    # ------------------------------------------------------------------ environment
    def _environment(self, extra: Mapping[str, str], parallelism: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST"))}
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": str(parallelism),
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
                "AIRFLOW__API__BASE_URL": self.base_url,
                "AIRFLOW__API_AUTH__JWT_SECRET": "dataops-e2e-not-a-secret",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
                "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "300",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
                # free ports, not 8793/8794: stacks of parallel test sessions must not fight over them
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__DATAOPS__STORE_URL": f"sqlite:///{self.workdir / 'dataops.db'}",
                "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
                    {"type": "file", "log_file_path": str(self.lineage_file), "append": True}
                ),
                "AIRFLOW__OPENLINEAGE__NAMESPACE": "dataops-e2e",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(extra)
        return env

    # ------------------------------------------------------------------ processes
    def cli(self, *args: str, timeout: float = 180, check: bool = False) -> subprocess.CompletedProcess[str]:
        """Run ``airflow ARGS…`` against this stack (same home and env), bounded by ``timeout``."""
        return self.run([PYTHON, "-m", "airflow", *args], timeout=timeout, check=check)

    def run(
        self, argv: Iterable[str], *, timeout: float = 180, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            list(argv), env=self.env, capture_output=True, text=True, timeout=timeout, cwd=self.workdir
        )
        if check and proc.returncode != 0:
            raise StackError(
                f"{' '.join(argv)} exited {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\n"
                f"stderr:\n{proc.stderr[-3000:]}"
            )
        return proc

    def start(self, *, migrate_timeout: float = 240) -> AirflowStack:
        self.cli("db", "migrate", timeout=migrate_timeout, check=True)
        self._spawn("api-server", ["api-server", "-H", "127.0.0.1", "-p", str(self.port), "-w", "1"])
        self._spawn("scheduler", ["scheduler"])
        self._spawn("dag-processor", ["dag-processor"])
        if self.with_triggerer:  # deferred tasks and asset watchers (event-driven scheduling)
            self._spawn("triggerer", ["triggerer"])
        return self

    def _spawn(self, name: str, args: list[str], *, env: Mapping[str, str] | None = None) -> None:
        """Start ``airflow ARGS…`` as process ``name``; ``env`` adds to the stack's environment for it alone."""
        log = (self.home / f"logs-{name}.txt").open("ab")  # a restarted process appends to its log
        self.procs[name] = subprocess.Popen(
            [PYTHON, "-m", "airflow", *args],
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            start_new_session=True,  # its own process group: stop() kills the children too
        )

    def stop(self, grace: float = 15) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):  # task processes may outlive their parent
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        self.procs.clear()

    def __enter__(self) -> AirflowStack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def logs(self, tail: int = 4000) -> str:
        out = []
        for path in sorted(self.home.glob("logs-*.txt")):
            out.append(f"----- {path.name} (last {tail} chars)\n{path.read_text(errors='replace')[-tail:]}")
        return "\n".join(out)

    def _check_alive(self) -> None:
        dead = {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}
        if dead:
            raise StackError(f"Airflow processes exited: {dead}\n{self.logs()}")

    # ------------------------------------------------------------------ REST API
    def _client(self) -> Any:
        import httpx

        return httpx.Client(base_url=self.base_url, timeout=30)

    def wait_until_up(self, timeout: float = 120) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                with self._client() as c:
                    if c.get("/api/v2/monitor/health").status_code == 200:
                        return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        raise StackError(f"api-server not up after {timeout} s\n{self.logs()}")

    def token(self) -> str:
        """A JWT for ``admin`` from the simple auth manager's generated password file."""
        if self._token is None:
            self.wait_until_up()
            pw_file = self.home / "simple_auth_manager_passwords.json.generated"
            deadline = time.monotonic() + 30
            while not pw_file.exists() and time.monotonic() < deadline:
                time.sleep(0.5)
            password = json.loads(pw_file.read_text())["admin"]
            with self._client() as c:
                r = c.post("/auth/token", json={"username": "admin", "password": password})
                r.raise_for_status()
                self._token = r.json()["access_token"]
        return self._token

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        with self._client() as c:
            r = c.request(method, path, headers={"Authorization": f"Bearer {self.token()}"}, **kwargs)
        if r.status_code >= 400:
            raise StackError(f"{method} {path} -> {r.status_code}: {r.text[:2000]}")
        return r.json() if r.content else None

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> dict[str, Any]:
        """Wait until the dag-processor has parsed ``dag_id``; fail at once on an import error."""
        deadline = time.monotonic() + timeout
        self.token()
        while time.monotonic() < deadline:
            self._check_alive()
            errors = self.api("GET", "/api/v2/importErrors").get("import_errors", [])
            if errors:
                raise StackError(f"DAG import errors: {json.dumps(errors, indent=2)[:4000]}")
            with self._client() as c:
                r = c.get(f"/api/v2/dags/{dag_id}", headers={"Authorization": f"Bearer {self.token()}"})
            if r.status_code == 200:
                return dict(r.json())
            time.sleep(2)
        raise StackError(f"DAG {dag_id!r} not parsed after {timeout} s\n{self.logs()}")

    def unpause(self, dag_id: str) -> None:
        self.api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})

    def trigger(
        self,
        dag_id: str,
        *,
        partition_key: str | None = None,
        logical_date: str | None = None,
        note: str = "",
    ) -> str:
        """Create a manual run (with a partition key, which 3.3's REST API accepts); return its run id."""
        body: dict[str, Any] = {"logical_date": logical_date, "partition_key": partition_key}
        if note:
            body["note"] = note
        return str(self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body)["dag_run_id"])

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        return list(self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100})["dag_runs"])

    def run_state(self, dag_id: str, run_id: str) -> str:
        return str(self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"])

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return list(
            self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
        )

    def wait_for_run(
        self,
        dag_id: str,
        run_id: str,
        *,
        timeout: float = 180,
        states: Iterable[str] = TERMINAL_RUN_STATES,
        after: float | None = None,
    ) -> str:
        """Wait for the run to reach one of ``states``; return the state.

        ``after``: a ``time.time()`` stamp; the run must also have ended after it (for a cleared run,
        which still shows its old ``success`` until the scheduler picks it up again).
        """
        wanted = tuple(states)
        deadline = time.monotonic() + timeout
        state = "?"
        while time.monotonic() < deadline:
            self._check_alive()
            run = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
            state = str(run["state"])
            ended = run.get("end_date")
            fresh = after is None or (ended is not None and _ts(ended) > after)
            if state in wanted and fresh:
                return state
            time.sleep(2)
        tis = self.task_instances(dag_id, run_id)
        raise StackError(
            f"run {run_id} of {dag_id} is {state!r} after {timeout} s (wanted {wanted}); task instances: "
            f"{json.dumps([{k: t.get(k) for k in ('task_id', 'state', 'try_number')} for t in tis])}\n{self.logs()}"
        )

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        with self._client() as c:
            r = c.get(path, headers={"Authorization": f"Bearer {self.token()}", "Accept": "text/plain"})
        return r.text


def _ts(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
