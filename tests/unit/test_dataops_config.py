"""[dataops] settings: validated with messages naming the option and its environment variable."""

from __future__ import annotations

import pytest

import airflow_dataops
from airflow_dataops.config import DataOpsSettings, default_sqlite_url
from airflow_dataops.exceptions import ConfigError


def test_defaults_point_at_sqlite_in_airflow_home(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    assert (
        DataOpsSettings().resolve_store_url()
        == f"sqlite:///{tmp_path / 'dataops.db'}"
        == default_sqlite_url()
    )


def test_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__DATAOPS__STORE_URL", "postgresql+psycopg2://u@h/db")
    monkeypatch.setenv("AIRFLOW__DATAOPS__DEFAULT_GATE_MODE", "Quarantine")
    monkeypatch.setenv("AIRFLOW__DATAOPS__ON_ALREADY_APPLIED", "fail")
    s = DataOpsSettings.from_airflow()
    assert (s.store_url, s.default_gate_mode, s.on_already_applied) == (
        "postgresql+psycopg2://u@h/db",
        "quarantine",
        "fail",
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"default_gate_mode": "block"},
            "[dataops] default_gate_mode: 'block' is not a gate mode",
            id="mode",
        ),
        pytest.param(
            {"on_already_applied": "append"},
            "[dataops] on_already_applied: 'append' is not allowed",
            id="policy",
        ),
        pytest.param(
            {"store_connect_timeout": 0},
            "[dataops] store_connect_timeout: must be a positive number",
            id="timeout",
        ),
        pytest.param(
            {"partition_versions_keep": -1},
            "[dataops] partition_versions_keep: must be 0 or more, got -1 (AIRFLOW__DATAOPS__PARTITION_VERSIONS_KEEP)",
            id="versions-keep",
        ),
        pytest.param(
            {"partition_versions_keep_days": -2},
            "[dataops] partition_versions_keep_days: must be 0 or more, got -2",
            id="versions-days",
        ),
    ],
)
def test_bad_values_are_refused(kwargs, message) -> None:
    with pytest.raises(ConfigError) as info:
        DataOpsSettings(**kwargs)
    assert str(info.value).startswith(message)


def test_store_connection_of_an_unsupported_type_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_DATAOPS_STORE", '{"conn_type": "http", "host": "example"}')
    with pytest.raises(ConfigError, match="connection 'dataops_store' has type 'http'"):
        DataOpsSettings(store_conn_id="dataops_store").resolve_store_url()


def test_store_connection_gives_a_postgres_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_DATAOPS_STORE",
        '{"conn_type": "postgres", "host": "db", "port": 5433, "login": "u", "password": "p@ss", "schema": "dataops"}',
    )
    assert (
        DataOpsSettings(store_conn_id="dataops_store").resolve_store_url()
        == "postgresql+psycopg2://u:p%40ss@db:5433/dataops"
    )


def test_the_public_surface_is_pinned() -> None:
    assert airflow_dataops.__all__ == [
        "__version__",
        "ConfigError",
        "ContractError",
        "ContractGateOperator",
        "ContractViolation",
        "DataFramePartitionOperator",
        "DataOpsError",
        "DataOpsSettings",
        "DatasetFreshnessSensor",
        "DatasetHealthTrigger",
        "GateMode",
        "LedgerError",
        "PartitionAlreadyApplied",
        "PartitionLedger",
        "PartitionWriteOperator",
        "PartitionedSQLOperator",
        "SLICallback",
        "SLOBreachNotifier",
        "SLOEvaluationOperator",
        "SLOHealthySensor",
        "SLORecheckTrigger",
        "StateStore",
        "StoreError",
        "evaluator_schedule",
        "load_contract",
        "partitioned_task",
        "sli_callbacks",
    ]
    for name in airflow_dataops.__all__[1:]:
        assert getattr(airflow_dataops, name).__name__ == name
    # every DAG-facing name is the object of its home module, not a copy
    from airflow_dataops.operators.partitioned import partitioned_task
    from airflow_dataops.sensors.dataset import SLOHealthySensor

    assert airflow_dataops.partitioned_task is partitioned_task
    assert airflow_dataops.SLOHealthySensor is SLOHealthySensor
    with pytest.raises(AttributeError, match="module 'airflow_dataops' has no attribute 'evaluate'"):
        airflow_dataops.evaluate  # noqa: B018  (a name outside the surface is not reachable here)


def test_the_dag_facing_names_import_from_the_package_without_loading_the_rest() -> None:
    import json
    import subprocess
    import sys

    code = (
        "import sys; from airflow_dataops import partitioned_task, ContractGateOperator, SLOBreachNotifier, "
        "SLOHealthySensor; import json; print(json.dumps(sorted(m for m in sys.modules if m.startswith('airflow_dataops.'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    loaded = set(json.loads(out))
    assert {
        "airflow_dataops.operators.partitioned",
        "airflow_dataops.operators.gate",
        "airflow_dataops.notifications.slo",
        "airflow_dataops.sensors.dataset",
    } <= loaded
    # what the four do not need stays unloaded: the UI plugin, the CLI, the SLO evaluator
    assert not loaded & {
        "airflow_dataops.plugins.app",
        "airflow_dataops.cli.commands",
        "airflow_dataops.slo.evaluator",
    }


def test_importing_the_package_is_light() -> None:
    import subprocess
    import sys

    code = "import sys, airflow_dataops, airflow_dataops.get_provider_info; print(sorted(m for m in sys.modules if m.split('.')[0] in ('airflow', 'sqlalchemy', 'pandas')))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert out.strip() == "[]"


def test_version_retention_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (DataOpsSettings().partition_versions_keep, DataOpsSettings().partition_versions_keep_days) == (
        3,
        7,
    )
    monkeypatch.setenv("AIRFLOW__DATAOPS__PARTITION_VERSIONS_KEEP", "5")
    monkeypatch.setenv("AIRFLOW__DATAOPS__PARTITION_VERSIONS_KEEP_DAYS", "30")
    s = DataOpsSettings.from_airflow()
    assert (s.partition_versions_keep, s.partition_versions_keep_days) == (5, 30)
    monkeypatch.setenv("AIRFLOW__DATAOPS__PARTITION_VERSIONS_KEEP", "three")
    with pytest.raises(
        ConfigError, match=r"\[dataops\] partition_versions_keep: 'three' is not a whole number"
    ):
        DataOpsSettings.from_airflow()
