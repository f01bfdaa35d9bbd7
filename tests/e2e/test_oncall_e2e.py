"""On-call in three commands, on a real scheduler (#17 acceptance).

A refused partition opens a breach, announced to a webhook; then exactly three
``airflow dataops`` commands: ``triage`` names the partition, its failed rule with the numbers and
the rerun command; that ``partitions rerun``; ``partitions verify``.  The breach must be announced
resolved within one minute of the fix (the rerun's success), by the evaluator DAG that the
``dataops_slo_recheck`` asset watcher (in the triggerer) starts: no waiting for its schedule.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from e2e.scheduler import AirflowStack

pytestmark = [pytest.mark.scheduler, pytest.mark.slow, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
DAG_ID = "dataops_slo_outcomes"
EVALUATOR = "dataops_slo_evaluator"
DATASET = "slo_orders"
REASON = "INC-4711: vendor resent the file with every order"

EVALUATOR_DAG = """
from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_dataops.notifications.slo import SLOBreachNotifier
from airflow_dataops.operators.slo import SLOEvaluationOperator
from airflow_dataops.triggers.recheck import evaluator_schedule

# a schedule far away: only a re-check request (or the test's own trigger) runs it
with DAG(
    "dataops_slo_evaluator",
    schedule=evaluator_schedule(timedelta(days=7), poll_interval=2),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
):
    SLOEvaluationOperator(
        task_id="evaluate_slos",
        notifiers=[SLOBreachNotifier(target="webhook", http_conn_id="oncall_hook", endpoint="/alerts")],
        emit_lineage=False,
    )
"""


class Pager:
    """A webhook receiver on loopback: what the on-call's pager would get, with arrival times."""

    def __init__(self) -> None:
        self.received: list[tuple[float, dict[str, Any]]] = []
        pager = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                pager.received.append((time.time(), json.loads(body)["breach"]))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def breaches(self, state: str) -> list[tuple[float, dict[str, Any]]]:
        return [(t, b) for t, b in self.received if b["dataset"] == DATASET and b["state"] == state]

    def wait_for(self, state: str, slo: str, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for t, b in self.breaches(state):
                if b["slo"] == slo:
                    return t
            time.sleep(0.5)
        raise AssertionError(f"no {state} {DATASET}/{slo} announced in {timeout} s: {self.received}")


def _dags_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "dags"
    folder.mkdir()
    shutil.copy(ROOT / "tests" / "dags" / "dataops_slo_outcomes.py", folder)
    shutil.copytree(ROOT / "tests" / "dags" / "contracts", folder / "contracts")
    (folder / "dataops_slo_evaluator.py").write_text(EVALUATOR_DAG)
    return folder


def test_breach_to_verified_fix_in_three_commands_announced_within_a_minute(tmp_path: Path) -> None:
    pager = Pager()
    outcomes_file = tmp_path / "outcomes.json"
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    days = [today - timedelta(days=n) for n in (4, 3, 2, 1)]
    keys = [d.strftime("%Y-%m-%d") for d in days]
    broken = keys[-1]
    outcomes_file.write_text(json.dumps({broken: "short"}))  # one order of three: rowCount > 2 fails
    env = {
        "AIRFLOW_CONN_DATAOPS_WAREHOUSE": json.dumps(
            {"conn_type": "sqlite", "host": str(tmp_path / "warehouse.db")}
        ),
        "AIRFLOW_CONN_ONCALL_HOOK": json.dumps(
            {"conn_type": "http", "host": "127.0.0.1", "port": pager.port}
        ),
        "DATAOPS_TEST_OUTCOMES_FILE": str(outcomes_file),
    }
    try:
        with AirflowStack(tmp_path, dags_folder=_dags_folder(tmp_path), extra_env=env, triggerer=True) as af:
            af.wait_for_dag(DAG_ID, timeout=180)
            af.wait_for_dag(EVALUATOR, timeout=180)
            af.unpause(DAG_ID)
            runs = {
                k: af.trigger(DAG_ID, logical_date=d.isoformat()) for k, d in zip(keys, days, strict=True)
            }
            states = {k: af.wait_for_run(DAG_ID, r, timeout=240) for k, r in runs.items()}
            assert states == {**{k: "success" for k in keys[:-1]}, broken: "failed"}, af.logs()

            # the evaluator opens the breach and pages
            af.unpause(EVALUATOR)
            assert af.wait_for_run(EVALUATOR, af.trigger(EVALUATOR), timeout=180) == "success", af.logs()
            pager.wait_for("open", "correctness", timeout=30)

            # 1. triage: the partition, the failed rule with its numbers, the exact command
            triage = af.cli("dataops", "triage", DATASET, timeout=180)
            assert triage.returncode == 1, triage.stdout + triage.stderr
            assert broken in triage.stdout
            assert "slo_orders.rowCount: expected mustBeGreaterThan 2 rows, got 1" in triage.stdout
            (command,) = [
                line.strip()
                for line in triage.stdout.splitlines()
                if "partitions rerun" in line and broken in line
            ]
            argv = shlex.split(command.removeprefix("$ "))
            assert argv[:4] == ["airflow", "dataops", "partitions", "rerun"] and argv[-2] == "--reason"
            argv[-1] = REASON  # the placeholder the on-call fills in

            # the cause is fixed upstream; 2. the rerun triage printed
            outcomes_file.write_text(json.dumps({}))
            before = time.time()
            rerun = af.run([sys.executable, "-m", *argv[:1], *argv[1:]], timeout=180)
            assert rerun.returncode == 0, rerun.stdout + rerun.stderr
            assert af.wait_for_run(DAG_ID, runs[broken], timeout=240, after=before) == "success", af.logs()
            fixed_at = time.time()

            # 3. verify: every partition matches the ledger
            verify = af.cli("dataops", "partitions", "verify", DAG_ID, timeout=180)
            assert verify.returncode == 0, verify.stdout + verify.stderr

            resolved_at = pager.wait_for("resolved", "correctness", timeout=90)
            assert resolved_at - fixed_at < 60, f"resolved {resolved_at - fixed_at:.0f} s after the fix"
            time.sleep(5)  # a later evaluator run (verify asked too) must not announce it again
            resolved = [b for _, b in pager.breaches("resolved") if b["slo"] == "correctness"]
            assert len(resolved) == 1, pager.received
            assert resolved[0]["next_steps"]["triage"] == f"airflow dataops triage {DATASET}"
            print(f"breach resolved {resolved_at - fixed_at:.1f} s after the rerun succeeded")
    finally:
        pager.server.shutdown()
