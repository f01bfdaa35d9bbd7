"""SLOBreachNotifier (log, webhook on a real local HTTP server) and SLOEvaluationOperator end to end."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sli_history import SLO_2D

from airflow_dataops.notifications.slo import SLOBreachNotifier, format_breach
from airflow_dataops.operators.slo import SLOEvaluationOperator
from airflow_dataops.store import StateStore
from airflow_dataops.store.breaches import list_breaches
from airflow_dataops.store.records import upsert_dataset

UTC = timezone.utc
DAY = timedelta(days=1)
BREACH = {
    "state": "open",
    "dataset": "orders",
    "slo": "freshness",
    "severity": "page",
    "burn_rates": {"1d": 50.0},
    "budget_remaining": -0.5,
}


@pytest.fixture
def webhook(monkeypatch):
    """A real HTTP server on 127.0.0.1 recording POSTs; the connection id points at it."""
    received: list[dict] = []
    status = {"code": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            received.append(
                {
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": json.loads(self.rfile.read(length)),
                }
            )
            self.send_response(status["code"])
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    conn_id = f"hook_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}",
        json.dumps(
            {
                "conn_type": "http",
                "host": "127.0.0.1",
                "port": server.server_address[1],
                "schema": "http",
                "extra": {"headers": {"X-Team": "data"}},
            }
        ),
    )
    yield conn_id, received, status
    server.shutdown()
    server.server_close()


def test_log_target(capsys, monkeypatch):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.test/")
    SLOBreachNotifier(target="log")({"breach": BREACH})
    out = capsys.readouterr().out
    assert (
        "SLO breach OPEN [page] orders/freshness: budget remaining -50.0%; burn rates 1d=50.00; "
        "triage: airflow dataops triage orders; page: https://airflow.example.test/dataops/datasets/orders"
    ) in out


def test_the_page_names_the_triage_command_and_no_page_without_a_base_url(monkeypatch):
    from airflow_dataops.notifications.slo import next_steps

    monkeypatch.delenv("AIRFLOW__API__BASE_URL", raising=False)
    assert next_steps("daily revenue", base_url="") == {
        "triage": "airflow dataops triage 'daily revenue'",
        "page": None,
    }
    assert next_steps("a/b", base_url="http://127.0.0.1:8080")["page"] == (
        "http://127.0.0.1:8080/dataops/datasets/a%2Fb"
    )
    line = format_breach({**BREACH, "next_steps": next_steps("orders", base_url="")})
    assert line.endswith("; triage: airflow dataops triage orders")


def test_webhook_posts_json(webhook):
    conn_id, received, _ = webhook
    SLOBreachNotifier(target="webhook", http_conn_id=conn_id, endpoint="/alerts", timeout=5)(
        {"breach": BREACH}
    )
    (req,) = received
    assert req["path"] == "/alerts"
    assert req["headers"]["X-Team"] == "data"
    sent = req["body"]["breach"]
    assert {k: v for k, v in sent.items() if k != "next_steps"} == BREACH
    assert sent["next_steps"]["triage"] == "airflow dataops triage orders"
    assert req["body"]["text"] == format_breach(sent)


def test_webhook_error_status_raises(webhook):
    conn_id, _, status = webhook
    status["code"] = 500
    with pytest.raises(RuntimeError, match=f"webhook '{conn_id}' answered 500 to POST http://127.0.0.1:"):
        SLOBreachNotifier(target="webhook", http_conn_id=conn_id, timeout=5)({"breach": BREACH})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"target": "pager"}, "target='pager'; use one of log, webhook", id="target"),
        pytest.param({"target": "webhook"}, "target='webhook' needs http_conn_id", id="no-conn"),
        pytest.param({"timeout": 0}, "timeout must be a positive number of seconds, got 0", id="timeout"),
    ],
)
def test_notifier_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SLOBreachNotifier(**kwargs)


def test_notifier_without_breach_in_context():
    with pytest.raises(ValueError, match="the context has no 'breach' mapping"):
        SLOBreachNotifier().notify({})


class Recorder(SLOBreachNotifier):
    def __init__(self):
        super().__init__()
        self.seen: list[dict] = []

    def notify(self, context):
        self.seen.append(dict(context["breach"]))


class Broken(SLOBreachNotifier):
    def notify(self, context):
        raise RuntimeError("slack is down")


def _lineage_events(job_name):
    from conftest import LINEAGE_FILE

    if not LINEAGE_FILE.exists():
        return []
    events = [json.loads(line) for line in LINEAGE_FILE.read_text().splitlines() if line.strip()]
    return [e for e in events if e["job"]["name"] == job_name]


def test_operator_notifies_once_per_episode_and_emits_lineage(use_store, webhook, seed_slis):
    conn_id, received, _ = webhook
    store = StateStore.from_settings()
    name = f"orders_{uuid.uuid4().hex[:6]}"
    upsert_dataset(store, name, slo=SLO_2D)
    upsert_dataset(store, f"{name}_bad", slo={**SLO_2D, "objective": 2})
    seed_slis(store, name, last=datetime.now(UTC) - 3 * DAY)
    recorder = Recorder()
    op = SLOEvaluationOperator(
        task_id="evaluate",
        notifiers=[recorder, Broken(), SLOBreachNotifier(target="webhook", http_conn_id=conn_id, timeout=5)],
    )

    summary = op.execute({})
    assert summary["opened"] == [f"{name}/freshness"]
    assert summary["statuses"] == {"breached": 1, "invalid": 1}
    assert f"{name}_bad" in summary["invalid"]
    assert [b["state"] for b in recorder.seen] == ["open"]
    assert recorder.seen[0]["dataset"] == name and recorder.seen[0]["severity"] == "page"
    assert [r["body"]["breach"]["state"] for r in received] == ["open"]

    assert op.execute({})["opened"] == []  # the same episode: nobody told twice
    assert len(recorder.seen) == 1 and len(received) == 1

    events = _lineage_events(f"dataops_slo.{name}")
    assert len(events) == 1
    facet = events[0]["run"]["facets"]["dataops_sloEvaluation"]
    assert (
        facet["breachState"] == "open"
        and facet["sliKind"] == "freshness"
        and facet["alertSeverity"] == "page"
    )
    assert events[0]["inputs"][0]["name"] == name
    (episode,) = list_breaches(store, name)
    assert episode.is_open and episode.notified_open_at is not None


def test_operator_fail_on_invalid(use_store):
    store = StateStore.from_settings()
    upsert_dataset(store, "broken", slo={**SLO_2D, "window_days": -1})
    from airflow_dataops.slo.spec import SLODefinitionError

    with pytest.raises(
        SLODefinitionError, match=r"invalid SLO definitions: dataset 'broken': slo\.window_days"
    ):
        SLOEvaluationOperator(task_id="e", fail_on_invalid=True).execute({})


def test_shipped_dag():
    import importlib.util
    from pathlib import Path

    from airflow_dataops.triggers.recheck import SLORecheckTrigger

    path = Path(__file__).resolve().parents[3] / "dags" / "dataops_slo_evaluator.py"
    spec = importlib.util.spec_from_file_location("dataops_slo_evaluator_dag", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from airflow.sdk import DAG

    (dag,) = [v for v in vars(module).values() if isinstance(v, DAG)]
    assert dag.dag_id == "dataops_slo_evaluator"
    assert dag.catchup is False
    # every 10 minutes, or at once when the re-check asset's watcher fires (slo/recheck.py)
    assert dag.timetable.timetable.delta == timedelta(minutes=10)
    (watcher,) = dag.timetable.asset_condition.watchers
    assert isinstance(watcher.trigger, SLORecheckTrigger)
    (task,) = dag.tasks
    assert isinstance(task, SLOEvaluationOperator)
