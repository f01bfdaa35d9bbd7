"""Fixtures of the integration tests that run the test-only DAGs in tests/dags/."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

TEST_DAGS = Path(__file__).resolve().parents[1] / "dags"


@pytest.fixture
def test_bundle(airflow_db, monkeypatch: pytest.MonkeyPatch) -> None:
    """dag.test() syncs the DAG's bundle to the metadata DB: give the test DAGs a bundle of their own."""
    from airflow.configuration import conf

    bundles = json.loads(conf.get("dag_processor", "dag_bundle_config_list"))
    if not any(b.get("name") == "dataops-tests" for b in bundles):
        bundles.append(
            {
                "name": "dataops-tests",
                "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                "kwargs": {"path": str(TEST_DAGS)},
            }
        )
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps(bundles))


@pytest.fixture
def load_test_dag(test_bundle) -> Callable[[str, str], Any]:
    """``load_test_dag(file, dag_id)``: a DAG of the ``dataops-tests`` bundle, parsed without import errors."""

    def load(path: str, dag_id: str) -> Any:
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(TEST_DAGS / path), bundle_name="dataops-tests")
        assert not bag.import_errors, bag.import_errors
        return bag.get_dag(dag_id)

    return load
