"""``airflow dataops slo status|burn`` called as functions, on a real store."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta, timezone

import pytest
from sli_history import SLO_2D

from airflow_dataops.cli.slo import slo_burn, slo_cli_group, slo_status
from airflow_dataops.slo.evaluator import run_evaluation
from airflow_dataops.store import StateStore
from airflow_dataops.store.records import upsert_dataset

UTC = timezone.utc
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


@pytest.fixture
def seeded(use_store, seed_slis):
    store = StateStore.from_settings()
    now = datetime.now(UTC)
    for name, age in (("fresh", HOUR), ("stale", 3 * DAY)):
        seed_slis(store, name, last=now - age, slo=SLO_2D)
    upsert_dataset(store, "empty", slo=SLO_2D)
    upsert_dataset(store, "bad", slo={**SLO_2D, "slis": {"freshness": {"threshold": 2}}})
    run_evaluation(store)  # opens the breach of 'stale'
    return store


def ns(**kw):
    return argparse.Namespace(**{"dataset": None, "output": "table", **kw})


def test_status_table(seeded, capsys):
    with pytest.raises(SystemExit) as info:
        slo_status(ns())
    assert info.value.code == 2  # 'bad' is invalid; the others are still shown
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        "error: dataset 'bad': slo.slis.freshness.unit is required for threshold 2.0; use one of s, m, h, d "
        "(or seconds, minutes, hours, days), percent, ratio, rows"
    ]
    lines = out.splitlines()
    assert lines[0].split() == [
        "dataset",
        "slo",
        "status",
        "objective",
        "budget",
        "left",
        "burn",
        "rates",
        "open",
        "breach",
    ]
    rows = {line.split()[0]: line for line in lines[2:]}
    assert set(rows) == {"bad", "empty", "fresh", "stale"}
    assert "Invalid SLO: dataset 'bad': slo.slis.freshness.unit is required" in rows["bad"]
    assert "No data" in rows["empty"]
    assert rows["fresh"].split()[1:5] == ["freshness", "Healthy", "0.99", "100.0%"]
    assert "Breached" in rows["stale"] and "page since" in rows["stale"]
    assert "30d=" in rows["stale"]


def test_status_json_one_dataset(seeded, capsys):
    with pytest.raises(SystemExit) as info:
        slo_status(ns(dataset="stale", output="json"))
    assert info.value.code == 1  # breached
    (item,) = json.loads(capsys.readouterr().out)
    assert item["dataset"] == "stale" and item["status"] == "breached"
    (slo,) = item["slos"]
    assert slo["slo"] == "freshness" and slo["objective"] == 0.99
    assert slo["budget_remaining"] < 0
    assert slo["open_breach"]["severity"] == "page"
    assert slo["sli_value"] == pytest.approx(3 * 86400, abs=5)


def test_status_healthy_dataset_exits_0(seeded, capsys):
    slo_status(ns(dataset="fresh", output="json"))
    (item,) = json.loads(capsys.readouterr().out)
    assert item["status"] == "healthy" and item["error"] is None


@pytest.mark.parametrize("command", [slo_status, slo_burn], ids=["status", "burn"])
def test_unknown_dataset_exits_3_in_both_commands(seeded, capsys, command):
    with pytest.raises(SystemExit) as info:
        command(ns(dataset="nope", output="json"))
    assert info.value.code == 3  # as every command does for a named dataset that does not exist
    assert "error: dataset 'nope' is not registered in the dataops store" in capsys.readouterr().err


def test_burn_table(seeded, capsys):
    with pytest.raises(SystemExit) as info:
        slo_burn(ns(dataset="stale"))
    assert info.value.code == 1  # an alert fires
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "slo",
        "long/short",
        "long",
        "burn",
        "short",
        "burn",
        "threshold",
        "severity",
        "alert",
    ]
    body = [line.split() for line in lines[2:]]
    # daily cadence: the workbook windows scale to 12d/1d, one page and one ticket rule
    assert [(r[1], r[-2], r[-1]) for r in body] == [
        ("12d/1d", "page", "FIRES"),
        ("12d/1d", "ticket", "FIRES"),
    ]


def test_burn_json(seeded, capsys):
    slo_burn(ns(dataset="fresh", output="json"))
    data = json.loads(capsys.readouterr().out)
    (slo,) = data["slos"]
    assert [(r["severity"], r["fires"]) for r in slo["rules"]] == [("page", False), ("ticket", False)]
    assert slo["rules"][0]["long_burn"] == 0.0


def test_burn_invalid_dataset_exits_2(seeded, capsys):
    with pytest.raises(SystemExit) as info:
        slo_burn(ns(dataset="bad"))
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("error: dataset 'bad': slo.slis.freshness.unit is required") and err.count("\n") == 1
    )


def test_cli_group_definition():
    group = slo_cli_group()
    assert group.name == "slo"
    assert [c.name for c in group.subcommands] == ["status", "burn"]
    parser = argparse.ArgumentParser()
    for command in group.subcommands:
        if command.name == "status":
            for arg in command.args:
                arg.add_to_parser(parser)
    assert parser.parse_args(["flights", "-o", "json"]).dataset == "flights"
    assert parser.parse_args([]).dataset is None
