"""A real ``airflow api-server`` for end-to-end tests, in a subprocess with its own AIRFLOW_HOME.

``AirflowServer(home, dags_folder=..., env={...}).start()`` migrates the metadata DB,
serialises the DAGs of ``dags_folder`` (so DAG pages and DAG tabs exist without a
scheduler or a DAG processor), starts ``airflow api-server`` on a free port, and waits
for its health endpoint.  ``stop()`` ends that process group by its PID.  Every wait
is bounded by a deadline; a failed start raises with the tail of the server's log.

The simple auth manager (Airflow's default) writes the password of user ``admin`` to
``simple_auth_manager_passwords.json.generated`` in AIRFLOW_HOME; :meth:`token` trades
it for a JWT at ``POST /auth/token``.
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
import urllib.error
import urllib.request
from pathlib import Path

PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"
#: Debian's Chromium (never a browser download) and the flags it needs on these machines: no sandbox
#: as root, and no background connections to hosts the closed network refuses.
CHROMIUM = os.environ.get("DATAOPS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AirflowServer:
    """One ``airflow api-server`` process (``-w 1``) on 127.0.0.1.

    :param home: AIRFLOW_HOME (created); the metadata DB (SQLite) and logs live there.
    :param dags_folder: DAG files to serialise into the metadata DB before starting.
    :param env: extra environment (``AIRFLOW__DATAOPS__STORE_URL`` …).
    """

    def __init__(
        self, home: Path, *, dags_folder: Path | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.home = Path(home)
        self.dags_folder = Path(dags_folder) if dags_folder else self.home / "dags"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.home / "api-server.log"
        self._extra = dict(env or {})
        self._proc: subprocess.Popen[bytes] | None = None
        self.timings: dict[str, float] = {}

    # ------------------------------------------------------------------ environment
    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
                "AIRFLOW__API__EXPOSE_CONFIG": "False",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            }
        )
        env.update(self._extra)
        return env

    def _run(self, *args: str, timeout: float) -> None:
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=self.environment(),
            cwd=self.home,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
        self.timings[" ".join(args)] = time.monotonic() - started
        if result.returncode != 0:
            tail = result.stdout.decode(errors="replace")[-3000:]
            raise RuntimeError(
                f"`airflow {' '.join(args)}` failed with exit code {result.returncode}:\n{tail}"
            )

    # ------------------------------------------------------------------ lifecycle
    def start(self, *, timeout: float = 150.0) -> AirflowServer:
        self.home.mkdir(parents=True, exist_ok=True)
        self.dags_folder.mkdir(parents=True, exist_ok=True)
        self._run("db", "migrate", timeout=timeout)
        if any(self.dags_folder.glob("*.py")):
            self._run("dags", "reserialize", timeout=timeout)
        started = time.monotonic()
        log = self.log_path.open("wb")
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "airflow",
                "api-server",
                "-H",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-w",
                "1",
            ],
            env=self.environment(),
            cwd=self.home,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends the workers too
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"api-server exited with {self._proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/monitor/health", timeout=2) as r:
                    if r.status == 200:
                        self.timings["api-server start"] = time.monotonic() - started
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"api-server not healthy after {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, *, timeout: float = 20.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # the group we created, by the leader's PID
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout)
        # Workers left in the group after the leader exited (uvicorn children): end them too.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

    def __enter__(self) -> AirflowServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "<no log>"

    # ------------------------------------------------------------------ auth
    def password(self, user: str = "admin") -> str:
        path = self.home / PASSWORDS_FILE
        deadline = time.monotonic() + 30
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        return str(json.loads(path.read_text())[user])

    def token(self, user: str = "admin") -> str:
        body = json.dumps({"username": user, "password": self.password(user)}).encode()
        request = urllib.request.Request(
            f"{self.url}/auth/token", data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as r:
            return str(json.loads(r.read())["access_token"])

    def get(self, path: str, *, token: str | None = None, cookie: str | None = None) -> tuple[int, str, str]:
        """``(status, content type, body)`` of a GET on the server."""
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if cookie:
            headers["Cookie"] = f"_token={cookie}"
        request = urllib.request.Request(f"{self.url}{path}", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=15) as r:
                return r.status, r.headers.get("content-type", ""), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("content-type", ""), e.read().decode()


# ---------------------------------------------------------------------------- UI test data
UI_DAG_ID = "ui_dataops_dag"
XSS_NAME = "<script>alert(1)</script>"
XSS_DESCRIPTION = '<script>alert("desc")</script><img src=x onerror=alert(2)>'
XSS_RULE = "<script>alert('rule')</script>"

DAG_FILE = f'''
from datetime import datetime

from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG("{UI_DAG_ID}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
    EmptyOperator(task_id="load_flights")
'''


def build_ui_store(url: str, *, now: object = None, days: int = 30) -> None:
    """Fill a store at ``url`` with the datasets the UI tests look at, through the store API.

    * ``flights`` (DAG ``ui_dataops_dag``): daily freshness and correctness, two bad
      freshness days, 5 partitions in the ledger, a contract result with one failed rule;
    * ``orders``: freshness bad for the last 10 days and an open page breach (breached);
    * ``<script>alert(1)</script>``: a name, description and rule made of HTML;
    * ``scratch``: no SLO, no DAG.
    """
    from datetime import datetime, timedelta, timezone

    from airflow_dataops.store import StateStore
    from airflow_dataops.store import ledger as db
    from airflow_dataops.store.breaches import open_breach
    from airflow_dataops.store.records import SLIRecord, record_contract_result, record_slis, upsert_dataset

    now_ = now if isinstance(now, datetime) else datetime.now(timezone.utc)
    store = StateStore(url, connect_timeout=5)
    store.migrate()
    slo = {
        "objective": 0.95,
        "window_days": 30,
        "cadence": "1d",
        "slis": {
            "freshness": {"threshold": 36, "unit": "h"},
            "correctness": {"threshold": 0.99, "unit": "ratio"},
        },
    }
    upsert_dataset(
        store,
        "flights",
        contract_id="urn:dataops:ui:flights",
        contract_version="1.2.0",
        owner="data-platform",
        description="One row per scheduled flight departing New York City.",
        dag_id=UI_DAG_ID,
        task_id="load_flights",
        target_table="analytics.flights",
        slo=slo,
    )
    upsert_dataset(
        store,
        "orders",
        contract_id="urn:dataops:ui:orders",
        contract_version="2.0.0",
        owner="sales-eng",
        description="Orders, one row per order line.",
        dag_id=UI_DAG_ID,
        task_id="load_orders",
        target_table="analytics.orders",
        slo={"objective": 0.99, "window_days": 30, "slis": {"freshness": {"threshold": 36, "unit": "h"}}},
    )
    upsert_dataset(
        store,
        XSS_NAME,
        contract_id="urn:x",
        contract_version="0.1.0",
        owner="<b>mallory</b>",
        description=XSS_DESCRIPTION,
        dag_id=UI_DAG_ID,
        task_id="load_x",
        slo={"objective": 0.9, "slis": {"freshness": {"threshold": 48, "unit": "h"}}},
    )
    upsert_dataset(store, "scratch", description="A dataset with no SLO and no DAG.")

    records = []
    for d in range(days, 0, -1):
        day = now_ - timedelta(days=d)
        key = day.strftime("%Y-%m-%d")
        lag = 50 * 3600 if d in (9, 17) else 20 * 3600
        for dataset, bad in (("flights", d in (9, 17)), ("orders", d <= 10), (XSS_NAME, False)):
            records.append(
                SLIRecord(
                    dataset=dataset,
                    kind="freshness",
                    value=float(lag if not bad else 60 * 3600),
                    unit="s",
                    good=not bad,
                    observed_at=day,
                    partition_key=key,
                    dag_id=UI_DAG_ID,
                    task_id="load",
                )
            )
        records.append(
            SLIRecord(
                dataset="flights",
                kind="correctness",
                value=1.0 if d != 4 else 0.97,
                unit="ratio",
                good=d != 4,
                observed_at=day,
                partition_key=key,
                dag_id=UI_DAG_ID,
            )
        )
    record_slis(store, records)

    for d in range(5, 0, -1):
        key = (now_ - timedelta(days=d)).strftime("%Y-%m-%d")
        claim = db.claim(
            store,
            dataset="flights",
            partition_key=key,
            dag_id=UI_DAG_ID,
            task_id="load_flights",
            run_id=f"scheduled__{key}",
            attempt=1,
            dag_version="1",
            contract_version="1.2.0",
            lease=timedelta(hours=1),
        )
        db.finish(
            store,
            claim,
            state="quarantined" if d == 2 else "applied",
            rows_in=1000 + d,
            rows_published=1000 + d - (7 if d == 2 else 0),
            rows_quarantined=7 if d == 2 else 0,
            checksum=f"{d:064x}",
            gate_verdict="warned" if d == 2 else "passed",
            contract_version="1.2.0",
        )

    def result(name: str, passed: bool, **kw: object) -> dict[str, object]:
        return {
            "name": name,
            "dimension": kw.get("dimension", "completeness"),
            "severity": kw.get("severity", "error"),
            "expected": kw.get("expected", "0 nulls"),
            "actual": kw.get("actual", "0 nulls"),
            "passed": passed,
            "failing_rows": kw.get("failing_rows"),
            "column": kw.get("column"),
            "row_level": True,
        }

    last = (now_ - timedelta(days=1)).strftime("%Y-%m-%d")
    report = {
        "contract": "urn:dataops:ui:flights",
        "version": "1.2.0",
        "dataset": "flights",
        "partition": last,
        "engine": "sql",
        "rows": 1001,
        "results": [
            result("flights.dep_time.not_null", True, column="dep_time"),
            result(
                "flights.carrier.allowed_values",
                False,
                severity="warning",
                dimension="conformity",
                expected="in (AA, B6, DL, UA)",
                actual="3 other values",
                failing_rows=7,
            ),
            result("flights.row_count", True, dimension="completeness", expected=">= 900", actual="1001"),
        ],
    }
    record_contract_result(
        store,
        report=report,
        mode="quarantine",
        verdict="warned",
        dag_id=UI_DAG_ID,
        task_id="load_flights",
        run_id=f"scheduled__{last}",
    )
    xss_report = {
        "contract": "urn:x",
        "version": "0.1.0",
        "dataset": XSS_NAME,
        "partition": last,
        "engine": "sql",
        "rows": 1,
        "results": [result(XSS_RULE, False, expected=XSS_RULE, actual="<i>x</i>")],
    }
    record_contract_result(
        store,
        report=xss_report,
        mode="fail",
        verdict="failed",
        dag_id=UI_DAG_ID,
        task_id="load_x",
        run_id="r1",
    )
    open_breach(
        store,
        "orders",
        "freshness",
        severity="page",
        burn_rates={"1d": 100.0, "12d": 83.3},
        now=now_ - timedelta(days=6),
    )
    open_breach(
        store,
        "flights",
        "freshness",
        severity="ticket",
        burn_rates={"1d": 20.0},
        now=now_ - timedelta(days=17),
    )
    from airflow_dataops.store.breaches import resolve_breach

    resolve_breach(store, "flights", "freshness", now=now_ - timedelta(days=15))
    store.dispose()
