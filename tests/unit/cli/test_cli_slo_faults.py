"""``slo status`` and ``slo burn`` facing store faults and bad configuration: one line, one exit code."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from sqlalchemy import text

from airflow_dataops.cli.slo import slo_burn, slo_status
from airflow_dataops.store import StateStore
from airflow_dataops.store.records import upsert_dataset

COMMANDS = [
    pytest.param(slo_status, None, id="status-all"),
    pytest.param(slo_status, "orders", id="status-one"),
    pytest.param(slo_burn, "orders", id="burn"),
]
SLO = {"objective": 0.9, "window_days": 30, "slis": {"freshness": {"threshold": 2, "unit": "d"}}}


def _run(command, dataset, capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        command(argparse.Namespace(dataset=dataset, output="json"))
    err = capsys.readouterr().err
    return info.value.code, err


def _use(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("AIRFLOW__DATAOPS__STORE_URL", url)
    monkeypatch.setenv("AIRFLOW__DATAOPS__STORE_CONNECT_TIMEOUT", "3")
    StateStore._shared.clear()


@pytest.mark.parametrize(("command", "dataset"), COMMANDS)
@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param("sqlite:///{tmp}/missing.db", "does not exist", id="no-store-file"),
        pytest.param("sqlite:///{tmp}/empty.db", "holds no dataops tables", id="no-tables"),
        pytest.param("not a url", "is not a SQLAlchemy URL", id="malformed-url"),
        pytest.param("nosuchdb://host/db", "cannot create an engine", id="unknown-dialect"),
        pytest.param(
            "postgresql+psycopg2://postgres@127.0.0.1:1/x", "Connection refused", id="pg-unreachable"
        ),
    ],
)
def test_store_faults_exit_3_with_one_line(
    command, dataset, url, message, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    (tmp_path / "empty.db").touch()
    _use(monkeypatch, url.format(tmp=tmp_path))
    code, err = _run(command, dataset, capsys)
    assert code == 3
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert "Traceback" not in err
    StateStore._shared.clear()


@pytest.mark.parametrize(("command", "dataset"), COMMANDS)
def test_a_table_gone_mid_life_is_a_store_fault(command, dataset, use_store, capsys) -> None:
    store = StateStore.from_settings()
    store.migrate()
    upsert_dataset(store, "orders", slo=SLO)
    with store.begin() as conn:
        conn.execute(text("DROP TABLE dataops_sli"))
    code, err = _run(command, dataset, capsys)
    assert code == 3
    assert err.startswith("error: dataops state store ") and err.count("\n") == 1
    assert "dataops_sli" in err and "Traceback" not in err


def test_a_window_that_overflows_a_date_marks_only_its_dataset_invalid(use_store, capsys) -> None:
    store = StateStore.from_settings()
    store.migrate()
    upsert_dataset(store, "orders", slo=SLO)
    upsert_dataset(store, "huge", slo={**SLO, "window_days": 100000000})
    code, err = _run(slo_status, None, capsys)
    assert code == 2
    assert err == "error: dataset 'huge': slo.window_days must be at most 3660 (10 years), got 100000000\n"
    slo_status(argparse.Namespace(dataset="orders", output="json"))  # the others are evaluated: exit 0
    assert '"status": "no_data"' in capsys.readouterr().out
