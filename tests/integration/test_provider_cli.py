"""The provider as Airflow sees it: registered, its plugin loaded, `airflow dataops` answering,
and bad settings stopping with one clear line (real `airflow` subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_dataops.store import migrations

ROOT = Path(__file__).resolve().parents[2]


def airflow(
    *args: str, env: dict[str, str] | None = None, timeout: int = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "airflow", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )


def test_airflow_lists_the_provider_and_its_plugin(airflow_db) -> None:
    providers = airflow("providers", "list", "-o", "json")
    assert providers.returncode == 0, providers.stderr
    assert '"package_name": "airflow-dataops"' in providers.stdout
    plugins = airflow("plugins", "-o", "json")
    assert plugins.returncode == 0, plugins.stderr
    assert '"name": "dataops"' in plugins.stdout


def test_airflow_providers_get_lists_the_task_decorator() -> None:
    # `providers get NAME -o json` alone prints only name and version; --full prints get_provider_info()
    result = airflow("providers", "get", "airflow-dataops", "--full", "-o", "json")
    assert result.returncode == 0, result.stderr
    [info] = json.loads(result.stdout)
    assert info["task-decorators"] == [
        {
            "class-name": "airflow_dataops.decorators.partitioned.partitioned_task_decorator",
            "name": "partitioned",
        }
    ]


def test_airflow_dataops_help_lists_the_command_groups() -> None:
    result = airflow("dataops", "--help")
    assert result.returncode == 0, result.stderr
    for group in ("db", "partitions", "contract"):
        assert group in result.stdout


def test_db_migrate_creates_the_store(tmp_path: Path) -> None:
    db = tmp_path / "cli-store.db"
    result = airflow("dataops", "db", "migrate", env={"AIRFLOW__DATAOPS__STORE_URL": f"sqlite:///{db}"})
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.strip() == f"dataops state store sqlite:///{db}: schema version 0 -> {migrations.HEAD}"
    )
    assert db.exists()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param(
            {"AIRFLOW__DATAOPS__STORE_URL": "postgresql+psycopg2://u:canarypw@127.0.0.1:1/x"},
            "error: dataops state store postgresql+psycopg2://u:***@127.0.0.1:1/x cannot be used: "
            'connection to server at "127.0.0.1", port 1 failed: Connection refused',
            id="unreachable-store",
        ),
        pytest.param(
            {"AIRFLOW__DATAOPS__DEFAULT_GATE_MODE": "block"},
            "error: [dataops] default_gate_mode: 'block' is not a gate mode; use one of fail, quarantine, warn "
            "(AIRFLOW__DATAOPS__DEFAULT_GATE_MODE).",
            id="malformed-setting",
        ),
        pytest.param(
            {"AIRFLOW__DATAOPS__STORE_CONNECT_TIMEOUT": "ten"},
            "error: [dataops] store_connect_timeout: 'ten' is not a whole number of seconds "
            "(AIRFLOW__DATAOPS__STORE_CONNECT_TIMEOUT).",
            id="non-numeric-timeout",
        ),
    ],
)
def test_bad_settings_stop_with_one_clear_line(env: dict[str, str], expected: str) -> None:
    result = airflow("dataops", "db", "status", env=env)
    # docs/cli.md "Exit codes": a malformed [dataops] setting is invalid input, an unreachable store the environment
    assert result.returncode == (2 if "[dataops]" in expected else 3)
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert lines and lines[-1].startswith(expected), result.stderr
    assert "Traceback" not in result.stderr
    assert "canarypw" not in result.stderr + result.stdout


def test_contract_lint_names_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.odcs.yaml"
    result = airflow("dataops", "contract", "lint", str(missing))
    assert result.returncode == 2  # invalid input: docs/cli.md "Exit codes"
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {missing}: ")


def test_contract_lint_accepts_the_flights_contract() -> None:
    result = airflow("dataops", "contract", "lint", "dags/contracts/flights.odcs.yaml")
    assert result.returncode == 0, result.stderr
    assert "valid ODCS v3.1.0 contract urn:dataops:nycflights13:flights v1.0.0" in result.stdout


def test_contract_lint_and_diff_need_no_airflow_metadata_database(tmp_path: Path) -> None:
    """CI of a DAG repository lints and diffs contracts with no Airflow database at all."""
    env = {
        "AIRFLOW_HOME": str(tmp_path / "empty-home"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "sqlite:////nonexistent-dir/airflow.db",
    }
    lint = airflow("dataops", "contract", "lint", "dags/contracts/flights.odcs.yaml", env=env)
    assert lint.returncode == 0, lint.stderr
    diff = airflow(
        "dataops",
        "contract",
        "diff",
        "docs/examples/orders.v1.odcs.yaml",
        "docs/examples/orders.v2.odcs.yaml",
        env=env,
    )
    assert diff.returncode in (0, 1), diff.stderr
    assert "breaking" in diff.stdout or "compatible" in diff.stdout
    assert not (tmp_path / "empty-home" / "airflow.db").exists()
