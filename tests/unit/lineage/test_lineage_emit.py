"""Emission never raises, logs one warning on failure, and returns within its time bound."""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from airflow_dataops.lineage import builders, emit
from airflow_dataops.lineage.facets import DataOpsSLOEvaluationRunFacet

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from lineage_validation import validate_file

EMIT_LOGGER = emit.__name__


def our_warnings(caplog):
    return [r for r in caplog.records if r.name == EMIT_LOGGER and r.levelno >= logging.WARNING]


def _clear_provider_caches():
    from airflow.providers.openlineage import conf as ol_conf
    from airflow.providers.openlineage.plugins.listener import get_openlineage_listener

    for name in dir(ol_conf):
        cache_clear = getattr(getattr(ol_conf, name), "cache_clear", None)
        if callable(cache_clear):
            cache_clear()
    get_openlineage_listener.cache_clear()


@pytest.fixture
def ol_transport(monkeypatch):
    """Configure the OpenLineage provider's transport as AIRFLOW__OPENLINEAGE__TRANSPORT would."""
    for var in (
        "OPENLINEAGE_DISABLED",
        "OPENLINEAGE_URL",
        "OPENLINEAGE_CONFIG",
        "AIRFLOW__OPENLINEAGE__DISABLED",
        "AIRFLOW__OPENLINEAGE__CONFIG_PATH",
        "AIRFLOW__OPENLINEAGE__TRANSPORT",
    ):
        monkeypatch.delenv(var, raising=False)

    def configure(transport):
        if transport is not None:
            monkeypatch.setenv("AIRFLOW__OPENLINEAGE__TRANSPORT", json.dumps(transport))
        _clear_provider_caches()

    yield configure
    _clear_provider_caches()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def slo_event_args():
    facet = DataOpsSLOEvaluationRunFacet(
        dataset="sqlite:///d.db/flights",
        objective=0.99,
        windowDays=30,
        sliKind="freshness",
        breachState="open",
        alertSeverity="page",
        burnRates={"1h": 15.0, "5m": 16.0},
        budgetRemaining=0.1,
        sliValue=0.98,
    )
    return {
        "job_name": "dataops.slo.flights",
        "run_facets": {facet.FACET_KEY: facet},
        "inputs": [builders.input_dataset("sqlite:///d.db", "flights")],
    }


# ---- emit_events_safely / lineage_guard ------------------------------------------------------


def test_success_returns_true_without_warning(caplog):
    calls = []
    assert emit.emit_events_safely(calls.append, 1, timeout=10) is True
    assert calls == [1]
    assert our_warnings(caplog) == []


@pytest.mark.parametrize(
    "error",
    [RuntimeError("transport down"), SystemExit(3), KeyboardInterrupt()],
    ids=["exception", "system-exit", "keyboard-interrupt"],
)
def test_failure_is_one_warning(caplog, error):
    def boom():
        raise error

    assert emit.emit_events_safely(boom, timeout=2, what="test emission") is False
    (warning,) = our_warnings(caplog)
    assert warning.getMessage().startswith(f"test emission failed and was skipped: {type(error).__name__}")


def test_slow_call_is_abandoned_within_the_bound(caplog):
    release = threading.Event()
    started = time.monotonic()
    assert emit.emit_events_safely(release.wait, 10, timeout=0.3, what="slow emission") is False
    # Not a timing goal: unbounded, the call would take the full 10 s; the margin absorbs a busy machine.
    assert time.monotonic() - started < 5
    (warning,) = our_warnings(caplog)
    assert warning.getMessage() == "slow emission did not finish within 0.3 s and was abandoned"
    release.set()


def test_timeout_from_config(monkeypatch):
    monkeypatch.setenv("AIRFLOW__DATAOPS__LINEAGE_EMIT_TIMEOUT_SECONDS", "0.25")
    assert emit._configured_timeout() == 0.25
    monkeypatch.setenv("AIRFLOW__DATAOPS__LINEAGE_EMIT_TIMEOUT_SECONDS", "-1")
    assert emit._configured_timeout() == emit.DEFAULT_TIMEOUT_SECONDS


def test_lineage_guard_swallows_with_one_warning(caplog):
    def facets():
        with emit.lineage_guard("gate lineage"):
            raise KeyError("schema")
        return "fallback"

    assert facets() == "fallback"
    (warning,) = our_warnings(caplog)
    assert warning.getMessage() == "gate lineage failed and was skipped: KeyError: 'schema'"


# ---- emit_run_event through the provider's configured client --------------------------------


def test_disabled_without_transport_sends_nothing(ol_transport, caplog):
    ol_transport(None)
    assert emit.emit_run_event(**slo_event_args()) is False
    assert our_warnings(caplog) == []


def test_file_transport_writes_a_valid_event(ol_transport, tmp_path, caplog):
    log_file = tmp_path / "ol.jsonl"
    ol_transport({"type": "file", "log_file_path": str(log_file), "append": True})
    assert emit.emit_run_event(**slo_event_args(), timeout=10) is True
    assert emit.emit_run_event(**slo_event_args(), event_type="OTHER", timeout=10) is True
    lines = log_file.read_text().splitlines()
    assert len(lines) == 2
    event = json.loads(lines[0])
    assert event["eventType"] == "COMPLETE"
    assert (event["job"]["namespace"], event["job"]["name"]) == ("default", "dataops.slo.flights")
    assert event["run"]["facets"]["dataops_sloEvaluation"]["breachState"] == "open"
    assert event["inputs"][0]["name"] == "flights"
    assert validate_file(log_file) == []
    assert our_warnings(caplog) == []


def test_http_transport_to_closed_port_fails_fast_with_one_warning(ol_transport, caplog):
    ol_transport(
        {
            "type": "http",
            "url": f"http://127.0.0.1:{closed_port()}",
            "timeout": 1,
            "retry": {"total": 0, "connect": 0, "read": 0},
        }
    )
    started = time.monotonic()
    assert emit.emit_run_event(**slo_event_args(), timeout=5) is False
    assert time.monotonic() - started < 8
    (warning,) = our_warnings(caplog)
    assert (
        "OpenLineage COMPLETE event for job 'dataops.slo.flights' failed and was skipped"
        in warning.getMessage()
    )


def test_http_transport_with_retries_is_bounded_by_the_timeout(ol_transport, caplog):
    # Default retries back off for seconds against a closed port: the bound must cut them short.
    ol_transport(
        {
            "type": "http",
            "url": f"http://127.0.0.1:{closed_port()}",
            "retry": {"total": 2, "connect": 2, "backoff_factor": 2.5},
        }
    )
    started = time.monotonic()
    assert emit.emit_run_event(**slo_event_args(), timeout=0.5) is False
    # Unbounded, the retries back off for 5 s (urllib3: 0 s, then 2.5 x 2); the margin absorbs a busy machine.
    assert time.monotonic() - started < 4
    (warning,) = our_warnings(caplog)
    assert warning.getMessage().endswith("did not finish within 0.5 s and was abandoned")
    # Let the abandoned daemon thread finish its retries so it does not log into later tests.
    for thread in threading.enumerate():
        if thread.name == "dataops-lineage-emit":
            thread.join(10)


def test_bad_event_type_is_one_warning_not_an_error(ol_transport, tmp_path, caplog):
    ol_transport({"type": "file", "log_file_path": str(tmp_path / "ol.jsonl"), "append": True})
    assert emit.emit_run_event(**slo_event_args(), event_type="DONE", timeout=5) is False
    (warning,) = our_warnings(caplog)
    assert (
        "event_type must be one of START, RUNNING, COMPLETE, ABORT, FAIL, OTHER; got 'DONE'"
        in warning.getMessage()
    )
    assert not (tmp_path / "ol.jsonl").exists()


def test_module_import_is_light():
    """Provider modules are imported in every task process: no OpenLineage client at import."""
    import subprocess

    code = (
        "import sys; import airflow_dataops.lineage.emit, airflow_dataops.lineage.builders, "
        "airflow_dataops.lineage.naming; "
        "print(sorted(m for m in sys.modules if m.startswith(('openlineage', 'airflow.providers.openlineage'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
